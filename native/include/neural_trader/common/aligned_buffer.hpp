/// @file aligned_buffer.hpp
/// @brief An owning, zero-initialised, cache-line-aligned byte buffer with checked sizing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "checked.hpp"
#include "config.hpp"

namespace neural_trader {

class aligned_buffer {
 public:
  aligned_buffer() = default;
  /// count * elem_size bytes; throws std::length_error when that overflows or exceeds `limit`.
  aligned_buffer(std::uint64_t count, std::uint64_t elem_size, const char* who,
                 std::uint64_t limit = std::uint64_t{1} << 46) {
    const auto bytes = checked_mul(count, elem_size);
    if (!bytes || *bytes > limit) {
      throw std::length_error(std::string(who) + ": " + std::to_string(count) + " x " + std::to_string(elem_size) +
                              " bytes is too large");
    }
    size_ = static_cast<std::size_t>(*bytes);
    data_ = static_cast<std::byte*>(::operator new[](size_ == 0 ? 1 : size_, std::align_val_t{false_sharing_range}));
    std::memset(data_, 0, size_);
  }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  aligned_buffer(aligned_buffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~aligned_buffer() { release(); }

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::operator delete[](data_, std::align_val_t{false_sharing_range});
    data_ = nullptr;
  }
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace neural_trader
