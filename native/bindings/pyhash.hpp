// Python items -> the canonical encoding of common/hash.hpp, in the Python C API only (no
// pybind11), so that the pybind11 _core and the Cython _engine share one implementation.
//
//   int (and bool, NumPy integers: anything with __index__)  -> int64 (outside its range: error)
//   float (and NumPy floating scalars)                       -> float64
//   str                                                      -> its UTF-8 bytes
//   bytes, bytearray, memoryview                             -> the bytes
#pragma once

#include <Python.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <neural_trader/common/hash.hpp>
#include <neural_trader/sketch/count_min.hpp>

#include "pyrecord.hpp"

namespace nt_bind {

/// One Python item in canonical form. `owned` keeps a temporary bytes object alive.
struct py_item {
  int kind = 0;  // neural_trader::sketch::item_key::kind_t
  std::int64_t i = 0;
  double f = 0;
  const char* p = nullptr;
  Py_ssize_t n = 0;
  PyObject* owned = nullptr;

  py_item() = default;
  py_item(const py_item&) = delete;
  py_item& operator=(const py_item&) = delete;
  ~py_item() { Py_XDECREF(owned); }

  std::uint64_t hash(const neural_trader::item_hasher& h) const noexcept {
    using K = neural_trader::sketch::item_key;
    switch (kind) {
      case K::integer: return h.hash_int(i);
      case K::floating: return h.hash_float(f);
      default: return h.hash_bytes(p, static_cast<std::size_t>(n));
    }
  }

  neural_trader::sketch::item_key key() const {
    using K = neural_trader::sketch::item_key;
    switch (kind) {
      case K::integer: return K::of_int(i);
      case K::floating: return K::of_float(f);
      default: return K::of_bytes(p, static_cast<std::size_t>(n), kind == K::text);
    }
  }
};

inline bool is_numpy_floating(PyObject* o) {
  const char* name = Py_TYPE(o)->tp_name;
  return std::strncmp(name, "numpy.float", 11) == 0 || std::strcmp(name, "numpy.longdouble") == 0 ||
         std::strcmp(name, "numpy.half") == 0 || std::strcmp(name, "numpy.double") == 0 ||
         std::strcmp(name, "numpy.single") == 0;
}

/// Parses one item; returns 0, or -1 with a Python exception set (DTypeError, InvalidArgumentError).
inline int parse_item(PyObject* o, py_item& it) {
  using K = neural_trader::sketch::item_key;
  if (PyLong_Check(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) {
      set_nt_error("InvalidArgumentError", "integer items must fit in int64 (hash larger numbers as str or bytes)");
      return -1;
    }
    if (v == -1 && PyErr_Occurred()) return -1;
    it.kind = K::integer;
    it.i = static_cast<std::int64_t>(v);
    return 0;
  }
  if (PyFloat_Check(o)) {
    it.kind = K::floating;
    it.f = PyFloat_AS_DOUBLE(o);
    return 0;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) {
      PyErr_Clear();
      set_nt_error("InvalidArgumentError", "str item is not valid Unicode (lone surrogate?): cannot encode as UTF-8");
      return -1;
    }
    it.kind = K::text;
    it.p = p;
    it.n = n;
    return 0;
  }
  if (PyBytes_Check(o)) {
    it.kind = K::bytes;
    it.p = PyBytes_AS_STRING(o);
    it.n = PyBytes_GET_SIZE(o);
    return 0;
  }
  if (PyByteArray_Check(o)) {
    it.kind = K::bytes;
    it.p = PyByteArray_AS_STRING(o);
    it.n = PyByteArray_GET_SIZE(o);
    return 0;
  }
  if (PyMemoryView_Check(o)) {
    PyObject* b = PyBytes_FromObject(o);
    if (b == nullptr) return -1;
    it.owned = b;
    it.kind = K::bytes;
    it.p = PyBytes_AS_STRING(b);
    it.n = PyBytes_GET_SIZE(b);
    return 0;
  }
  if (PyIndex_Check(o) && !PyBool_Check(o)) {
    PyObject* idx = PyNumber_Index(o);
    if (idx == nullptr) return -1;
    const int rc = parse_item(idx, it);
    Py_DECREF(idx);
    return rc;
  }
  if (is_numpy_floating(o)) {
    const double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    it.kind = K::floating;
    it.f = v;
    return 0;
  }
  set_nt_error("DTypeError", std::string("cannot hash an item of type ") + Py_TYPE(o)->tp_name +
                                 ": items are int, float, str or bytes");
  return -1;
}

/// The hash of one Python item; 0, or -1 with a Python exception set.
inline int hash_object(const neural_trader::item_hasher& h, PyObject* o, std::uint64_t* out) {
  // Fast paths first: exact int, str, float, bytes.
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0 && !(v == -1 && PyErr_Occurred())) {
      *out = h.hash_int(static_cast<std::int64_t>(v));
      return 0;
    }
    PyErr_Clear();
  } else if (PyUnicode_CheckExact(o) && PyUnicode_IS_COMPACT_ASCII(o)) {
    *out = h.hash_bytes(PyUnicode_DATA(o), static_cast<std::size_t>(PyUnicode_GET_LENGTH(o)));
    return 0;
  } else if (PyFloat_CheckExact(o)) {
    *out = h.hash_float(PyFloat_AS_DOUBLE(o));
    return 0;
  } else if (PyBytes_CheckExact(o)) {
    *out = h.hash_bytes(PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o)));
    return 0;
  }
  py_item it;
  if (parse_item(o, it) != 0) return -1;
  *out = it.hash(h);
  return 0;
}

}  // namespace nt_bind
