// Threaded stress tests and throughput benchmarks of the ring buffers.
//
//   stress_ring [--seed N] [--quick]   stress: every record checked for order, integrity, loss
//                                      and duplication; --quick divides the counts by 10 (for
//                                      the sanitizer builds)
//   stress_ring --bench [--quick]      throughput, printed as "name: X M records/s"
//   stress_ring --bench-sweep          SPSC record-ring throughput over record/batch/capacity sizes
//
// The seed drives batch sizes and operation choices; it is printed so that a failing run can be
// repeated with --seed (thread interleavings differ from run to run regardless).
#include "check.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "neural_trader/common/backoff.hpp"
#include "neural_trader/common/crc32c.hpp"
#include "neural_trader/common/threads.hpp"
#include "neural_trader/ring/mpmc.hpp"
#include "neural_trader/ring/spsc.hpp"

namespace {

namespace nt = neural_trader;
namespace ring = neural_trader::ring;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Small deterministic PRNG (splitmix64) and a mixing function for record contents.
struct prng {
  std::uint64_t s;
  explicit prng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }
  // Batch sizes in [1, large]: mostly small, sometimes up to `large`.
  std::size_t batch(std::size_t large) noexcept {
    std::size_t b;
    switch (next() % 4) {
      case 0: b = 1; break;
      case 1: b = 1 + below(8); break;
      case 2: b = 1 + below(64); break;
      default: b = 1 + below(large); break;
    }
    return std::min(b, large);
  }
};

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}

// ---------------------------------------------------------------------------------------------
// Failure reporting shared by all threads: the first few messages are printed, every thread
// stops at the next opportunity.
std::atomic<long> g_failures{0};
std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_progress{0};

void stress_fail(const std::string& what) {
  const long n = g_failures.fetch_add(1) + 1;
  if (n <= 10) std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  g_stop.store(true);
}

// Aborts the process when no record moves for `limit` seconds (a lost record or a deadlock
// would otherwise hang until the CTest timeout).
class watchdog {
 public:
  explicit watchdog(const char* name, double limit_s = 120.0) : name_(name), limit_(limit_s) {
    thread_ = std::thread([this] { run(); });
  }
  ~watchdog() {
    done_.store(true);
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  void run() {
    std::uint64_t last = g_progress.load();
    auto since = clock_type::now();
    while (!done_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const std::uint64_t now = g_progress.load();
      if (now != last) {
        last = now;
        since = clock_type::now();
      } else if (std::chrono::duration<double>(clock_type::now() - since).count() > limit_) {
        std::fprintf(stderr, "FAILED: %s: no progress for %.0f s (lost record or deadlock); aborting\n", name_,
                     limit_);
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
  }
  const char* name_;
  double limit_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void pin_to_core(int core) {
#if defined(__linux__)
  if (nt::available_cores() < 2) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  int seen = 0;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &allowed)) continue;
    if (seen++ == core) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
      return;
    }
  }
#else
  (void)core;
#endif
}

// ---------------------------------------------------------------------------------------------
// SPSC record ring. Record (37 bytes): u64 sequence | 25 payload bytes derived from it | u32
// CRC-32C of the first 33 bytes.
constexpr std::size_t rec_size = 37;
constexpr std::size_t rec_crc_at = 33;

void write_record(unsigned char* r, std::uint64_t seq) noexcept {
  std::memcpy(r, &seq, 8);
  const std::uint64_t a = mix(seq), b = mix(seq ^ 0xABCDEFull), c = mix(seq + 17);
  std::memcpy(r + 8, &a, 8);
  std::memcpy(r + 16, &b, 8);
  std::memcpy(r + 24, &c, 8);
  r[32] = static_cast<unsigned char>(seq * 7);
  const std::uint32_t crc = nt::crc32c(r, rec_crc_at);
  std::memcpy(r + rec_crc_at, &crc, 4);
}

