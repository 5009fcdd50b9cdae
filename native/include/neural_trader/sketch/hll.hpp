/// @file hll.hpp
/// @brief HyperLogLog distinct counting with 2^lg_k one-byte registers (lg_k 4..21).
///
/// Register update (Flajolet et al. 2007, with a 64-bit hash): the top lg_k bits of the item's
/// hash choose the register; the register keeps the largest rank (1 + leading zeros of the
/// remaining 64 - lg_k bits) seen, at most 65 - lg_k.
///
/// Estimators:
/// - HIP (historic inverse probability, Cohen 2014 / Ting 2014): while a sketch has only been
///   fed items (never merged or folded), each register change adds 1 / P(change) to a running
///   estimate; relative standard error about 0.836 / sqrt(2^lg_k), unbiased at every n.
/// - Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
///   sketches", 2017): a function of the register histogram alone, without the large bias of the
///   raw estimator anywhere from 0 to 2^64; about 1.04 / sqrt(2^lg_k). Used after a merge.
///
/// Thread safety: single writer; concurrent const calls are safe while nobody writes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/hash.hpp"
#include "../common/serialize.hpp"

namespace neural_trader::sketch {

namespace hll_detail {
/// 1 + leading zeros of a nonzero byte.
struct rank_table {
  std::uint8_t r[256];
  constexpr rank_table() : r{} {
    for (unsigned i = 1; i < 256; ++i) r[i] = static_cast<std::uint8_t>(std::countl_zero(i) - 24 + 1);
  }
};
inline constexpr rank_table rank_table_v{};
}  // namespace hll_detail

class hyperloglog {
 public:
  static constexpr int min_lg_k = 4;
  static constexpr int max_lg_k = 21;
  static constexpr std::uint32_t magic = make_magic('N', 'T', 'H', 'L');
  static constexpr std::uint16_t format_version = 2;

  explicit hyperloglog(int lg_k = 12, std::uint64_t seed = 0) : hasher_(seed) {
    if (lg_k < min_lg_k || lg_k > max_lg_k) {
      throw std::invalid_argument("lg_k must be in [" + std::to_string(min_lg_k) + ", " + std::to_string(max_lg_k) +
                                  "], got " + std::to_string(lg_k));
    }
    lg_k_ = lg_k;
    regs_.assign(std::size_t{1} << lg_k, 0);
    kxq_ = static_cast<double>(regs_.size());
  }

  int lg_k() const noexcept { return lg_k_; }
  std::size_t num_registers() const noexcept { return regs_.size(); }
  std::uint64_t seed() const noexcept { return hasher_.seed(); }
  const item_hasher& hasher() const noexcept { return hasher_; }
  const std::vector<std::uint8_t>& registers() const noexcept { return regs_; }
  /// Whether the HIP running estimate is in use (false once merged or folded).
  bool hip_valid() const noexcept { return hip_valid_; }
  bool empty() const noexcept { return kxq_ == static_cast<double>(regs_.size()) && hip_ == 0 && all_zero(); }

  /// Adds an item by its hash.
  void update_hash(std::uint64_t h) noexcept {
    const std::size_t idx = static_cast<std::size_t>(h >> (64 - lg_k_));
    const std::uint8_t rank = rank_of((h << lg_k_) | (std::uint64_t{1} << (lg_k_ - 1)));
    const std::uint8_t old = regs_[idx];
    if (rank > old) change(idx, old, rank);
  }

  /// 1 + leading zeros of w (w != 0). A table for the top byte (nonzero with probability
  /// 255/256) avoids the slow bit-scan instruction of baseline x86-64 builds.
  static std::uint8_t rank_of(std::uint64_t w) noexcept {
    const auto top = static_cast<unsigned>(w >> 56);
    if (top != 0) return hll_detail::rank_table_v.r[top];
    return static_cast<std::uint8_t>(std::countl_zero(w) + 1);
  }
  void update_int(std::int64_t v) noexcept { update_hash(hasher_.hash_int(v)); }
  void update_float(double v) noexcept { update_hash(hasher_.hash_float(v)); }
  void update_bytes(const void* p, std::size_t n) noexcept { update_hash(hasher_.hash_bytes(p, n)); }

  /// Batch updates of hashes (hot loop: no allocation, no exception).
  void update_hashes(const std::uint64_t* h, std::size_t n) noexcept {
    update_items(n, [h](std::size_t i) noexcept { return h[i]; });
  }
  /// Updates with n items whose hashes hash_at(i) gives, in order (int64 / float64 batches pass
  /// a hasher captured by value, so hashing runs inside this loop).
  template <class HashAt>
  void update_items(std::size_t n, HashAt&& hash_at) noexcept {
    const int p = lg_k_;
    const std::uint64_t low = std::uint64_t{1} << (p - 1);
    std::uint8_t* regs = regs_.data();
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t h = hash_at(i);
      const std::size_t idx = static_cast<std::size_t>(h >> (64 - p));
      const std::uint8_t rank = rank_of((h << p) | low);
      const std::uint8_t old = regs[idx];
      if (rank > old) change(idx, old, rank);
    }
  }

