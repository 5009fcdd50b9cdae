// Single-threaded semantics of the ring buffers (ring/spsc.hpp, ring/mpmc.hpp, ring/shared.hpp)
// and of the small common pieces they rest on (checked.hpp, threads.hpp, cpu.hpp,
// aligned_buffer.hpp, backoff.hpp). The threaded tests are in stress_ring.cpp.
//
//   test_ring               runs the tests
#include "check.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neural_trader/core.hpp"

namespace {

namespace nt = neural_trader;
namespace ring = neural_trader::ring;

// ---------------------------------------------------------------------------------------------
// A type that records every construction and destruction by address: a slot constructed twice
// without a destruction in between, an object destroyed twice or never, or a dead object used,
// all count as lifetime errors.
class tracked {
 public:
  static long live() { return static_cast<long>(registry().size()); }
  static long errors() { return errors_; }
  static long constructions() { return constructions_; }

  explicit tracked(std::uint64_t v = 0) noexcept : value_(v) { enter(); }
  tracked(const tracked& o) noexcept : value_(o.value_) {
    o.verify();
    enter();
  }
  tracked(tracked&& o) noexcept : value_(o.value_) {
    o.verify();
    o.value_ = moved_from;
    enter();
  }
  tracked& operator=(const tracked& o) noexcept {
    verify();
    o.verify();
    value_ = o.value_;
    return *this;
  }
  tracked& operator=(tracked&& o) noexcept {
    verify();
    o.verify();
    value_ = o.value_;
    o.value_ = moved_from;
    return *this;
  }
  ~tracked() {
    if (magic_ != alive || registry().erase(this) != 1) ++errors_;
    magic_ = dead;
  }

  std::uint64_t value() const noexcept {
    verify();
    return value_;
  }

  static constexpr std::uint64_t moved_from = 0xDEADull;

 private:
  static constexpr std::uint64_t alive = 0xA11CEA11CEull;
  static constexpr std::uint64_t dead = 0xDEADDEADull;

  static std::set<const tracked*>& registry() {
    static std::set<const tracked*> r;
    return r;
  }
  void enter() noexcept {
    ++constructions_;
    if (!registry().insert(this).second) ++errors_;
    magic_ = alive;
  }
  void verify() const noexcept {
    if (magic_ != alive || registry().count(this) != 1) ++errors_;
  }

  std::uint64_t value_;
  std::uint64_t magic_ = alive;
  static inline long errors_ = 0;
  static inline long constructions_ = 0;
};

// Checks at the end of a scope that every tracked object made in it is gone.
struct lifetime_guard {
  const char* file;
  int line;
  long live_before = tracked::live();
  long errors_before = tracked::errors();
  ~lifetime_guard() {
    if (tracked::live() != live_before) {
      nt_check::fail(file, line, "tracked objects leaked: " + std::to_string(tracked::live() - live_before));
    } else {
      nt_check::pass();
    }
    if (tracked::errors() != errors_before) {
      nt_check::fail(file, line, "lifetime errors: " + std::to_string(tracked::errors() - errors_before));
    } else {
      nt_check::pass();
    }
  }
};
#define LIFETIME_GUARD() lifetime_guard nt_lifetime_guard_{__FILE__, __LINE__}

// ---------------------------------------------------------------------------------------------
// checked.hpp
void test_checked_arithmetic() {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  static_assert(nt::checked_mul(3, 4) == 12u);
  static_assert(!nt::checked_mul(max, 2));
  static_assert(nt::checked_add(1, 2) == 3u);
  static_assert(!nt::checked_add(max, 1));
  CHECK(nt::checked_mul(0, max) == 0u);
  CHECK(nt::checked_mul(max, 0) == 0u);
  CHECK(nt::checked_mul(1, max) == max);
  CHECK(nt::checked_mul(max, 1) == max);
  CHECK(!nt::checked_mul(max, 2).has_value());
  CHECK(!nt::checked_mul(std::uint64_t{1} << 32, std::uint64_t{1} << 32).has_value());
  CHECK(nt::checked_mul(std::uint64_t{1} << 32, (std::uint64_t{1} << 32) - 1) == max - ((std::uint64_t{1} << 32) - 1));
  CHECK(nt::checked_mul(std::uint64_t{1} << 31, std::uint64_t{1} << 32) == std::uint64_t{1} << 63);
  CHECK(!nt::checked_mul(std::uint64_t{1} << 61, 8).has_value());
  CHECK(nt::checked_mul(std::uint64_t{1} << 60, 8) == std::uint64_t{1} << 63);
  CHECK(!nt::checked_mul(max / 3 + 1, 3).has_value());
  CHECK(nt::checked_mul(max / 3, 3) == max);
  CHECK(nt::checked_add(0, 0) == 0u);
  CHECK(nt::checked_add(max, 0) == max);
  CHECK(nt::checked_add(0, max) == max);
  CHECK(!nt::checked_add(max, 1).has_value());
  CHECK(!nt::checked_add(1, max).has_value());
  CHECK(!nt::checked_add(max, max).has_value());
  CHECK(nt::checked_add(max - 5, 5) == max);
  CHECK(!nt::checked_add(max - 5, 6).has_value());
  CHECK(nt::is_power_of_two(1) && nt::is_power_of_two(2) && nt::is_power_of_two(std::uint64_t{1} << 63));
  CHECK(!nt::is_power_of_two(0) && !nt::is_power_of_two(3) && !nt::is_power_of_two(max));
}

// ---------------------------------------------------------------------------------------------
// aligned_buffer.hpp, backoff.hpp
void test_aligned_buffer_and_backoff() {
  nt::aligned_buffer b(100, 3, "test");
  CHECK_EQ(b.size(), 300u);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % nt::false_sharing_range == 0);
  CHECK(std::all_of(b.data(), b.data() + b.size(), [](std::byte x) { return x == std::byte{0}; }));
  nt::aligned_buffer moved(std::move(b));
  CHECK(b.data() == nullptr);
  CHECK_EQ(b.size(), 0u);
  CHECK_EQ(moved.size(), 300u);
  nt::aligned_buffer other(1, 1, "x");
  other = std::move(moved);
  CHECK_EQ(other.size(), 300u);
  nt::aligned_buffer empty(0, 8, "empty");
  CHECK_EQ(empty.size(), 0u);
  CHECK(empty.data() != nullptr);
  CHECK_THROWS(nt::aligned_buffer(std::uint64_t{1} << 40, std::uint64_t{1} << 40, "huge"), std::length_error);
  CHECK_THROWS(nt::aligned_buffer(std::uint64_t{1} << 30, std::uint64_t{1} << 17, "limit"), std::length_error);
  CHECK_THROWS(nt::aligned_buffer(10, 10, "limit", 99), std::length_error);
  CHECK_NOTHROW(nt::aligned_buffer(10, 10, "limit", 100));

  nt::backoff w(std::chrono::microseconds(5));
  const double t0 = nt::monotonic_seconds();
  for (int i = 0; i < 60; ++i) w.wait();
  w.reset();
  w.wait();
  const double t1 = nt::monotonic_seconds();
  CHECK(t1 >= t0);
  CHECK(t1 - t0 < 5.0);
}

// ---------------------------------------------------------------------------------------------
// threads.hpp
void test_num_threads() {
  CHECK(nt::available_cores() >= 1);
  nt::set_num_threads(0);
  CHECK_EQ(nt::get_num_threads(), nt::available_cores());
  nt::set_num_threads(5);
  CHECK_EQ(nt::get_num_threads(), 5);
  nt::set_num_threads(1);
  CHECK_EQ(nt::get_num_threads(), 1);
  CHECK_THROWS(nt::set_num_threads(-1), std::invalid_argument);
  CHECK_THROWS(nt::set_num_threads(std::numeric_limits<int>::min()), std::invalid_argument);
  CHECK_EQ(nt::get_num_threads(), 1);  // a rejected value changes nothing
  nt::set_num_threads(0);
  CHECK_EQ(nt::get_num_threads(), nt::available_cores());
}