// True when the record is intact and carries `seq`.
bool check_record(const unsigned char* r, std::uint64_t seq, const char* who) {
  std::uint64_t got;
  std::memcpy(&got, r, 8);
  std::uint32_t crc;
  std::memcpy(&crc, r + rec_crc_at, 4);
  if (crc != nt::crc32c(r, rec_crc_at)) {
    stress_fail(std::string(who) + ": torn or corrupt record (checksum) at expected seq " + std::to_string(seq));
    return false;
  }
  if (got != seq) {
    stress_fail(std::string(who) + ": out of order: got seq " + std::to_string(got) + ", expected " +
                std::to_string(seq));
    return false;
  }
  return true;
}

void stress_spsc_records(std::uint64_t count, std::uint64_t capacity, std::uint64_t seed) {
  const auto t0 = clock_type::now();
  ring::spsc_record_ring r(capacity, rec_size);
  const std::size_t large = static_cast<std::size_t>(2 * capacity + 3);
  watchdog dog("spsc_record_ring");

  std::thread producer([&] {
    prng rng(seed);
    std::vector<unsigned char> buf(large * rec_size);
    std::uint64_t next = 0;
    nt::backoff wait;
    while (next < count && !g_stop.load(std::memory_order_relaxed)) {
      const std::size_t b = static_cast<std::size_t>(std::min<std::uint64_t>(rng.batch(large), count - next));
      for (std::size_t i = 0; i < b; ++i) write_record(buf.data() + i * rec_size, next + i);
      std::size_t done = 0;
      while (done < b && !g_stop.load(std::memory_order_relaxed)) {
        const std::size_t n = (b - done == 1 && rng.below(2)) ? static_cast<std::size_t>(r.try_push(buf.data() + done * rec_size))
                                                                : r.push_many(buf.data() + done * rec_size, b - done);
        if (n == 0) {
          wait.wait();
          continue;
        }
        wait.reset();
        done += n;
      }
      next += b;
    }
    r.close();
  });

  std::thread consumer([&] {
    prng rng(seed ^ 0x5555555555555555ull);
    std::vector<unsigned char> buf(large * rec_size);
    std::uint64_t expect = 0;
    nt::backoff wait;
    while (expect < count && !g_stop.load(std::memory_order_relaxed)) {
      const std::size_t want = rng.batch(large);
      std::size_t got = 0;
      switch (rng.below(3)) {
        case 0:
          got = r.pop_many(buf.data(), want);
          for (std::size_t i = 0; i < got; ++i) check_record(buf.data() + i * rec_size, expect + i, "spsc pop_many");
          break;
        case 1:
          got = r.try_pop(buf.data()) ? 1 : 0;
          if (got) check_record(buf.data(), expect, "spsc try_pop");
          break;
        default: {
          std::size_t n = 0;
          const std::byte* p = r.peek(want, n);
          if (p == nullptr) break;
          got = n == 1 ? 1 : 1 + rng.below(n);  // consume part of what was seen
          for (std::size_t i = 0; i < got; ++i) {
            check_record(reinterpret_cast<const unsigned char*>(p) + i * rec_size, expect + i, "spsc peek");
          }
          r.consume(got);
          break;
        }
      }
      if (got == 0) {
        wait.wait();
        continue;
      }
      wait.reset();
      expect += got;
      g_progress.fetch_add(got, std::memory_order_relaxed);
    }
    // Everything arrived; once the producer has closed, the ring must be drained and stay empty.
    while (!r.closed() && !g_stop.load()) std::this_thread::yield();
    if (!g_stop.load()) {
      if (!r.drained()) stress_fail("spsc: closed but not drained after the last record");
      if (r.try_pop(buf.data())) stress_fail("spsc: a record beyond the last one came out");
    }
  });
  producer.join();
  consumer.join();
  std::printf("  spsc_record_ring  capacity %-5" PRIu64 " %9" PRIu64 " records  %.2f s\n", capacity, count,
              seconds_since(t0));
}

