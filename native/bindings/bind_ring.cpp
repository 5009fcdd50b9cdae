// Python bindings of the ring buffers: nt.RingBuffer, nt.MPMCRingBuffer, nt.SharedRingBuffer.
#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>

#include <neural_trader/common/errors.hpp>
#include <neural_trader/ring/mpmc.hpp>
#include <neural_trader/ring/shared.hpp>
#include <neural_trader/ring/spsc.hpp>

#include "common.hpp"

namespace ntr = neural_trader::ring;

namespace {

/// A ring as Python sees it: the C++ ring operations (`View`), what keeps their memory alive,
/// and the record dtype.
template <class View>
struct py_ring {
  std::shared_ptr<void> owner;
  View* view = nullptr;
  nt_bind::record_codec codec;
  const char* kind;
  nt_bind::ring_ref ref;  // what _capsule() hands to the Cython event loop

  py_ring(std::shared_ptr<void> o, View* v, py::dtype dt, const char* k)
      : owner(std::move(o)), view(v), codec(dt), kind(k) {
    ref.kind = std::is_same_v<View, ntr::mpmc_record_ring> ? nt_bind::ring_ref::mpmc : nt_bind::ring_ref::spsc;
    ref.ring = v;
    ref.layout = &codec.layout();
  }

  View& ring() const {
    if (view == nullptr) nt_bind::raise("ClosedError", std::string(kind) + " is detached from its memory");
    return *view;
  }
  [[noreturn]] void raise_closed() const {
    nt_bind::raise("ClosedError", std::string(kind) + " is closed");
  }
};

/// The SPSC ring in shared memory: a RingBuffer whose memory is a named segment.
struct py_shared_ring : py_ring<ntr::spsc_record_view> {
  using py_ring::py_ring;
};

/// Batches of at least this many bytes are copied with the GIL released.
constexpr std::size_t release_gil_bytes = 1 << 16;



template <class View>
py::bytes pack(py_ring<View>& self, py::handle record) {
  std::string out(self.codec.itemsize(), '\0');
  self.codec.pack(record, reinterpret_cast<std::byte*>(out.data()));
  return py::bytes(out);
}

template <class View>
std::size_t push_many(py_ring<View>& self, py::handle records, bool block, const py::object& timeout) {
  View& r = self.ring();
  const auto wait_for = nt_bind::to_timeout(timeout);
  py::array arr = self.codec.check_records(records, "push_many()");
  if (r.closed()) self.raise_closed();
  const auto n = static_cast<std::size_t>(arr.shape(0));
  const auto* src = static_cast<const std::byte*>(arr.data());
  const std::size_t rs = self.codec.itemsize();
  std::size_t done;
  if (n * rs >= release_gil_bytes) {
    py::gil_scoped_release nogil;
    done = r.push_many(src, n);
  } else {
    done = r.push_many(src, n);
  }
  if (done == n || !block) return done;
  nt_bind::wait_until(
      [&] {
        if (r.closed()) return true;
        done += r.push_many(src + done * rs, n - done);
        return done == n;
      },
      wait_for);
  if (done < n && r.closed()) self.raise_closed();
  return done;
}



template <class View>
py::array pop_many(py_ring<View>& self, std::int64_t max_n, bool block, const py::object& timeout) {
  View& r = self.ring();
  if (max_n < 0) throw std::invalid_argument("pop_many(): max_n must be >= 0, got " + std::to_string(max_n));
  const auto wait_for = nt_bind::to_timeout(timeout);
  const auto limit = static_cast<std::size_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(max_n), r.capacity()));
  using clock = std::chrono::steady_clock;
  const auto deadline = wait_for ? clock::now() + *wait_for : clock::time_point::max();
  for (;;) {
    const std::size_t avail = std::min(limit, r.size());
    if (avail == 0) {
      const auto now = clock::now();
      if (!block || limit == 0 || r.drained() || now >= deadline) {
        return nt_bind::new_records(self.codec.dtype(), 0);  // not blocking, end of stream, or timed out
      }
      std::optional<std::chrono::nanoseconds> left;
      if (wait_for) left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
      nt_bind::wait_until([&] { return r.size() > 0 || r.drained(); }, left);
      continue;  // records may have gone to another consumer meanwhile: look again
    }
    py::array out = nt_bind::new_records(self.codec.dtype(), avail);
    auto* dst = static_cast<std::byte*>(out.mutable_data());
    std::size_t got;
    if (avail * self.codec.itemsize() >= release_gil_bytes) {
      py::gil_scoped_release nogil;
      got = r.pop_many(dst, avail);
    } else {
      got = r.pop_many(dst, avail);
    }
    if (got == avail) return out;
    if (got > 0 || !block) {  // another consumer took some (MPMC)
      out.resize(std::vector<py::ssize_t>{static_cast<py::ssize_t>(got)});
      return out;
    }
    // Blocking and another consumer took them all: wait again until the deadline.
  }
}