  /// The cardinality estimate.
  double estimate() const noexcept { return hip_valid_ ? hip_ : ertl_estimate(); }

  /// Ertl's improved estimator (from the registers alone).
  double ertl_estimate() const noexcept {
    const int q = 64 - lg_k_;
    std::array<std::uint64_t, 66> c{};
    for (std::uint8_t r : regs_) ++c[r];
    const double m = static_cast<double>(regs_.size());
    double z = m * tau(1.0 - static_cast<double>(c[static_cast<std::size_t>(q + 1)]) / m);
    for (int k = q; k >= 1; --k) z = 0.5 * (z + static_cast<double>(c[static_cast<std::size_t>(k)]));
    z += m * sigma(static_cast<double>(c[0]) / m);
    if (!(z > 0) || std::isinf(z)) return 0.0;  // all registers empty: sigma(1) is infinite
    constexpr double alpha_inf = 0.72134752044448170368;  // 1 / (2 ln 2)
    return alpha_inf * m * m / z;
  }

  /// The relative standard error of estimate() (1 standard deviation).
  double relative_error() const noexcept {
    return (hip_valid_ ? 0.8326 : 1.04) / std::sqrt(static_cast<double>(regs_.size()));
  }
  /// Bounds of about k standard deviations around the estimate (never below 0).
  double lower_bound(double k) const noexcept {
    const double e = estimate();
    return std::max(0.0, e / (1.0 + k * relative_error()));
  }
  double upper_bound(double k) const noexcept {
    const double e = estimate();
    const double d = 1.0 - k * relative_error();
    return d > 0 ? e / d : std::numeric_limits<double>::infinity();
  }

  /// Union in place. The seeds must agree; a finer other is folded down to this lg_k, a coarser
  /// other folds this sketch down to its lg_k.
  void merge(const hyperloglog& other) {
    if (other.seed() != seed()) {
      throw std::invalid_argument("cannot merge HyperLogLog sketches with different seeds (" + std::to_string(seed()) +
                                  " and " + std::to_string(other.seed()) + ")");
    }
    if (&other == this) {
      return;
    }
    if (other.lg_k_ < lg_k_) fold_to(other.lg_k_);
    const int d = lg_k_ < other.lg_k_ ? other.lg_k_ - lg_k_ : 0;
    if (d == 0) {
      for (std::size_t i = 0; i < regs_.size(); ++i) regs_[i] = std::max(regs_[i], other.regs_[i]);
    } else {
      for (std::size_t i = 0; i < other.regs_.size(); ++i) {
        const std::uint8_t r = other.regs_[i];
        if (r == 0) continue;
        const std::size_t j = i >> d;
        const std::uint8_t nr = folded_rank(i, r, d);
        regs_[j] = std::max(regs_[j], nr);
      }
    }
    invalidate_hip();
  }

  /// Reduces this sketch to lg_k (<= the current one), exactly as if it had been built there.
  void fold_to(int lg_k) {
    if (lg_k < min_lg_k || lg_k > lg_k_) throw std::invalid_argument("fold_to: lg_k out of range");
    if (lg_k == lg_k_) return;
    const int d = lg_k_ - lg_k;
    std::vector<std::uint8_t> out(std::size_t{1} << lg_k, 0);
    for (std::size_t i = 0; i < regs_.size(); ++i) {
      const std::uint8_t r = regs_[i];
      if (r == 0) continue;
      const std::size_t j = i >> d;
      out[j] = std::max(out[j], folded_rank(i, r, d));
    }
    regs_ = std::move(out);
    lg_k_ = lg_k;
    invalidate_hip();
  }

  void clear() noexcept {
    std::fill(regs_.begin(), regs_.end(), std::uint8_t{0});
    kxq_ = static_cast<double>(regs_.size());
    hip_ = 0;
    hip_valid_ = true;
  }

  bool operator==(const hyperloglog& o) const noexcept {
    return lg_k_ == o.lg_k_ && seed() == o.seed() && regs_ == o.regs_ && hip_valid_ == o.hip_valid_ &&
           (!hip_valid_ || hip_ == o.hip_);
  }

