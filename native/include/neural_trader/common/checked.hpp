/// @file checked.hpp
/// @brief Overflow-checked size arithmetic for code that trusts no input.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace neural_trader {

/// a * b, or nothing when it overflows 64 bits.
constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) noexcept {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

/// a + b, or nothing when it overflows 64 bits.
constexpr std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) noexcept {
  if (b > std::numeric_limits<std::uint64_t>::max() - a) return std::nullopt;
  return a + b;
}

}  // namespace neural_trader