struct chunk_log {
  std::mutex m;
  std::vector<std::pair<std::size_t, std::size_t>> chunks;
  std::set<std::thread::id> threads;
  void add(std::size_t b, std::size_t e) {
    std::lock_guard<std::mutex> lock(m);
    chunks.emplace_back(b, e);
    threads.insert(std::this_thread::get_id());
  }
  // The chunks tile [0, n) exactly: disjoint, contiguous, non-empty.
  bool tiles(std::size_t n) {
    auto c = chunks;
    std::sort(c.begin(), c.end());
    std::size_t at = 0;
    for (auto [b, e] : c) {
      if (b != at || e <= b) return false;
      at = e;
    }
    return at == n;
  }
};

void test_parallel_for_sums() {
  for (int threads : {1, 2, 3, 4, 8}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{1000},
                          std::size_t{100003}}) {
      std::vector<unsigned char> hit(n, 0);
      std::atomic<std::uint64_t> sum{0};
      chunk_log log;
      nt::parallel_for(
          n,
          [&](std::size_t b, std::size_t e) {
            log.add(b, e);
            std::uint64_t s = 0;
            for (std::size_t i = b; i < e; ++i) {
              ++hit[i];
              s += i;
            }
            sum.fetch_add(s, std::memory_order_relaxed);
          },
          threads);
      CHECK_EQ(sum.load(), static_cast<std::uint64_t>(n) * (n - 1) / 2);
      CHECK(std::all_of(hit.begin(), hit.end(), [](unsigned char h) { return h == 1; }));
      CHECK(log.tiles(n));
      CHECK(log.chunks.size() <= std::min<std::size_t>(static_cast<std::size_t>(threads), n));
      if (threads == 1 || n == 1) {
        CHECK_EQ(log.chunks.size(), 1u);
        CHECK(log.threads.count(std::this_thread::get_id()) == 1);
      }
    }
  }
  // n smaller than threads: one chunk per element at most, each element once.
  {
    chunk_log log;
    nt::parallel_for(3, [&](std::size_t b, std::size_t e) { log.add(b, e); }, 16);
    CHECK(log.tiles(3));
    CHECK(log.chunks.size() <= 3u);
  }
  // n == 0: fn never runs.
  {
    bool called = false;
    nt::parallel_for(0, [&](std::size_t, std::size_t) { called = true; }, 4);
    CHECK(!called);
  }
  // threads = 0 uses get_num_threads().
  {
    nt::set_num_threads(3);
    chunk_log log;
    nt::parallel_for(99, [&](std::size_t b, std::size_t e) { log.add(b, e); });
    CHECK_EQ(log.chunks.size(), 3u);
    CHECK(log.tiles(99));
    nt::set_num_threads(1);
    chunk_log one;
    nt::parallel_for(99, [&](std::size_t b, std::size_t e) { one.add(b, e); });
    CHECK_EQ(one.chunks.size(), 1u);
    nt::set_num_threads(0);
  }
}

struct custom_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void test_parallel_for_exceptions() {
  // Thrown on a worker thread: rethrown on the caller after all chunks ran.
  {
    std::atomic<int> done{0};
    bool caught = false;
    try {
      nt::parallel_for(
          400,
          [&](std::size_t b, std::size_t) {
            if (b >= 300) throw custom_error("worker chunk " + std::to_string(b));
            done.fetch_add(1);
          },
          4);
    } catch (const custom_error& e) {
      caught = std::string(e.what()) == "worker chunk 300";
    }
    CHECK(caught);
    CHECK_EQ(done.load(), 3);
  }
  // Thrown on the calling thread's own chunk.
  {
    std::atomic<int> done{0};
    CHECK_THROWS(nt::parallel_for(
                     10,
                     [&](std::size_t b, std::size_t) {
                       if (b == 0) throw std::out_of_range("first");
                       done.fetch_add(1);
                     },
                     2),
                 std::out_of_range);
    CHECK_EQ(done.load(), 1);
  }
  // Thrown by every chunk: exactly one exception comes out.
  CHECK_THROWS(nt::parallel_for(
                   64, [](std::size_t, std::size_t) { throw custom_error("all"); }, 8),
               custom_error);
  // threads = 1 runs inline: the exception passes straight through.
  CHECK_THROWS(nt::parallel_for(
                   5, [](std::size_t, std::size_t) { throw std::logic_error("inline"); }, 1),
               std::logic_error);
}

// The sum 0 + 1 + ... + (n - 1) through parallel_for on `threads` threads.
std::uint64_t parallel_sum(std::size_t n, int threads) {
  std::atomic<std::uint64_t> sum{0};
  nt::parallel_for(
      n,
      [&](std::size_t b, std::size_t e) {
        std::uint64_t s = 0;
        for (std::size_t i = b; i < e; ++i) s += i;
        sum.fetch_add(s, std::memory_order_relaxed);
      },
      threads);
  return sum.load();
}

// Threads that have ever run a chunk: a thread's first chunk counts it (thread_local, so a new
// thread per call would count once per call even where the system reuses thread ids).
std::atomic<int> chunk_threads_seen{0};
void note_chunk_thread() {
  thread_local bool seen = false;
  if (!seen) {
    seen = true;
    chunk_threads_seen.fetch_add(1);
  }
}

// True when both chunks of a two-chunk parallel_for run at the same time (each waits, up to
// ten seconds, for the other to arrive): so a worker, not the caller, ran the second one.
bool two_chunks_meet() {
  std::atomic<int> arrived{0};
  std::atomic<bool> met{true};
  nt::parallel_for(
      2,
      [&](std::size_t, std::size_t) {
        arrived.fetch_add(1);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (arrived.load() < 2) {
          if (std::chrono::steady_clock::now() > until) {
            met = false;
            arrived.fetch_add(1);  // releases the other chunk if it comes late
            return;
          }
          std::this_thread::yield();
        }
      },
      2);
  return met.load();
}

