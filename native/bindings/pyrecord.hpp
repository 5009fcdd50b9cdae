// Records between Python objects and bytes, in the Python C API only (no pybind11), so that both
// extensions, the pybind11 _core and the Cython _engine, share one implementation.
//
// A record_layout describes a NumPy dtype whose fields are all simple numbers in native byte
// order (bool, int8..int64, uint8..uint64, float32, float64): those take the fast path here.
// Other dtypes are handled by NumPy through `slow_unpack` (a Python callable bytes -> record).
#pragma once

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace nt_bind {

struct field_codec {
  enum class kind : std::uint8_t { i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, boolean };
  std::size_t offset;
  kind k;
  std::string name;
};

struct record_layout {
  std::size_t itemsize = 0;
  bool structured = false;  // records are tuples of fields (else one scalar)
  bool fast = false;        // every field is a simple number
  std::vector<field_codec> fields;
  PyObject* slow_unpack = nullptr;  // strong reference, owned by the creator
};

/// What the ring capsules point at: the C++ ring and how its records look.
struct ring_ref {
  enum kind_t : int { spsc = 1, mpmc = 2 };
  int kind = 0;
  void* ring = nullptr;  // neural_trader::ring::spsc_record_view* or mpmc_record_ring*
  const record_layout* layout = nullptr;
};

/// Sets neural_trader.errors.<cls>(message) as the current Python exception.
inline void set_nt_error(const char* cls, const std::string& message) {
  PyObject* mod = PyImport_ImportModule("neural_trader.errors");
  if (mod == nullptr) return;
  PyObject* c = PyObject_GetAttrString(mod, cls);
  Py_DECREF(mod);
  if (c == nullptr) return;
  PyErr_SetString(c, message.c_str());
  Py_DECREF(c);
}

namespace detail {

template <class T>
inline void put(std::byte* p, T v) noexcept {
  std::memcpy(p, &v, sizeof(T));
}
template <class T>
inline T get(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

inline std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

inline int out_of_range(const field_codec& f, PyObject* v) {
  PyErr_Format(PyExc_OverflowError, "value %R out of range for field '%s'", v, f.name.c_str());
  return -1;
}

template <class T>
inline int put_int(std::byte* p, const field_codec& f, PyObject* v) {
  PyObject* idx = PyNumber_Index(v);
  if (idx == nullptr) {
    PyErr_Clear();
    set_nt_error("DTypeError", "field '" + f.name + "' needs an integer, got " + type_name(v));
    return -1;
  }
  if constexpr (std::is_signed_v<T>) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow != 0 || x < static_cast<long long>(std::numeric_limits<T>::min()) ||
        x > static_cast<long long>(std::numeric_limits<T>::max())) {
      return out_of_range(f, v);
    }
    put<T>(p, static_cast<T>(x));
  } else {
    const unsigned long long x = PyLong_AsUnsignedLongLong(idx);
    Py_DECREF(idx);
    if (x == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
      PyErr_Clear();
      return out_of_range(f, v);
    }
    if (x > static_cast<unsigned long long>(std::numeric_limits<T>::max())) return out_of_range(f, v);
    put<T>(p, static_cast<T>(x));
  }
  return 0;
}

inline int put_field(std::byte* rec, const field_codec& f, PyObject* v) {
  std::byte* p = rec + f.offset;
  using K = field_codec::kind;
  switch (f.k) {
    case K::i8: return put_int<std::int8_t>(p, f, v);
    case K::i16: return put_int<std::int16_t>(p, f, v);
    case K::i32: return put_int<std::int32_t>(p, f, v);
    case K::i64: return put_int<std::int64_t>(p, f, v);
    case K::u8: return put_int<std::uint8_t>(p, f, v);
    case K::u16: return put_int<std::uint16_t>(p, f, v);
    case K::u32: return put_int<std::uint32_t>(p, f, v);
    case K::u64: return put_int<std::uint64_t>(p, f, v);
    case K::f32:
    case K::f64: {
      const double x = PyFloat_AsDouble(v);
      if (x == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        set_nt_error("DTypeError", "field '" + f.name + "' needs a number, got " + type_name(v));
        return -1;
      }
      if (f.k == K::f32) put<float>(p, static_cast<float>(x));
      else put<double>(p, x);
      return 0;
    }
    case K::boolean: {
      const int b = PyObject_IsTrue(v);
      if (b < 0) return -1;
      put<std::uint8_t>(p, static_cast<std::uint8_t>(b));
      return 0;
    }
  }
  return 0;
}

inline PyObject* get_field(const std::byte* rec, const field_codec& f) {
  const std::byte* p = rec + f.offset;
  using K = field_codec::kind;
  switch (f.k) {
    case K::i8: return PyLong_FromLong(get<std::int8_t>(p));
    case K::i16: return PyLong_FromLong(get<std::int16_t>(p));
    case K::i32: return PyLong_FromLong(get<std::int32_t>(p));
    case K::i64: return PyLong_FromLongLong(get<std::int64_t>(p));
    case K::u8: return PyLong_FromUnsignedLong(get<std::uint8_t>(p));
    case K::u16: return PyLong_FromUnsignedLong(get<std::uint16_t>(p));
    case K::u32: return PyLong_FromUnsignedLong(get<std::uint32_t>(p));
    case K::u64: return PyLong_FromUnsignedLongLong(get<std::uint64_t>(p));
    case K::f32: return PyFloat_FromDouble(get<float>(p));
    case K::f64: return PyFloat_FromDouble(get<double>(p));
    case K::boolean: return PyBool_FromLong(get<std::uint8_t>(p) != 0);
  }
  return nullptr;
}

}  // namespace detail

