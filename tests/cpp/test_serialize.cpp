// Tests of common/crc32c.hpp and common/serialize.hpp: known answers, round trips, the golden
// frame tests/golden/frame_v1.bin, and that every kind of corruption raises corrupt_data_error
// without reading outside the input or allocating what the input cannot hold.
//
//   test_serialize                      runs the tests
//   test_serialize --write-golden PATH  writes the golden frame (done once; the file is committed)
//
// Golden frame (magic "NTG1", version 1), payload in order:
//   u8 7 | i32 -5 | u64 2^40+3 | f64 -1.5 | string "neural-trader" (u64 length + bytes)
//   | u64 3 (array length) | 3 x i64 {1, -2, 3}
#include "check.hpp"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "neural_trader/common/crc32c.hpp"
#include "neural_trader/common/errors.hpp"
#include "neural_trader/common/serialize.hpp"

#ifndef NT_GOLDEN_FILE
#error "NT_GOLDEN_FILE must name tests/golden/frame_v1.bin"
#endif

// ---------------------------------------------------------------------------------------------
// Allocation tracking: the largest single allocation since the last reset. Lets the tests prove
// that a crafted element count is rejected before anything of its size is allocated.
namespace {
std::atomic<std::size_t> g_largest_alloc{0};

void note_alloc(std::size_t n) noexcept {
  std::size_t prev = g_largest_alloc.load(std::memory_order_relaxed);
  while (n > prev && !g_largest_alloc.compare_exchange_weak(prev, n, std::memory_order_relaxed)) {
  }
}
}  // namespace

