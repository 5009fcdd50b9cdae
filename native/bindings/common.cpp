// Implementation of the shared binding helpers declared in common.hpp.
#include "common.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace nt_bind {

void raise(const char* error_class, const std::string& message) {
  set_nt_error(error_class, message);
  throw py::error_already_set();
}

std::optional<std::chrono::nanoseconds> to_timeout(const py::object& timeout) {
  if (timeout.is_none()) return std::nullopt;
  const double s = timeout.cast<double>();
  if (std::isnan(s) || s < 0) throw std::invalid_argument("timeout must be None or a number of seconds >= 0");
  if (s > 1e9) return std::nullopt;  // effectively forever
  return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

namespace {

bool native_order(const py::dtype& d) {
  const char bo = d.byteorder();
  if (bo == '=' || bo == '|') return true;
  constexpr char native = (std::endian::native == std::endian::little) ? '<' : '>';
  return bo == native;
}

std::optional<field_codec::kind> simple_kind(const py::dtype& d) {
  if (!native_order(d) || !d.attr("subdtype").is_none()) return std::nullopt;
  if (d.has_fields()) return std::nullopt;
  const char k = d.kind();
  const auto size = d.itemsize();
  using K = field_codec::kind;
  if (k == 'b' && size == 1) return K::boolean;
  if (k == 'i') {
    switch (size) {
      case 1: return K::i8;
      case 2: return K::i16;
      case 4: return K::i32;
      case 8: return K::i64;
    }
  }
  if (k == 'u') {
    switch (size) {
      case 1: return K::u8;
      case 2: return K::u16;
      case 4: return K::u32;
      case 8: return K::u64;
    }
  }
  if (k == 'f' && size == 4) return K::f32;
  if (k == 'f' && size == 8) return K::f64;
  return std::nullopt;
}

}  // namespace

record_codec::record_codec(const py::dtype& dtype) : dtype_(dtype) {
  if (dtype.attr("hasobject").cast<bool>()) {
    throw dtype_error("records cannot hold Python objects (dtype " + std::string(py::str(dtype)) +
                      "); use fixed-size fields");
  }
  layout_.itemsize = static_cast<std::size_t>(dtype.itemsize());
  if (layout_.itemsize == 0) {
    throw dtype_error("records need a dtype of at least one byte, got " + std::string(py::str(dtype)));
  }
  layout_.structured = dtype.has_fields();
  layout_.fast = true;
  if (layout_.structured) {
    py::dict fields = dtype.attr("fields");
    for (py::handle name : dtype.attr("names")) {
      py::tuple info = fields[name];
      const auto kind = simple_kind(info[0].cast<py::dtype>());
      if (!kind) {
        layout_.fast = false;
        break;
      }
      layout_.fields.push_back({info[1].cast<std::size_t>(), *kind, name.cast<std::string>()});
    }
  } else if (const auto kind = simple_kind(dtype)) {
    layout_.fields.push_back({0, *kind, "value"});
  } else {
    layout_.fast = false;
  }
  if (!layout_.fast) layout_.fields.clear();
  slow_unpack_ = py::module_::import("neural_trader._records").attr("unpacker")(dtype_);
  layout_.slow_unpack = slow_unpack_.ptr();
}

void record_codec::pack(py::handle obj, std::byte* out) const {
  const int rc = pack_record_fast(layout_, obj.ptr(), out);
  if (rc == 0) return;
  if (rc < 0) throw py::error_already_set();
  pack_slow(obj, out);
}

void record_codec::pack_slow(py::handle obj, std::byte* out) const {
  if (py::isinstance<py::bytes>(obj) || py::isinstance<py::bytearray>(obj) || py::isinstance<py::memoryview>(obj)) {
    py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
    const auto nbytes = static_cast<std::size_t>(info.size * info.itemsize);
    if (nbytes != itemsize()) {
      throw std::invalid_argument("a raw record must be exactly " + std::to_string(itemsize()) + " bytes, got " +
                                  std::to_string(nbytes));
    }
    std::memcpy(out, info.ptr, itemsize());
    return;
  }
  py::object np = py::module_::import("numpy");
  py::array arr;
  try {
    arr = np.attr("asarray")(obj, dtype_);
  } catch (py::error_already_set& e) {
    throw dtype_error("cannot convert " + std::string(py::str(py::type::of(obj).attr("__name__"))) +
                      " to a record of dtype " + std::string(py::str(dtype_)) + ": " + e.what());
  }
  if (arr.ndim() != 0) {
    throw std::invalid_argument("push() takes one record; got an array of shape " +
                                std::string(py::str(arr.attr("shape"))) + " (use push_many for arrays)");
  }
  std::memcpy(out, arr.data(), itemsize());
}

py::object record_codec::unpack(const std::byte* rec) const {
  PyObject* r = unpack_record(layout_, rec);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

py::array record_codec::check_records(const py::handle& obj, const char* what) const {
  if (!py::isinstance<py::array>(obj)) {
    throw dtype_error(std::string(what) + " takes a NumPy array of dtype " + std::string(py::str(dtype_)) + ", got " +
                      std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().equal(dtype_)) {
    throw dtype_error(std::string(what) + ": array dtype " + std::string(py::str(arr.dtype())) +
                      " does not match the ring's dtype " + std::string(py::str(dtype_)) +
                      " (convert with arr.astype(ring.dtype))");
  }
  if (arr.ndim() != 1) {
    throw std::invalid_argument(std::string(what) + " takes a 1-D array of records, got " + std::to_string(arr.ndim()) +
                                "-D");
  }
  if (!(arr.flags() & py::array::c_style)) arr = py::array::ensure(arr, py::array::c_style);
  return arr;
}

py::array new_records(const py::dtype& dtype, std::size_t n) {
  return py::array(dtype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
}

}  // namespace nt_bind
