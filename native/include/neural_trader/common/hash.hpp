/// @file hash.hpp
/// @brief The seeded 64-bit hash of the sketches, and the one canonical encoding of items.
///
/// Every sketch hashes its items through `item_hasher`, so sketches built from different input
/// kinds (NumPy arrays, Python objects, C++ values) agree on what an item is:
///
///   kind     canonical form                                   hashed with
///   integer  the value as a signed 64-bit integer              hash_int   (domain "int")
///   float    the IEEE-754 binary64 bits; -0.0 is hashed as     hash_float (domain "float")
///            +0.0 and every NaN as the one quiet NaN
///            0x7FF8000000000000
///   text     its UTF-8 bytes (so "a" and b"a" are one item)    hash_bytes (domain "bytes")
///   bytes    the bytes as they are                             hash_bytes (domain "bytes")
///
/// Integers and floats use different domains, so 1 and 1.0 are different items, and an
/// integer is never the same item as its 8 bytes.
///
/// The functions are written here (no third-party code). The 64-bit finaliser is a
/// xor-shift / multiply / xor-shift / multiply / xor-shift chain (a bijection); an integer is
/// the finaliser of (value xor int-key), a float the finaliser of ((bits xor float-key) times an
/// odd constant), so the two kinds never share a hash function; byte strings are read as
/// little-endian 64-bit words on every host (so hashes are identical across platforms and
/// processes), folded with a multiply-rotate step and finished with the finaliser. The seed is
/// expanded into one key per domain by the finaliser. tests/cpp/test_sketch.cpp pins golden
/// values and checks avalanche behaviour (each input bit flips each output bit with
/// probability close to 1/2).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace neural_trader {

namespace hashing {

inline constexpr std::uint64_t mul_a = 0xD6E8FEB86659FD93ull;
inline constexpr std::uint64_t mul_b = 0xA0761D6478BD642Full;
inline constexpr std::uint64_t mul_c = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio, odd
inline constexpr std::uint64_t domain_int = 0x1D8E4E27C47D124Full;
inline constexpr std::uint64_t domain_float = 0x5851F42D4C957F2Dull;
inline constexpr std::uint64_t domain_bytes = 0x14057B7EF767814Full;

/// Canonical NaN bits: every NaN is this one item.
inline constexpr std::uint64_t canonical_nan = 0x7FF8000000000000ull;

}  // namespace hashing

/// A bijective 64-bit finaliser with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 32;
  x *= hashing::mul_a;
  x ^= x >> 29;
  x *= hashing::mul_b;
  x ^= x >> 32;
  return x;
}

/// The high 64 bits of the 128-bit product a * b (maps a hash onto [0, n) as mulhi(h, n)).
inline std::uint64_t mulhi64(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__SIZEOF_INT128__)
  __extension__ using u128 = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<u128>(a) * b) >> 64);
#elif defined(_MSC_VER) && defined(_M_X64) && !defined(__clang__)
  return __umulh(a, b);
#else
  const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32, b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
  return (hi_lo >> 32) + (cross >> 32) + hi_hi;
#endif
}

/// Reads 8 bytes as a little-endian integer, whatever the host's byte order.
inline std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) {
    v = ((v & 0x00000000000000FFull) << 56) | ((v & 0x000000000000FF00ull) << 40) |
        ((v & 0x0000000000FF0000ull) << 24) | ((v & 0x00000000FF000000ull) << 8) |
        ((v & 0x000000FF00000000ull) >> 8) | ((v & 0x0000FF0000000000ull) >> 24) |
        ((v & 0x00FF000000000000ull) >> 40) | ((v & 0xFF00000000000000ull) >> 56);
  }
  return v;
}

/// The canonical bits of a float64 item (-0.0 -> +0.0, any NaN -> one NaN).
inline std::uint64_t canonical_float_bits(double v) noexcept {
  if (v != v) return hashing::canonical_nan;
  if (v == 0.0) return 0;
  return std::bit_cast<std::uint64_t>(v);
}

