/// @file huge_page_allocator.hpp
/// @brief A std::allocator for large, append-only output arrays (fills and events of a replay):
/// blocks of 4 MiB and more are 2 MiB-aligned and, on Linux, advised to use transparent huge
/// pages, so producing tens of megabytes of output costs a few dozen page faults instead of
/// thousands. Smaller blocks come from the ordinary aligned operator new.
#pragma once

#include <cstddef>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace neural_trader {

template <class T>
class huge_page_allocator {
 public:
  using value_type = T;
  static constexpr std::size_t huge_page = std::size_t{2} << 20;
  static constexpr std::size_t threshold = std::size_t{4} << 20;

  huge_page_allocator() noexcept = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < threshold) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    const std::size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;
    void* p = ::operator new(rounded, std::align_val_t{huge_page});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure leaves ordinary pages
#endif
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < threshold) {
      ::operator delete(p, std::align_val_t{alignof(T)});
    } else {
      ::operator delete(p, std::align_val_t{huge_page});
    }
  }

  template <class U>
  bool operator==(const huge_page_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace neural_trader
