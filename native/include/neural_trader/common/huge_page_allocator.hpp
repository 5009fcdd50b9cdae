/// @file huge_page_allocator.hpp
/// @brief Allocators for large arrays: blocks of 4 MiB and more are 2 MiB-aligned and, on Linux,
/// advised to use transparent huge pages, so producing tens of megabytes costs a few dozen page
/// faults instead of thousands. Smaller blocks come from the ordinary aligned operator new.
///
/// `cached_huge_page_allocator` adds a bounded cache of released large blocks (block_cache): the
/// fills and events of a replay are tens of megabytes that the caller drops before the next
/// replay; the next one then writes into pages that are already mapped instead of faulting in
/// fresh zeroed ones (a fresh page costs more than the replay's own work per byte on some hosts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace neural_trader {

namespace huge_pages {

inline constexpr std::size_t page = std::size_t{2} << 20;
/// Blocks at least this large are huge-page blocks.
inline constexpr std::size_t threshold = std::size_t{4} << 20;

inline std::size_t rounded(std::size_t bytes) noexcept { return (bytes + page - 1) / page * page; }

/// A 2 MiB-aligned block of `rounded(bytes)` bytes, advised to use huge pages.
inline void* allocate(std::size_t bytes) {
  const std::size_t r = rounded(bytes);
  void* p = ::operator new(r, std::align_val_t{page});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::madvise(p, r, MADV_HUGEPAGE);  // advice only: failure leaves ordinary pages
#endif
  return p;
}

inline void deallocate(void* p) noexcept { ::operator delete(p, std::align_val_t{page}); }

}  // namespace huge_pages

/// Released huge-page blocks kept for reuse, most recent last, at most `limit()` bytes of address
/// space in all (only the pages that were written hold memory). A request takes the smallest
/// cached block that holds it, if that block is at most 1.5x the request; otherwise a new block.
/// Thread-safe. One instance per shared library that includes this header.
class block_cache {
 public:
  static constexpr std::size_t default_limit = std::size_t{512} << 20;

  struct stats {
    std::size_t limit;
    std::size_t held_bytes;
    std::size_t held_blocks;
    std::uint64_t hits;
    std::uint64_t misses;
  };

  static block_cache& instance() {
    // Never destroyed: blocks may be released by other static destructors at exit.
    static block_cache* const c = new block_cache();
    return *c;
  }

  /// A block of at least `bytes` (a multiple of huge_pages::page), cached or new.
  void* take(std::size_t bytes) {
    {
      const std::lock_guard<std::mutex> lock(m_);
      std::size_t best = blocks_.size();
      for (std::size_t i = 0; i < blocks_.size(); ++i) {
        const std::size_t b = blocks_[i].bytes;
        if (b >= bytes && b <= bytes + bytes / 2 && (best == blocks_.size() || b < blocks_[best].bytes)) best = i;
      }
      if (best != blocks_.size()) {
        const entry e = blocks_[best];
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(best));
        held_ -= e.bytes;
        ++hits_;
        if (e.bytes != bytes) larger_.emplace(e.p, e.bytes);
        return e.p;
      }
      ++misses_;
    }
    return huge_pages::allocate(bytes);
  }

  /// Takes back a block of `bytes` (the size it was asked for): kept if it fits the limit (the
  /// oldest blocks make room), else freed.
  void give(void* p, std::size_t bytes) noexcept {
    std::vector<void*> drop;
    {
      const std::lock_guard<std::mutex> lock(m_);
      if (const auto it = larger_.find(p); it != larger_.end()) {
        bytes = it->second;
        larger_.erase(it);
      }
      if (bytes > limit_) {
        drop.push_back(p);
      } else {
        try {
          blocks_.push_back(entry{p, bytes});
          held_ += bytes;
        } catch (...) {  // no room to remember it: free it
          drop.push_back(p);
        }
        evict_to(limit_, drop);
      }
    }
    for (void* q : drop) huge_pages::deallocate(q);
  }

  /// Sets the limit (0 turns the cache off) and frees what no longer fits; returns the old one.
  std::size_t set_limit(std::size_t bytes) {
    std::vector<void*> drop;
    std::size_t old = 0;
    {
      const std::lock_guard<std::mutex> lock(m_);
      old = limit_;
      limit_ = bytes;
      evict_to(limit_, drop);
    }
    for (void* q : drop) huge_pages::deallocate(q);
    return old;
  }

  stats get_stats() const {
    const std::lock_guard<std::mutex> lock(m_);
    return stats{limit_, held_, blocks_.size(), hits_, misses_};
  }

 private:
  struct entry {
    void* p;
    std::size_t bytes;
  };

  block_cache() = default;

  void evict_to(std::size_t limit, std::vector<void*>& drop) noexcept {
    std::size_t k = 0;
    while (held_ > limit && k < blocks_.size()) {
      held_ -= blocks_[k].bytes;
      try {
        drop.push_back(blocks_[k].p);
      } catch (...) {
        huge_pages::deallocate(blocks_[k].p);
      }
      ++k;
    }
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(k));
  }

  mutable std::mutex m_;
  std::vector<entry> blocks_;                      // oldest first
  std::unordered_map<void*, std::size_t> larger_;  // blocks handed out for a smaller request
  std::size_t held_ = 0;
  std::size_t limit_ = default_limit;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

/// std::allocator-compatible; `Cached` routes huge-page blocks through block_cache.
template <class T, bool Cached = false>
class basic_huge_page_allocator {
 public:
  using value_type = T;
  template <class U>
  struct rebind {
    using other = basic_huge_page_allocator<U, Cached>;
  };
  static constexpr std::size_t huge_page = huge_pages::page;
  static constexpr std::size_t threshold = huge_pages::threshold;

  basic_huge_page_allocator() noexcept = default;
  template <class U>
  basic_huge_page_allocator(const basic_huge_page_allocator<U, Cached>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < threshold) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    if constexpr (Cached) {
      return static_cast<T*>(block_cache::instance().take(huge_pages::rounded(bytes)));
    } else {
      return static_cast<T*>(huge_pages::allocate(bytes));
    }
  }

  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < threshold) {
      ::operator delete(p, std::align_val_t{alignof(T)});
    } else if constexpr (Cached) {
      block_cache::instance().give(p, huge_pages::rounded(bytes));
    } else {
      huge_pages::deallocate(p);
    }
  }

  template <class U>
  bool operator==(const basic_huge_page_allocator<U, Cached>&) const noexcept {
    return true;
  }
};

template <class T>
using huge_page_allocator = basic_huge_page_allocator<T, false>;
/// For outputs that callers release and a next call allocates again (replay fills and events).
template <class T>
using cached_huge_page_allocator = basic_huge_page_allocator<T, true>;

}  // namespace neural_trader