void test_parallel_for_pool() {
  const auto want = [](std::size_t n) { return static_cast<std::uint64_t>(n) * (n - 1) / 2; };
  // The workers are kept: 300 calls on 3 threads run on a bounded set of threads.
  {
    const int before = chunk_threads_seen.load();
    for (int r = 0; r < 300; ++r) {
      std::atomic<int> chunks{0};
      nt::parallel_for(
          3000,
          [&](std::size_t, std::size_t) {
            note_chunk_thread();
            chunks.fetch_add(1);
          },
          3);
      CHECK_EQ(chunks.load(), 3);  // the chunks do not depend on which threads run them
    }
    // the caller and the pool's workers (as many as the most helpers one call has asked for)
    const auto pool = nt::detail::worker_pool::get().workers();
    CHECK(pool >= 2 && pool <= 15);
    CHECK(static_cast<std::size_t>(chunk_threads_seen.load() - before) <= 1 + pool);
  }
  // Several callers at once, each with its own results.
  {
    std::atomic<int> wrong{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
      callers.emplace_back([&, c] {
        for (int r = 0; r < 100; ++r) {
          const std::size_t n = 1000 + static_cast<std::size_t>(c * 100 + r);
          if (parallel_sum(n, 2 + (r % 3)) != want(n)) wrong.fetch_add(1);
        }
      });
    }
    for (auto& t : callers) t.join();
    CHECK_EQ(wrong.load(), 0);
  }
  // A chunk that makes a parallel call of its own: no deadlock, every sum right, and the chunk
  // index seen inside each chunk restored after the inner call.
  {
    std::atomic<int> wrong{0};
    nt::parallel_for(
        8,
        [&](std::size_t b, std::size_t e) {
          const std::size_t mine = nt::detail::running_chunk();
          for (std::size_t i = b; i < e; ++i) {
            if (parallel_sum(5000 + i, 3) != want(5000 + i)) wrong.fetch_add(1);
          }
          if (nt::detail::running_chunk() != mine || mine != b / 2) wrong.fetch_add(1);
        },
        4);
    CHECK_EQ(wrong.load(), 0);
    CHECK_EQ(nt::detail::running_chunk(), static_cast<std::size_t>(-1));
  }
  CHECK(two_chunks_meet());  // the second chunk ran on a worker while the caller ran the first
#if !defined(__SANITIZE_THREAD__)
  // fork() while the pool has workers: the child (where they do not exist) gets a new pool.
  // (ThreadSanitizer does not support threads started after a multi-threaded fork.)
  {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::alarm(20);  // a hang fails the test instead of stalling it
      bool ok = two_chunks_meet();  // a worker exists here (not just the parent's, gone)
      for (int r = 0; r < 50; ++r) ok &= parallel_sum(100000 + static_cast<std::size_t>(r), 3) == want(100000 + static_cast<std::size_t>(r));
      ::_exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK_EQ(::waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(parallel_sum(100000, 3), want(100000));  // the parent's pool still works
  }
#endif
}

// ---------------------------------------------------------------------------------------------
// cpu.hpp
struct env_restore {
  std::string saved;
  bool had;
  env_restore() {
    const char* v = std::getenv("NT_SIMD");
    had = v != nullptr;
    if (had) saved = v;
  }
  ~env_restore() {
    if (had) ::setenv("NT_SIMD", saved.c_str(), 1);
    else ::unsetenv("NT_SIMD");
  }
};

void test_cpu_and_simd_choice() {
  env_restore restore;
  const auto& f = nt::cpu();
  CHECK(&f == &nt::cpu());  // detected once
  const auto names = f.names();
  const std::size_t flags = f.sse42 + f.avx + f.avx2 + f.fma + f.avx512f + f.avx512bw + f.avx512vl + f.neon;
  CHECK_EQ(names.size(), flags);
  if (f.avx2) CHECK(f.avx);
  const auto best = nt::best_simd_level();
  switch (best) {
    case nt::simd_level::avx512: CHECK(f.avx512f && f.avx512bw && f.avx512vl && f.fma); break;
    case nt::simd_level::avx2: CHECK(f.avx2 && f.fma); break;
    case nt::simd_level::neon: CHECK(f.neon); break;
    case nt::simd_level::scalar: break;
  }
  std::printf("  cpu: %s; best SIMD level %s\n", [&] {
    std::string s;
    for (const auto& n : names) s += n + " ";
    return s;
  }().c_str(), nt::to_string(best));

  for (auto l : {nt::simd_level::scalar, nt::simd_level::neon, nt::simd_level::avx2, nt::simd_level::avx512}) {
    nt::simd_level back = nt::simd_level::scalar;
    CHECK(nt::parse_simd_level(nt::to_string(l), back));
    CHECK(back == l);
  }
  nt::simd_level untouched = nt::simd_level::avx2;
  CHECK(!nt::parse_simd_level("AVX2", untouched));
  CHECK(!nt::parse_simd_level("", untouched));
  CHECK(!nt::parse_simd_level("sse", untouched));
  CHECK(untouched == nt::simd_level::avx2);

  ::unsetenv("NT_SIMD");
  auto c = nt::choose_simd_level();
  CHECK(c.level == best);
  CHECK(c.requested.empty());
  CHECK(!c.ignored);

  ::setenv("NT_SIMD", "", 1);
  c = nt::choose_simd_level();
  CHECK(c.level == best);
  CHECK(!c.ignored);

  ::setenv("NT_SIMD", "scalar", 1);
  c = nt::choose_simd_level();
  CHECK(c.level == nt::simd_level::scalar);
  CHECK_EQ(c.requested, std::string("scalar"));
  CHECK(!c.ignored);

  for (const char* unknown : {"bogus", "AVX2", "sse4.2", " scalar", "scalar "}) {
    ::setenv("NT_SIMD", unknown, 1);
    c = nt::choose_simd_level();
    CHECK(c.ignored);
    CHECK(c.level == best);
    CHECK_EQ(c.requested, std::string(unknown));
  }

  const bool x86_levels = best != nt::simd_level::neon;
  ::setenv("NT_SIMD", "avx2", 1);
  c = nt::choose_simd_level();
  if (x86_levels && static_cast<int>(best) >= static_cast<int>(nt::simd_level::avx2)) {
    CHECK(c.level == nt::simd_level::avx2);
    CHECK(!c.ignored);
  } else {
    CHECK(c.level == best);
    CHECK(c.ignored);
  }
  ::setenv("NT_SIMD", "avx512", 1);
  c = nt::choose_simd_level();
  if (best == nt::simd_level::avx512) {
    CHECK(c.level == nt::simd_level::avx512);
    CHECK(!c.ignored);
  } else {
    CHECK(c.level == best);
    CHECK(c.ignored);
  }
  ::setenv("NT_SIMD", "neon", 1);
  c = nt::choose_simd_level();
  if (f.neon) {
    CHECK(c.level == nt::simd_level::neon);
    CHECK(!c.ignored);
  } else {
    CHECK(c.level == best);
    CHECK(c.ignored);
  }
}

// ---------------------------------------------------------------------------------------------
// spsc_queue<T>
void test_spsc_queue_capacity() {
  for (std::size_t bad : {std::size_t{0}, std::size_t{3}, std::size_t{5}, std::size_t{6}, std::size_t{7},
                          std::size_t{12}, std::size_t{100}, std::size_t{1000}, (std::size_t{1} << 20) + 1}) {
    CHECK_THROWS(ring::spsc_queue<int>(bad), std::invalid_argument);
    CHECK_THROWS(ring::spsc_queue<tracked>(bad), std::invalid_argument);
  }
  CHECK_THROWS(ring::spsc_queue<int>(std::size_t{1} << 63), std::invalid_argument);

  LIFETIME_GUARD();
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{8}, std::size_t{1024}}) {
    ring::spsc_queue<tracked> q(cap);
    CHECK_EQ(q.capacity(), cap);
    std::uint64_t next_in = 0, next_out = 0;
    for (int lap = 0; lap < 3; ++lap) {  // three laps: the counters pass the wrap point
      CHECK(q.empty());
      CHECK(q.front() == nullptr);
      tracked sink;
      CHECK(!q.try_pop(sink));
      for (std::size_t i = 0; i < cap; ++i) CHECK(q.try_emplace(next_in++));
      CHECK_EQ(q.size(), cap);
      const long live = tracked::live();
      CHECK(!q.try_emplace(std::uint64_t{999}));  // capacity N holds exactly N
      CHECK(!q.try_push(tracked(998)));
      CHECK_EQ(tracked::live(), live);  // a refused push constructs nothing in the ring
      CHECK_EQ(q.size(), cap);
      for (std::size_t i = 0; i < cap; ++i) {
        tracked out;
        CHECK(q.try_pop(out));
        CHECK_EQ(out.value(), next_out++);
      }
      CHECK(q.empty());
    }
  }
  // Capacity 1: strict alternation.
  ring::spsc_queue<std::uint64_t> one(1);
  for (std::uint64_t i = 0; i < 100; ++i) {
    CHECK(one.try_push(i));
    CHECK(!one.try_push(i));
    std::uint64_t v = 0;
    CHECK(one.try_pop(v));
    CHECK_EQ(v, i);
    CHECK(!one.try_pop(v));
  }
}

void test_spsc_queue_lifetime() {
  LIFETIME_GUARD();
  {
    const long base = tracked::live();
    ring::spsc_queue<tracked> q(8);
    CHECK(q.try_emplace(std::uint64_t{0}));
    tracked one(1);
    CHECK(q.try_push(one));  // copy
    CHECK_EQ(one.value(), 1u);
    tracked two(2);
    CHECK(q.try_push(std::move(two)));  // move
    CHECK_EQ(two.value(), tracked::moved_from);
    CHECK(q.try_emplace(std::uint64_t{3}));
    CHECK(q.try_emplace(std::uint64_t{4}));
    // front()/pop() and try_pop.
    tracked* f = q.front();
    CHECK(f != nullptr);
    if (f != nullptr) CHECK_EQ(f->value(), 0u);
    q.pop();
    tracked out;
    CHECK(q.try_pop(out));
    CHECK_EQ(out.value(), 1u);
    CHECK(q.try_pop(out));
    CHECK_EQ(out.value(), 2u);
    // Wrap: the ring now holds 3, 4 and then 5..10 in slots 5, 6, 7, 0, 1, 2.
    for (std::uint64_t v = 5; v <= 10; ++v) CHECK(q.try_emplace(v));
    CHECK_EQ(q.size(), 8u);
    CHECK(!q.try_emplace(std::uint64_t{11}));
    CHECK(q.try_pop(out));
    CHECK_EQ(out.value(), 3u);
    // 4..10 in the ring plus one, two and out here. Destroyed non-empty (and wrapped): the
    // destructor must destroy exactly the 7 left (checked by the guard).
    CHECK_EQ(tracked::live(), base + 7 + 3);
  }
  // Long run with random fill levels.
  {
    std::mt19937_64 rng(7);
    ring::spsc_queue<tracked> q(16);
    std::deque<std::uint64_t> model;
    std::uint64_t next = 0;
    for (int step = 0; step < 20000; ++step) {
      if (rng() % 2) {
        const bool ok = q.try_emplace(next);
        CHECK_EQ(ok, model.size() < 16);
        if (ok) model.push_back(next);
        ++next;
      } else {
        tracked out;
        const bool ok = q.try_pop(out);
        CHECK_EQ(ok, !model.empty());
        if (ok) {
          CHECK_EQ(out.value(), model.front());
          model.pop_front();
        }
      }
      if (q.size() != model.size()) CHECK_EQ(q.size(), model.size());
    }
  }
  // Destroying an empty queue destroys nothing.
  { ring::spsc_queue<tracked> q(4); }
}

