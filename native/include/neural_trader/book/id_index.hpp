/// @file id_index.hpp
/// @brief Order id -> pool slot: an open-addressing hash table (linear probing, backward-shift
/// deletion, no tombstones), so finding, adding and removing an id are O(1) expected with no
/// allocation per order. Keys are non-negative int64 ids; -1 marks an empty cell.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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
      const cell& c = cells_[i];
      if (c.key == id) return c.value;
      if (c.key == empty) return npos;
      i = (i + 1) & mask_;
    }
  }

  bool contains(std::int64_t id) const noexcept { return find(id) != npos; }

  /// Adds id -> value; the id must be absent.
  void insert(std::int64_t id, std::uint32_t value) {
    if ((size_ + 1) * 2 > cells_.size()) rehash(cells_.size() * 2);
    place(id, value);
    ++size_;
  }

  /// Points an existing id at another slot.
  void assign(std::int64_t id, std::uint32_t value) noexcept {
    std::size_t i = home(id);
    while (cells_[i].key != id) i = (i + 1) & mask_;
    cells_[i].value = value;
  }

  /// Removes id if present; returns whether it was.
  bool erase(std::int64_t id) noexcept {
    std::size_t i = home(id);
    while (true) {
      if (cells_[i].key == id) break;
      if (cells_[i].key == empty) return false;
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole.
    std::size_t hole = i;
    std::size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (cells_[j].key == empty) break;
      const std::size_t h = home(cells_[j].key);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        cells_[hole] = cells_[j];
        hole = j;
      }
    }
    cells_[hole].key = empty;
    --size_;
    return true;
  }

  void clear() {
    size_ = 0;
    rehash(16);
  }

 private:
  static constexpr std::int64_t empty = -1;
  struct cell {
    std::int64_t key;
    std::uint32_t value;
  };

  std::size_t home(std::int64_t id) const noexcept {
    auto x = static_cast<std::uint64_t>(id);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<std::size_t>(x) & mask_;
  }

  void place(std::int64_t id, std::uint32_t value) noexcept {
    std::size_t i = home(id);
    while (cells_[i].key != empty) i = (i + 1) & mask_;
    cells_[i] = cell{id, value};
  }

  void rehash(std::size_t capacity) {
    std::vector<cell> old;
    old.swap(cells_);
    cells_.assign(capacity, cell{empty, 0});
    mask_ = capacity - 1;
    for (const cell& c : old) {
      if (c.key != empty) place(c.key, c.value);
    }
  }

  std::vector<cell> cells_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace neural_trader::book
