/// @file spsc.hpp
/// @brief Wait-free single-producer single-consumer ring buffers.
///
/// Two flavours share one index protocol (`spsc_control` plus `detail::spsc_produce` /
/// `detail::spsc_consume`):
///
/// - `spsc_queue<T>`: a typed queue of any T (constructed on push, destroyed on pop), for C++.
/// - `spsc_record_ring`: fixed-size records whose size is chosen at run time (a NumPy dtype's
///   itemsize), copied with memcpy, with batch push/pop and zero-copy peek. It runs over memory
///   it owns, or, as `spsc_record_view`, over memory placed elsewhere (shared memory).
///
/// Protocol: monotonically increasing 64-bit write and read counters (they never wrap in
/// practice: 2^64 records), a power-of-two capacity (slot = counter & (capacity - 1)), so all
/// `capacity` slots are usable and full is `write - read == capacity`. The writer and the reader
/// each live on their own cache line together with a cached copy of the other side's counter,
/// refreshed only when the cached value says full/empty, so in steady state neither side touches
/// the other's line. Ordering is acquire/release only: the producer's release store of `write`
/// publishes the records, the consumer's release store of `read` hands slots back.
///
/// Thread safety: exactly one producer thread (push calls) and one consumer thread (pop/peek
/// calls) at a time. `close()`, `closed()`, `size()`, `capacity()` may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "../common/aligned_buffer.hpp"
#include "../common/config.hpp"

namespace neural_trader::ring {

/// The shared state of one SPSC ring. Standard layout and address-free, so it can live in shared
/// memory between processes.
struct spsc_control {
  alignas(false_sharing_range) std::atomic<std::uint64_t> write{0};
  std::uint64_t read_cache = 0;  // producer-owned copy of `read`
  alignas(false_sharing_range) std::atomic<std::uint64_t> read{0};
  std::uint64_t write_cache = 0;  // consumer-owned copy of `write`
  alignas(false_sharing_range) std::atomic<std::uint32_t> closed{0};
  char tail_pad_[false_sharing_range - sizeof(std::atomic<std::uint32_t>)] = {};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "64-bit atomics must be lock-free");
static_assert(sizeof(spsc_control) == 3 * false_sharing_range, "spsc_control layout changed");
static_assert(std::is_standard_layout_v<spsc_control>);

namespace detail {

/// Producer side: reserves up to `n` slots, calls copy(first_slot, count, offset_in_batch) for
/// at most two contiguous runs, then publishes them. Returns the number of slots written.
template <class Copy>
std::size_t spsc_produce(spsc_control& c, std::uint64_t capacity, std::size_t n, Copy&& copy) {
  const std::uint64_t w = c.write.load(std::memory_order_relaxed);
  // Counters that claim more than `capacity` in use (possible only if another process wrote
  // garbage into shared memory) are read as "full", never as a huge free count.
  auto free_slots = [&] {
    const std::uint64_t used = w - c.read_cache;
    return used >= capacity ? std::uint64_t{0} : capacity - used;
  };
  std::uint64_t free = free_slots();
  if (free < n) {
    c.read_cache = c.read.load(std::memory_order_acquire);
    free = free_slots();
  }
  const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(free, n));
  if (m == 0) return 0;
  const std::size_t start = static_cast<std::size_t>(w & (capacity - 1));
  const std::size_t first = std::min<std::size_t>(m, static_cast<std::size_t>(capacity) - start);
  copy(start, first, std::size_t{0});
  if (m > first) copy(std::size_t{0}, m - first, first);
  c.write.store(w + m, std::memory_order_release);
  return m;
}

/// Consumer side: how many records are readable (refreshing the cached write counter only when
/// fewer than `want` are known), and the read counter.
inline std::size_t spsc_readable(spsc_control& c, std::uint64_t capacity, std::size_t want, std::uint64_t& r) noexcept {
  r = c.read.load(std::memory_order_relaxed);
  std::uint64_t avail = c.write_cache - r;
  if (avail < want) {
    c.write_cache = c.write.load(std::memory_order_acquire);
    avail = c.write_cache - r;
  }
  // Never more than one lap, whatever the counters say (see spsc_produce).
  return static_cast<std::size_t>(std::min<std::uint64_t>({avail, want, capacity}));
}

/// Consumer side: calls copy(first_slot, count, offset_in_batch) for up to `n` readable records
/// in at most two runs, then releases the slots. Returns the number of records read.
template <class Copy>
std::size_t spsc_consume(spsc_control& c, std::uint64_t capacity, std::size_t n, Copy&& copy) {
  std::uint64_t r;
  const std::size_t m = spsc_readable(c, capacity, n, r);
  if (m == 0) return 0;
  const std::size_t start = static_cast<std::size_t>(r & (capacity - 1));
  const std::size_t first = std::min<std::size_t>(m, static_cast<std::size_t>(capacity) - start);
  copy(start, first, std::size_t{0});
  if (m > first) copy(std::size_t{0}, m - first, first);
  c.read.store(r + m, std::memory_order_release);
  return m;
}

inline void check_capacity(std::uint64_t capacity, const char* who) {
  if (!is_power_of_two(capacity)) {
    throw std::invalid_argument(std::string(who) + ": capacity must be a power of two >= 1, got " +
                                std::to_string(capacity));
  }
  if (capacity > (std::uint64_t{1} << 62)) throw std::invalid_argument(std::string(who) + ": capacity too large");
}

}  // namespace detail