template <class Q>
void model_batches(Q& q, std::size_t cap, std::uint64_t seed) {
  using T = typename Q::value_type;
  std::mt19937_64 rng(seed);
  std::deque<std::uint64_t> model;
  std::uint64_t next = 0;
  for (int step = 0; step < 4000; ++step) {
    const std::size_t k = rng() % (cap + 3);
    if (rng() % 2) {
      std::vector<T> src;
      src.reserve(k);
      for (std::size_t i = 0; i < k; ++i) src.emplace_back(next + i);
      const std::size_t want = std::min(k, cap - model.size());
      const std::size_t got = q.push_n(src.data(), k);
      if (got != want) CHECK_EQ(got, want);
      for (std::size_t i = 0; i < got; ++i) model.push_back(next + i);
      next += k;
    } else {
      std::vector<T> dst(k + 1);
      const std::size_t want = std::min(k, model.size());
      const std::size_t got = q.pop_n(dst.data(), k);
      if (got != want) CHECK_EQ(got, want);
      for (std::size_t i = 0; i < got && i < want; ++i) {
        std::uint64_t v;
        if constexpr (std::is_same_v<T, tracked>) v = dst[i].value();
        else v = static_cast<std::uint64_t>(dst[i]);
        if (v != model.front()) CHECK_EQ(v, model.front());
        model.pop_front();
      }
    }
    if (q.size() != model.size()) CHECK_EQ(q.size(), model.size());
  }
}

void test_spsc_queue_batches_across_wrap() {
  // Deterministic: start the batch at every slot offset of a capacity-8 ring.
  for (std::size_t offset = 0; offset < 8; ++offset) {
    ring::spsc_queue<std::uint64_t> q(8);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < offset; ++i) {
      CHECK(q.try_push(i));
      CHECK(q.try_pop(v));
    }
    std::uint64_t src[12];
    for (std::uint64_t i = 0; i < 12; ++i) src[i] = 100 + i;
    CHECK_EQ(q.push_n(src, 12), 8u);  // full at exactly 8, across the wrap point
    CHECK_EQ(q.push_n(src, 1), 0u);
    std::uint64_t dst[12] = {};
    CHECK_EQ(q.pop_n(dst, 3), 3u);
    CHECK(dst[0] == 100 && dst[1] == 101 && dst[2] == 102);
    CHECK_EQ(q.push_n(src + 8, 4), 3u);  // 3 slots were freed
    CHECK_EQ(q.pop_n(dst, 12), 8u);
    const std::uint64_t want[8] = {103, 104, 105, 106, 107, 108, 109, 110};
    CHECK(std::equal(want, want + 8, dst));
    CHECK_EQ(q.pop_n(dst, 12), 0u);
    CHECK_EQ(q.push_n(src, 0), 0u);
    CHECK_EQ(q.pop_n(dst, 0), 0u);
  }
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{8}, std::size_t{64}}) {
    ring::spsc_queue<std::uint64_t> q(cap);
    model_batches(q, cap, 100 + cap);
    LIFETIME_GUARD();
    {
      ring::spsc_queue<tracked> t(cap);
      model_batches(t, cap, 200 + cap);
    }
  }
}

// Copies succeed while `budget` lasts, then throw.
struct fragile {
  static inline int budget = 0;
  int v = 0;
  fragile() = default;
  explicit fragile(int x) : v(x) {}
  fragile(const fragile& o) : v(o.v) {
    if (budget-- <= 0) throw std::runtime_error("copy failed");
  }
  fragile& operator=(const fragile&) = default;
  fragile& operator=(fragile&&) noexcept = default;
  fragile(fragile&&) noexcept = default;
};

void test_spsc_queue_move_only_and_throwing() {
  {
    ring::spsc_queue<std::unique_ptr<int>> q(4);
    for (int i = 0; i < 3; ++i) CHECK(q.try_push(std::make_unique<int>(i)));
    std::unique_ptr<int> out;
    CHECK(q.try_pop(out));
    CHECK(out && *out == 0);
    for (int i = 3; i < 5; ++i) CHECK(q.try_push(std::make_unique<int>(i)));
    // Destroyed holding 1..4 (wrapped): LeakSanitizer reports any leak.
  }
  {
    ring::spsc_queue<std::string> q(2);
    CHECK(q.try_push(std::string(100, 'a')));
    CHECK(q.try_emplace(50u, 'b'));
    std::string s;
    CHECK(q.try_pop(s));
    CHECK_EQ(s, std::string(100, 'a'));
    CHECK(q.try_push("c"));
    CHECK(q.try_pop(s));
    CHECK_EQ(s, std::string(50, 'b'));
  }
  // A constructor that throws leaves the queue unchanged.
  ring::spsc_queue<fragile> q(2);
  const fragile x(5);
  fragile::budget = 0;
  CHECK_THROWS(q.try_push(x), std::runtime_error);
  CHECK(q.empty());
  fragile::budget = 1;
  CHECK(q.try_push(x));
  CHECK_THROWS(q.try_push(x), std::runtime_error);
  CHECK_EQ(q.size(), 1u);
  fragile out;
  CHECK(q.try_pop(out));
  CHECK_EQ(out.v, 5);
  CHECK(q.empty());
}

void test_spsc_queue_close() {
  ring::spsc_queue<int> q(4);
  CHECK(!q.closed());
  CHECK(q.try_push(1));
  q.close();
  CHECK(q.closed());
  int v = 0;
  CHECK(q.try_pop(v));  // what was pushed before close() still comes out
  CHECK_EQ(v, 1);
  q.close();  // idempotent
  CHECK(q.closed());
}

// ---------------------------------------------------------------------------------------------
// spsc_record_ring / spsc_record_view
void fill_record(unsigned char* p, std::size_t size, std::uint64_t seq) {
  for (std::size_t j = 0; j < size; ++j) {
    p[j] = static_cast<unsigned char>((seq * 0x9E3779B97F4A7C15ull >> (8 * (j % 8))) + j * 31 + (seq >> 3));
  }
}
bool record_ok(const unsigned char* p, std::size_t size, std::uint64_t seq) {
  std::vector<unsigned char> want(size);
  fill_record(want.data(), size, seq);
  return std::memcmp(p, want.data(), size) == 0;
}

void test_spsc_record_ring_construction() {
  for (std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{6}, std::uint64_t{1000},
                            std::uint64_t{1} << 63}) {
    CHECK_THROWS(ring::spsc_record_ring(bad, 8), std::invalid_argument);
  }
  CHECK_THROWS(ring::spsc_record_ring(8, 0), std::invalid_argument);
  CHECK_THROWS(ring::spsc_record_ring(std::uint64_t{1} << 40, 1024), std::length_error);
  CHECK_THROWS(ring::spsc_record_ring(std::uint64_t{1} << 62, std::size_t{1} << 20), std::length_error);
  ring::spsc_record_ring r(16, 37);
  CHECK_EQ(r.capacity(), 16u);
  CHECK_EQ(r.record_size(), 37u);
  CHECK(r.empty());
  CHECK_EQ(r.size(), 0u);
  CHECK(!r.closed());
  CHECK(!r.drained());
}