// ---------------------------------------------------------------------------------------------
// Typed spsc_queue: items with a sequence number and a check word.
struct item {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
  item() = default;
  explicit item(std::uint64_t s) noexcept : seq(s), check(mix(s)) {}
};

bool check_item(const item& it, std::uint64_t expect, const char* who) {
  if (it.check != mix(it.seq)) {
    stress_fail(std::string(who) + ": corrupt item at expected seq " + std::to_string(expect));
    return false;
  }
  if (it.seq != expect) {
    stress_fail(std::string(who) + ": out of order: got " + std::to_string(it.seq) + ", expected " +
                std::to_string(expect));
    return false;
  }
  return true;
}

void stress_spsc_queue(std::uint64_t count, std::size_t capacity, std::uint64_t seed) {
  const auto t0 = clock_type::now();
  ring::spsc_queue<item> q(capacity);
  const std::size_t large = 2 * capacity + 3;
  watchdog dog("spsc_queue");

  std::thread producer([&] {
    prng rng(seed);
    std::vector<item> buf(large);
    std::uint64_t next = 0;
    nt::backoff wait;
    while (next < count && !g_stop.load(std::memory_order_relaxed)) {
      std::size_t n = 0;
      switch (rng.below(3)) {
        case 0: n = q.try_emplace(next) ? 1 : 0; break;
        case 1: n = q.try_push(item(next)) ? 1 : 0; break;
        default: {
          const std::size_t b = static_cast<std::size_t>(std::min<std::uint64_t>(rng.batch(large), count - next));
          for (std::size_t i = 0; i < b; ++i) buf[i] = item(next + i);
          n = q.push_n(buf.data(), b);
          break;
        }
      }
      if (n == 0) {
        wait.wait();
        continue;
      }
      wait.reset();
      next += n;
    }
    q.close();
  });

  std::thread consumer([&] {
    prng rng(seed ^ 0x3333333333333333ull);
    std::vector<item> buf(large);
    std::uint64_t expect = 0;
    nt::backoff wait;
    while (expect < count && !g_stop.load(std::memory_order_relaxed)) {
      std::size_t n = 0;
      switch (rng.below(3)) {
        case 0: {
          item it;
          if (q.try_pop(it)) {
            check_item(it, expect, "spsc_queue try_pop");
            n = 1;
          }
          break;
        }
        case 1:
          if (item* f = q.front()) {
            check_item(*f, expect, "spsc_queue front");
            q.pop();
            n = 1;
          }
          break;
        default:
          n = q.pop_n(buf.data(), rng.batch(large));
          for (std::size_t i = 0; i < n; ++i) check_item(buf[i], expect + i, "spsc_queue pop_n");
          break;
      }
      if (n == 0) {
        wait.wait();
        continue;
      }
      wait.reset();
      expect += n;
      g_progress.fetch_add(n, std::memory_order_relaxed);
    }
    while (!q.closed() && !g_stop.load()) std::this_thread::yield();
    if (!g_stop.load() && !q.empty()) stress_fail("spsc_queue: items left after the last one");
  });
  producer.join();
  consumer.join();
  std::printf("  spsc_queue<item>  capacity %-5zu %9" PRIu64 " items    %.2f s\n", capacity, count, seconds_since(t0));
}

