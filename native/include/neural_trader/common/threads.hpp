/// @file threads.hpp
/// @brief The process-wide thread cap (`nt.set_num_threads`) and a fork-safe parallel_for.
///
/// There is no persistent pool: parallel_for starts its workers per call and joins them before it
/// returns, so nothing is left half-alive in a child after fork().
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace neural_trader {

/// Cores this process may run on (the affinity mask on Linux), at least 1.
inline int available_cores() noexcept {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace detail {
inline std::atomic<int>& thread_cap() noexcept {
  static std::atomic<int> cap{0};  // 0: not set, use available_cores()
  return cap;
}
}  // namespace detail

/// Caps the threads every parallel call of the core may use. n >= 1; 0 restores the default.
inline void set_num_threads(int n) {
  if (n < 0) throw std::invalid_argument("set_num_threads: n must be >= 0 (0 restores the default)");
  detail::thread_cap().store(n, std::memory_order_relaxed);
}

/// The current cap: the value set, or the cores available.
inline int get_num_threads() noexcept {
  const int n = detail::thread_cap().load(std::memory_order_relaxed);
  return n > 0 ? n : available_cores();
}

/// Threads worth starting for `n` items of work: `threads` (0: get_num_threads()), cut so that
/// every thread gets at least `per_thread` items (starting a thread costs tens of microseconds);
/// at least 1.
inline std::size_t threads_for(std::size_t n, std::size_t per_thread, int threads) noexcept {
  const std::size_t want = static_cast<std::size_t>(threads > 0 ? threads : get_num_threads());
  return std::max<std::size_t>(1, std::min(want, n / std::max<std::size_t>(1, per_thread)));
}

/// Runs fn(begin, end) over [0, n) split in contiguous chunks on up to `threads` threads
/// (0: get_num_threads()). The calling thread does the first chunk. The first exception thrown
/// by any chunk is rethrown here after every thread has joined. A worker that cannot be started
/// has its chunk run on the calling thread.
template <class Fn>
void parallel_for(std::size_t n, Fn&& fn, int threads = 0) {
  if (n == 0) return;
  std::size_t t = static_cast<std::size_t>(threads > 0 ? threads : get_num_threads());
  t = std::max<std::size_t>(1, std::min(t, n));
  if (t == 1) {
    fn(std::size_t{0}, n);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](std::size_t b, std::size_t e) {
    try {
      fn(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  const std::size_t chunk = (n + t - 1) / t;
  std::vector<std::thread> workers;
  workers.reserve(t - 1);
  for (std::size_t i = 1; i < t; ++i) {
    const std::size_t b = i * chunk;
    if (b >= n) break;
    try {
      workers.emplace_back(run, b, std::min(n, b + chunk));
    } catch (...) {  // no thread to be had (e.g. EAGAIN): do the chunk here instead
      run(b, std::min(n, b + chunk));
    }
  }
  run(0, std::min(n, chunk));
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace neural_trader