void test_spsc_record_ring_full_and_empty() {
  for (std::size_t rs : {std::size_t{1}, std::size_t{3}, std::size_t{37}, std::size_t{64}}) {
    for (std::uint64_t cap : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{16}}) {
      ring::spsc_record_ring r(cap, rs);
      std::vector<unsigned char> src((cap + 5) * rs), dst((cap + 5) * rs);
      for (std::uint64_t i = 0; i < cap + 5; ++i) fill_record(src.data() + i * rs, rs, i);
      CHECK_EQ(r.push_many(src.data(), cap + 5), cap);  // exactly capacity records fit
      CHECK_EQ(r.size(), cap);
      CHECK(!r.try_push(src.data()));
      CHECK_EQ(r.push_many(src.data(), 1), 0u);
      CHECK(r.try_pop(dst.data()));
      CHECK(record_ok(dst.data(), rs, 0));
      CHECK(r.try_push(src.data() + cap * rs));
      CHECK(!r.try_push(src.data()));
      CHECK_EQ(r.pop_many(dst.data(), cap + 5), cap);
      for (std::uint64_t i = 0; i < cap; ++i) CHECK(record_ok(dst.data() + i * rs, rs, i + 1));
      CHECK(r.empty());
      CHECK(!r.try_pop(dst.data()));
      std::size_t n = 99;
      CHECK(r.peek(4, n) == nullptr);
      CHECK_EQ(n, 0u);
    }
  }
}

// Random push_many/pop_many/try_push/try_pop/peek+consume against a model.
void test_spsc_record_ring_model() {
  for (std::size_t rs : {std::size_t{1}, std::size_t{3}, std::size_t{37}, std::size_t{64}}) {
    for (std::uint64_t cap : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{4}, std::uint64_t{16},
                              std::uint64_t{64}}) {
      ring::spsc_record_ring r(cap, rs);
      std::mt19937_64 rng(rs * 1000 + cap);
      std::uint64_t written = 0, read = 0;
      std::vector<unsigned char> buf((cap + 4) * rs);
      bool ok = true;
      for (int step = 0; step < 3000 && ok; ++step) {
        const std::size_t k = rng() % (cap + 4);
        const std::size_t size = static_cast<std::size_t>(written - read);
        switch (rng() % 5) {
          case 0: {  // push_many
            for (std::size_t i = 0; i < k; ++i) fill_record(buf.data() + i * rs, rs, written + i);
            const std::size_t got = r.push_many(buf.data(), k);
            ok &= got == std::min<std::size_t>(k, cap - size);
            written += got;
            break;
          }
          case 1: {  // try_push
            fill_record(buf.data(), rs, written);
            const bool pushed = r.try_push(buf.data());
            ok &= pushed == (size < cap);
            written += pushed;
            break;
          }
          case 2: {  // pop_many
            const std::size_t got = r.pop_many(buf.data(), k);
            ok &= got == std::min<std::size_t>(k, size);
            for (std::size_t i = 0; i < got; ++i) ok &= record_ok(buf.data() + i * rs, rs, read + i);
            read += got;
            break;
          }
          case 3: {  // try_pop
            const bool popped = r.try_pop(buf.data());
            ok &= popped == (size > 0);
            if (popped) ok &= record_ok(buf.data(), rs, read++);
            break;
          }
          default: {  // peek: contiguous up to the wrap point; consume part of it
            std::size_t n = 0;
            const std::byte* p = r.peek(k, n);
            const std::size_t start = static_cast<std::size_t>(read % cap);
            const std::size_t want = std::min<std::size_t>({k, size, static_cast<std::size_t>(cap) - start});
            ok &= n == want;
            ok &= (p == nullptr) == (want == 0);
            for (std::size_t i = 0; i < n && p != nullptr; ++i) {
              ok &= record_ok(reinterpret_cast<const unsigned char*>(p) + i * rs, rs, read + i);
            }
            const std::size_t take = n == 0 ? 0 : rng() % (n + 1);
            if (take != 0) r.consume(take);
            read += take;
            break;
          }
        }
        ok &= r.size() == written - read;
        ok &= r.empty() == (written == read);
      }
      if (!ok) nt_check::fail(__FILE__, __LINE__, "record ring model mismatch: rs=" + std::to_string(rs) +
                                                      " cap=" + std::to_string(cap));
      CHECK(ok);
      CHECK(written > 4 * cap);  // the model run wrapped several times
    }
  }
}

void test_spsc_record_ring_batches_across_wrap() {
  for (std::size_t rs : {std::size_t{1}, std::size_t{3}, std::size_t{37}, std::size_t{64}}) {
    for (std::uint64_t offset = 0; offset < 8; ++offset) {
      ring::spsc_record_ring r(8, rs);
      std::vector<unsigned char> buf(16 * rs);
      std::uint64_t seq = 0;
      for (std::uint64_t i = 0; i < offset; ++i) {  // move both counters to `offset`
        fill_record(buf.data(), rs, seq++);
        CHECK(r.try_push(buf.data()));
        CHECK(r.try_pop(buf.data()));
      }
      for (std::size_t i = 0; i < 8; ++i) fill_record(buf.data() + i * rs, rs, seq + i);
      CHECK_EQ(r.push_many(buf.data(), 8), 8u);
      // peek stops at the wrap point.
      std::size_t n = 0;
      const std::byte* p = r.peek(8, n);
      CHECK(p != nullptr);
      CHECK_EQ(n, static_cast<std::size_t>(8 - offset));
      r.consume(n);
      if (offset != 0) {
        p = r.peek(8, n);
        CHECK_EQ(n, static_cast<std::size_t>(offset));
        if (p != nullptr) CHECK(record_ok(reinterpret_cast<const unsigned char*>(p), rs, seq + 8 - offset));
        r.consume(n);
      }
      CHECK(r.empty());
      seq += 8;
      // A batch pop across the wrap point.
      for (std::size_t i = 0; i < 7; ++i) fill_record(buf.data() + i * rs, rs, seq + i);
      CHECK_EQ(r.push_many(buf.data(), 7), 7u);
      std::fill(buf.begin(), buf.end(), 0);
      CHECK_EQ(r.pop_many(buf.data(), 16), 7u);
      for (std::size_t i = 0; i < 7; ++i) CHECK(record_ok(buf.data() + i * rs, rs, seq + i));
    }
  }
}

void test_spsc_record_close_drained() {
  ring::spsc_record_ring r(4, 3);
  const unsigned char rec[3] = {1, 2, 3};
  unsigned char out[3] = {};
  CHECK(r.try_push(rec));
  CHECK(r.try_push(rec));
  CHECK(!r.closed());
  CHECK(!r.drained());
  r.close();
  CHECK(r.closed());
  CHECK(!r.drained());  // closed, but records remain
  CHECK(r.try_pop(out));
  CHECK(!r.drained());
  CHECK(r.try_pop(out));
  CHECK(std::memcmp(out, rec, 3) == 0);
  CHECK(r.drained());
  CHECK(!r.try_pop(out));
}

