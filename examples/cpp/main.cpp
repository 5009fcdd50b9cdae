// neural-trader core from plain C++: synthetic ticks through a typed SPSC queue and through a
// byte-record SPSC ring, each between a producer thread and the main thread.
//
// Prints the count and a CRC-32C over the ticks received; exits 0 only when every tick arrived,
// in order, with the checksum of what was sent.
#include <neural_trader/core.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

namespace nt = neural_trader;

namespace {

struct tick {
  std::int64_t ts_ns;
  std::uint32_t instrument;
  std::int32_t qty;
  double price;
  std::uint8_t side;  // 0 bid, 1 ask
};
static_assert(std::is_trivially_copyable_v<tick>, "record rings copy ticks with memcpy");

constexpr std::uint64_t tick_count = 1'000'000;

tick make_tick(std::uint64_t i) {
  return tick{static_cast<std::int64_t>(1'700'000'000'000'000'000LL + static_cast<std::int64_t>(i) * 1000),
              static_cast<std::uint32_t>(i % 16), static_cast<std::int32_t>(1 + i % 100),
              100.0 + static_cast<double>(i % 1000) * 0.01, static_cast<std::uint8_t>(i & 1)};
}

// CRC-32C over the fields (not the padding) of a tick, continued from `crc`.
std::uint32_t checksum(std::uint32_t crc, const tick& t) {
  unsigned char b[25];
  std::memcpy(b, &t.ts_ns, 8);
  std::memcpy(b + 8, &t.instrument, 4);
  std::memcpy(b + 12, &t.qty, 4);
  std::memcpy(b + 16, &t.price, 8);
  b[24] = t.side;
  return nt::crc32c_update(crc, b, sizeof b);
}

struct outcome {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  std::uint32_t crc_sent = 0;
  std::uint32_t crc_received = 0;
  bool ok() const { return received == tick_count && out_of_order == 0 && crc_sent == crc_received; }
};

// The consumer's check of one tick: it must be the next one in sequence.
void receive(outcome& o, const tick& t) {
  if (t.ts_ns != make_tick(o.received).ts_ns) ++o.out_of_order;
  o.crc_received = checksum(o.crc_received, t);
  ++o.received;
}

// A typed queue: one tick per call on both sides.
outcome through_spsc_queue() {
  nt::ring::spsc_queue<tick> q(1024);
  outcome o;
  std::thread producer([&] {
    nt::backoff wait;
    std::uint32_t crc = 0;
    for (std::uint64_t i = 0; i < tick_count; ++i) {
      const tick t = make_tick(i);
      while (!q.try_push(t)) wait.wait();
      wait.reset();
      crc = checksum(crc, t);
    }
    o.crc_sent = crc;  // published to the consumer by the join below
    q.close();
  });
  nt::backoff wait;
  for (;;) {
    tick t;
    if (q.try_pop(t)) {
      receive(o, t);
      wait.reset();
    } else if (q.closed() && q.empty()) {
      break;
    } else {
      wait.wait();
    }
  }
  producer.join();
  return o;
}

// A record ring of sizeof(tick)-byte records: batches on both sides.
outcome through_spsc_record_ring() {
  nt::ring::spsc_record_ring r(4096, sizeof(tick));
  outcome o;
  std::thread producer([&] {
    nt::backoff wait;
    std::vector<tick> batch(64);
    std::uint32_t crc = 0;
    for (std::uint64_t next = 0; next < tick_count;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch.size(), tick_count - next));
      for (std::size_t i = 0; i < n; ++i) {
        batch[i] = make_tick(next + i);
        crc = checksum(crc, batch[i]);
      }
      for (std::size_t done = 0; done < n;) {
        const std::size_t pushed = r.push_many(batch.data() + done, n - done);
        if (pushed == 0) wait.wait();
        else wait.reset();
        done += pushed;
      }
      next += n;
    }
    o.crc_sent = crc;
    r.close();  // the consumer drains what is left, then sees drained()
  });
  nt::backoff wait;
  std::vector<tick> out(256);
  while (!r.drained()) {
    const std::size_t n = r.pop_many(out.data(), out.size());
    if (n == 0) {
      wait.wait();
      continue;
    }
    wait.reset();
    for (std::size_t i = 0; i < n; ++i) receive(o, out[i]);
  }
  producer.join();
  return o;
}

bool print(const char* name, const outcome& o) {
  std::printf("%-18s %" PRIu64 " ticks received (%" PRIu64 " out of order), checksum 0x%08" PRIX32
              " (sent 0x%08" PRIX32 "): %s\n",
              name, o.received, o.out_of_order, o.crc_received, o.crc_sent, o.ok() ? "OK" : "FAILED");
  return o.ok();
}

}  // namespace

int main() {
  std::printf("neural-trader core %s, %d cores, SIMD level %s\n", NEURAL_TRADER_VERSION, nt::available_cores(),
              nt::to_string(nt::choose_simd_level().level));
  const bool a = print("spsc_queue<tick>", through_spsc_queue());
  const bool b = print("spsc_record_ring", through_spsc_record_ring());
  return a && b ? 0 : 1;
}