/// Hashes items under one seed. Cheap to copy; every sketch keeps one.
class item_hasher {
 public:
  constexpr explicit item_hasher(std::uint64_t seed = 0) noexcept
      : seed_(seed),
        k_int_(mix64(seed ^ hashing::domain_int) | 1),
        k_float_(mix64(seed ^ hashing::domain_float) | 1),
        k_bytes_(mix64(seed ^ hashing::domain_bytes)) {}

  constexpr std::uint64_t seed() const noexcept { return seed_; }

  /// An integer item.
  constexpr std::uint64_t hash_int(std::int64_t v) const noexcept {
    return mix64(static_cast<std::uint64_t>(v) ^ k_int_);
  }
  /// A float item (canonicalised first).
  std::uint64_t hash_float(double v) const noexcept { return hash_float_bits(canonical_float_bits(v)); }
  /// A float item given its canonical bits.
  constexpr std::uint64_t hash_float_bits(std::uint64_t bits) const noexcept {
    return mix64((bits ^ k_float_) * hashing::mul_b);
  }
  /// A byte-string item (also text, as UTF-8).
  std::uint64_t hash_bytes(const void* data, std::size_t size) const noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = k_bytes_ ^ (static_cast<std::uint64_t>(size) * hashing::mul_c);
    std::size_t n = size;
    while (n >= 16) {
      const std::uint64_t a = load_le64(p), b = load_le64(p + 8);
      h = std::rotl((h ^ a) * hashing::mul_a, 31) + std::rotl(b * hashing::mul_b, 27);
      h *= hashing::mul_c;
      p += 16;
      n -= 16;
    }
    if (n >= 8) {
      h = std::rotl((h ^ load_le64(p)) * hashing::mul_a, 31) * hashing::mul_c;
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      unsigned char tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(tail, p, n);
      h = std::rotl((h ^ load_le64(tail)) * hashing::mul_b, 29) * hashing::mul_c;
    }
    return mix64(h ^ (h >> 31) ^ static_cast<std::uint64_t>(size));
  }

 private:
  std::uint64_t seed_;
  std::uint64_t k_int_;
  std::uint64_t k_float_;
  std::uint64_t k_bytes_;
};

/// Convenience: the hash of an integer / float / byte string under a seed.
inline std::uint64_t hash64_int(std::int64_t v, std::uint64_t seed = 0) noexcept { return item_hasher(seed).hash_int(v); }
inline std::uint64_t hash64_float(double v, std::uint64_t seed = 0) noexcept { return item_hasher(seed).hash_float(v); }
inline std::uint64_t hash64_bytes(const void* data, std::size_t size, std::uint64_t seed = 0) noexcept {
  return item_hasher(seed).hash_bytes(data, size);
}

/// A small, fast, seedable random generator (a counter run through mix64 with a second
/// multiplier); deterministic on every platform. Used by the reservoir samplers.
class sketch_rng {
 public:
  explicit sketch_rng(std::uint64_t seed = 0) noexcept : state_(mix64(seed ^ 0xC2B2AE3D27D4EB4Full)) {}
  std::uint64_t next() noexcept {
    state_ += hashing::mul_c;
    return mix64(state_ ^ (state_ >> 27));
  }
  /// Uniform in (0, 1]: never 0, so its logarithm is finite.
  double uniform_pos() noexcept { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }
  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n) (n >= 1).
  std::uint64_t below(std::uint64_t n) noexcept {
    // Lemire's multiply-and-reject method: exact uniformity.
    std::uint64_t x = next();
    std::uint64_t hi = mulhi64(x, n);
    std::uint64_t lo = x * n;
    if (lo < n) {
      const std::uint64_t t = (0 - n) % n;
      while (lo < t) {
        x = next();
        hi = mulhi64(x, n);
        lo = x * n;
      }
    }
    return hi;
  }
  std::uint64_t state() const noexcept { return state_; }
  void set_state(std::uint64_t s) noexcept { state_ = s; }

 private:
  std::uint64_t state_;
};

}  // namespace neural_trader