void test_spsc_record_view_external_memory() {
  CHECK_THROWS(ring::spsc_record_view(nullptr, nullptr, 3, 8), std::invalid_argument);
  CHECK_THROWS(ring::spsc_record_view(nullptr, nullptr, 4, 0), std::invalid_argument);
  auto ctl = std::make_unique<ring::spsc_control>();
  std::vector<std::byte> mem(4 * 5, std::byte{0xAA});
  ring::spsc_record_view producer(ctl.get(), mem.data(), 4, 5);
  ring::spsc_record_view consumer(ctl.get(), mem.data(), 4, 5);
  const unsigned char recs[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK_EQ(producer.push_many(recs, 2), 2u);
  CHECK_EQ(consumer.size(), 2u);
  // The records lie in the caller's memory at their slots.
  CHECK(std::memcmp(mem.data(), recs, 10) == 0);
  CHECK(mem[10] == std::byte{0xAA});
  unsigned char out[10] = {};
  CHECK_EQ(consumer.pop_many(out, 10), 2u);
  CHECK(std::memcmp(out, recs, 10) == 0);
  CHECK_EQ(ctl->read.load(), 2u);
  CHECK_EQ(ctl->write.load(), 2u);
  producer.close();
  CHECK(consumer.closed());
  CHECK(consumer.drained());
  // A copy of a view is another handle on the same ring.
  ring::spsc_record_view copy = producer;
  CHECK(copy.closed());
  CHECK_EQ(copy.capacity(), 4u);
  CHECK_EQ(copy.record_size(), 5u);
}

// ---------------------------------------------------------------------------------------------
// mpmc_queue<T> / mpmc_record_ring, single-threaded
void test_mpmc_queue_single_thread() {
  // Capacity 1 is refused: a slot's "published" and "free for the next lap" sequence numbers
  // would both be p + 1.
  for (std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{10}}) {
    CHECK_THROWS(ring::mpmc_queue<int>(bad), std::invalid_argument);
  }
  CHECK_THROWS(ring::mpmc_queue<int>(std::size_t{1} << 63), std::invalid_argument);
  LIFETIME_GUARD();
  for (std::size_t cap : {std::size_t{2}, std::size_t{4}, std::size_t{8}}) {
    ring::mpmc_queue<tracked> q(cap);
    CHECK_EQ(q.capacity(), cap);
    std::uint64_t next_in = 0, next_out = 0;
    for (int lap = 0; lap < 4; ++lap) {
      for (std::size_t i = 0; i < cap; ++i) CHECK(q.try_emplace(next_in++));
      CHECK_EQ(q.size(), cap);
      const long live = tracked::live();
      CHECK(!q.try_emplace(std::uint64_t{999}));
      tracked extra(5);
      CHECK(!q.try_push(extra));
      CHECK(!q.try_push(std::move(extra)));
      CHECK_EQ(extra.value(), 5u);  // a refused push does not move from its argument
      CHECK_EQ(tracked::live(), live + 1);
      for (std::size_t i = 0; i < cap; ++i) {
        tracked out;
        CHECK(q.try_pop(out));
        CHECK_EQ(out.value(), next_out++);
      }
      tracked out;
      CHECK(!q.try_pop(out));
      CHECK(q.empty());
    }
  }
  // Destroyed non-empty after wrapping.
  {
    ring::mpmc_queue<tracked> q(4);
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(q.try_emplace(i));
    tracked out;
    CHECK(q.try_pop(out));
    CHECK(q.try_pop(out));
    for (std::uint64_t i = 3; i < 6; ++i) CHECK(q.try_emplace(i));
    CHECK_EQ(q.size(), 4u);
  }
  // Batches across the wrap point at every offset.
  for (std::size_t offset = 0; offset < 8; ++offset) {
    ring::mpmc_queue<tracked> q(8);
    tracked out;
    for (std::size_t i = 0; i < offset; ++i) {
      CHECK(q.try_emplace(std::uint64_t{0}));
      CHECK(q.try_pop(out));
    }
    std::vector<tracked> src;
    for (std::uint64_t i = 0; i < 12; ++i) src.emplace_back(100 + i);
    CHECK_EQ(q.push_n(src.data(), 12), 8u);
    CHECK_EQ(q.push_n(src.data(), 1), 0u);
    std::vector<tracked> dst(12);
    CHECK_EQ(q.pop_n(dst.data(), 3), 3u);
    CHECK(dst[0].value() == 100 && dst[2].value() == 102);
    CHECK_EQ(q.push_n(src.data() + 8, 4), 3u);
    CHECK_EQ(q.pop_n(dst.data(), 12), 8u);
    for (std::size_t i = 0; i < 8; ++i) CHECK_EQ(dst[i].value(), 103 + i);
  }
  for (std::size_t cap : {std::size_t{2}, std::size_t{4}, std::size_t{32}}) {
    ring::mpmc_queue<tracked> q(cap);
    model_batches(q, cap, 300 + cap);
    ring::mpmc_queue<std::uint64_t> u(cap);
    model_batches(u, cap, 400 + cap);
  }
  ring::mpmc_queue<int> c(2);
  CHECK(!c.closed());
  c.close();
  CHECK(c.closed());
}

