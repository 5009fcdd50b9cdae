// Python bindings of the sketches: HyperLogLog, CountMinSketch, BloomFilter, the reservoir
// sampler core, and hash64. Batch calls hash NumPy arrays in chunks with the GIL released; the
// per-item calls of HyperLogLog and BloomFilter that must be fast live in the Cython _engine
// (native/cython/sketch.pxi), over the same C++ objects reached through _capsule().
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <neural_trader/common/errors.hpp>
#include <neural_trader/common/hash.hpp>
#include <neural_trader/common/threads.hpp>
#include <neural_trader/sketch/sketch.hpp>

#include "common.hpp"
#include "pyhash.hpp"

namespace nts = neural_trader::sketch;
using neural_trader::item_hasher;

namespace {

/// Batches at least this long are processed with the GIL released.
constexpr std::size_t release_gil_items = 2048;
constexpr std::size_t chunk_items = 1024;
/// Bytes and str batches hashed on several threads are hashed this many items at a time.
constexpr std::size_t parallel_chunk = std::size_t{1} << 18;
/// Batches are split into runs of this many items between checks for Ctrl-C.
constexpr std::size_t signal_items = std::size_t{1} << 23;

/// A batch of items as the Python wrapper prepared it: a 1-D contiguous NumPy array of int64,
/// float64, fixed-width bytes ('S') or text ('U'), or a list/tuple/object array of Python items.
class item_batch {
 public:
  enum kind_t { i64, f64, bytes_fixed, ucs4_fixed, objects };

