/// @file filter.hpp
/// @brief Filters of the HNSW search: which stored points a query may return.
///
/// A filter is evaluated once per search call into a bitmap over the index's slots
/// (`slot_filter`), so the graph walk tests one bit per visited point and the index knows exactly
/// how many points are allowed before it decides between the graph walk and an exact scan.
/// Conditions on the int64 label columns attached at add time are `condition`s: an inclusive
/// range or (not) a member of a set; a point is allowed when every condition holds.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace neural_trader::hnsw {

/// One condition on one label column.
struct condition {
  enum class kind : std::uint8_t { range = 0, in_set = 1, not_in_set = 2 };
  std::size_t column = 0;
  kind op = kind::range;
  std::int64_t lo = std::numeric_limits<std::int64_t>::min();  ///< range: inclusive bounds
  std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> values;  ///< in_set / not_in_set: sorted, unique

  /// Whether `row` (one point's label columns) satisfies the condition.
  bool holds(const std::int64_t* row) const noexcept {
    const std::int64_t v = row[column];
    switch (op) {
      case kind::in_set: return std::binary_search(values.begin(), values.end(), v);
      case kind::not_in_set: return !std::binary_search(values.begin(), values.end(), v);
      default: return lo <= v && v <= hi;
    }
  }

  /// Sorts and de-duplicates the set (call once after filling `values`).
  void normalise() {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  }
};

/// Whether every condition holds for `row`.
inline bool all_hold(const std::vector<condition>& conds, const std::int64_t* row) noexcept {
  for (const auto& c : conds) {
    if (!c.holds(row)) return false;
  }
  return true;
}

/// The allowed slots of one search call: a bitmap and how many bits are set.
struct slot_filter {
  std::vector<std::uint64_t> bits;
  std::size_t count = 0;

  explicit slot_filter(std::size_t slots = 0) : bits((slots + 63) / 64, 0) {}

  void set(std::uint32_t s) noexcept {
    std::uint64_t& w = bits[s >> 6];
    const std::uint64_t m = std::uint64_t{1} << (s & 63);
    count += (w & m) == 0;
    w |= m;
  }
  bool test(std::uint32_t s) const noexcept {
    const std::size_t w = s >> 6;
    return w < bits.size() && ((bits[w] >> (s & 63)) & 1u) != 0;
  }
  /// The allowed slots, ascending.
  std::vector<std::uint32_t> slots() const {
    std::vector<std::uint32_t> out;
    out.reserve(count);
    for (std::size_t w = 0; w < bits.size(); ++w) {
      for (std::uint64_t b = bits[w]; b != 0; b &= b - 1) {
        out.push_back(static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(b))));
      }
    }
    return out;
  }
};

}  // namespace neural_trader::hnsw
