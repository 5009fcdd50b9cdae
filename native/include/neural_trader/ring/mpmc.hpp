/// @file mpmc.hpp
/// @brief Bounded lock-free multi-producer multi-consumer ring buffers with per-slot sequence
/// numbers (D. Vyukov's bounded MPMC queue), extended with batch claims.
///
/// Each slot carries a sequence number. For position p (slot p & (capacity - 1)):
/// seq == p means the slot is free for the producer of p; seq == p + 1 means it holds the record
/// of p; the consumer of p frees it for the next lap with seq = p + capacity. A producer claims a
/// run of consecutive positions with one CAS on the enqueue counter after checking that every slot
/// of the run is free for its lap; no other thread can change those slots before the claim, so the
/// check stays true. Consumers claim runs of published records the same way.
///
/// Guarantees: every record pushed is popped exactly once; records of one producer come out in
/// the order that producer pushed them (per-producer FIFO). Like every queue of this design it is
/// not linearizable: a consumer may find the queue "empty" while a slower producer is still
/// copying the record of an earlier position.
///
/// Capacity is a power of two >= 2: with a single slot, "published for position p" (seq p + 1)
/// and "free for position p + 1" would be the same sequence number.
///
/// Thread safety: any number of producer and consumer threads. `close()` is meant to be called
/// once producers are done; a push racing with close() may or may not land.
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
#include "spsc.hpp"

namespace neural_trader::ring {

/// The shared counters of one MPMC ring.
struct mpmc_control {
  alignas(false_sharing_range) std::atomic<std::uint64_t> enqueue{0};
  alignas(false_sharing_range) std::atomic<std::uint64_t> dequeue{0};
  alignas(false_sharing_range) std::atomic<std::uint32_t> closed{0};
  char tail_pad_[false_sharing_range - sizeof(std::atomic<std::uint32_t>)] = {};
};

static_assert(sizeof(mpmc_control) == 3 * false_sharing_range, "mpmc_control layout changed");

namespace detail {

/// Claims up to n consecutive free slots, calls write(position, index_in_batch) for each and
/// publishes it. seq_at(position) returns the slot's std::atomic<uint64_t> sequence number.
template <class SeqAt, class Write>
std::size_t mpmc_produce(mpmc_control& c, std::uint64_t capacity, std::size_t n, SeqAt&& seq_at, Write&& write) {
  const std::uint64_t limit = std::min<std::uint64_t>(n, capacity);
  if (limit == 0) return 0;
  std::uint64_t pos = c.enqueue.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t m = 0;
    while (m < limit && seq_at(pos + m).load(std::memory_order_acquire) == pos + m) ++m;
    if (m == 0) {
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      if (static_cast<std::int64_t>(seq - pos) < 0) return 0;  // the slot still holds last lap's record: full
      pos = c.enqueue.load(std::memory_order_relaxed);         // another producer took it
      continue;
    }
    if (c.enqueue.compare_exchange_weak(pos, pos + m, std::memory_order_relaxed, std::memory_order_relaxed)) {
      for (std::uint64_t i = 0; i < m; ++i) {
        write(pos + i, static_cast<std::size_t>(i));
        seq_at(pos + i).store(pos + i + 1, std::memory_order_release);
      }
      return static_cast<std::size_t>(m);
    }
  }
}

/// Claims up to n consecutive published records, calls read(position, index_in_batch) for each
/// and frees the slot for the next lap.
template <class SeqAt, class Read>
std::size_t mpmc_consume(mpmc_control& c, std::uint64_t capacity, std::size_t n, SeqAt&& seq_at, Read&& read) {
  const std::uint64_t limit = std::min<std::uint64_t>(n, capacity);
  if (limit == 0) return 0;
  std::uint64_t pos = c.dequeue.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t m = 0;
    while (m < limit && seq_at(pos + m).load(std::memory_order_acquire) == pos + m + 1) ++m;
    if (m == 0) {
      const std::uint64_t seq = seq_at(pos).load(std::memory_order_acquire);
      if (static_cast<std::int64_t>(seq - (pos + 1)) < 0) return 0;  // not yet published: empty
      pos = c.dequeue.load(std::memory_order_relaxed);
      continue;
    }
    if (c.dequeue.compare_exchange_weak(pos, pos + m, std::memory_order_relaxed, std::memory_order_relaxed)) {
      for (std::uint64_t i = 0; i < m; ++i) {
        read(pos + i, static_cast<std::size_t>(i));
        seq_at(pos + i).store(pos + i + capacity, std::memory_order_release);
      }
      return static_cast<std::size_t>(m);
    }
  }
}