  item_batch(py::handle items, const item_hasher& h) {
    if (py::isinstance<py::array>(items)) {
      arr_ = py::reinterpret_borrow<py::array>(items);
      if (arr_.ndim() != 1) throw std::invalid_argument("items must be a 1-D array, got " + std::to_string(arr_.ndim()) + "-D");
      if (!(arr_.flags() & py::array::c_style)) arr_ = py::array::ensure(arr_, py::array::c_style);
      n_ = static_cast<std::size_t>(arr_.shape(0));
      itemsize_ = static_cast<std::size_t>(arr_.itemsize());
      data_ = static_cast<const char*>(arr_.data());
      const char k = arr_.dtype().kind();
      if (k == 'i' && itemsize_ == 8) {
        kind_ = i64;
      } else if (k == 'f' && itemsize_ == 8) {
        kind_ = f64;
      } else if (k == 'S') {
        kind_ = bytes_fixed;
      } else if (k == 'U') {
        kind_ = ucs4_fixed;
        validate_ucs4();
      } else if (k == 'O') {
        kind_ = objects;
        hash_objects(reinterpret_cast<PyObject* const*>(data_), h);
      } else {
        throw nt_bind::dtype_error("cannot hash items of dtype " + std::string(py::str(arr_.dtype())) +
                                   " (use int64, float64, bytes 'S', str 'U' or object arrays)");
      }
      return;
    }
    seq_ = py::reinterpret_steal<py::object>(PySequence_Fast(items.ptr(), "items must be an array or a sequence"));
    if (!seq_) throw py::error_already_set();
    kind_ = objects;
    n_ = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq_.ptr()));
    hash_objects(PySequence_Fast_ITEMS(seq_.ptr()), h);
  }

  kind_t kind() const noexcept { return kind_; }
  const std::int64_t* int_data() const noexcept { return reinterpret_cast<const std::int64_t*>(data_); }
  const double* float_data() const noexcept { return reinterpret_cast<const double*>(data_); }
  std::size_t size() const noexcept { return n_; }
  bool release_gil() const noexcept { return n_ >= release_gil_items; }

  /// Hashes items [begin, begin + n) into out (no Python calls: safe without the GIL).
  void hashes(const item_hasher& h, std::size_t begin, std::size_t n, std::uint64_t* out) const noexcept {
    switch (kind_) {
      case i64: {
        const auto* v = reinterpret_cast<const std::int64_t*>(data_) + begin;
        for (std::size_t i = 0; i < n; ++i) out[i] = h.hash_int(v[i]);
        break;
      }
      case f64: {
        const auto* v = reinterpret_cast<const double*>(data_) + begin;
        for (std::size_t i = 0; i < n; ++i) out[i] = h.hash_float(v[i]);
        break;
      }
      case bytes_fixed:
        for (std::size_t i = 0; i < n; ++i) {
          const char* p = data_ + (begin + i) * itemsize_;
          out[i] = h.hash_bytes(p, fixed_len(p));
        }
        break;
      case ucs4_fixed: {
        std::string buf;
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t len = utf8_of(begin + i, buf);
          out[i] = h.hash_bytes(buf.data(), len);
        }
        break;
      }
      case objects:
        std::memcpy(out, obj_hashes_.data() + begin, n * sizeof(std::uint64_t));
        break;
    }
  }

  /// The canonical key of item i (objects: needs the GIL).
  nts::item_key key(std::size_t i) const {
    switch (kind_) {
      case i64: return nts::item_key::of_int(reinterpret_cast<const std::int64_t*>(data_)[i]);
      case f64: return nts::item_key::of_float(reinterpret_cast<const double*>(data_)[i]);
      case bytes_fixed: {
        const char* p = data_ + i * itemsize_;
        return nts::item_key::of_bytes(p, fixed_len(p), false);
      }
      case ucs4_fixed: {
        std::string buf;
        const std::size_t len = utf8_of(i, buf);
        return nts::item_key::of_bytes(buf.data(), len, true);
      }
      case objects: {
        nt_bind::py_item it;
        if (nt_bind::parse_item(object_at(i), it) != 0) throw py::error_already_set();
        return it.key();
      }
    }
    return {};
  }

  /// Calls fn(hashes, begin, n) over chunks of the batch, with the GIL released when `nogil`.
  /// Every `signal_items` items the GIL is taken back to check for Ctrl-C (a KeyboardInterrupt
  /// then leaves the items before that point added). With `threads` != 1 and a long batch
  /// released from the GIL, the chunks are `parallel_chunk` items hashed on several threads
  /// (so fn can split them over threads too); otherwise `chunk_items` hashed on this thread.
  template <class Fn>
  void for_chunks(const item_hasher& h, bool nogil, Fn&& fn, int threads = 1) const {
    const std::size_t t =
        threads == 1 || !(nogil && release_gil()) ? 1 : neural_trader::threads_for(n_, parallel_chunk / 2, threads);
    const std::size_t chunk = t > 1 ? parallel_chunk : chunk_items;
    std::uint64_t local[chunk_items];  // the one-thread chunks need no allocation
    std::vector<std::uint64_t> big(t > 1 ? std::min(n_, chunk) : 0);
    std::uint64_t* buf = t > 1 ? big.data() : local;
    for_runs(nogil, [&](std::size_t from, std::size_t to) {
      for (std::size_t c = from; c < to; c += chunk) {
        const std::size_t m = std::min(chunk, to - c);
        if (t > 1) {
          neural_trader::parallel_for(
              m, [&](std::size_t b, std::size_t e) { hashes(h, c + b, e - b, buf + b); }, static_cast<int>(t));
        } else {
          hashes(h, c, m, buf);
        }
        fn(static_cast<const std::uint64_t*>(buf), c, m);
      }
    });
  }

  /// Calls fn(begin, n, hash_at) over the batch, hash_at(i) giving the hash of item begin + i
  /// (always a pure function, safe on several threads): int64 and float64 items are hashed by
  /// hash_at itself, inside the sketch's loop (overlapping its memory accesses), Python objects
  /// were hashed when the batch was made. Bytes and str items are hashed first, chunk by chunk
  /// (for_chunks, on `threads`). GIL and Ctrl-C as for_runs.
  template <class Fn>
  void for_hashed(const item_hasher& h, bool nogil, Fn&& fn, int threads = 1) const {
    if (kind_ == i64) {
      for_runs(nogil, [&](std::size_t from, std::size_t to) {
        fn(from, to - from, [hc = h, v = int_data() + from](std::size_t i) noexcept { return hc.hash_int(v[i]); });
      });
    } else if (kind_ == f64) {
      for_runs(nogil, [&](std::size_t from, std::size_t to) {
        fn(from, to - from, [hc = h, v = float_data() + from](std::size_t i) noexcept { return hc.hash_float(v[i]); });
      });
    } else if (kind_ == objects) {
      for_runs(nogil, [&](std::size_t from, std::size_t to) {
        fn(from, to - from, [v = obj_hashes_.data() + from](std::size_t i) noexcept { return v[i]; });
      });
    } else {
      for_chunks(h, nogil, [&](const std::uint64_t* buf, std::size_t begin, std::size_t n) {
        fn(begin, n, [buf](std::size_t i) noexcept { return buf[i]; });
      }, threads);
    }
  }

  /// Calls run(from, to) over runs of the batch, with the GIL released when `nogil` and the
  /// batch is long; between runs of `signal_items` items the GIL is taken back to check for
  /// Ctrl-C (a KeyboardInterrupt then leaves the items before that point added).
  template <class Fn>
  void for_runs(bool nogil, Fn&& run) const {
    if (!(nogil && release_gil())) {
      run(std::size_t{0}, n_);
      return;
    }
    for (std::size_t from = 0; from < n_; from += signal_items) {
      const std::size_t to = std::min(n_, from + signal_items);
      {
        py::gil_scoped_release release;
        run(from, to);
      }
      if (to < n_ && PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }

 private:
  std::size_t fixed_len(const char* p) const noexcept {
    std::size_t len = itemsize_;
    while (len > 0 && p[len - 1] == '\0') --len;  // NumPy drops trailing NULs of 'S' items
    return len;
  }

  /// The UTF-8 bytes of 'U' item i at the start of out, their count returned (out is grown to
  /// fit, never shrunk; code points were validated when the batch was made). Written through a
  /// pointer into a buffer sized for the worst case once, with a plain narrowing loop for the
  /// items that are all ASCII (most are).
  std::size_t utf8_of(std::size_t i, std::string& out) const {
    const auto* cp = reinterpret_cast<const std::uint32_t*>(data_ + i * itemsize_);
    std::size_t len = itemsize_ / 4;
    while (len > 0 && cp[len - 1] == 0) --len;  // ... and trailing NULs of 'U' items
    if (out.size() < 4 * (itemsize_ / 4)) out.resize(4 * (itemsize_ / 4));
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    std::size_t j = 0, w = 0;
    std::uint32_t high = 0;
    for (; j < len; ++j) high |= cp[j];
    if (high < 0x80) {  // all ASCII
      for (j = 0; j < len; ++j) o[j] = static_cast<unsigned char>(cp[j]);
      w = len;
    } else {
      for (j = 0; j < len; ++j) {
        const std::uint32_t c = cp[j];
        if (c < 0x80) {
          o[w++] = static_cast<unsigned char>(c);
        } else if (c < 0x800) {
          o[w++] = static_cast<unsigned char>(0xC0 | (c >> 6));
          o[w++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
          o[w++] = static_cast<unsigned char>(0xE0 | (c >> 12));
          o[w++] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
          o[w++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
        } else {
          o[w++] = static_cast<unsigned char>(0xF0 | (c >> 18));
          o[w++] = static_cast<unsigned char>(0x80 | ((c >> 12) & 0x3F));
          o[w++] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
          o[w++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
        }
      }
    }
    return w;
  }

  /// A surrogate (U+D800..U+DFFF) or a code point past U+10FFFF, branch-free.
  static bool bad_code_point(std::uint32_t c) noexcept { return (c > 0x10FFFF) | (c - 0xD800u < 0x800u); }

  /// Rejects surrogates and code points past U+10FFFF before anything is added. Blocks of code
  /// points are tested branch-free (a loop the compiler vectorises); only a block that holds a
  /// bad one is searched for the item to name.
  void validate_ucs4() const {
    const auto* cp = reinterpret_cast<const std::uint32_t*>(data_);
    const std::size_t total = n_ * (itemsize_ / 4);
    constexpr std::size_t block = 4096;
    for (std::size_t b = 0; b < total; b += block) {
      const std::size_t e = std::min(total, b + block);
      std::uint32_t bad = 0;
      for (std::size_t j = b; j < e; ++j) bad |= static_cast<std::uint32_t>(bad_code_point(cp[j]));
      if (bad == 0) continue;
      for (std::size_t j = b; j < e; ++j) {
        if (bad_code_point(cp[j])) {
          throw std::invalid_argument("str item " + std::to_string(j / (itemsize_ / 4)) +
                                      " is not valid Unicode (surrogate or out-of-range code point)");
        }
      }
    }
  }

  PyObject* object_at(std::size_t i) const {
    if (seq_) return PySequence_Fast_ITEMS(seq_.ptr())[i];
    return reinterpret_cast<PyObject* const*>(data_)[i];
  }

  void hash_objects(PyObject* const* items, const item_hasher& h) {
    obj_hashes_.resize(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      PyObject* o = items[i];
      if (o == nullptr) throw nt_bind::dtype_error("object array holds a NULL item");
      if (nt_bind::hash_object(h, o, &obj_hashes_[i]) != 0) throw py::error_already_set();
    }
  }

  kind_t kind_ = objects;
  py::array arr_;
  py::object seq_;
  const char* data_ = nullptr;
  std::size_t n_ = 0;
  std::size_t itemsize_ = 0;
  std::vector<std::uint64_t> obj_hashes_;
};

std::uint64_t hash_one(const item_hasher& h, py::handle item) {
  std::uint64_t out = 0;
  if (nt_bind::hash_object(h, item.ptr(), &out) != 0) throw py::error_already_set();
  return out;
}

py::bytes to_pybytes(const std::vector<unsigned char>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

/// Bytes-like input as (pointer, size), kept alive by `keep`.
std::pair<const char*, std::size_t> bytes_of(const py::handle& data, py::buffer_info& keep) {
  if (py::isinstance<py::bytes>(data)) {
    char* p = nullptr;
    Py_ssize_t n = 0;
    if (PyBytes_AsStringAndSize(data.ptr(), &p, &n) != 0) throw py::error_already_set();
    return {p, static_cast<std::size_t>(n)};
  }
  if (!PyObject_CheckBuffer(data.ptr())) {
    throw nt_bind::dtype_error(std::string("from_bytes() takes bytes, got ") +
                               std::string(py::str(py::type::of(data).attr("__name__"))));
  }
  keep = py::reinterpret_borrow<py::buffer>(data).request();
  if (keep.ndim > 1 || (keep.ndim == 1 && keep.strides[0] != keep.itemsize)) {
    throw nt_bind::dtype_error("from_bytes() takes a contiguous bytes-like object");
  }
  return {static_cast<const char*>(keep.ptr), static_cast<std::size_t>(keep.size * keep.itemsize)};
}

py::object key_to_python(const nts::item_key& k) {
  using K = nts::item_key;
  const auto* p = reinterpret_cast<const unsigned char*>(k.data.data());
  switch (k.kind) {
    case K::integer: return py::int_(neural_trader::detail::load_le<std::int64_t>(p));
    case K::floating: return py::float_(std::bit_cast<double>(neural_trader::detail::load_le<std::uint64_t>(p)));
    case K::text: {
      PyObject* s = PyUnicode_DecodeUTF8(k.data.data(), static_cast<Py_ssize_t>(k.data.size()), "surrogateescape");
      if (s == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(s);
    }
    default: return py::bytes(k.data);
  }
}

// ---------------------------------------------------------------------------------------------
// A sketch is single-writer. A batch call runs with the GIL released, so another Python thread
// could meanwhile call a method that reallocates what the batch is writing (merge folding an
// HLL, the heavy-hitter list of a count-min): `busy` (only touched with the GIL held) makes such
// calls raise instead of crashing.
struct busy_flag {
  int readers = 0;
  bool writer = false;
};

class busy_guard {
 public:
  busy_guard(busy_flag& f, const char* what, bool write) : f_(f), write_(write) {
    if (write) check_write(f, what); else check_read(f, what);
    if (write) f_.writer = true; else ++f_.readers;
  }
  ~busy_guard() {
    if (write_) f_.writer = false; else --f_.readers;
  }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;
  /// Raises while a batch call writes the sketch on another thread.
  static void check_read(const busy_flag& f, const char* what) {
    if (f.writer) fail(what);
  }
  /// Raises while any batch call uses the sketch on another thread.
  static void check_write(const busy_flag& f, const char* what) {
    if (f.writer || f.readers > 0) fail(what);
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    nt_bind::raise("InvalidArgumentError", std::string(what) +
                                               " is in a batch call on another thread (a sketch has one writer at a time)");
  }
  busy_flag& f_;
  bool write_;
};

struct py_hll : busy_flag {
  explicit py_hll(nts::hyperloglog x) : s(std::move(x)) {}
  py_hll(const py_hll& o) : busy_flag(), s(o.s) {}
  nts::hyperloglog s;
};

struct py_cms : busy_flag {
  explicit py_cms(nts::count_min x) : s(std::move(x)) {}
  py_cms(const py_cms& o) : busy_flag(), s(o.s) {}
  nts::count_min s;
};

struct py_bloom : busy_flag {
  explicit py_bloom(nts::bloom_filter x) : s(std::move(x)) {}
  nts::bloom_filter s;
};

struct py_reservoir {
  nts::reservoir_sampler s;
};

template <class T>
py::array_t<T> new_array(std::size_t n) {
  return py::array_t<T>(static_cast<py::ssize_t>(n));
}

const char* const capsule_doc =
    "A capsule holding the C++ sketch, for the per-item calls of the Cython engine; valid while this object lives.";

void bind_hll(py::module_& m) {
  py::class_<py_hll> c(m, "HyperLogLog", R"doc(HyperLogLog(lg_k=12, seed=0)

HyperLogLog distinct counter (compiled core). Use ``neural_trader.HyperLogLog``.)doc");
  c.def(py::init([](int lg_k, std::uint64_t seed) { return py_hll(nts::hyperloglog(lg_k, seed)); }), py::arg("lg_k") = 12,
        py::arg("seed") = 0)
      .def("update", [](py_hll& self, py::handle item) { self.s.update_hash(hash_one(self.s.hasher(), item)); },
           py::arg("item"), "Add one item (the pybind11 path; the public class uses the Cython one).")
      .def("update_many", [](py_hll& self, py::handle items, int num_threads) {
        item_batch b(items, self.s.hasher());
        busy_guard guard(self, "HyperLogLog", true);
        // int64 / float64 hashed inside the update loop; str / bytes hashed on threads in chunks
        // when long; the registers are updated in item order either way
        b.for_hashed(self.s.hasher(), true, [&](std::size_t, std::size_t n, auto&& at) { self.s.update_items(n, at); },
                     num_threads);
      }, py::arg("items"), py::arg("num_threads") = 0,
         "Add a batch of items (prepared 1-D array or sequence); GIL released for large batches.")
      .def("estimate", [](const py_hll& self) { return self.s.estimate(); }, "Estimated number of distinct items.")
      .def("lower_bound", [](const py_hll& self, double k) { return self.s.lower_bound(k); }, py::arg("k"),
           "Lower bound at k standard deviations.")
      .def("upper_bound", [](const py_hll& self, double k) { return self.s.upper_bound(k); }, py::arg("k"),
           "Upper bound at k standard deviations.")
      .def("relative_error", [](const py_hll& self) { return self.s.relative_error(); },
           "Relative standard error of the estimate.")
      .def("merge", [](py_hll& self, const py_hll& other) {
        busy_guard::check_write(self, "HyperLogLog");
        busy_guard::check_read(other, "HyperLogLog");
        self.s.merge(other.s);
      }, py::arg("other"),
           "Union in place (folds down to the smaller lg_k).")
      .def("fold_to", [](py_hll& self, int lg_k) {
        busy_guard::check_write(self, "HyperLogLog");
        self.s.fold_to(lg_k);
      }, py::arg("lg_k"), "Reduce to a smaller lg_k.")
      .def("copy", [](const py_hll& self) { return py_hll(self); }, "A deep copy.")
      .def("clear", [](py_hll& self) { self.s.clear(); }, "Forget every item.")
      .def("to_bytes", [](const py_hll& self) { return to_pybytes(self.s.serialize()); }, "Serialised form.")
      .def_static("from_bytes", [](const py::handle& data) {
        py::buffer_info keep;
        const auto [p, n] = bytes_of(data, keep);
        return py_hll(nts::hyperloglog::deserialize(p, n));
      }, py::arg("data"), "Load a serialised sketch; raises CorruptDataError.")
      .def("registers", [](const py_hll& self) {
        const auto& r = self.s.registers();
        auto out = new_array<std::uint8_t>(r.size());
        std::memcpy(out.mutable_data(), r.data(), r.size());
        return out;
      }, "A copy of the registers.")
      .def("is_empty", [](const py_hll& self) { return self.s.empty(); }, "Whether no item was added.")
      .def("equals", [](const py_hll& self, const py_hll& o) { return self.s == o.s; }, py::arg("other"),
           "Identical state.")
      .def_property_readonly("lg_k", [](const py_hll& self) { return self.s.lg_k(); }, "log2 of the register count.")
      .def_property_readonly("seed", [](const py_hll& self) { return self.s.seed(); }, "Hash seed.")
      .def_property_readonly("hip_valid", [](const py_hll& self) { return self.s.hip_valid(); },
                             "Whether the HIP estimator is in use.")
      .def("_capsule", [](py_hll& self) {
        return py::capsule(static_cast<void*>(&self.s), "neural_trader.hll");
      }, capsule_doc);
}

void bind_cms(py::module_& m) {
  py::class_<py_cms> c(m, "CountMinSketch", R"doc(CountMinSketch(width, depth, seed=0, conservative=False, top=0)

Count-min sketch (compiled core). Use ``neural_trader.CountMinSketch``.)doc");
  c.def(py::init([](std::uint64_t w, std::uint32_t d, std::uint64_t seed, bool cons, std::uint32_t top) {
          return py_cms(nts::count_min(w, d, seed, cons, top));
        }),
        py::arg("width"), py::arg("depth"), py::arg("seed") = 0, py::arg("conservative") = false, py::arg("top") = 0)
      .def_static("dimensions_for", &nts::count_min::dimensions_for, py::arg("epsilon"), py::arg("delta"),
                  "(width, depth) for error epsilon * N with probability 1 - delta.")
      .def("update", [](py_cms& self, py::handle item, std::uint64_t count) {
        busy_guard::check_write(self, "CountMinSketch");
        nt_bind::py_item it;
        if (nt_bind::parse_item(item.ptr(), it) != 0) throw py::error_already_set();
        self.s.update(it.hash(self.s.hasher()), count, [&] { return it.key(); });
      }, py::arg("item"), py::arg("count") = 1, "Add count to one item.")
      .def("update_many", [](py_cms& self, py::handle items, py::object counts, int num_threads) {
        item_batch b(items, self.s.hasher());
        busy_guard guard(self, "CountMinSketch", true);
        const std::uint64_t* cnt = nullptr;
        py::array_t<std::uint64_t> carr;
        if (!counts.is_none()) {
          carr = counts.cast<py::array_t<std::uint64_t>>();
          if (static_cast<std::size_t>(carr.size()) != b.size()) {
            throw std::invalid_argument("counts has " + std::to_string(carr.size()) + " entries for " +
                                        std::to_string(b.size()) + " items");
          }
          cnt = carr.data();
        }
        if (self.s.top() == 0) {
          b.for_hashed(self.s.hasher(), true, [&](std::size_t begin, std::size_t n, auto&& at) {
            self.s.update_items(n, at, cnt ? cnt + begin : nullptr, num_threads);
          }, num_threads);
        } else {
          b.for_chunks(self.s.hasher(), b.kind() != item_batch::objects,
                       [&](const std::uint64_t* h, std::size_t begin, std::size_t n) {
                         self.s.update_hashes_tracked(h, cnt ? cnt + begin : nullptr, n,
                                                      [&](std::size_t i) { return b.key(begin + i); });
                       });
        }
      }, py::arg("items"), py::arg("counts") = py::none(), py::arg("num_threads") = 0,
         "Add a batch (counts: uint64 array or None for 1 each; num_threads 0: the nt.set_num_threads cap).")
      .def("estimate", [](const py_cms& self, py::handle item) {
        return self.s.estimate_hash(hash_one(self.s.hasher(), item));
      }, py::arg("item"), "Estimated count of one item (never below the true count).")
      .def("estimate_many", [](py_cms& self, py::handle items) {
        item_batch b(items, self.s.hasher());
        busy_guard guard(self, "CountMinSketch", false);
        auto out = new_array<std::uint64_t>(b.size());
        std::uint64_t* o = out.mutable_data();
        b.for_chunks(self.s.hasher(), true, [&](const std::uint64_t* h, std::size_t begin, std::size_t n) {
          for (std::size_t i = 0; i < n; ++i) o[begin + i] = self.s.estimate_hash(h[i]);
        });
        return out;
      }, py::arg("items"), "Estimated counts of a batch (uint64 array).")
      .def("top_k", [](const py_cms& self, std::size_t k) {
        busy_guard::check_read(self, "CountMinSketch");
        py::list out;
        for (const auto& [c, est] : self.s.top_k(k)) out.append(py::make_tuple(key_to_python(c->key), est));
        return out;
      }, py::arg("k"), "The k heavy-hitter candidates with the largest estimates: [(item, estimate)].")
      .def("merge", [](py_cms& self, const py_cms& o) {
        busy_guard::check_write(self, "CountMinSketch");
        busy_guard::check_read(o, "CountMinSketch");
        self.s.merge(o.s);
      }, py::arg("other"), "Add another sketch.")
      .def("copy", [](const py_cms& self) {
        busy_guard::check_read(self, "CountMinSketch");
        return py_cms(self);
      }, "A deep copy.")
      .def("clear", [](py_cms& self) {
        busy_guard::check_write(self, "CountMinSketch");
        self.s.clear();
      }, "Reset every counter.")
      .def("to_bytes", [](const py_cms& self) {
        busy_guard::check_read(self, "CountMinSketch");
        return to_pybytes(self.s.serialize());
      }, "Serialised form.")
      .def_static("from_bytes", [](const py::handle& data) {
        py::buffer_info keep;
        const auto [p, n] = bytes_of(data, keep);
        return py_cms(nts::count_min::deserialize(p, n));
      }, py::arg("data"), "Load a serialised sketch; raises CorruptDataError.")
      .def("table", [](const py_cms& self) {
        const auto& t = self.s.table();
        py::array_t<std::uint64_t> out({static_cast<py::ssize_t>(self.s.depth()), static_cast<py::ssize_t>(self.s.width())});
        std::memcpy(out.mutable_data(), t.data(), t.size() * sizeof(std::uint64_t));
        return out;
      }, "A copy of the counters, shape (depth, width).")
      .def("equals", [](const py_cms& self, const py_cms& o) {
        return self.s.compatible(o.s) && self.s.table() == o.s.table() && self.s.total() == o.s.total() &&
               self.s.conservative() == o.s.conservative() && self.s.top() == o.s.top();
      }, py::arg("other"), "Identical counters and parameters.")
      .def_property_readonly("width", [](const py_cms& self) { return self.s.width(); }, "Counters per row.")
      .def_property_readonly("depth", [](const py_cms& self) { return self.s.depth(); }, "Rows.")
      .def_property_readonly("seed", [](const py_cms& self) { return self.s.seed(); }, "Hash seed.")
      .def_property_readonly("conservative", [](const py_cms& self) { return self.s.conservative(); },
                             "Conservative update in use.")
      .def_property_readonly("top", [](const py_cms& self) { return self.s.top(); }, "Heavy hitters tracked.")
      .def_property_readonly("total", [](const py_cms& self) { return self.s.total(); }, "Sum of all counts added.")
      .def_property_readonly("epsilon", [](const py_cms& self) { return self.s.epsilon(); }, "e / width.")
      .def_property_readonly("delta", [](const py_cms& self) { return self.s.delta(); }, "exp(-depth).");
}

void bind_bloom(py::module_& m) {
  py::class_<py_bloom> c(m, "BloomFilter", R"doc(BloomFilter(capacity, fp_rate=0.01, seed=0)

Blocked Bloom filter (compiled core). Use ``neural_trader.BloomFilter``.)doc");
  c.def(py::init([](std::uint64_t capacity, double fp, std::uint64_t seed) {
          return py_bloom(nts::bloom_filter::with_capacity(capacity, fp, seed));
        }),
        py::arg("capacity"), py::arg("fp_rate") = 0.01, py::arg("seed") = 0)
      .def_static("dimensions_for", [](std::uint64_t capacity, double fp) {
        const auto d = nts::bloom_filter::dimensions_for(capacity, fp);
        return py::make_tuple(d.blocks, d.words, d.k);
      }, py::arg("capacity"), py::arg("fp_rate"), "(blocks, words per block, hashes) the constructor would choose.")
      .def_static("expected_fpr", &nts::bloom_filter::expected_fpr, py::arg("n"), py::arg("blocks"), py::arg("k"),
                  py::arg("words") = 8, "Expected false-positive rate of a split-layout filter.")
      .def("expected_fpr_at", [](const py_bloom& self, double n) { return self.s.expected_fpr_at(n); }, py::arg("n"),
           "Expected false-positive rate of this filter with n distinct items in.")
      .def_property_readonly("layout", [](const py_bloom& self) {
        return self.s.layout() == nts::bloom_layout::split ? "split" : "classic";
      }, "Bit layout: 'split' (new filters) or 'classic' (loaded from format-1 files).")
      .def_property_readonly("words_per_block", [](const py_bloom& self) { return self.s.words_per_block(); },
                             "64-bit words per block.")
      .def("add", [](py_bloom& self, py::handle item) { return self.s.add_hash(hash_one(self.s.hasher(), item)); },
           py::arg("item"), "Add one item; True when it was (probably) new.")
      .def("contains", [](const py_bloom& self, py::handle item) {
        return self.s.contains_hash(hash_one(self.s.hasher(), item));
      }, py::arg("item"), "Whether the item is (probably) in the filter.")
      .def("add_many", [](py_bloom& self, py::handle items, bool return_new, int num_threads) -> py::object {
        item_batch b(items, self.s.hasher());
        busy_guard guard(self, "BloomFilter", true);
        py::array_t<bool> out;
        bool* o = nullptr;
        if (return_new) {
          out = new_array<bool>(b.size());
          o = out.mutable_data();
        }
        b.for_hashed(self.s.hasher(), true, [&](std::size_t begin, std::size_t n, auto&& at) {
          self.s.add_items(n, at, o ? o + begin : nullptr, num_threads);
        }, num_threads);
        if (!return_new) return py::none();
        return std::move(out);
      }, py::arg("items"), py::arg("return_new") = false, py::arg("num_threads") = 0,
         "Add a batch; optionally return which items were new.")
      .def("contains_many", [](py_bloom& self, py::handle items, int num_threads) {
        item_batch b(items, self.s.hasher());
        busy_guard guard(self, "BloomFilter", false);
        auto out = new_array<bool>(b.size());
        bool* o = out.mutable_data();
        b.for_hashed(self.s.hasher(), true, [&](std::size_t begin, std::size_t n, auto&& at) {
          self.s.contains_items(n, at, o + begin, num_threads);
        }, num_threads);
        return out;
      }, py::arg("items"), py::arg("num_threads") = 0, "Membership of a batch (bool array).")
      .def("union_update", [](py_bloom& self, const py_bloom& o) { self.s.union_with(o.s); }, py::arg("other"),
           "OR the other filter's bits in.")
      .def("intersection_update", [](py_bloom& self, const py_bloom& o) { self.s.intersect_with(o.s); },
           py::arg("other"), "AND the other filter's bits in.")
      .def("copy", [](const py_bloom& self) { return py_bloom(self.s.copy()); }, "A deep copy.")
      .def("clear", [](py_bloom& self) { self.s.clear(); }, "Remove every item.")
      .def("estimate_count", [](const py_bloom& self) { return self.s.estimate_count(); },
           "Estimated number of distinct items added.")
      .def("bits_set", [](const py_bloom& self) { return self.s.bits_set(); }, "Number of bits set.")
      .def("to_bytes", [](py_bloom& self) {
        busy_guard guard(self, "BloomFilter", false);
        std::vector<unsigned char> v;
        {
          py::gil_scoped_release release;
          v = self.s.serialize();
        }
        return to_pybytes(v);
      }, "Serialised form.")
      .def_static("from_bytes", [](const py::handle& data) {
        py::buffer_info keep;
        const auto [p, n] = bytes_of(data, keep);
        return py_bloom(nts::bloom_filter::deserialize(p, n));
      }, py::arg("data"), "Load a serialised filter; raises CorruptDataError.")
      .def("equals", [](const py_bloom& self, const py_bloom& o) { return self.s == o.s; }, py::arg("other"),
           "Identical bits and parameters.")
      .def_property_readonly("num_bits", [](const py_bloom& self) { return self.s.num_bits(); }, "Bits in the filter.")
      .def_property_readonly("num_hashes", [](const py_bloom& self) { return self.s.num_hashes(); }, "Bits per item.")
      .def_property_readonly("capacity", [](const py_bloom& self) { return self.s.capacity(); }, "Design capacity.")
      .def_property_readonly("fp_rate", [](const py_bloom& self) { return self.s.fp_rate(); }, "Design FPR.")
      .def_property_readonly("seed", [](const py_bloom& self) { return self.s.seed(); }, "Hash seed.")
      .def("_capsule", [](py_bloom& self) {
        return py::capsule(static_cast<void*>(&self.s), "neural_trader.bloom");
      }, capsule_doc);
}

/// Runs an offer and returns the final (slot, offset) pairs, one per slot touched (the last
/// assignment of a slot wins), ordered by slot.
template <class Run>
py::tuple assignments(Run&& run) {
  std::vector<std::pair<std::size_t, std::uint64_t>> log;
  run([&](std::size_t slot, std::uint64_t off) { log.emplace_back(slot, off); });
  std::stable_sort(log.begin(), log.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::size_t, std::uint64_t>> latest;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (i + 1 < log.size() && log[i + 1].first == log[i].first) continue;
    latest.push_back(log[i]);
  }
  auto slots = new_array<std::int64_t>(latest.size());
  auto offs = new_array<std::int64_t>(latest.size());
  for (std::size_t i = 0; i < latest.size(); ++i) {
    slots.mutable_data()[i] = static_cast<std::int64_t>(latest[i].first);
    offs.mutable_data()[i] = static_cast<std::int64_t>(latest[i].second);
  }
  return py::make_tuple(slots, offs);
}

void bind_reservoir(py::module_& m) {
  py::class_<py_reservoir> c(m, "ReservoirSampler", R"doc(ReservoirSampler(k, seed, weighted)

The slot decisions of a reservoir sample (compiled core); ``neural_trader.Reservoir`` stores the items.)doc");
  c.def(py::init([](std::uint64_t k, std::uint64_t seed, bool weighted) {
          return py_reservoir{nts::reservoir_sampler(k, seed, weighted)};
        }),
        py::arg("k"), py::arg("seed"), py::arg("weighted"))
      .def("offer", [](py_reservoir& self, std::uint64_t n) {
        return assignments([&](auto&& assign) { self.s.offer(n, assign); });
      }, py::arg("n"), "Consume n stream positions; return (slots, offsets) of the items that enter the sample.")
      .def("offer_weighted", [](py_reservoir& self, const py::array_t<double, py::array::c_style | py::array::forcecast>& w) {
        if (w.ndim() != 1) throw std::invalid_argument("weights must be 1-D");
        return assignments([&](auto&& assign) {
          self.s.offer_weighted(w.data(), static_cast<std::uint64_t>(w.size()), assign);
        });
      }, py::arg("weights"), "Consume weighted items; return (slots, offsets) of those that enter the sample.")
      .def("offer_one", [](py_reservoir& self, double weight) {
        std::int64_t slot = -1;
        auto assign = [&](std::size_t sl, std::uint64_t) { slot = static_cast<std::int64_t>(sl); };
        if (self.s.weighted()) {
          self.s.offer_weighted(&weight, 1, assign);
        } else {
          self.s.offer(1, assign);
        }
        return slot;
      }, py::arg("weight") = 1.0, "Consume one item (its weight ignored in uniform mode); return its slot or -1.")
      .def("merge", [](py_reservoir& self, const py_reservoir& o) {
        const auto from = self.s.merge(o.s);
        auto src = new_array<std::int64_t>(from.size());
        auto slot = new_array<std::int64_t>(from.size());
        for (std::size_t i = 0; i < from.size(); ++i) {
          src.mutable_data()[i] = from[i].first;
          slot.mutable_data()[i] = static_cast<std::int64_t>(from[i].second);
        }
        return py::make_tuple(src, slot);
      }, py::arg("other"), "Merge; return (source 0/1, slot there) for each slot of the result.")
      .def("indices", [](const py_reservoir& self) {
        const auto& v = self.s.indices();
        auto out = new_array<std::int64_t>(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out.mutable_data()[i] = static_cast<std::int64_t>(v[i]);
        return out;
      }, "Stream position of each slot's item.")
      .def("copy", [](const py_reservoir& self) { return py_reservoir{self.s}; }, "A deep copy.")
      .def("serialize", [](const py_reservoir& self, const py::bytes& items) {
        const std::string blob = items;
        return to_pybytes(self.s.serialize(blob.data(), blob.size()));
      }, py::arg("items"), "Serialised form with the caller's item payload.")
      .def_static("deserialize", [](const py::handle& data) {
        py::buffer_info keep;
        const auto [p, n] = bytes_of(data, keep);
        const unsigned char* items = nullptr;
        std::size_t items_size = 0;
        auto s = nts::reservoir_sampler::deserialize(p, n, &items, &items_size);
        return py::make_tuple(py_reservoir{std::move(s)},
                              py::bytes(reinterpret_cast<const char*>(items), items_size));
      }, py::arg("data"), "Load (sampler, item payload); raises CorruptDataError.")
      .def_property_readonly("k", [](const py_reservoir& self) { return self.s.k(); }, "Sample size.")
      .def_property_readonly("seed", [](const py_reservoir& self) { return self.s.seed(); }, "Seed.")
      .def_property_readonly("weighted", [](const py_reservoir& self) { return self.s.weighted(); }, "Weighted mode.")
      .def_property_readonly("seen", [](const py_reservoir& self) { return self.s.seen(); }, "Items offered.")
      .def_property_readonly("total_weight", [](const py_reservoir& self) { return self.s.total_weight(); },
                             "Sum of the weights offered.")
      .def("__len__", [](const py_reservoir& self) { return self.s.size(); }, "Slots filled.");
}

}  // namespace

void bind_sketch(py::module_& m) {
  bind_hll(m);
  bind_cms(m);
  bind_bloom(m);
  bind_reservoir(m);
  m.def("hash64", [](py::handle item, std::uint64_t seed) { return hash_one(item_hasher(seed), item); },
        py::arg("item"), py::arg("seed") = 0, "The seeded 64-bit hash of one item (canonical encoding).");
  m.def("hash64_many", [](py::handle items, std::uint64_t seed) {
    const item_hasher h(seed);
    item_batch b(items, h);
    auto out = new_array<std::uint64_t>(b.size());
    std::uint64_t* o = out.mutable_data();
    b.for_chunks(h, true, [&](const std::uint64_t* hs, std::size_t begin, std::size_t n) {
      std::memcpy(o + begin, hs, n * sizeof(std::uint64_t));
    });
    return out;
  }, py::arg("items"), py::arg("seed") = 0, "Hashes of a batch of items (uint64 array).");
}