// Out of line, so that the compiler never sees malloc/free through an inlined new/delete pair
// (GCC's -Wmismatched-new-delete would flag the replacement itself).
#if defined(__GNUC__)
#define NT_TEST_NOINLINE __attribute__((noinline))
#else
#define NT_TEST_NOINLINE
#endif
NT_TEST_NOINLINE void* operator new(std::size_t n) {
  note_alloc(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
NT_TEST_NOINLINE void* operator new[](std::size_t n) {
  note_alloc(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
NT_TEST_NOINLINE void operator delete(void* p) noexcept { std::free(p); }
NT_TEST_NOINLINE void operator delete[](void* p) noexcept { std::free(p); }
NT_TEST_NOINLINE void operator delete(void* p, std::size_t) noexcept { std::free(p); }
NT_TEST_NOINLINE void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace nt = neural_trader;
using bytes_t = std::vector<unsigned char>;

// Expects fn() to throw corrupt_data_error whose message contains `needle`.
template <class Fn>
void expect_corrupt(const char* file, int line, Fn&& fn, std::string_view needle) {
  try {
    fn();
  } catch (const nt::corrupt_data_error& e) {
    if (std::string_view(e.what()).find(needle) == std::string_view::npos) {
      nt_check::fail(file, line, "corrupt_data_error without \"" + std::string(needle) + "\": " + e.what());
    } else {
      nt_check::pass();
    }
    return;
  } catch (const std::exception& e) {
    nt_check::fail(file, line, std::string("expected corrupt_data_error, got: ") + e.what());
    return;
  }
  nt_check::fail(file, line, "expected corrupt_data_error, nothing thrown (wanted \"" + std::string(needle) + "\")");
}
#define EXPECT_CORRUPT(expr, needle) expect_corrupt(__FILE__, __LINE__, [&] { static_cast<void>(expr); }, needle)

// A copy of `n` bytes of `src` in a heap block of exactly n bytes, so that AddressSanitizer
// reports any read past the end.
std::unique_ptr<unsigned char[]> exact_copy(const unsigned char* src, std::size_t n) {
  std::unique_ptr<unsigned char[]> p(new unsigned char[n]);
  if (n != 0) std::memcpy(p.get(), src, n);
  return p;
}

std::uint64_t load_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t load_u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
void store_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void store_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// Recomputes the trailer CRC over everything before it (after a deliberate header edit, so that
// the check under test, not the checksum, is what rejects the frame).
void reseal(bytes_t& f) {
  const std::size_t body = f.size() - nt::frame_trailer_size;
  store_u32(f.data() + body, nt::crc32c(f.data(), body));
}

// A valid envelope (correct size and CRC) around an arbitrary payload.
bytes_t envelope(std::uint32_t magic, std::uint16_t version, const unsigned char* payload, std::size_t n) {
  bytes_t f(nt::frame_header_size + n + nt::frame_trailer_size, 0);
  store_u32(f.data(), magic);
  f[4] = static_cast<unsigned char>(version);
  f[5] = static_cast<unsigned char>(version >> 8);
  store_u64(f.data() + 8, n);
  if (n != 0) std::memcpy(f.data() + nt::frame_header_size, payload, n);
  reseal(f);
  return f;
}

// ---------------------------------------------------------------------------------------------
// The golden frame
constexpr std::uint32_t golden_magic = nt::make_magic('N', 'T', 'G', '1');
constexpr std::uint64_t golden_u64 = (std::uint64_t{1} << 40) + 3;
const std::vector<std::int64_t> golden_array = {1, -2, 3};

bytes_t make_golden() {
  nt::frame_writer w(golden_magic, 1);
  w.put<std::uint8_t>(7);
  w.put<std::int32_t>(-5);
  w.put<std::uint64_t>(golden_u64);
  w.put<double>(-1.5);
  w.put_string("neural-trader");
  w.put<std::uint64_t>(golden_array.size());
  w.put_array(golden_array.data(), golden_array.size());
  return w.finish();
}

struct golden_values {
  std::uint8_t u8 = 0;
  std::int32_t i32 = 0;
  std::uint64_t u64 = 0;
  double f64 = 0;
  std::string s;
  std::vector<std::int64_t> arr;
};

// Reads a golden-shaped frame with the bounds-checked API only.
golden_values read_golden(const unsigned char* p, std::size_t n) {
  nt::frame_reader r(p, n, golden_magic, 1, 1, "golden");
  golden_values v;
  v.u8 = r.get<std::uint8_t>();
  v.i32 = r.get<std::int32_t>();
  v.u64 = r.get<std::uint64_t>();
  v.f64 = r.get<double>();
  v.s = r.get_string(64);
  const auto count = r.get_size(0, 1024, "array length");
  v.arr = r.get_array<std::int64_t>(count);
  r.expect_end();
  return v;
}

bytes_t read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return bytes_t(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---------------------------------------------------------------------------------------------
void test_crc32c_known_answers() {
  const char* check = "123456789";
  CHECK_EQ(nt::crc32c(check, 9), 0xE3069283u);
  CHECK_EQ(nt::crc32c(nullptr, 0), 0u);
  CHECK_EQ(nt::crc32c("", 0), 0u);
  CHECK_EQ(nt::crc32c_update(0, nullptr, 0), 0u);
  // More published CRC-32C (iSCSI, RFC 3720 B.4) vectors: 32 bytes of zeros / of 0xFF / ascending.
  unsigned char buf[32];
  std::memset(buf, 0, sizeof buf);
  CHECK_EQ(nt::crc32c(buf, sizeof buf), 0x8A9136AAu);
  std::memset(buf, 0xFF, sizeof buf);
  CHECK_EQ(nt::crc32c(buf, sizeof buf), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(i);
  CHECK_EQ(nt::crc32c(buf, sizeof buf), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(31 - i);
  CHECK_EQ(nt::crc32c(buf, sizeof buf), 0x113FDB5Cu);
  CHECK_EQ(nt::crc32c("a", 1), 0xC1D04330u);
}

// Bit-at-a-time reference implementation (independent of the slicing-by-8 tables).
std::uint32_t crc32c_reference(const unsigned char* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
  }
  return ~c;
}

void test_crc32c_incremental_and_alignment() {
  std::mt19937_64 rng(12345);
  std::vector<unsigned char> data(4099);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  // Every length up to 70 at every alignment 0..7 against the reference.
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t n = 0; n <= 70; ++n) {
      const auto got = nt::crc32c(data.data() + off, n);
      const auto want = crc32c_reference(data.data() + off, n);
      if (got != want) CHECK_EQ(got, want);
    }
  }
  const std::uint32_t one_shot = nt::crc32c(data.data(), data.size());
  CHECK_EQ(one_shot, crc32c_reference(data.data(), data.size()));
  // Any split into chunks gives the one-shot value.
  for (std::size_t chunk : {1u, 3u, 7u, 8u, 9u, 64u, 1000u}) {
    std::uint32_t c = 0;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
      c = nt::crc32c_update(c, data.data() + at, std::min(chunk, data.size() - at));
    }
    CHECK_EQ(c, one_shot);
  }
  for (int trial = 0; trial < 200; ++trial) {
    std::uint32_t c = 0;
    std::size_t at = 0;
    while (at < data.size()) {
      const std::size_t n = std::min<std::size_t>(rng() % 40, data.size() - at);
      c = nt::crc32c_update(c, data.data() + at, n);
      at += n;
    }
    if (c != one_shot) CHECK_EQ(c, one_shot);
  }
  std::uint32_t c = nt::crc32c_update(0, "1234", 4);
  c = nt::crc32c_update(c, "", 0);
  c = nt::crc32c_update(c, "56789", 5);
  CHECK_EQ(c, 0xE3069283u);
}

void test_make_magic() {
  constexpr auto m = nt::make_magic('N', 'T', 'G', '1');
  static_assert(m == 0x3147544Eu);
  CHECK_EQ(m, 0x3147544Eu);
  CHECK_EQ(nt::make_magic('\xFF', 0, 0, '\x80'), 0x800000FFu);
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void round_trip_scalar(const std::vector<T>& values) {
  nt::frame_writer w(nt::make_magic('T', 'E', 'S', 'T'), 3);
  for (T v : values) w.put<T>(v);
  const auto f = w.finish();
  CHECK_EQ(f.size(), nt::frame_header_size + values.size() * sizeof(T) + nt::frame_trailer_size);
  nt::frame_reader r(f.data(), f.size(), nt::make_magic('T', 'E', 'S', 'T'), 1, 3);
  CHECK_EQ(r.version(), 3);
  for (T v : values) {
    const T got = r.get<T>();
    if (!same_bits(got, v)) CHECK(same_bits(got, v));
  }
  CHECK_EQ(r.remaining(), 0u);
  CHECK_NOTHROW(r.expect_end());
  EXPECT_CORRUPT(r.get<T>(), "truncated payload");
}

template <class T>
std::vector<T> int_values() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {L::min(), L::max(), T(0), T(1), T(L::max() / 3), T(L::min() / 5 + 1)};
  if constexpr (std::is_signed_v<T>) v.push_back(T(-1));
  return v;
}

template <class T>
std::vector<T> float_values() {
  using L = std::numeric_limits<T>;
  return {T(0), -T(0), T(1), T(-1.5), L::min(), L::max(), L::lowest(), L::epsilon(), L::denorm_min(),
          L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(), T(3.141592653589793)};
}

void test_round_trip_scalars() {
  round_trip_scalar(int_values<std::int8_t>());
  round_trip_scalar(int_values<std::uint8_t>());
  round_trip_scalar(int_values<std::int16_t>());
  round_trip_scalar(int_values<std::uint16_t>());
  round_trip_scalar(int_values<std::int32_t>());
  round_trip_scalar(int_values<std::uint32_t>());
  round_trip_scalar(int_values<std::int64_t>());
  round_trip_scalar(int_values<std::uint64_t>());
  round_trip_scalar(int_values<char>());
  round_trip_scalar(int_values<char16_t>());
  round_trip_scalar(int_values<char32_t>());
  round_trip_scalar(int_values<long long>());
  round_trip_scalar(int_values<unsigned long>());
  round_trip_scalar(float_values<float>());
  round_trip_scalar(float_values<double>());
  // A NaN with a payload keeps its exact bits.
  std::uint64_t nan_bits = 0x7FF800000000BEEFull;
  double nan_payload;
  std::memcpy(&nan_payload, &nan_bits, 8);
  round_trip_scalar(std::vector<double>{nan_payload});
  std::uint32_t fnan_bits = 0xFFC0BEEFu;
  float fnan;
  std::memcpy(&fnan, &fnan_bits, 4);
  round_trip_scalar(std::vector<float>{fnan});
}

void test_wire_layout() {
  nt::frame_writer w(nt::make_magic('A', 'B', 'C', 'D'), 0x0102);
  w.put<std::uint32_t>(0x11223344u).put<double>(1.0).put<std::int16_t>(-2);
  const auto f = w.finish();
  CHECK_EQ(f.size(), 16u + 14u + 4u);
  const unsigned char header[16] = {'A', 'B', 'C', 'D', 0x02, 0x01, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0};
  CHECK(std::memcmp(f.data(), header, 16) == 0);
  const unsigned char payload[14] = {0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0xFE, 0xFF};
  CHECK(std::memcmp(f.data() + 16, payload, 14) == 0);
  CHECK_EQ(load_u32(f.data() + 30), crc32c_reference(f.data(), 30));
  // An empty payload is a valid 20-byte frame.
  const auto e = nt::frame_writer(7, 1).finish();
  CHECK_EQ(e.size(), 20u);
  nt::frame_reader r(e.data(), e.size(), 7, 1, 1);
  CHECK_EQ(r.remaining(), 0u);
  CHECK_NOTHROW(r.expect_end());
  CHECK_THROWS(nt::frame_writer(7, 0), std::invalid_argument);
}

void test_round_trip_strings_and_arrays() {
  std::string binary("a\0b\xff", 4);
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::vector<std::int64_t> i64 = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                   std::numeric_limits<std::int64_t>::max()};
  std::vector<double> f64 = {0.5, -0.0, 1e300, std::numeric_limits<double>::denorm_min()};
  std::vector<std::uint16_t> u16(1000);
  for (std::size_t i = 0; i < u16.size(); ++i) u16[i] = static_cast<std::uint16_t>(i * 65);
  std::vector<float> empty_f;
  const unsigned char raw[5] = {9, 8, 7, 6, 5};

  nt::frame_writer w(nt::make_magic('S', 'T', 'R', 'A'), 1);
  w.put_string("").put_string("neural-trader").put_string(binary).put_string(big);
  w.put<std::uint64_t>(i64.size()).put_array(i64.data(), i64.size());
  w.put<std::uint64_t>(f64.size()).put_array(f64.data(), f64.size());
  w.put<std::uint64_t>(u16.size()).put_array(u16.data(), u16.size());
  w.put<std::uint64_t>(0).put_array(empty_f.data(), 0);
  w.put_bytes(raw, sizeof raw).put_bytes(nullptr, 0);
  const auto f = w.finish();

  const auto buf = exact_copy(f.data(), f.size());
  nt::frame_reader r(buf.get(), f.size(), nt::make_magic('S', 'T', 'R', 'A'), 1, 1, "strarr");
  CHECK_EQ(r.get_string(), std::string());
  CHECK_EQ(r.get_string(), std::string("neural-trader"));
  CHECK_EQ(r.get_string(), binary);
  CHECK_EQ(r.get_string(), big);
  CHECK(r.get_array<std::int64_t>(r.get_size(0, 100, "n")) == i64);
  const auto f64_back = r.get_array<double>(r.get_size(0, 100, "n"));
  CHECK_EQ(f64_back.size(), f64.size());
  for (std::size_t i = 0; i < f64.size() && i < f64_back.size(); ++i) CHECK(same_bits(f64_back[i], f64[i]));
  CHECK(r.get_array<std::uint16_t>(r.get_size(0, 5000, "n")) == u16);
  CHECK(r.get_array<float>(r.get_size(0, 0, "n")).empty());
  const unsigned char* got_raw = r.get_bytes(sizeof raw);
  CHECK(std::memcmp(got_raw, raw, sizeof raw) == 0);
  CHECK(r.get_bytes(0) != nullptr);
  CHECK_NOTHROW(r.expect_end());
}

void test_get_size_and_expect_end() {
  nt::frame_writer w(1, 1);
  w.put<std::uint64_t>(5).put<std::uint64_t>(5).put<std::uint64_t>(5).put<std::uint64_t>(4).put<std::uint64_t>(6);
  w.put<std::uint64_t>(std::numeric_limits<std::uint64_t>::max());
  const auto f = w.finish();
  nt::frame_reader r(f.data(), f.size(), 1, 1, 1, "sizes");
  CHECK_EQ(r.get_size(5, 5, "a"), 5u);
  CHECK_EQ(r.get_size(0, 5, "b"), 5u);
  CHECK_EQ(r.get_size(5, 10, "c"), 5u);
  EXPECT_CORRUPT(r.get_size(5, 10, "field_d"), "field_d = 4 outside [5, 10]");
  EXPECT_CORRUPT(r.get_size(0, 5, "field_e"), "field_e = 6 outside");
  EXPECT_CORRUPT(r.expect_end(), "8 unread payload bytes");
  CHECK_EQ(r.get_size(0, std::numeric_limits<std::uint64_t>::max(), "f"), std::numeric_limits<std::uint64_t>::max());
  CHECK_NOTHROW(r.expect_end());
  EXPECT_CORRUPT(r.get_size(0, 1, "g"), "truncated payload");
  EXPECT_CORRUPT(r.get_bytes(1), "truncated payload");
  // Error messages name the object kind.
  EXPECT_CORRUPT(r.get<std::uint8_t>(), "corrupt sizes data");
}

void test_golden_file() {
  const auto expected = make_golden();
  CHECK_EQ(expected.size(), 94u);
  const auto file = read_file(NT_GOLDEN_FILE);
  CHECK_EQ(file.size(), expected.size());
  if (file.empty()) {
    nt_check::fail(__FILE__, __LINE__, "cannot read golden file " NT_GOLDEN_FILE);
    return;
  }
  // The committed v1 frame must keep loading with the values it was written with.
  const auto buf = exact_copy(file.data(), file.size());
  golden_values v;
  CHECK_NOTHROW(v = read_golden(buf.get(), file.size()));
  CHECK_EQ(static_cast<int>(v.u8), 7);
  CHECK_EQ(v.i32, -5);
  CHECK_EQ(v.u64, golden_u64);
  CHECK_EQ(v.f64, -1.5);
  CHECK_EQ(v.s, std::string("neural-trader"));
  CHECK(v.arr == golden_array);
  // Its envelope, byte for byte.
  CHECK(std::memcmp(file.data(), "NTG1", 4) == 0);
  CHECK_EQ(file[4], 1);
  CHECK_EQ(file[5], 0);
  CHECK_EQ(load_u64(file.data() + 8), 74u);
  CHECK_EQ(load_u32(file.data() + 90), crc32c_reference(file.data(), 90));
  // And the writer still produces exactly these bytes for the same calls.
  CHECK(file == expected);
}

void test_truncation_at_every_length() {
  const auto f = make_golden();
  CHECK_EQ(read_golden(f.data(), f.size()).s, std::string("neural-trader"));
  EXPECT_CORRUPT(nt::frame_reader(nullptr, 0, golden_magic, 1, 1), "truncated input");
  EXPECT_CORRUPT(nt::frame_reader(nullptr, 5, golden_magic, 1, 1), "null input");
  for (std::size_t len = 0; len < f.size(); ++len) {
    const auto buf = exact_copy(f.data(), len);
    EXPECT_CORRUPT(read_golden(buf.get(), len), "truncated input");
  }
  // One byte too many.
  bytes_t longer = f;
  longer.push_back(0);
  EXPECT_CORRUPT(read_golden(longer.data(), longer.size()), "trailing bytes");
  // A valid envelope around every strict prefix of the payload: the payload reads must fail
  // (truncated value, string, array or size) without reading past the end.
  const std::size_t payload = f.size() - 20;
  for (std::size_t k = 0; k < payload; ++k) {
    const auto g = envelope(golden_magic, 1, f.data() + 16, k);
    const auto buf = exact_copy(g.data(), g.size());
    EXPECT_CORRUPT(read_golden(buf.get(), g.size()), "corrupt golden data");
  }
  // And payload with extra bytes at the end: only expect_end notices.
  bytes_t extended(f.begin() + 16, f.end() - 4);
  extended.push_back(1);
  const auto g = envelope(golden_magic, 1, extended.data(), extended.size());
  EXPECT_CORRUPT(read_golden(g.data(), g.size()), "1 unread payload bytes");
}

void test_every_bit_flip() {
  const auto f = make_golden();
  std::size_t detected = 0, total = 0;
  auto try_read = [&](const bytes_t& b) {
    ++total;
    const auto buf = exact_copy(b.data(), b.size());
    try {
      static_cast<void>(read_golden(buf.get(), b.size()));
    } catch (const nt::corrupt_data_error&) {
      ++detected;
    }
  };
  for (std::size_t bit = 0; bit < f.size() * 8; ++bit) {
    bytes_t g = f;
    g[bit / 8] = static_cast<unsigned char>(g[bit / 8] ^ (1u << (bit % 8)));
    try_read(g);
  }
  CHECK_EQ(detected, total);
  CHECK_EQ(total, f.size() * 8);
  // Every 2-bit flip too (CRC-32C's Hamming distance is >= 4 at this length).
  detected = total = 0;
  for (std::size_t a = 0; a < f.size() * 8; ++a) {
    for (std::size_t b = a + 1; b < f.size() * 8; ++b) {
      bytes_t g = f;
      g[a / 8] = static_cast<unsigned char>(g[a / 8] ^ (1u << (a % 8)));
      g[b / 8] = static_cast<unsigned char>(g[b / 8] ^ (1u << (b % 8)));
      try_read(g);
    }
  }
  CHECK_EQ(detected, total);
  // Every byte replaced by every other value.
  detected = total = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    for (unsigned v = 0; v < 256; ++v) {
      if (v == f[i]) continue;
      bytes_t g = f;
      g[i] = static_cast<unsigned char>(v);
      try_read(g);
    }
  }
  CHECK_EQ(detected, total);
}

void test_header_checks() {
  const auto f = make_golden();
  // Wrong magic (checksum valid: the writer made it).
  {
    nt::frame_writer w(nt::make_magic('N', 'T', 'G', '2'), 1);
    const auto g = w.finish();
    EXPECT_CORRUPT(nt::frame_reader(g.data(), g.size(), golden_magic, 1, 1, "thing"),
                   "bad magic number (not a serialised thing)");
  }
  // Version below and above the accepted range.
  for (std::uint16_t v : {std::uint16_t{1}, std::uint16_t{2}, std::uint16_t{7}, std::uint16_t{0xFFFF}}) {
    nt::frame_writer w(golden_magic, v);
    const auto g = w.finish();
    if (v >= 2 && v <= 6) {
      CHECK_NOTHROW(nt::frame_reader(g.data(), g.size(), golden_magic, 2, 6));
    } else {
      EXPECT_CORRUPT(nt::frame_reader(g.data(), g.size(), golden_magic, 2, 6), "unsupported format version");
    }
  }
  {
    bytes_t g = f;  // version 0 (the writer refuses it; a reader with min 1 must too)
    g[4] = 0;
    reseal(g);
    EXPECT_CORRUPT(nt::frame_reader(g.data(), g.size(), golden_magic, 1, 1), "unsupported format version 0");
  }
  // Any nonzero flag bit.
  for (int bit = 0; bit < 16; ++bit) {
    bytes_t g = f;
    g[6 + bit / 8] = static_cast<unsigned char>(1u << (bit % 8));
    reseal(g);
    EXPECT_CORRUPT(read_golden(g.data(), g.size()), "unknown flags");
  }
  // Payload size field larger / smaller than what is present.
  const std::uint64_t real = f.size() - 20;
  for (std::uint64_t announced : {real + 1, real + 4, real + 1000, std::uint64_t{1} << 63,
                                  std::numeric_limits<std::uint64_t>::max(),
                                  std::numeric_limits<std::uint64_t>::max() - 15}) {
    bytes_t g = f;
    store_u64(g.data() + 8, announced);
    reseal(g);
    const auto buf = exact_copy(g.data(), g.size());
    EXPECT_CORRUPT(read_golden(buf.get(), g.size()), "truncated input: header announces");
  }
  for (std::uint64_t announced : {real - 1, real - 4, std::uint64_t{0}}) {
    bytes_t g = f;
    store_u64(g.data() + 8, announced);
    reseal(g);
    const auto buf = exact_copy(g.data(), g.size());
    EXPECT_CORRUPT(read_golden(buf.get(), g.size()), "trailing bytes");
  }
  // Checksum.
  {
    bytes_t g = f;
    g.back() = static_cast<unsigned char>(g.back() ^ 0x80);
    EXPECT_CORRUPT(read_golden(g.data(), g.size()), "checksum mismatch");
    bytes_t h = f;
    h[40] = static_cast<unsigned char>(h[40] + 1);
    EXPECT_CORRUPT(read_golden(h.data(), h.size()), "checksum mismatch");
  }
}

void test_huge_counts_rejected_before_allocating() {
  nt::frame_writer w(1, 1);
  for (int i = 0; i < 8; ++i) w.put<std::uint64_t>(static_cast<std::uint64_t>(i));
  const auto f = w.finish();
  nt::frame_reader r(f.data(), f.size(), 1, 1, 1, "arrays");
  const std::uint64_t counts[] = {std::uint64_t{1} << 61,
                                  (std::uint64_t{1} << 61) + 1,
                                  std::uint64_t{1} << 62,
                                  std::uint64_t{1} << 63,
                                  std::numeric_limits<std::uint64_t>::max(),
                                  std::numeric_limits<std::uint64_t>::max() / 8 + 1,
                                  std::uint64_t{1} << 40,
                                  9,
                                  65};
  g_largest_alloc.store(0);
  for (std::uint64_t c : counts) {
    EXPECT_CORRUPT(r.get_array<std::int64_t>(c), "exceeds the input");
    EXPECT_CORRUPT(r.get_array<double>(c), "exceeds the input");
    if (c > 16) EXPECT_CORRUPT(r.get_array<std::uint32_t>(c), "exceeds the input");
    if (c > 64) EXPECT_CORRUPT(r.get_array<std::uint8_t>(c), "exceeds the input");
  }
  // Nothing anywhere near the requested sizes was allocated (only error-message strings).
  CHECK(g_largest_alloc.load() < 4096);
  // Nothing was consumed by the failed reads; exact counts still work.
  CHECK_EQ(r.remaining(), 64u);
  const auto a = r.get_array<std::uint64_t>(3);
  CHECK_EQ(a.size(), 3u);
  CHECK_EQ(a[2], 2u);
  const auto b = r.get_array<std::uint8_t>(40);
  CHECK_EQ(b.size(), 40u);
  CHECK_EQ(r.remaining(), 0u);
  CHECK(r.get_array<std::uint64_t>(0).empty());
  EXPECT_CORRUPT(r.get_array<std::uint8_t>(1), "exceeds the input");

  // A length-prefixed string announcing more than present, or more than max_size.
  nt::frame_writer ws(2, 1);
  ws.put<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()).put<std::uint64_t>(5).put_bytes("abcd", 4);
  const auto s = ws.finish();
  g_largest_alloc.store(0);
  nt::frame_reader rs(s.data(), s.size(), 2, 1, 1, "strings");
  EXPECT_CORRUPT(rs.get_string(), "string length");
  EXPECT_CORRUPT(rs.get_string(4), "string length = 5 outside [0, 4]");
  CHECK(g_largest_alloc.load() < 4096);
}

