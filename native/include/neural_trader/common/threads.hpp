/// @file threads.hpp
/// @brief The process-wide thread cap (`nt.set_num_threads`) and parallel_for on a fork-safe
/// worker pool.
///
/// The pool's workers are started on first use and kept: starting a thread per call cost more
/// than half a millisecond before it ran on a two-vCPU VM (the new thread first queues on the
/// caller's core), a kept worker woken from its wait runs after 30-130 us, and one still
/// spinning after its last chunk at once. A worker that has had nothing to do for `pool_spin`
/// (200 us) waits on a condition variable (no CPU used). In a child
/// process after fork() the parent's pool is left untouched (its threads do not exist there)
/// and the first parallel call starts a new one.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
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
  const std::size_t most = n / std::max<std::size_t>(1, per_thread);
  if (most < 2) return 1;  // without asking for the cores (a system call where no cap is set)
  const std::size_t want = static_cast<std::size_t>(threads > 0 ? threads : get_num_threads());
  return std::max<std::size_t>(1, std::min(want, most));
}

namespace detail {

/// How long a pool worker keeps looking for work after its last chunk before it waits on the
/// condition variable (so back-to-back parallel calls find it running; waking it costs the
/// caller nothing, as the caller does not wait for it, but it joins later).
inline constexpr auto pool_spin = std::chrono::microseconds(200);
/// How long a caller whose own chunks are done spins on the workers' before it waits on the
/// condition variable (the rest is usually a chunk in flight; a blocked caller can take a tenth
/// of a millisecond to be woken).
inline constexpr auto caller_spin = std::chrono::milliseconds(2);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// The chunk of a parallel_for call the calling thread is running (-1 outside any; a chunk
/// that makes a parallel call of its own sees it restored afterwards). For tests that check a
/// split happened: which thread runs a chunk depends on timing, the chunks do not.
inline std::size_t& running_chunk() noexcept {
  thread_local std::size_t c = static_cast<std::size_t>(-1);
  return c;
}

/// One parallel_for call: chunk 0 is the caller's; 1..count-1 go to whoever claims them first,
/// a worker or the caller itself once its own chunk is done (so a call never waits for a chunk
/// that no thread has started).
struct pool_job {
  std::size_t count = 0;
  void (*call)(void* ctx, std::size_t chunk) = nullptr;
  void* ctx = nullptr;
  // under the pool's mutex:
  std::size_t next = 1;     // the next chunk to hand out
  std::size_t claimed = 0;  // chunks handed to workers
  std::atomic<std::size_t> finished{0};  // of those, done (written under the mutex)
};

/// The workers. Jobs with chunks not yet handed out wait in `open_`, oldest first.
class worker_pool {
 public:
  /// The process's pool (a new one in a child after fork()).
  static worker_pool& get() {
    worker_pool* p = instance().load(std::memory_order_acquire);
    if (p != nullptr) return *p;
#if defined(__unix__) || defined(__APPLE__)
    static std::atomic<bool> registered{false};
    if (!registered.exchange(true)) {
      // In the child only the forking thread exists: the parent's pool (whose mutex a worker
      // may have held at the fork) is abandoned, never touched again.
      pthread_atfork(nullptr, nullptr, [] { instance().store(nullptr, std::memory_order_relaxed); });
    }
#endif
    auto* fresh = new worker_pool();
    if (instance().compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
    delete fresh;  // another thread made one first
    return *p;
  }

  /// Workers started so far (they are kept; a parallel call needs as many as its chunks
  /// less one).
  std::size_t workers() const noexcept { return started_.load(std::memory_order_relaxed); }

  /// Runs every chunk of `job` (chunk 0 on this thread) with up to `helpers` workers; returns
  /// when all are done.
  void run(pool_job& job, std::size_t helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_.push_back(&job);
      pending_.fetch_add(1, std::memory_order_release);
    }
    grow(helpers);
    for (std::size_t i = 1; i < job.count; ++i) work_cv_.notify_one();
    job.call(job.ctx, 0);
    std::size_t claimed = 0;  // by workers: final once every chunk is handed out
    for (;;) {  // the chunks no worker has claimed yet
      std::size_t c = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (job.next >= job.count) {
          claimed = job.claimed;
          break;
        }
        c = job.next++;
        if (job.next >= job.count) close(job);
      }
      job.call(job.ctx, c);
    }
    const auto until = std::chrono::steady_clock::now() + caller_spin;
    for (int i = 0; job.finished.load(std::memory_order_acquire) != claimed; ++i) {
      cpu_relax();
      if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
    }
    // The workers touch `job` under the mutex only: once this thread has held it and seen
    // every claimed chunk finished, none will again.
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return job.finished.load(std::memory_order_relaxed) == job.claimed; });
  }

 private:
  worker_pool() = default;

  static std::atomic<worker_pool*>& instance() noexcept {
    static std::atomic<worker_pool*> p{nullptr};
    return p;
  }

  // job has no chunk left to hand out (mutex held)
  void close(pool_job& job) {
    const auto it = std::find(open_.begin(), open_.end(), &job);
    if (it != open_.end()) {
      open_.erase(it);
      pending_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // at least `want` workers, as far as threads can be had
  void grow(std::size_t want) {
    if (started_.load(std::memory_order_relaxed) >= want) return;  // the usual case: no lock
    std::lock_guard<std::mutex> lock(grow_mu_);
    while (started_.load(std::memory_order_relaxed) < want) {
      try {
        std::thread([this] { work(); }).detach();
      } catch (...) {  // none to be had now (system_error, bad_alloc): the callers run the
        return;        // unclaimed chunks themselves, and the job never leaks out half-posted
      }
      started_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void work() {
    auto until = std::chrono::steady_clock::now() + pool_spin;
    for (;;) {
      for (int i = 0; pending_.load(std::memory_order_acquire) == 0; ++i) {
        cpu_relax();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
      }
      pool_job* job = nullptr;
      std::size_t c = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (open_.empty()) {
          if (std::chrono::steady_clock::now() <= until) continue;  // another thread claimed it: spin on
          work_cv_.wait(lock, [&] { return !open_.empty(); });
        }
        job = open_.front();
        c = job->next++;
        ++job->claimed;
        if (job->next >= job->count) close(*job);
      }
      job->call(job->ctx, c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        job->finished.fetch_add(1, std::memory_order_release);
        done_cv_.notify_all();
      }
      until = std::chrono::steady_clock::now() + pool_spin;
    }
  }

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<pool_job*> open_;
  std::atomic<std::size_t> pending_{0};  // open_.size(), read without the mutex by spinning workers
  std::mutex grow_mu_;
  std::atomic<std::size_t> started_{0};
};

}  // namespace detail

/// Runs fn(begin, end) over [0, n) split in contiguous chunks on up to `threads` threads
/// (0: get_num_threads()): the calling thread does the first chunk, the pool's workers the
/// others, and the caller any chunk no worker has claimed by the time its own is done (so it
/// never waits for a worker to wake, nor for one that cannot be started). The first exception
/// thrown by any chunk is rethrown here after every chunk has finished. Calls from several
/// threads at once, and from inside a chunk, are allowed.
template <class Fn>
void parallel_for(std::size_t n, Fn&& fn, int threads = 0) {
  if (n == 0) return;
  std::size_t t = static_cast<std::size_t>(threads > 0 ? threads : get_num_threads());
  t = std::max<std::size_t>(1, std::min(t, n));
  if (t == 1) {
    fn(std::size_t{0}, n);
    return;
  }
  struct context {
    Fn& fn;
    std::size_t n, chunk;
    std::exception_ptr error{};
    std::mutex error_mutex{};
  };
  context ctx{fn, n, (n + t - 1) / t};
  detail::pool_job job;
  job.count = (n + ctx.chunk - 1) / ctx.chunk;  // chunks that are not empty: 2 or more, as 2 <= t <= n
  job.ctx = &ctx;
  job.call = [](void* p, std::size_t i) {
    auto& c = *static_cast<context*>(p);
    std::size_t& running = detail::running_chunk();
    const std::size_t outer = running;
    running = i;
    try {
      c.fn(i * c.chunk, std::min(c.n, (i + 1) * c.chunk));
    } catch (...) {
      std::lock_guard<std::mutex> lock(c.error_mutex);
      if (!c.error) c.error = std::current_exception();
    }
    running = outer;
  };
  detail::worker_pool::get().run(job, job.count - 1);
  if (ctx.error) std::rethrow_exception(ctx.error);
}

}  // namespace neural_trader