/// A typed wait-free SPSC queue of any T (modelled on the classic cache-friendly design: counters
/// on separate lines, cached opposite counters, acquire/release only).
template <class T, class Allocator = std::allocator<T>>
class spsc_queue {
  static_assert(std::is_nothrow_destructible_v<T>, "T must be nothrow destructible");
  using traits = std::allocator_traits<Allocator>;

 public:
  using value_type = T;

  explicit spsc_queue(std::size_t capacity, const Allocator& alloc = Allocator())
      : capacity_(capacity), alloc_(alloc) {
    detail::check_capacity(capacity, "spsc_queue");
    slots_ = traits::allocate(alloc_, capacity_);
  }
  spsc_queue(const spsc_queue&) = delete;
  spsc_queue& operator=(const spsc_queue&) = delete;
  ~spsc_queue() {
    while (front()) pop();
    traits::deallocate(alloc_, slots_, capacity_);
  }

  /// Constructs a T in place; false when full.
  template <class... Args>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args&&...>) {
    return detail::spsc_produce(ctl_, capacity_, 1, [&](std::size_t slot, std::size_t, std::size_t) {
             traits::construct(alloc_, slots_ + slot, std::forward<Args>(args)...);
           }) == 1;
  }
  [[nodiscard]] bool try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) { return try_emplace(v); }
  [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return try_emplace(std::move(v));
  }

  /// Copies up to n items in; returns how many went in. Requires a nothrow copy.
  std::size_t push_n(const T* src, std::size_t n) noexcept {
    static_assert(std::is_nothrow_copy_constructible_v<T>, "push_n needs a nothrow copy constructor");
    return detail::spsc_produce(ctl_, capacity_, n, [&](std::size_t slot, std::size_t count, std::size_t off) {
      for (std::size_t i = 0; i < count; ++i) traits::construct(alloc_, slots_ + slot + i, src[off + i]);
    });
  }

  /// The oldest item, or nullptr when empty. Consumer only.
  [[nodiscard]] T* front() noexcept {
    std::uint64_t r;
    if (detail::spsc_readable(ctl_, capacity_, 1, r) == 0) return nullptr;
    return slots_ + (r & (capacity_ - 1));
  }

  /// Destroys the oldest item. Only valid after front() returned non-null.
  void pop() noexcept {
    const std::uint64_t r = ctl_.read.load(std::memory_order_relaxed);
    traits::destroy(alloc_, slots_ + (r & (capacity_ - 1)));
    ctl_.read.store(r + 1, std::memory_order_release);
  }

  /// Moves the oldest item out; false when empty.
  [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
    T* p = front();
    if (p == nullptr) return false;
    out = std::move(*p);
    pop();
    return true;
  }

  /// Moves up to n items out; returns how many. Requires a nothrow move assignment.
  std::size_t pop_n(T* dst, std::size_t n) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>, "pop_n needs a nothrow move assignment");
    return detail::spsc_consume(ctl_, capacity_, n, [&](std::size_t slot, std::size_t count, std::size_t off) {
      for (std::size_t i = 0; i < count; ++i) {
        dst[off + i] = std::move(slots_[slot + i]);
        traits::destroy(alloc_, slots_ + slot + i);
      }
    });
  }

  /// Items in the queue (exact when called from either side with the other idle).
  std::size_t size() const noexcept {
    const auto w = ctl_.write.load(std::memory_order_acquire);
    const auto r = ctl_.read.load(std::memory_order_acquire);
    return static_cast<std::size_t>(w - std::min(w, r));
  }
  bool empty() const noexcept { return size() == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  void close() noexcept { ctl_.closed.store(1, std::memory_order_release); }
  bool closed() const noexcept { return ctl_.closed.load(std::memory_order_acquire) != 0; }

 private:
  spsc_control ctl_;
  std::size_t capacity_;
  [[no_unique_address]] Allocator alloc_;
  T* slots_ = nullptr;
};