void test_mpmc_record_ring_single_thread() {
  for (std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{1} << 63}) {
    CHECK_THROWS(ring::mpmc_record_ring(bad, 8), std::invalid_argument);
  }
  CHECK_THROWS(ring::mpmc_record_ring(8, 0), std::invalid_argument);
  CHECK_THROWS(ring::mpmc_record_ring(8, (std::size_t{1} << 30) + 1), std::invalid_argument);
  CHECK_THROWS(ring::mpmc_record_ring(std::uint64_t{1} << 40, 1024), std::length_error);

  for (std::size_t rs : {std::size_t{1}, std::size_t{3}, std::size_t{37}, std::size_t{64}}) {
    for (std::uint64_t cap : {std::uint64_t{2}, std::uint64_t{4}, std::uint64_t{8}, std::uint64_t{32}}) {
      ring::mpmc_record_ring r(cap, rs);
      CHECK_EQ(r.capacity(), cap);
      CHECK_EQ(r.record_size(), rs);
      std::vector<unsigned char> buf((cap + 4) * rs);
      // Full at exactly capacity.
      for (std::uint64_t i = 0; i < cap + 4; ++i) fill_record(buf.data() + i * rs, rs, i);
      CHECK_EQ(r.push_many(buf.data(), cap + 4), cap);
      CHECK(!r.try_push(buf.data()));
      CHECK_EQ(r.size(), cap);
      std::fill(buf.begin(), buf.end(), 0);
      CHECK_EQ(r.pop_many(buf.data(), cap + 4), cap);
      for (std::uint64_t i = 0; i < cap; ++i) CHECK(record_ok(buf.data() + i * rs, rs, i));
      CHECK(!r.try_pop(buf.data()));
      // Random batches against a model (FIFO single-threaded, claims across the wrap point).
      std::mt19937_64 rng(rs * 77 + cap);
      std::uint64_t written = cap, read = cap;
      bool ok = true;
      for (int step = 0; step < 3000; ++step) {
        const std::size_t k = rng() % (cap + 4);
        const std::size_t size = static_cast<std::size_t>(written - read);
        if (rng() % 2) {
          for (std::size_t i = 0; i < k; ++i) fill_record(buf.data() + i * rs, rs, written + i);
          const std::size_t got = r.push_many(buf.data(), k);
          ok &= got == std::min<std::size_t>(k, cap - size);
          written += got;
        } else {
          const std::size_t got = r.pop_many(buf.data(), k);
          ok &= got == std::min<std::size_t>(k, size);
          for (std::size_t i = 0; i < got; ++i) ok &= record_ok(buf.data() + i * rs, rs, read + i);
          read += got;
        }
        ok &= r.size() == written - read;
      }
      CHECK(ok);
      CHECK(written > 4 * cap);
      r.close();
      CHECK(r.closed());
      CHECK_EQ(r.drained(), r.empty());
      while (r.try_pop(buf.data())) {
      }
      CHECK(r.drained());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// shared_spsc_ring
std::string unique_name(const char* tag) {
  static int counter = 0;
  return "ntt-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// The segment mapped directly with shm_open/mmap, bypassing the class (to corrupt it).
struct raw_segment {
  int fd = -1;
  void* base = MAP_FAILED;
  std::size_t size = 0;
  explicit raw_segment(const std::string& name, bool create = false) {
    const std::string n = "/" + name;
    fd = ::shm_open(n.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600);
    if (fd < 0) throw std::runtime_error("shm_open failed for " + n);
    map();
  }
  void map() {
    if (base != MAP_FAILED) ::munmap(base, size);
    base = MAP_FAILED;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error("fstat failed");
    size = static_cast<std::size_t>(st.st_size);
    if (size != 0) {
      base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    }
  }
  void resize(std::size_t n) {
    if (::ftruncate(fd, static_cast<off_t>(n)) != 0) throw std::runtime_error("ftruncate failed");
    map();
  }
  ring::shared_ring_header* header() { return static_cast<ring::shared_ring_header*>(base); }
  ~raw_segment() {
    if (base != MAP_FAILED) ::munmap(base, size);
    if (fd >= 0) ::close(fd);
  }
  raw_segment(const raw_segment&) = delete;
  raw_segment& operator=(const raw_segment&) = delete;
};

void test_shared_ring_round_trip() {
  const std::string name = unique_name("rt");
  auto owner = ring::shared_spsc_ring::create(name, 8, 24, "dtype=tick");
  CHECK(owner.owner());
  CHECK(owner.mapped());
  CHECK_EQ(owner.name(), name);
  CHECK(owner.meta() == "dtype=tick");
  CHECK_EQ(owner.creator_pid(), static_cast<std::uint64_t>(::getpid()));
  CHECK_EQ(owner.view().capacity(), 8u);
  CHECK_EQ(owner.view().record_size(), 24u);

  auto peer = ring::shared_spsc_ring::attach(name);
  CHECK(!peer.owner());
  CHECK(peer.meta() == "dtype=tick");
  CHECK_EQ(peer.view().capacity(), 8u);
  CHECK_EQ(peer.view().record_size(), 24u);
  CHECK_EQ(peer.creator_pid(), static_cast<std::uint64_t>(::getpid()));

  // Written through one handle, read through the other, in both directions and across the wrap.
  std::vector<unsigned char> buf(24 * 8);
  std::uint64_t seq_w = 0, seq_r = 0;
  for (int round = 0; round < 10; ++round) {
    auto& prod = round % 2 ? peer.view() : owner.view();
    auto& cons = round % 2 ? owner.view() : peer.view();
    const std::size_t k = 1 + static_cast<std::size_t>(round % 8);
    for (std::size_t i = 0; i < k; ++i) fill_record(buf.data() + i * 24, 24, seq_w + i);
    CHECK_EQ(prod.push_many(buf.data(), k), k);
    seq_w += k;
    CHECK_EQ(cons.size(), k);
    std::fill(buf.begin(), buf.end(), 0);
    CHECK_EQ(cons.pop_many(buf.data(), 8), k);
    for (std::size_t i = 0; i < k; ++i) CHECK(record_ok(buf.data() + i * 24, 24, seq_r + i));
    seq_r += k;
  }
  // Fill exactly to capacity through the peer, see it full from the owner.
  for (std::size_t i = 0; i < 8; ++i) fill_record(buf.data() + i * 24, 24, i);
  CHECK_EQ(peer.view().push_many(buf.data(), 8), 8u);
  CHECK(!owner.view().try_push(buf.data()));
  CHECK_EQ(owner.view().size(), 8u);
  owner.view().close();
  CHECK(peer.view().closed());
  CHECK(!peer.view().drained());
  std::size_t n = 0;
  CHECK(owner.view().peek(8, n) != nullptr);
  CHECK_EQ(n, 8u - (seq_r % 8));  // contiguous up to the wrap point
  CHECK_EQ(owner.view().pop_many(buf.data(), 8), 8u);
  CHECK(peer.view().drained());

  // An attached handle going away does not remove the name.
  { auto again = ring::shared_spsc_ring::attach(name); }
  CHECK_NOTHROW(ring::shared_spsc_ring::attach(name));
  peer.release();
  CHECK(!peer.mapped());
  peer.release();  // idempotent
  CHECK_NOTHROW(ring::shared_spsc_ring::attach(name));
}

void test_shared_ring_names_and_arguments() {
  using sr = ring::shared_spsc_ring;
  CHECK_THROWS(sr::create("", 8, 8), std::invalid_argument);
  CHECK_THROWS(sr::attach(""), std::invalid_argument);
  CHECK_THROWS(sr::create(std::string(31, 'a'), 8, 8), std::invalid_argument);
  CHECK_THROWS(sr::attach(std::string(31, 'a')), std::invalid_argument);
  for (const char* bad : {"a/b", "/abc", "a b", "a\\b", "x:y", "tab\t", "caf\xc3\xa9", "..%", "q?"}) {
    CHECK_THROWS(sr::create(bad, 8, 8), std::invalid_argument);
    CHECK_THROWS(sr::attach(bad), std::invalid_argument);
  }
  CHECK_THROWS(sr::create(std::string_view("nul\0x", 5), 8, 8), std::invalid_argument);
  // 30 characters of every allowed kind is fine.
  std::string longest = "A-z_9." + std::to_string(::getpid());
  longest.resize(30, 'k');
  {
    auto r = sr::create(longest, 2, 1);
    CHECK_EQ(r.name().size(), 30u);
    CHECK_NOTHROW(sr::attach(longest));
  }
  // Geometry and metadata.
  const std::string name = unique_name("args");
  CHECK_THROWS(sr::create(name, 3, 8), std::invalid_argument);
  CHECK_THROWS(sr::create(name, 0, 8), std::invalid_argument);
  CHECK_THROWS(sr::create(name, 8, 0), std::invalid_argument);
  CHECK_THROWS(sr::create(name, 8, std::size_t{1} << 32), std::invalid_argument);
  CHECK_THROWS(sr::create(name, std::uint64_t{1} << 40, 1024), std::length_error);
  CHECK_THROWS(sr::create(name, 8, 8, std::string(1025, 'm')), std::invalid_argument);
  CHECK_THROWS(sr::segment_size(std::uint64_t{1} << 62, std::uint64_t{1} << 10), std::length_error);
  CHECK_EQ(sr::segment_size(8, 8), sr::data_offset + 64);
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);  // none of the failures created it
  {
    auto r = sr::create(name, 8, 8, std::string(1024, 'm'));
    CHECK_EQ(r.meta().size(), 1024u);
    auto p = sr::attach(name);
    CHECK(p.meta() == std::string(1024, 'm'));
  }
}

void test_shared_ring_exists_missing_and_unlink() {
  using sr = ring::shared_spsc_ring;
  const std::string name = unique_name("ex");
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);
  {
    auto first = sr::create(name, 4, 8);
    CHECK_THROWS(sr::create(name, 4, 8), ring::name_exists_error);
    CHECK_THROWS(sr::create(name, 16, 2), ring::name_exists_error);
    // The failed create did not remove or damage the first one.
    auto peer = sr::attach(name);
    const unsigned char rec[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(first.view().try_push(rec));
    unsigned char out[8] = {};
    CHECK(peer.view().try_pop(out));
    CHECK(std::memcmp(rec, out, 8) == 0);
  }
  // The owner removed the name on destruction.
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);

  // Explicit unlink(): the name goes, both mappings stay usable.
  {
    auto owner = sr::create(name, 4, 8);
    auto peer = sr::attach(name);
    owner.unlink();
    CHECK(!owner.owner());
    CHECK_THROWS(sr::attach(name), ring::name_not_found_error);
    const unsigned char rec[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    CHECK(peer.view().try_push(rec));
    unsigned char out[8] = {};
    CHECK(owner.view().try_pop(out));
    CHECK_EQ(out[7], 9);
    // The name can be created anew while the old mappings live.
    auto fresh = sr::create(name, 2, 2);
    CHECK(fresh.owner());
  }
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);

  // Moving: the moved-to handle owns; the moved-from one is empty and removes nothing.
  {
    auto a = sr::create(name, 4, 8);
    sr b(std::move(a));
    CHECK(!a.mapped());
    CHECK(!a.owner());
    CHECK(b.owner());
    a.release();
    CHECK_NOTHROW(sr::attach(name));
    sr c = sr::attach(name);
    c = std::move(b);  // c's attachment is released, c now owns
    CHECK(c.owner());
    CHECK_NOTHROW(sr::attach(name));
  }
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);

  // remove() clears a name left behind.
  {
    raw_segment orphan(name, true);
    orphan.resize(4096);
  }
  CHECK_THROWS(sr::attach(name), nt::corrupt_data_error);  // zero-filled: not initialised
  sr::remove(name);
  CHECK_THROWS(sr::attach(name), ring::name_not_found_error);
  sr::remove(name);  // removing a missing name is harmless
}