// Ownership transfer: every unique_ptr pushed is received once and freed once (ASan/LSan check
// the heap; the value checks order).
void stress_spsc_unique_ptr(std::uint64_t count, std::uint64_t seed) {
  const auto t0 = clock_type::now();
  ring::spsc_queue<std::unique_ptr<std::uint64_t>> q(64);
  watchdog dog("spsc_queue<unique_ptr>");
  std::thread producer([&] {
    prng rng(seed);
    nt::backoff wait;
    for (std::uint64_t i = 0; i < count && !g_stop.load(std::memory_order_relaxed);) {
      auto p = std::make_unique<std::uint64_t>(mix(i));
      while (!g_stop.load(std::memory_order_relaxed)) {
        if (q.try_push(std::move(p))) break;
        wait.wait();
      }
      wait.reset();
      ++i;
      if (rng.below(1000) == 0) std::this_thread::yield();
    }
  });
  std::thread consumer([&] {
    nt::backoff wait;
    for (std::uint64_t i = 0; i < count && !g_stop.load(std::memory_order_relaxed);) {
      std::unique_ptr<std::uint64_t> p;
      if (!q.try_pop(p)) {
        wait.wait();
        continue;
      }
      wait.reset();
      if (!p || *p != mix(i)) stress_fail("spsc_queue<unique_ptr>: wrong item at " + std::to_string(i));
      ++i;
      g_progress.fetch_add(1, std::memory_order_relaxed);
    }
  });
  producer.join();
  consumer.join();
  std::printf("  spsc_queue<unique_ptr>     %9" PRIu64 " items    %.2f s\n", count, seconds_since(t0));
}

// ---------------------------------------------------------------------------------------------
// MPMC record ring: P producers x C consumers. Record (16 bytes): u64 (producer << 48 | seq),
// u64 mix of it. Each consumer checks per-producer order; a shared bitmap per producer catches
// duplicates, and at the end every bit must be set (nothing lost).
constexpr int producer_shift = 48;
constexpr std::uint64_t seq_mask = (std::uint64_t{1} << producer_shift) - 1;

