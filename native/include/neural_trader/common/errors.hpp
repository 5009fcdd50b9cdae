/// @file errors.hpp
/// @brief Exception types of the core. The Python bindings map them onto `neural_trader.errors`.
///
/// - std::invalid_argument -> nt.errors.InvalidArgumentError (a ValueError)
/// - corrupt_data_error     -> nt.errors.CorruptDataError (a ValueError)
/// - closed_error           -> nt.errors.ClosedError
/// - timeout_error          -> nt.errors.TimeoutError (a built-in TimeoutError)
#pragma once

#include <stdexcept>
#include <string>

namespace neural_trader {

/// Serialised or shared data failed validation (bad magic, version, size or checksum; truncation).
class corrupt_data_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An operation needed an open channel, but it was closed.
class closed_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A blocking operation ran out of time.
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace neural_trader