inline void check_mpmc_capacity(std::uint64_t capacity, const char* who) {
  check_capacity(capacity, who);
  if (capacity < 2) throw std::invalid_argument(std::string(who) + ": capacity must be >= 2");
}

inline std::size_t mpmc_size(const mpmc_control& c) noexcept {
  const auto d = c.dequeue.load(std::memory_order_acquire);
  const auto e = c.enqueue.load(std::memory_order_acquire);
  return static_cast<std::size_t>(e - std::min(e, d));
}

}  // namespace detail

/// A typed bounded MPMC queue of any T.
template <class T>
class mpmc_queue {
  static_assert(std::is_nothrow_destructible_v<T>, "T must be nothrow destructible");
  struct slot {
    std::atomic<std::uint64_t> seq;
    alignas(T) unsigned char storage[sizeof(T)];
    T* item() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

 public:
  using value_type = T;

  explicit mpmc_queue(std::size_t capacity) : capacity_(capacity) {
    detail::check_mpmc_capacity(capacity, "mpmc_queue");
    slots_ = std::make_unique<slot[]>(capacity);
    for (std::size_t i = 0; i < capacity; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }
  mpmc_queue(const mpmc_queue&) = delete;
  mpmc_queue& operator=(const mpmc_queue&) = delete;
  ~mpmc_queue() {
    // Destroy what is left (no other thread may use the queue any more).
    const auto d = ctl_.dequeue.load(std::memory_order_relaxed);
    const auto e = ctl_.enqueue.load(std::memory_order_relaxed);
    for (auto p = d; p != e; ++p) slots_[p & (capacity_ - 1)].item()->~T();
  }

  /// Constructs a T and appends it; false when full. When T's constructor may throw, the item
  /// is built before a slot is claimed, so an exception leaves the queue untouched (a claimed
  /// slot must always be published, or consumers would wait on it forever).
  template <class... Args>
  [[nodiscard]] bool try_emplace(Args&&... args) {
    if constexpr (!std::is_nothrow_constructible_v<T, Args&&...>) {
      static_assert(std::is_nothrow_move_constructible_v<T>,
                    "mpmc_queue needs a nothrow move constructor when construction may throw");
      T item(std::forward<Args>(args)...);
      return try_emplace(std::move(item));
    }
    return detail::mpmc_produce(
               ctl_, capacity_, 1, [&](std::uint64_t p) -> std::atomic<std::uint64_t>& { return at(p).seq; },
               [&](std::uint64_t p, std::size_t) { ::new (static_cast<void*>(at(p).storage)) T(std::forward<Args>(args)...); }) == 1;
  }
  [[nodiscard]] bool try_push(const T& v) { return try_emplace(v); }
  [[nodiscard]] bool try_push(T&& v) { return try_emplace(std::move(v)); }

  /// Copies up to n items in as one run; returns how many went in.
  std::size_t push_n(const T* src, std::size_t n) noexcept {
    static_assert(std::is_nothrow_copy_constructible_v<T>, "push_n needs a nothrow copy constructor");
    return detail::mpmc_produce(
        ctl_, capacity_, n, [&](std::uint64_t p) -> std::atomic<std::uint64_t>& { return at(p).seq; },
        [&](std::uint64_t p, std::size_t i) { ::new (static_cast<void*>(at(p).storage)) T(src[i]); });
  }

  [[nodiscard]] bool try_pop(T& out) noexcept { return pop_n(&out, 1) == 1; }

  /// Moves up to n items out as one run; returns how many.
  std::size_t pop_n(T* dst, std::size_t n) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>, "pop_n needs a nothrow move assignment");
    return detail::mpmc_consume(
        ctl_, capacity_, n, [&](std::uint64_t p) -> std::atomic<std::uint64_t>& { return at(p).seq; },
        [&](std::uint64_t p, std::size_t i) {
          T* item = at(p).item();
          dst[i] = std::move(*item);
          item->~T();
        });
  }