struct seen_bitmap {
  explicit seen_bitmap(std::uint64_t n) : words(static_cast<std::size_t>((n + 63) / 64)), bits(n) {
    for (auto& w : words) w.store(0, std::memory_order_relaxed);
  }
  // False when the bit was already set (a duplicate).
  bool mark(std::uint64_t i) noexcept {
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    return (words[static_cast<std::size_t>(i / 64)].fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
  }
  std::uint64_t missing() const noexcept {
    std::uint64_t m = 0;
    for (std::size_t w = 0; w < words.size(); ++w) {
      const std::uint64_t valid =
          (w + 1 == words.size() && bits % 64 != 0) ? (std::uint64_t{1} << (bits % 64)) - 1 : ~std::uint64_t{0};
      m += static_cast<std::uint64_t>(std::popcount(~words[w].load(std::memory_order_relaxed) & valid));
    }
    return m;
  }
  std::vector<std::atomic<std::uint64_t>> words;
  std::uint64_t bits;
};

template <class Ring>
void stress_mpmc(const char* label, Ring& r, int producers, int consumers, std::uint64_t per_producer,
                 std::uint64_t seed) {
  const auto t0 = clock_type::now();
  const std::size_t large = static_cast<std::size_t>(2 * r.capacity() + 3);
  std::vector<std::unique_ptr<seen_bitmap>> seen;
  for (int p = 0; p < producers; ++p) seen.push_back(std::make_unique<seen_bitmap>(per_producer));
  std::atomic<int> producers_left{producers};
  std::atomic<std::uint64_t> consumed{0};
  std::vector<std::uint64_t> per_consumer(static_cast<std::size_t>(consumers), 0);
  watchdog dog(label);

  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      prng rng(seed + 1000 + static_cast<std::uint64_t>(p));
      std::vector<std::uint64_t> buf(2 * large);
      std::uint64_t next = 0;
      nt::backoff wait;
      while (next < per_producer && !g_stop.load(std::memory_order_relaxed)) {
        const std::size_t b =
            static_cast<std::size_t>(std::min<std::uint64_t>(rng.batch(large), per_producer - next));
        for (std::size_t i = 0; i < b; ++i) {
          const std::uint64_t v = static_cast<std::uint64_t>(p) << producer_shift | (next + i);
          buf[2 * i] = v;
          buf[2 * i + 1] = mix(v);
        }
        std::size_t done = 0;
        while (done < b && !g_stop.load(std::memory_order_relaxed)) {
          std::size_t n;
          if constexpr (std::is_same_v<Ring, ring::mpmc_record_ring>) {
            n = r.push_many(buf.data() + 2 * done, b - done);
          } else {
            n = r.try_push(buf[2 * done]) ? 1 : 0;
          }
          if (n == 0) {
            wait.wait();
            continue;
          }
          wait.reset();
          done += n;
        }
        next += b;
      }
      if (producers_left.fetch_sub(1) == 1) r.close();
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      prng rng(seed + 2000 + static_cast<std::uint64_t>(c));
      std::vector<std::uint64_t> buf(2 * large);
      std::vector<std::int64_t> last(static_cast<std::size_t>(producers), -1);
      std::uint64_t mine = 0;
      nt::backoff wait;
      while (!g_stop.load(std::memory_order_relaxed)) {
        std::size_t n;
        if constexpr (std::is_same_v<Ring, ring::mpmc_record_ring>) {
          n = rng.below(4) == 0 ? (r.try_pop(buf.data()) ? 1 : 0) : r.pop_many(buf.data(), rng.batch(large));
        } else {
          n = r.try_pop(buf[0]) ? 1 : 0;
          buf[1] = mix(buf[0]);
        }
        if (n == 0) {
          if (r.drained()) break;
          wait.wait();
          continue;
        }
        wait.reset();
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint64_t v = buf[2 * i];
          if (buf[2 * i + 1] != mix(v)) {
            stress_fail(std::string(label) + ": torn record");
            break;
          }
          const auto p = static_cast<std::size_t>(v >> producer_shift);
          const std::uint64_t s = v & seq_mask;
          if (p >= static_cast<std::size_t>(producers) || s >= per_producer) {
            stress_fail(std::string(label) + ": record from nowhere: " + std::to_string(v));
            break;
          }
          if (static_cast<std::int64_t>(s) <= last[p]) {
            stress_fail(std::string(label) + ": consumer " + std::to_string(c) + " saw producer " + std::to_string(p) +
                        " seq " + std::to_string(s) + " after " + std::to_string(last[p]));
          }
          last[p] = static_cast<std::int64_t>(s);
          if (!seen[p]->mark(s)) {
            stress_fail(std::string(label) + ": duplicate: producer " + std::to_string(p) + " seq " + std::to_string(s));
          }
        }
        mine += n;
        consumed.fetch_add(n, std::memory_order_relaxed);
        g_progress.fetch_add(n, std::memory_order_relaxed);
      }
      per_consumer[static_cast<std::size_t>(c)] = mine;
    });
  }
  for (auto& t : threads) t.join();

  const std::uint64_t total = static_cast<std::uint64_t>(producers) * per_producer;
  if (!g_stop.load()) {
    if (consumed.load() != total) {
      stress_fail(std::string(label) + ": consumed " + std::to_string(consumed.load()) + " of " +
                  std::to_string(total));
    }
    for (int p = 0; p < producers; ++p) {
      const std::uint64_t miss = seen[static_cast<std::size_t>(p)]->missing();
      if (miss != 0) {
        stress_fail(std::string(label) + ": producer " + std::to_string(p) + ": " + std::to_string(miss) + " records lost");
      }
    }
    if (!r.drained()) stress_fail(std::string(label) + ": not drained at the end");
  }
  std::string split;
  for (auto n : per_consumer) {
    if (!split.empty()) split += '/';
    split += std::to_string(n);
  }
  std::printf("  %-22s %dx%d capacity %-4" PRIu64 " %8" PRIu64 " records  %.2f s  (per consumer %s)\n", label,
              producers, consumers, static_cast<std::uint64_t>(r.capacity()), total, seconds_since(t0),
              split.c_str());
}

// Typed MPMC queue adapter with the record ring's close()/drained() protocol (the typed queue has
// close() but no drained()).
struct typed_mpmc {
  explicit typed_mpmc(std::size_t cap) : q(cap) {}
  bool try_push(std::uint64_t v) { return q.try_push(v); }
  bool try_pop(std::uint64_t& v) { return q.try_pop(v); }
  std::size_t capacity() const { return q.capacity(); }
  void close() { q.close(); }
  bool drained() const { return q.closed() && q.empty(); }
  ring::mpmc_queue<std::uint64_t> q;
};