void test_shared_ring_corrupt_headers() {
  using sr = ring::shared_spsc_ring;
  const std::string name = unique_name("cor");
  auto owner = sr::create(name, 16, 8, "meta");
  raw_segment raw(name);
  CHECK_EQ(raw.size, sr::segment_size(16, 8));
  auto* h = raw.header();
  unsigned char saved[sizeof(ring::shared_ring_header)];
  std::memcpy(saved, raw.base, sizeof saved);
  auto restore = [&] { std::memcpy(raw.base, saved, sizeof saved); };

  struct corruption {
    const char* what;
    void (*apply)(ring::shared_ring_header*);
  };
  const corruption cases[] = {
      {"magic zeroed", [](ring::shared_ring_header* x) { x->magic = 0; }},
      {"magic bit flip", [](ring::shared_ring_header* x) { x->magic ^= 1; }},
      {"magic and ready zeroed",
       [](ring::shared_ring_header* x) {
         x->magic = 0;
         x->ready.store(0);
       }},
      {"ready zeroed", [](ring::shared_ring_header* x) { x->ready.store(0); }},
      {"ready wrong", [](ring::shared_ring_header* x) { x->ready.store(1); }},
      {"layout version 2", [](ring::shared_ring_header* x) { x->layout_version = 2; }},
      {"layout version 0", [](ring::shared_ring_header* x) { x->layout_version = 0; }},
      {"capacity 0", [](ring::shared_ring_header* x) { x->capacity = 0; }},
      {"capacity 3", [](ring::shared_ring_header* x) { x->capacity = 3; }},
      {"capacity 15", [](ring::shared_ring_header* x) { x->capacity = 15; }},
      {"capacity doubled", [](ring::shared_ring_header* x) { x->capacity *= 2; }},
      {"capacity halved", [](ring::shared_ring_header* x) { x->capacity /= 2; }},
      {"capacity 2^63", [](ring::shared_ring_header* x) { x->capacity = std::uint64_t{1} << 63; }},
      {"capacity 2^62, overflowing size",
       [](ring::shared_ring_header* x) {
         x->capacity = std::uint64_t{1} << 62;
         x->record_size = 0xFFFFFFFFu;
       }},
      {"record size 0", [](ring::shared_ring_header* x) { x->record_size = 0; }},
      {"record size +1", [](ring::shared_ring_header* x) { x->record_size += 1; }},
      {"total size +1", [](ring::shared_ring_header* x) { x->total_size += 1; }},
      {"total size -1", [](ring::shared_ring_header* x) { x->total_size -= 1; }},
      {"total size 0", [](ring::shared_ring_header* x) { x->total_size = 0; }},
      {"total size max", [](ring::shared_ring_header* x) { x->total_size = ~std::uint64_t{0}; }},
      {"consistent header larger than the segment",
       [](ring::shared_ring_header* x) {
         x->capacity *= 4;
         x->total_size = x->capacity * x->record_size + sr::data_offset;
       }},
      {"meta size 1025", [](ring::shared_ring_header* x) { x->meta_size = 1025; }},
      {"meta size huge", [](ring::shared_ring_header* x) { x->meta_size = ~std::uint64_t{0}; }},
  };
  for (const auto& c : cases) {
    c.apply(h);
    bool thrown = false;
    try {
      static_cast<void>(sr::attach(name));
    } catch (const nt::corrupt_data_error&) {
      thrown = true;
    } catch (const std::exception& e) {
      nt_check::fail(__FILE__, __LINE__, std::string(c.what) + ": wrong exception: " + e.what());
      thrown = true;
    }
    if (!thrown) nt_check::fail(__FILE__, __LINE__, std::string(c.what) + ": attach accepted a corrupt header");
    else nt_check::pass();
    restore();
    CHECK_NOTHROW(sr::attach(name));
  }

  // A segment too small for a header, an empty one, and one never initialised.
  const std::string small = unique_name("small");
  {
    raw_segment seg(small, true);
    CHECK_THROWS(sr::attach(small), nt::corrupt_data_error);  // size 0
    seg.resize(100);
    CHECK_THROWS(sr::attach(small), nt::corrupt_data_error);
    seg.resize(sr::data_offset - 1);
    CHECK_THROWS(sr::attach(small), nt::corrupt_data_error);
    seg.resize(sr::data_offset + 64);
    CHECK_THROWS(sr::attach(small), nt::corrupt_data_error);  // zeros: not initialised
    // A valid header copied in, but the file shorter than total_size.
    std::memcpy(seg.base, saved, sizeof saved);
    CHECK_THROWS(sr::attach(small), nt::corrupt_data_error);
    seg.resize(sr::segment_size(16, 8));
    CHECK_NOTHROW(sr::attach(small));  // the same header over a segment of the right size
  }
  sr::remove(small);
  CHECK_THROWS(sr::attach(small), ring::name_not_found_error);

  // The owner's segment shrunk underneath it: attach must refuse (never map past the end).
  raw.resize(sr::data_offset + 8);
  CHECK_THROWS(sr::attach(name), nt::corrupt_data_error);
}

// ---------------------------------------------------------------------------------------------
// Regressions of bugs found by these tests.

// mpmc_queue<T>::try_emplace used to claim a slot before constructing the item; when the
// constructor threw, the claimed position was never published, so every consumer saw the queue
// as empty from then on and the destructor destroyed a T that was never constructed.
struct throws_once {
  static inline bool fail_next = false;
  std::uint64_t v = 0;
  throws_once() = default;
  explicit throws_once(std::uint64_t x) : v(x) {
    if (fail_next) {
      fail_next = false;
      throw std::runtime_error("constructor failed");
    }
  }
};

void test_mpmc_queue_throwing_constructor() {
  ring::mpmc_queue<throws_once> q(4);
  CHECK(q.try_emplace(std::uint64_t{1}));
  throws_once::fail_next = true;
  CHECK_THROWS(q.try_emplace(std::uint64_t{2}), std::runtime_error);
  CHECK(q.try_emplace(std::uint64_t{3}));
  throws_once out;
  CHECK(q.try_pop(out));
  CHECK_EQ(out.v, 1u);
  CHECK_EQ(q.size(), 1u);  // the failed construction claimed nothing
  CHECK(q.try_pop(out));   // item 3 is not stuck behind an unpublished slot
  CHECK_EQ(out.v, 3u);
  // Drain so the destructor does not touch the hole.
  while (q.try_pop(out)) {
  }
}

// shared_spsc_ring's name check used to accept "." and "..", which are not valid POSIX
// shared-memory names (create() reported name_exists_error, attach() EINVAL).
void test_shared_ring_dot_names() {
  for (const char* name : {".", "..", ".hidden", "-x"}) {
    CHECK_THROWS(ring::shared_spsc_ring::create(name, 8, 8), std::invalid_argument);
    CHECK_THROWS(ring::shared_spsc_ring::attach(name), std::invalid_argument);
  }
}

// Counters that claim more than a lap (another process wrote garbage into shared memory) must
// never make the ring copy outside its slots.
void test_spsc_view_with_garbage_counters() {
  ring::spsc_control ctl;
  std::vector<std::byte> slots(8 * 16);
  ring::spsc_record_view v(&ctl, slots.data(), 8, 16);
  ctl.write.store(100);  // 100 "records" in an 8-slot ring
  std::vector<std::byte> out(100 * 16);
  CHECK(v.pop_many(out.data(), 100) <= 8u);
  CHECK(v.size() <= 8u);
  ctl.write.store(5);
  ctl.read.store(1000);  // read ahead of write
  ctl.read_cache = 1000;
  std::vector<std::byte> in(100 * 16);
  CHECK_EQ(v.push_many(in.data(), 100), 0u);  // "full", not a huge free count
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s\n", argv[0]);
    return 2;
  }
  (void)argv;
  NT_RUN(test_mpmc_queue_throwing_constructor);
  NT_RUN(test_shared_ring_dot_names);
  NT_RUN(test_spsc_view_with_garbage_counters);
  NT_RUN(test_checked_arithmetic);
  NT_RUN(test_aligned_buffer_and_backoff);
  NT_RUN(test_num_threads);
  NT_RUN(test_parallel_for_sums);
  NT_RUN(test_parallel_for_exceptions);
  NT_RUN(test_parallel_for_pool);
  NT_RUN(test_cpu_and_simd_choice);
  NT_RUN(test_spsc_queue_capacity);
  NT_RUN(test_spsc_queue_lifetime);
  NT_RUN(test_spsc_queue_batches_across_wrap);
  NT_RUN(test_spsc_queue_move_only_and_throwing);
  NT_RUN(test_spsc_queue_close);
  NT_RUN(test_spsc_record_ring_construction);
  NT_RUN(test_spsc_record_ring_full_and_empty);
  NT_RUN(test_spsc_record_ring_model);
  NT_RUN(test_spsc_record_ring_batches_across_wrap);
  NT_RUN(test_spsc_record_close_drained);
  NT_RUN(test_spsc_record_view_external_memory);
  NT_RUN(test_mpmc_queue_single_thread);
  NT_RUN(test_mpmc_record_ring_single_thread);
  NT_RUN(test_shared_ring_round_trip);
  NT_RUN(test_shared_ring_names_and_arguments);
  NT_RUN(test_shared_ring_exists_missing_and_unlink);
  NT_RUN(test_shared_ring_corrupt_headers);
  return nt_check::finish("test_ring");
}