  /// Serialised form, format 2: u8 lg_k, u64 seed, u8 hip_valid, f64 hip, u8 layout, then
  ///   layout 0 (dense):  2^lg_k u8 registers;
  ///   layout 1 (sparse): u32 n, then n x (u32 index, u8 value), indices strictly increasing,
  ///                      values >= 1 (the other registers are 0).
  /// The sparse layout is written when it is smaller (fewer than 2^lg_k / 5 nonzero registers),
  /// so a sketch of few items stays small on disk whatever its lg_k.
  /// Format 1 (still read): the same fields without the layout byte, always dense.
  std::vector<unsigned char> serialize() const {
    frame_writer w(magic, format_version);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(lg_k_));
    w.put<std::uint64_t>(seed());
    w.put<std::uint8_t>(hip_valid_ ? 1 : 0);
    w.put<double>(hip_);
    std::size_t nonzero = 0;
    for (std::uint8_t r : regs_) nonzero += r != 0;
    if (nonzero * 5 < regs_.size()) {
      w.put<std::uint8_t>(1);
      w.put<std::uint32_t>(static_cast<std::uint32_t>(nonzero));
      for (std::size_t i = 0; i < regs_.size(); ++i) {
        if (regs_[i] == 0) continue;
        w.put<std::uint32_t>(static_cast<std::uint32_t>(i));
        w.put<std::uint8_t>(regs_[i]);
      }
    } else {
      w.put<std::uint8_t>(0);
      w.put_bytes(regs_.data(), regs_.size());
    }
    return w.finish();
  }

  static hyperloglog deserialize(const void* data, std::size_t size) {
    frame_reader r(data, size, magic, 1, format_version, "HyperLogLog");
    const int lg_k = r.get<std::uint8_t>();
    if (lg_k < min_lg_k || lg_k > max_lg_k) r.fail("lg_k " + std::to_string(lg_k) + " out of range");
    const auto seed = r.get<std::uint64_t>();
    const auto hv = r.get<std::uint8_t>();
    if (hv > 1) r.fail("bad HIP flag");
    const double hip = r.get<double>();
    if (!std::isfinite(hip) || hip < 0) r.fail("bad HIP estimate");
    const std::uint8_t layout = r.version() >= 2 ? r.get<std::uint8_t>() : 0;
    if (layout > 1) r.fail("unknown register layout " + std::to_string(layout));
    const std::size_t m = std::size_t{1} << lg_k;
    const auto max_rank = static_cast<unsigned char>(65 - lg_k);
    hyperloglog s(lg_k, seed);
    if (layout == 0) {
      const unsigned char* p = r.get_bytes(m);
      for (std::size_t i = 0; i < m; ++i) {
        if (p[i] > max_rank) r.fail("register value " + std::to_string(p[i]) + " exceeds " + std::to_string(max_rank));
        s.regs_[i] = p[i];
      }
    } else {
      const auto n = r.get<std::uint32_t>();
      if (n > m || static_cast<std::size_t>(n) * 5 > r.remaining()) r.fail("sparse register count exceeds the input");
      std::int64_t prev = -1;
      for (std::uint32_t j = 0; j < n; ++j) {
        const auto idx = r.get<std::uint32_t>();
        const auto v = r.get<std::uint8_t>();
        if (static_cast<std::int64_t>(idx) <= prev || idx >= m) r.fail("sparse register indices out of order or range");
        if (v == 0 || v > max_rank) r.fail("sparse register value " + std::to_string(v) + " out of range");
        s.regs_[idx] = v;
        prev = idx;
      }
    }
    r.expect_end();
    double kxq = 0;
    for (std::uint8_t v : s.regs_) kxq += std::ldexp(1.0, -static_cast<int>(v));
    s.kxq_ = kxq;
    s.hip_ = hip;
    s.hip_valid_ = hv == 1;
    return s;
  }

 private:
  void change(std::size_t idx, std::uint8_t old, std::uint8_t rank) noexcept {
    // HIP: this change had probability kxq / m; count 1 / that.
    hip_ += static_cast<double>(regs_.size()) / kxq_;
    kxq_ += std::ldexp(1.0, -static_cast<int>(rank)) - std::ldexp(1.0, -static_cast<int>(old));  // exact powers of 2
    regs_[idx] = rank;
  }

  void invalidate_hip() noexcept {
    hip_valid_ = false;
    hip_ = 0;
    double kxq = 0;
    for (std::uint8_t r : regs_) kxq += std::ldexp(1.0, -static_cast<int>(r));
    kxq_ = kxq;
  }

  bool all_zero() const noexcept {
    return std::all_of(regs_.begin(), regs_.end(), [](std::uint8_t r) { return r == 0; });
  }

  /// The rank register i (of a sketch 2^d times finer) has at the coarser precision.
  static std::uint8_t folded_rank(std::size_t i, std::uint8_t r, int d) noexcept {
    const std::uint64_t low = static_cast<std::uint64_t>(i) & ((std::uint64_t{1} << d) - 1);
    if (low != 0) return static_cast<std::uint8_t>(d - std::bit_width(low) + 1);
    return static_cast<std::uint8_t>(r + d);
  }

  static double sigma(double x) noexcept {
    if (x == 1.0) return std::numeric_limits<double>::infinity();
    double y = 1.0, z = x, prev;
    do {
      x *= x;
      prev = z;
      z += x * y;
      y += y;
    } while (z != prev);
    return z;
  }

  static double tau(double x) noexcept {
    if (x == 0.0 || x == 1.0) return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
      x = std::sqrt(x);
      prev = z;
      y *= 0.5;
      z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != prev);
    return z / 3.0;
  }

  item_hasher hasher_;
  int lg_k_ = 12;
  std::vector<std::uint8_t> regs_;
  double kxq_ = 0;   // sum of 2^-register
  double hip_ = 0;   // HIP running estimate
  bool hip_valid_ = true;
};

}  // namespace neural_trader::sketch