template <class View>
std::string repr(const py_ring<View>& self) {
  if (self.view == nullptr) return std::string("<") + self.kind + " detached>";
  return std::string("<") + self.kind + " capacity=" + std::to_string(self.view->capacity()) +
         " len=" + std::to_string(self.view->size()) + " dtype=" + std::string(py::str(self.codec.dtype())) +
         (self.view->closed() ? " closed" : "") + ">";
}



const char* const push_many_doc = R"doc(push_many(records, block=False, timeout=None) -> int

Append records from a 1-D NumPy array of the ring's dtype and return how many went in. By default
take what fits now; with ``block=True`` wait for room until all went in, the timeout passed or
the ring was closed (the count says how far it got). Large batches copy with the GIL released.)doc";



const char* const pop_many_doc = R"doc(pop_many(max_n, block=False, timeout=None) -> numpy.ndarray

Remove up to ``max_n`` records and return them as a new 1-D array of the ring's dtype (possibly
empty). With ``block=True``, first wait until at least one record is there, the ring is closed
and drained, or the timeout passed; an empty result then means end of stream (see ``drained``)
or timeout.)doc";

const char* const capsule_doc =
    "A capsule 'neural_trader.ring_ref' holding the C++ ring and its record layout, for the Cython "
    "event loop; valid while this object lives.";

template <class View>
py::capsule capsule(py_ring<View>& self) {
  self.ring();  // raises when detached
  return py::capsule(static_cast<void*>(&self.ref), "neural_trader.ring_ref");
}

template <class View, class Cls>
void def_ring_methods(Cls& cls) {
  using R = py_ring<View>;
  cls.def("_pack", &pack<View>, py::arg("record"),
          "One record as its raw bytes (the slow path of push for NumPy scalars, 0-d arrays and bytes).")
      .def("push_many", &push_many<View>, py::arg("records"), py::arg("block") = false,
           py::arg("timeout") = py::none(), push_many_doc)
      .def("pop_many", &pop_many<View>, py::arg("max_n"), py::arg("block") = false, py::arg("timeout") = py::none(),
           pop_many_doc)
      .def("close", [](R& self) { self.ring().close(); },
           "Mark the end of the stream: later pushes raise ClosedError; consumers drain what is left.")
      .def("__len__", [](const R& self) { return self.ring().size(); },
           "Records in the ring now (a snapshot while producers and consumers run).")
      .def_property_readonly("capacity", [](const R& self) { return self.ring().capacity(); },
                             "Maximum number of records (a power of two).")
      .def_property_readonly("dtype", [](const R& self) { return self.codec.dtype(); }, "NumPy dtype of one record.")
      .def_property_readonly("closed", [](const R& self) { return self.ring().closed(); },
                             "Whether close() was called.")
      .def_property_readonly("drained", [](const R& self) { return self.ring().drained(); },
                             "Closed and empty: nothing more will come out.")
      .def("__repr__", &repr<View>);
}

}  // namespace

