// What the Cython streaming indicators need beyond the core header: construction by name from
// Python-friendly types, and C++ -> nt.errors exception translation (Python C API only).
#pragma once

#include <Python.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <neural_trader/common/errors.hpp>
#include <neural_trader/indicators/stream.hpp>

#include "pyrecord.hpp"

namespace nt_bind {

inline neural_trader::ta::indicator* ta_make(const std::string& name, const std::vector<double>& params) {
  return neural_trader::ta::make_indicator(name, params).release();
}

inline neural_trader::ta::indicator* ta_load(const char* data, std::size_t size) {
  return neural_trader::ta::load_indicator(data, size).release();
}

inline neural_trader::ta::indicator* ta_clone(const neural_trader::ta::indicator* p) { return p->clone().release(); }

/// Called inside a catch block by Cython (`except +translate_exception`): maps the pending C++
/// exception to the matching nt.errors class.
inline void translate_exception() {
  try {
    throw;
  } catch (const neural_trader::corrupt_data_error& e) {
    set_nt_error("CorruptDataError", e.what());
  } catch (const std::invalid_argument& e) {
    set_nt_error("InvalidArgumentError", e.what());
  } catch (const std::length_error& e) {
    set_nt_error("InvalidArgumentError", e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
}

}  // namespace nt_bind
