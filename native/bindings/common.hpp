// Shared helpers of the pybind11 bindings: error classes, GIL-polite waiting, record packing.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <neural_trader/common/backoff.hpp>

#include "pyrecord.hpp"

namespace py = pybind11;

namespace nt_bind {

/// Raises neural_trader.errors.<name>(message) as a C++ exception pybind11 passes through.
[[noreturn]] void raise(const char* error_class, const std::string& message);

/// Thrown by binding code for a wrong dtype or wrong Python type; mapped to nt.errors.DTypeError.
class dtype_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Converts a Python timeout (None = forever, seconds >= 0) into an optional duration.
std::optional<std::chrono::nanoseconds> to_timeout(const py::object& timeout);

/// Calls `ready()` (which must not touch Python) until it returns true or the timeout passes.
/// The GIL is released while waiting and re-taken every 20 ms to let Ctrl-C through
/// (PyErr_CheckSignals; a pending exception is raised). Returns false on timeout.
template <class Ready>
bool wait_until(Ready&& ready, std::optional<std::chrono::nanoseconds> timeout) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline = timeout ? start + *timeout : clock::time_point::max();
  neural_trader::backoff waiter;
  for (;;) {
    bool done = false;
    bool expired = false;
    {
      py::gil_scoped_release nogil;
      const auto slice_end = std::min(deadline, clock::now() + std::chrono::milliseconds(20));
      for (;;) {
        if (ready()) {
          done = true;
          break;
        }
        const auto now = clock::now();
        if (now >= deadline) {
          expired = true;
          break;
        }
        if (now >= slice_end) break;
        waiter.wait();
      }
    }
    if (done) return true;
    if (expired) return false;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

/// Packs Python records (tuples, NumPy scalars, 0-d arrays, raw bytes) into the bytes of a NumPy
/// dtype and unpacks bytes into tuples, the same as `ndarray.item()` gives (pyrecord.hpp does
/// the fast path; NumPy the rest).
class record_codec {
 public:
  explicit record_codec(const py::dtype& dtype);
  record_codec(const record_codec&) = delete;
  record_codec& operator=(const record_codec&) = delete;

  const py::dtype& dtype() const noexcept { return dtype_; }
  std::size_t itemsize() const noexcept { return layout_.itemsize; }
  const record_layout& layout() const noexcept { return layout_; }

  /// Writes `obj` as one record into out[0, itemsize).
  void pack(py::handle obj, std::byte* out) const;
  /// The Python value of one record (a tuple for structured dtypes, a scalar otherwise).
  py::object unpack(const std::byte* rec) const;

  /// Checks that `obj` is a 1-D array of this dtype and returns it C-contiguous.
  py::array check_records(const py::handle& obj, const char* what) const;

 private:
  void pack_slow(py::handle obj, std::byte* out) const;

  py::dtype dtype_;
  py::object slow_unpack_;
  record_layout layout_;
};

/// A fresh 1-D array of `n` records of `dtype`.
py::array new_records(const py::dtype& dtype, std::size_t n);

}  // namespace nt_bind