void bind_ring(py::module_& m) {
  using spsc = py_ring<ntr::spsc_record_view>;
  using mpmc = py_ring<ntr::mpmc_record_ring>;

  py::class_<spsc> ring(m, "RingBuffer", py::dynamic_attr(), R"doc(RingBuffer(capacity, dtype)

Wait-free single-producer single-consumer ring buffer of fixed-size NumPy records (compiled
core). Use ``neural_trader.RingBuffer``, which adds iteration helpers.)doc");
  ring.def(py::init([](std::uint64_t capacity, const py::object& dtype) {
             auto dt = py::dtype::from_args(dtype);
             auto owner = std::make_shared<ntr::spsc_record_ring>(capacity, static_cast<std::size_t>(dt.itemsize()));
             ntr::spsc_record_view* view = owner.get();
             return std::make_unique<spsc>(std::move(owner), view, dt, "RingBuffer");
           }),
           py::arg("capacity"), py::arg("dtype"));
  def_ring_methods<ntr::spsc_record_view>(ring);
  ring.def("_capsule", &capsule<ntr::spsc_record_view>, capsule_doc);

  py::class_<mpmc> mring(m, "MPMCRingBuffer", py::dynamic_attr(), R"doc(MPMCRingBuffer(capacity, dtype)

Bounded lock-free multi-producer multi-consumer ring buffer of fixed-size NumPy records
(compiled core). Use ``neural_trader.MPMCRingBuffer``.)doc");
  mring.def(py::init([](std::uint64_t capacity, const py::object& dtype) {
              auto dt = py::dtype::from_args(dtype);
              auto owner = std::make_shared<ntr::mpmc_record_ring>(capacity, static_cast<std::size_t>(dt.itemsize()));
              ntr::mpmc_record_ring* view = owner.get();
              return std::make_unique<mpmc>(std::move(owner), view, dt, "MPMCRingBuffer");
            }),
            py::arg("capacity"), py::arg("dtype"));
  def_ring_methods<ntr::mpmc_record_ring>(mring);
  mring.def("_capsule", &capsule<ntr::mpmc_record_ring>, capsule_doc);

  py::class_<py_shared_ring, spsc> shared(m, "SharedRingBuffer", py::dynamic_attr(), R"doc(SPSC ring buffer in named shared memory
(compiled core). Use ``neural_trader.SharedRingBuffer``.)doc");
  shared.def(py::init([](const std::string& name, std::uint64_t capacity, const py::object& dtype,
                         const py::bytes& meta, bool create, const py::function& dtype_from_meta) {
                if (create) {
                  auto dt = py::dtype::from_args(dtype);
                  auto owner = std::make_shared<ntr::shared_spsc_ring>(ntr::shared_spsc_ring::create(
                      name, capacity, static_cast<std::size_t>(dt.itemsize()), std::string(meta)));
                  ntr::spsc_record_view* view = &owner->view();
                  return std::make_unique<py_shared_ring>(std::move(owner), view, dt, "SharedRingBuffer");
                }
                auto owner = std::make_shared<ntr::shared_spsc_ring>(ntr::shared_spsc_ring::attach(name));
                auto dt = py::dtype::from_args(dtype_from_meta(py::bytes(std::string(owner->meta()))));
                if (static_cast<std::size_t>(dt.itemsize()) != owner->view().record_size()) {
                  throw neural_trader::corrupt_data_error("shared ring '" + name +
                                                          "': its dtype disagrees with its record size");
                }
                ntr::spsc_record_view* view = &owner->view();
                return std::make_unique<py_shared_ring>(std::move(owner), view, dt, "SharedRingBuffer");
              }),
              py::arg("name"), py::arg("capacity"), py::arg("dtype"), py::arg("meta"), py::arg("create"),
              py::arg("dtype_from_meta"));
  shared
      .def_property_readonly("name", [](const spsc& self) {
        return std::static_pointer_cast<ntr::shared_spsc_ring>(self.owner)->name();
      }, "The segment's name.")
      .def_property_readonly("owner", [](const spsc& self) {
        return std::static_pointer_cast<ntr::shared_spsc_ring>(self.owner)->owner();
      }, "Whether this handle created the segment (and will unlink its name).")
      .def_property_readonly("creator_pid", [](const spsc& self) {
        auto s = std::static_pointer_cast<ntr::shared_spsc_ring>(self.owner);
        if (!s->mapped()) nt_bind::raise("ClosedError", "SharedRingBuffer is detached from its memory");
        return s->creator_pid();
      }, "Process id of the creator.")
      .def("unlink", [](spsc& self) { std::static_pointer_cast<ntr::shared_spsc_ring>(self.owner)->unlink(); },
           "Remove the segment's name (creator only; a no-op for attached handles). Attached processes keep "
           "their mapping.")
      .def("detach", [](spsc& self) {
        self.view = nullptr;
        self.ref.ring = nullptr;
        std::static_pointer_cast<ntr::shared_spsc_ring>(self.owner)->release();
      }, "Unmap the segment now (the creator also unlinks its name). Later calls raise ClosedError. "
         "No other thread may be using the ring.")
      .def_static("_remove", [](const std::string& name) { ntr::shared_spsc_ring::remove(name); }, py::arg("name"));
}