  std::size_t size() const noexcept { return detail::mpmc_size(ctl_); }
  bool empty() const noexcept { return size() == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  void close() noexcept { ctl_.closed.store(1, std::memory_order_release); }
  bool closed() const noexcept { return ctl_.closed.load(std::memory_order_acquire) != 0; }

 private:
  slot& at(std::uint64_t p) noexcept { return slots_[p & (capacity_ - 1)]; }

  mpmc_control ctl_;
  std::size_t capacity_;
  std::unique_ptr<slot[]> slots_;
};

/// Bounded MPMC ring of fixed-size byte records (size chosen at run time), copied with memcpy.
/// Slot layout: an 8-byte sequence number, then the record, padded to a multiple of 8 bytes.
class mpmc_record_ring {
 public:
  mpmc_record_ring(std::uint64_t capacity, std::size_t record_size)
      : capacity_((detail::check_mpmc_capacity(capacity, "mpmc ring"), capacity)),
        record_size_(checked_record_size(record_size)),
        stride_(sizeof(std::uint64_t) + (record_size + 7) / 8 * 8),
        slots_(capacity, stride_, "mpmc ring") {
    for (std::uint64_t i = 0; i < capacity_; ++i) ::new (static_cast<void*>(slot(i))) std::atomic<std::uint64_t>(i);
  }
  mpmc_record_ring(const mpmc_record_ring&) = delete;
  mpmc_record_ring& operator=(const mpmc_record_ring&) = delete;

  [[nodiscard]] bool try_push(const void* record) noexcept { return push_many(record, 1) == 1; }

  /// Copies up to n records in (contiguous); they occupy consecutive positions. Returns how many.
  std::size_t push_many(const void* records, std::size_t n) noexcept {
    const auto* src = static_cast<const std::byte*>(records);
    return detail::mpmc_produce(
        ctl_, capacity_, n, [&](std::uint64_t p) -> std::atomic<std::uint64_t>& { return seq(p); },
        [&](std::uint64_t p, std::size_t i) { std::memcpy(payload(p), src + i * record_size_, record_size_); });
  }

  [[nodiscard]] bool try_pop(void* record) noexcept { return pop_many(record, 1) == 1; }

  /// Copies up to max_n consecutive records out. Returns how many.
  std::size_t pop_many(void* out, std::size_t max_n) noexcept {
    auto* dst = static_cast<std::byte*>(out);
    return detail::mpmc_consume(
        ctl_, capacity_, max_n, [&](std::uint64_t p) -> std::atomic<std::uint64_t>& { return seq(p); },
        [&](std::uint64_t p, std::size_t i) { std::memcpy(dst + i * record_size_, payload(p), record_size_); });
  }

  std::size_t size() const noexcept { return detail::mpmc_size(ctl_); }
  bool empty() const noexcept { return size() == 0; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::size_t record_size() const noexcept { return record_size_; }
  void close() noexcept { ctl_.closed.store(1, std::memory_order_release); }
  bool closed() const noexcept { return ctl_.closed.load(std::memory_order_acquire) != 0; }
  /// Closed and every claimed position consumed.
  bool drained() const noexcept { return closed() && empty(); }

 private:
  static std::size_t checked_record_size(std::size_t s) {
    if (s == 0) throw std::invalid_argument("mpmc ring: record size must be >= 1 byte");
    if (s > (std::size_t{1} << 30)) throw std::invalid_argument("mpmc ring: record size too large");
    return s;
  }
  std::byte* slot(std::uint64_t p) noexcept {
    return slots_.data() + static_cast<std::size_t>(p & (capacity_ - 1)) * stride_;
  }
  std::atomic<std::uint64_t>& seq(std::uint64_t p) noexcept {
    return *std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(slot(p)));
  }
  std::byte* payload(std::uint64_t p) noexcept { return slot(p) + sizeof(std::uint64_t); }

  mpmc_control ctl_;
  std::uint64_t capacity_;
  std::size_t record_size_;
  std::size_t stride_;
  aligned_buffer slots_;
};

}  // namespace neural_trader::ring