/// SPSC ring of fixed-size byte records over memory it does not own (control block + slots).
/// Records are copied with memcpy: use it for trivially copyable data only.
class spsc_record_view {
 public:
  spsc_record_view() = default;
  /// `data` must hold capacity * record_size bytes; `ctl` must outlive the view.
  spsc_record_view(spsc_control* ctl, std::byte* data, std::uint64_t capacity, std::size_t record_size)
      : ctl_(ctl), data_(data), capacity_(capacity), record_size_(record_size) {
    detail::check_capacity(capacity, "spsc ring");
    if (record_size == 0) throw std::invalid_argument("spsc ring: record size must be >= 1 byte");
  }

  /// Copies one record in; false when full. Producer only.
  [[nodiscard]] bool try_push(const void* record) noexcept { return push_many(record, 1) == 1; }

  /// Copies up to n records in (contiguous, n * record_size bytes); returns how many went in.
  std::size_t push_many(const void* records, std::size_t n) noexcept {
    const auto* src = static_cast<const std::byte*>(records);
    return detail::spsc_produce(*ctl_, capacity_, n, [&](std::size_t slot, std::size_t count, std::size_t off) {
      std::memcpy(data_ + slot * record_size_, src + off * record_size_, count * record_size_);
    });
  }

  /// Copies one record out; false when empty. Consumer only.
  [[nodiscard]] bool try_pop(void* record) noexcept { return pop_many(record, 1) == 1; }

  /// Copies up to max_n records out; returns how many.
  std::size_t pop_many(void* out, std::size_t max_n) noexcept {
    auto* dst = static_cast<std::byte*>(out);
    return detail::spsc_consume(*ctl_, capacity_, max_n, [&](std::size_t slot, std::size_t count, std::size_t off) {
      std::memcpy(dst + off * record_size_, data_ + slot * record_size_, count * record_size_);
    });
  }

  /// Zero-copy read: points at up to max_n readable records that lie contiguously in the ring
  /// (stops at the wrap point) and sets n; nullptr when empty. Release them with consume(n).
  const std::byte* peek(std::size_t max_n, std::size_t& n) noexcept {
    std::uint64_t r;
    n = detail::spsc_readable(*ctl_, capacity_, max_n, r);
    if (n == 0) return nullptr;
    const std::size_t start = static_cast<std::size_t>(r & (capacity_ - 1));
    n = std::min<std::size_t>(n, static_cast<std::size_t>(capacity_) - start);
    return data_ + start * record_size_;
  }

  /// Releases the first n records seen through peek().
  void consume(std::size_t n) noexcept {
    const std::uint64_t r = ctl_->read.load(std::memory_order_relaxed);
    ctl_->read.store(r + n, std::memory_order_release);
  }

  /// Records in the ring (a snapshot when both sides are active).
  std::size_t size() const noexcept {
    const auto r = ctl_->read.load(std::memory_order_acquire);
    const auto w = ctl_->write.load(std::memory_order_acquire);
    return static_cast<std::size_t>(std::min(w - std::min(w, r), capacity_));
  }
  bool empty() const noexcept { return size() == 0; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::size_t record_size() const noexcept { return record_size_; }

  /// Marks the end of the stream: the consumer drains what is left, then sees drained().
  void close() noexcept { ctl_->closed.store(1, std::memory_order_release); }
  bool closed() const noexcept { return ctl_->closed.load(std::memory_order_acquire) != 0; }
  /// Closed and empty: nothing more will ever come out.
  bool drained() const noexcept { return closed() && empty(); }

 private:
  spsc_control* ctl_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::size_t record_size_ = 0;
};

namespace detail {
/// Owned memory of an spsc_record_ring; a base class so it is built before the view.
struct spsc_record_storage {
  spsc_record_storage(std::uint64_t capacity, std::size_t record_size)
      : ctl(std::make_unique<spsc_control>()),
        data((check_capacity(capacity, "spsc ring"), capacity), record_size, "spsc ring") {}
  std::unique_ptr<spsc_control> ctl;
  aligned_buffer data;
};
}  // namespace detail

/// SPSC ring of fixed-size byte records that owns its memory.
class spsc_record_ring : private detail::spsc_record_storage, public spsc_record_view {
 public:
  spsc_record_ring(std::uint64_t capacity, std::size_t record_size)
      : detail::spsc_record_storage(capacity, record_size),
        spsc_record_view(ctl.get(), data.data(), capacity, record_size) {}
  spsc_record_ring(const spsc_record_ring&) = delete;
  spsc_record_ring& operator=(const spsc_record_ring&) = delete;
};

}  // namespace neural_trader::ring