// Random payloads in valid envelopes read through the golden schema: the reader must either
// succeed or throw corrupt_data_error, and never read outside the input.
void test_random_payloads() {
  std::mt19937_64 rng(20240601);
  const auto f = make_golden();
  const bytes_t base(f.begin() + 16, f.end() - 4);
  int ok = 0, rejected = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    bytes_t p = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:
          if (!p.empty()) p[rng() % p.size()] = static_cast<unsigned char>(rng());
          break;
        case 1:
          if (!p.empty()) p.resize(rng() % p.size());
          break;
        case 2:
          p.insert(p.begin() + static_cast<std::ptrdiff_t>(rng() % (p.size() + 1)), static_cast<unsigned char>(rng()));
          break;
        default:
          if (p.size() >= 8) store_u64(p.data() + rng() % (p.size() - 7), rng() >> (rng() % 64));
          break;
      }
    }
    const auto g = envelope(golden_magic, 1, p.data(), p.size());
    const auto buf = exact_copy(g.data(), g.size());
    try {
      static_cast<void>(read_golden(buf.get(), g.size()));
      ++ok;
    } catch (const nt::corrupt_data_error&) {
      ++rejected;
    }
  }
  CHECK_EQ(ok + rejected, 20000);
  CHECK(rejected > 0);
}