// ---------------------------------------------------------------------------------------------
// Benchmarks. Each measurement runs for a fixed time: the producers stop when told, the consumers
// drain what was produced (checking sequence numbers), and the rate is records consumed over the
// time from start to the last record received.
struct bench_result {
  std::vector<double> rates;  // M records/s per repetition
  double best() const { return *std::max_element(rates.begin(), rates.end()); }
  double median() const {
    auto r = rates;
    std::sort(r.begin(), r.end());
    return r[r.size() / 2];
  }
};

void report(const std::string& name, const bench_result& r) {
  std::printf("%s: %.1f M records/s (median of %zu; best %.1f)\n", name.c_str(), r.median(), r.rates.size(),
              r.best());
  std::fflush(stdout);
}

constexpr std::uint64_t not_yet = ~std::uint64_t{0};

// A benchmark record of rs >= 8 bytes: the sequence number, then filler.
void fill_bench_record(unsigned char* p, std::size_t rs, std::uint64_t seq) {
  if (rs >= rec_size) {
    write_record(p, seq);
  } else {
    std::memset(p, 0x5A, rs);
    std::memcpy(p, &seq, 8);
  }
}

// SPSC record ring: records of `rs` bytes moved by push_many in batches of `batch`, taken out by
// pop_many (copy) or peek+consume (zero copy) in batches of `batch`.
double bench_spsc_records(double seconds, std::size_t rs, std::size_t batch, std::uint64_t capacity, bool zero_copy) {
  if (rs < 8) throw std::invalid_argument("bench: records must hold a u64 sequence number");
  ring::spsc_record_ring r(capacity, rs);
  std::atomic<bool> go{false}, stop{false}, bad{false};
  std::atomic<std::uint64_t> produced{not_yet};
  clock_type::time_point t0, t1;
  std::uint64_t received = 0;
  std::thread consumer([&] {
    pin_to_core(1);
    std::vector<unsigned char> buf(batch * rs);
    std::uint64_t expect = 0;
    while (!go.load(std::memory_order_acquire)) {
    }
    for (;;) {
      std::size_t n;
      const unsigned char* recs;
      if (zero_copy) {
        recs = reinterpret_cast<const unsigned char*>(r.peek(batch, n));
      } else {
        n = r.pop_many(buf.data(), batch);
        recs = buf.data();
      }
      if (n == 0) {
        if (produced.load(std::memory_order_acquire) == expect) break;
        nt::cpu_relax();
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t s;
        std::memcpy(&s, recs + i * rs, 8);
        if (s != expect + i) bad.store(true, std::memory_order_relaxed);
      }
      if (zero_copy) r.consume(n);
      expect += n;
    }
    t1 = clock_type::now();
    received = expect;
  });
  std::thread producer([&] {
    pin_to_core(0);
    std::vector<unsigned char> src(batch * rs);
    for (std::size_t i = 0; i < batch; ++i) fill_bench_record(src.data() + i * rs, rs, i);
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint64_t next = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i < batch; ++i) {
        const std::uint64_t s = next + i;
        std::memcpy(src.data() + i * rs, &s, 8);  // the sequence number the consumer checks
      }
      std::size_t done = 0;
      while (done < batch) {
        const std::size_t n = r.push_many(src.data() + done * rs, batch - done);
        if (n == 0) nt::cpu_relax();
        done += n;
      }
      next += batch;
    }
    produced.store(next, std::memory_order_release);
  });
  t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  producer.join();
  consumer.join();
  if (bad.load()) stress_fail("bench: spsc record out of order");
  return static_cast<double>(received) / std::chrono::duration<double>(t1 - t0).count() / 1e6;
}

