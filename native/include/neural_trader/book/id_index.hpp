/// @file id_index.hpp
/// @brief Order id -> pool slot: an open-addressing hash table (linear probing, backward-shift
/// deletion, no tombstones), so finding, adding and removing an id are O(1) expected with no
/// allocation per order. Keys are non-negative int64 ids; -1 marks an empty cell. Keys and values
/// live in separate arrays: a probe (most of them end in a miss: the duplicate-id check of every
/// new order) touches 8 bytes per cell instead of 16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../common/huge_page_allocator.hpp"

namespace neural_trader::book {

class id_index {
 public:
  static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  id_index() { rehash(16); }

  std::size_t size() const noexcept { return size_; }

  /// The slot stored for `id`, or npos.
  std::uint32_t find(std::int64_t id) const noexcept {
    std::size_t i = home(id);
    while (true) {
      const std::int64_t k = keys_[i];
      if (k == id) return values_[i];
      if (k == empty) return npos;
      i = (i + 1) & mask_;
    }
  }

  bool contains(std::int64_t id) const noexcept { return find(id) != npos; }

  /// Address of the cell where a probe for `id` starts (for prefetching).
  const void* probe_address(std::int64_t id) const noexcept { return &keys_[home(id)]; }

  /// Prefetches the key and value cells where a probe or an insert of `id` starts.
  void prefetch_cells(std::int64_t id) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    const std::size_t i = home(id);
    __builtin_prefetch(&keys_[i], 1);
    __builtin_prefetch(&values_[i], 1);
#else
    (void)id;
#endif
  }

  /// Adds id -> value; the id must be absent.
  void insert(std::int64_t id, std::uint32_t value) {
    if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
    place(id, value);
    ++size_;
  }

  /// Points an existing id at another slot.
  void assign(std::int64_t id, std::uint32_t value) noexcept {
    std::size_t i = home(id);
    while (keys_[i] != id) i = (i + 1) & mask_;
    values_[i] = value;
  }

  /// Removes id if present; returns whether it was.
  bool erase(std::int64_t id) noexcept {
    std::size_t i = home(id);
    while (true) {
      if (keys_[i] == id) break;
      if (keys_[i] == empty) return false;
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole.
    std::size_t hole = i;
    std::size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (keys_[j] == empty) break;
      const std::size_t h = home(keys_[j]);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        keys_[hole] = keys_[j];
        values_[hole] = values_[j];
        hole = j;
      }
    }
    keys_[hole] = empty;
    --size_;
    return true;
  }

  void clear() {
    size_ = 0;
    rehash(16);
  }

 private:
  static constexpr std::int64_t empty = -1;

  std::size_t home(std::int64_t id) const noexcept {
    auto x = static_cast<std::uint64_t>(id);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<std::size_t>(x) & mask_;
  }

  void place(std::int64_t id, std::uint32_t value) noexcept {
    std::size_t i = home(id);
    while (keys_[i] != empty) i = (i + 1) & mask_;
    keys_[i] = id;
    values_[i] = value;
  }

  void rehash(std::size_t capacity) {
    std::vector<std::int64_t, huge_page_allocator<std::int64_t>> old_keys;
    std::vector<std::uint32_t, huge_page_allocator<std::uint32_t>> old_values;
    old_keys.swap(keys_);
    old_values.swap(values_);
    keys_.assign(capacity, empty);
    values_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != empty) place(old_keys[i], old_values[i]);
    }
  }

  std::vector<std::int64_t, huge_page_allocator<std::int64_t>> keys_;
  std::vector<std::uint32_t, huge_page_allocator<std::uint32_t>> values_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace neural_trader::book