int write_golden(const char* path) {
  const auto f = make_golden();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  std::printf("wrote %zu bytes to %s\n", f.size(), path);
  return 0;
}

// A spent writer refuses further use (finish() used to write through a moved-from buffer).
void test_writer_after_finish() {
  nt::frame_writer w(7, 1);
  w.put<std::uint32_t>(1);
  const auto f = w.finish();
  CHECK_EQ(f.size(), nt::frame_header_size + 4 + nt::frame_trailer_size);
  CHECK_THROWS(w.finish(), std::logic_error);
  CHECK_THROWS(w.put<std::uint8_t>(1), std::logic_error);
  CHECK_THROWS(w.put_bytes("x", 1), std::logic_error);
  CHECK_THROWS(w.put_string("x"), std::logic_error);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--write-golden") return write_golden(argv[2]);
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--write-golden PATH]\n", argv[0]);
    return 2;
  }
  NT_RUN(test_writer_after_finish);
  NT_RUN(test_crc32c_known_answers);
  NT_RUN(test_crc32c_incremental_and_alignment);
  NT_RUN(test_make_magic);
  NT_RUN(test_round_trip_scalars);
  NT_RUN(test_wire_layout);
  NT_RUN(test_round_trip_strings_and_arrays);
  NT_RUN(test_get_size_and_expect_end);
  NT_RUN(test_golden_file);
  NT_RUN(test_truncation_at_every_length);
  NT_RUN(test_every_bit_flip);
  NT_RUN(test_header_checks);
  NT_RUN(test_huge_counts_rejected_before_allocating);
  NT_RUN(test_random_payloads);
  return nt_check::finish("test_serialize");
}