/// Packs `obj` into out[0, itemsize) on the fast path. Returns 0 when done, -1 with a Python
/// exception set on bad input, 1 when the object needs the slow path (NumPy).
inline int pack_record_fast(const record_layout& l, PyObject* obj, std::byte* out) {
  if (!l.fast) return 1;
  if (l.structured) {
    if (!PyTuple_Check(obj) && !PyList_Check(obj)) return 1;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
    if (static_cast<std::size_t>(n) != l.fields.size()) {
      set_nt_error("InvalidArgumentError", "a record has " + std::to_string(l.fields.size()) + " fields, got " +
                                               std::to_string(n) + " values");
      return -1;
    }
    PyObject** items = PySequence_Fast_ITEMS(obj);
    for (std::size_t i = 0; i < l.fields.size(); ++i) {
      if (detail::put_field(out, l.fields[i], items[i]) != 0) return -1;
    }
    return 0;
  }
  if (PyLong_Check(obj) || PyFloat_Check(obj)) return detail::put_field(out, l.fields[0], obj);
  return 1;
}

/// The Python value of one record: a tuple of field values for structured dtypes, a scalar
/// otherwise (what `ndarray.item()` gives). New reference, or NULL with an exception set.
inline PyObject* unpack_record(const record_layout& l, const std::byte* rec) {
  if (!l.fast) {
    PyObject* b = PyBytes_FromStringAndSize(reinterpret_cast<const char*>(rec), static_cast<Py_ssize_t>(l.itemsize));
    if (b == nullptr) return nullptr;
    PyObject* r = PyObject_CallOneArg(l.slow_unpack, b);
    Py_DECREF(b);
    return r;
  }
  if (!l.structured) return detail::get_field(rec, l.fields[0]);
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(l.fields.size()));
  if (t == nullptr) return nullptr;
  for (std::size_t i = 0; i < l.fields.size(); ++i) {
    PyObject* v = detail::get_field(rec, l.fields[i]);
    if (v == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), v);
  }
  return t;
}

/// The same, for callers holding an untyped pointer (the Cython event loop).
inline PyObject* unpack_record_at(const record_layout& l, const void* rec) {
  return unpack_record(l, static_cast<const std::byte*>(rec));
}

/// pack_record_fast for callers holding an untyped pointer.
inline int pack_record_fast_at(const record_layout& l, PyObject* obj, void* out) {
  return pack_record_fast(l, obj, static_cast<std::byte*>(out));
}

}  // namespace nt_bind