// spsc_queue<uint64_t>, one item per call on both sides.
double bench_spsc_queue(double seconds, std::size_t capacity) {
  ring::spsc_queue<std::uint64_t> q(capacity);
  std::atomic<bool> go{false}, stop{false}, bad{false};
  std::atomic<std::uint64_t> produced{not_yet};
  clock_type::time_point t0, t1;
  std::uint64_t received = 0;
  std::thread consumer([&] {
    pin_to_core(1);
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint64_t expect = 0;
    for (;;) {
      std::uint64_t v;
      if (q.try_pop(v)) {
        if (v != expect) bad.store(true, std::memory_order_relaxed);
        ++expect;
      } else if (produced.load(std::memory_order_acquire) == expect) {
        break;
      } else {
        nt::cpu_relax();
      }
    }
    t1 = clock_type::now();
    received = expect;
  });
  std::thread producer([&] {
    pin_to_core(0);
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 64; ++k) {  // look at the stop flag once per 64 items
        while (!q.try_push(i)) nt::cpu_relax();
        ++i;
      }
    }
    produced.store(i, std::memory_order_release);
  });
  t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  producer.join();
  consumer.join();
  if (bad.load()) stress_fail("bench: spsc_queue out of order");
  return static_cast<double>(received) / std::chrono::duration<double>(t1 - t0).count() / 1e6;
}

// MPMC record ring, P producers x C consumers (not pinned), batches of `batch` on both sides.
double bench_mpmc(double seconds, int producers, int consumers, std::size_t rs, std::size_t batch,
                  std::uint64_t capacity) {
  ring::mpmc_record_ring r(capacity, rs);
  std::atomic<bool> go{false}, stop{false};
  std::atomic<int> producers_left{producers};
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(consumers), 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&] {
      std::vector<unsigned char> src(batch * rs);
      for (std::size_t i = 0; i < batch; ++i) fill_bench_record(src.data() + i * rs, rs, i);
      while (!go.load(std::memory_order_acquire)) {
      }
      nt::backoff wait(std::chrono::microseconds(20));
      while (!stop.load(std::memory_order_relaxed)) {
        if (r.push_many(src.data(), batch) == 0) {
          wait.wait();
        } else {
          wait.reset();
        }
      }
      producers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      std::vector<unsigned char> dst(batch * rs);
      while (!go.load(std::memory_order_acquire)) {
      }
      nt::backoff wait(std::chrono::microseconds(20));
      std::uint64_t mine = 0;
      for (;;) {
        const std::size_t n = r.pop_many(dst.data(), batch);
        if (n != 0) {
          wait.reset();
          mine += n;
        } else if (producers_left.load(std::memory_order_acquire) == 0 && r.empty()) {
          break;
        } else {
          wait.wait();
        }
      }
      counts[static_cast<std::size_t>(c)] = mine;
    });
  }
  const auto t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  std::uint64_t total = 0;
  for (auto n : counts) total += n;
  return static_cast<double>(total) / seconds_since(t0) / 1e6;
}

template <class Fn>
bench_result repeat(int reps, Fn&& fn) {
  bench_result r;
  for (int i = 0; i < reps; ++i) r.rates.push_back(fn());
  return r;
}

int run_bench(bool quick) {
  const int reps = quick ? 2 : 5;
  const double t = quick ? 0.1 : 0.3;
  std::printf("bench: %d cores available, %d runs of %.1f s each, SPSC threads pinned to 2 cores\n",
              nt::available_cores(), reps, t);
  report("spsc_record_ring 37 B push_many/pop_many batch 128 cap 4096",
         repeat(reps, [&] { return bench_spsc_records(t, 37, 128, 4096, false); }));
  report("spsc_record_ring 37 B push_many/peek+consume batch 128 cap 4096",
         repeat(reps, [&] { return bench_spsc_records(t, 37, 128, 4096, true); }));
  report("spsc_record_ring 37 B push_many/pop_many batch 32 cap 1024",
         repeat(reps, [&] { return bench_spsc_records(t, 37, 32, 1024, false); }));
  report("spsc_record_ring 37 B try_push/try_pop (batch 1) cap 1024",
         repeat(reps, [&] { return bench_spsc_records(t, 37, 1, 1024, false); }));
  report("spsc_queue<uint64_t> try_push/try_pop one at a time cap 1024",
         repeat(reps, [&] { return bench_spsc_queue(t, 1024); }));
  report("mpmc_record_ring 37 B 2x2 push_many/pop_many batch 64 cap 4096",
         repeat(reps, [&] { return bench_mpmc(t, 2, 2, 37, 64, 4096); }));
  report("mpmc_record_ring 37 B 1x1 push_many/pop_many batch 64 cap 4096",
         repeat(reps, [&] { return bench_mpmc(t, 1, 1, 37, 64, 4096); }));
  report("mpmc_record_ring 37 B 2x2 try_push/try_pop (batch 1) cap 4096",
         repeat(reps, [&] { return bench_mpmc(t, 2, 2, 37, 1, 4096); }));
  return g_failures.load() == 0 ? 0 : 1;
}

// SPSC record-ring throughput over record sizes, batch sizes and capacities (for tuning).
int run_sweep() {
  for (std::size_t rs : {8u, 37u, 64u}) {
    for (std::uint64_t cap : {1024u, 4096u, 16384u}) {
      for (std::size_t batch : {16u, 64u, 128u, 256u, 512u}) {
        if (batch > cap / 2) continue;
        const auto r = repeat(3, [&] { return bench_spsc_records(0.2, rs, batch, cap, false); });
        std::printf("sweep rs %2zu cap %5" PRIu64 " batch %3zu (%6zu B per copy): %.1f M records/s (best %.1f)\n", rs,
                    cap, batch, rs * batch, r.median(), r.best());
        std::fflush(stdout);
      }
    }
  }
  return g_failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, bench = false, have_seed = false;
  std::uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--bench") {
      bench = true;
    } else if (a == "--bench-sweep") {
      return run_sweep();
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 0);
      have_seed = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--seed N] | --bench [--quick] | --bench-sweep\n", argv[0]);
      return 2;
    }
  }
  if (bench) return run_bench(quick);
  if (!have_seed) seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  std::printf("stress_ring: seed %" PRIu64 " (repeat with --seed %" PRIu64 ")%s\n", seed, seed,
              quick ? ", quick" : "");
  std::fflush(stdout);
  const auto t0 = clock_type::now();
  // Full counts; --quick divides them by 10 (sanitizer builds run 10-50x slower).
  const std::uint64_t div = quick ? 10 : 1;

  stress_spsc_records(10'000'000 / div, 1024, seed);
  stress_spsc_records(1'000'000 / div, 4, seed + 1);
  stress_spsc_queue(5'000'000 / div, 256, seed + 2);
  stress_spsc_queue(500'000 / div, 2, seed + 3);
  stress_spsc_unique_ptr(1'000'000 / div, seed + 4);
  {
    ring::mpmc_record_ring r(1024, 16);
    stress_mpmc("mpmc_record_ring", r, 2, 2, 5'000'000 / div, seed + 5);
  }
  {
    ring::mpmc_record_ring r(64, 16);  // small: forces contention and constant wrap-around
    stress_mpmc("mpmc_record_ring", r, 4, 4, 1'000'000 / div, seed + 6);
  }
  {
    ring::mpmc_record_ring r(2, 16);  // the smallest capacity allowed
    stress_mpmc("mpmc_record_ring", r, 2, 2, 250'000 / div, seed + 7);
  }
  {
    typed_mpmc q(64);
    stress_mpmc("mpmc_queue<uint64_t>", q, 2, 2, 1'000'000 / div, seed + 8);
  }
  const long failures = g_failures.load();
  std::printf("stress_ring: %s in %.1f s (seed %" PRIu64 ")\n", failures == 0 ? "passed" : "FAILED", seconds_since(t0),
              seed);
  return failures == 0 ? 0 : 1;
}
