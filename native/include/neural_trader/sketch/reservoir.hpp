/// @file reservoir.hpp
/// @brief Reservoir sampling of k items from a stream of unknown length: uniform (Li's
/// Algorithm L, 1994) or weighted (Efraimidis & Spirakis' A-ExpJ, 2006), mergeable.
///
/// The sampler decides *which* stream positions occupy the k slots; the caller stores the items
/// (Python objects, NumPy rows, anything). `offer(n, assign)` consumes the next n stream
/// positions and calls `assign(slot, offset)` whenever the item at `offset` of that batch takes
/// `slot` (a later call for the same slot overrides an earlier one).
///
/// - Uniform: after n items every subset of size min(k, n) is equally likely. Algorithm L draws
///   the gap to the next accepted item directly, so the cost is O(k (1 + log(N / k))) random
///   numbers for N items, not one per item.
/// - Weighted: A-ExpJ gives item i the key u_i^(1 / w_i) and keeps the k largest keys (a
///   weighted sample without replacement, Efraimidis & Spirakis' A-Res), drawing the weight
///   to skip with exponential jumps. Keys are kept as log(u) / w for range.
/// - Merge: uniform reservoirs merge by drawing how many of the k come from each side from the
///   hypergeometric distribution of the two stream lengths, then uniform subsets of each
///   sample; the skip state restarts from the distribution of the k-th smallest of N uniform
///   keys (Beta(k, N - k + 1)). Weighted reservoirs keep the k largest keys of both.
///
/// Random numbers come from `sketch_rng` (common/hash.hpp): the same seed and the same stream give
/// the same sample. Thread safety: single writer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../common/hash.hpp"
#include "../common/serialize.hpp"

namespace neural_trader::sketch {

class reservoir_sampler {
 public:
  static constexpr std::uint32_t magic = make_magic('N', 'T', 'R', 'S');
  static constexpr std::uint16_t format_version = 1;
  static constexpr std::uint64_t max_k = std::uint64_t{1} << 28;
  static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

  reservoir_sampler(std::uint64_t k, std::uint64_t seed, bool weighted)
      : k_(k), seed_(seed), weighted_(weighted), rng_(seed) {
    if (k < 1 || k > max_k) throw std::invalid_argument("k must be in [1, 2^28], got " + std::to_string(k));
  }

  std::uint64_t k() const noexcept { return k_; }
  std::uint64_t seed() const noexcept { return seed_; }
  bool weighted() const noexcept { return weighted_; }
  /// Items offered so far.
  std::uint64_t seen() const noexcept { return seen_; }
  /// Sum of the weights offered (weighted mode).
  double total_weight() const noexcept { return total_weight_; }
  /// Slots filled: min(k, seen) (weighted: items with a positive weight, at most k).
  std::size_t size() const noexcept { return index_.size(); }
  /// Stream position (0-based) of the item in each slot.
  const std::vector<std::uint64_t>& indices() const noexcept { return index_; }
  const std::vector<double>& keys() const noexcept { return keys_; }

  /// Uniform mode: the next n stream positions.
  template <class Assign>
  void offer(std::uint64_t n, Assign&& assign) {
    if (weighted_) throw std::invalid_argument("a weighted reservoir needs a weight for every item");
    std::uint64_t off = 0;
    while (off < n && index_.size() < k_) {
      assign(static_cast<std::size_t>(index_.size()), off);
      index_.push_back(seen_ + off);
      ++off;
      if (index_.size() == k_) {
        w_ = std::exp(std::log(rng_.uniform_pos()) / static_cast<double>(k_));
        next_ = skip_from(seen_ + off - 1);
      }
    }
    const std::uint64_t end = seen_ + n;
    while (index_.size() == k_ && next_ < end) {
      const auto slot = static_cast<std::size_t>(rng_.below(k_));
      assign(slot, next_ - seen_);
      index_[slot] = next_;
      w_ *= std::exp(std::log(rng_.uniform_pos()) / static_cast<double>(k_));
      next_ = skip_from(next_);
    }
    seen_ = end;
  }

  /// Weighted mode: n items with weights w[0..n) (finite, >= 0; 0 is never sampled).
  template <class Assign>
  void offer_weighted(const double* w, std::uint64_t n, Assign&& assign) {
    if (!weighted_) throw std::invalid_argument("weights given to a uniform reservoir (make it with weighted=True)");
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!(w[i] >= 0) || !std::isfinite(w[i])) {
        throw std::invalid_argument("weights must be finite and >= 0, got " + std::to_string(w[i]) + " at " +
                                    std::to_string(i));
      }
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      const double wi = w[i];
      total_weight_ += wi;
      if (wi == 0) continue;
      if (index_.size() < k_) {
        const std::size_t slot = index_.size();
        index_.push_back(seen_ + i);
        keys_.push_back(std::log(rng_.uniform_pos()) / wi);
        heap_.push_back(static_cast<std::uint32_t>(slot));
        sift_up(heap_.size() - 1);
        assign(slot, i);
        if (index_.size() == k_) new_jump();
        continue;
      }
      skip_ -= wi;
      if (skip_ > 0) continue;
      // Accepted: its key is drawn conditioned on beating the smallest key.
      const double lt = keys_[heap_[0]];
      const double t = std::exp(wi * lt);
      const double r2 = t + (1.0 - t) * rng_.uniform_pos();
      const std::size_t slot = heap_[0];
      keys_[slot] = std::log(r2) / wi;
      index_[slot] = seen_ + i;
      sift_down(0);
      assign(slot, i);
      new_jump();
    }
    seen_ += n;
  }

  /// Merges another reservoir (same mode and k). Returns, for each slot of the result, where its
  /// item comes from: {0 = this, 1 = other; slot there}.
  std::vector<std::pair<int, std::size_t>> merge(const reservoir_sampler& o) {
    if (o.weighted_ != weighted_ || o.k_ != k_) {
      throw std::invalid_argument("cannot merge reservoirs of different k or mode (k=" + std::to_string(k_) +
                                  (weighted_ ? " weighted" : " uniform") + " and k=" + std::to_string(o.k_) +
                                  (o.weighted_ ? " weighted" : " uniform") + ")");
    }
    std::vector<std::pair<int, std::size_t>> from;
    if (weighted_) {
      std::vector<std::pair<double, std::pair<int, std::size_t>>> all;
      for (std::size_t i = 0; i < keys_.size(); ++i) all.push_back({keys_[i], {0, i}});
      for (std::size_t i = 0; i < o.keys_.size(); ++i) all.push_back({o.keys_[i], {1, i}});
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      if (all.size() > k_) all.resize(static_cast<std::size_t>(k_));
      std::vector<std::uint64_t> idx;
      std::vector<double> keys;
      for (const auto& [key, src] : all) {
        from.push_back(src);
        keys.push_back(key);
        idx.push_back(src.first == 0 ? index_[src.second] : seen_ + o.index_[src.second]);
      }
      index_ = std::move(idx);
      keys_ = std::move(keys);
      heap_.clear();
      for (std::size_t i = 0; i < keys_.size(); ++i) {
        heap_.push_back(static_cast<std::uint32_t>(i));
        sift_up(i);
      }
      seen_ += o.seen_;
      total_weight_ += o.total_weight_;
      if (index_.size() == k_) new_jump();
      return from;
    }
    // Uniform: how many of the merged sample come from each side is hypergeometric.
    const std::uint64_t n_total = seen_ + o.seen_;
    const std::uint64_t take = std::min<std::uint64_t>(k_, n_total);
    std::uint64_t rem_a = seen_, rem_b = o.seen_, from_a = 0;
    for (std::uint64_t i = 0; i < take; ++i) {
      const double p = static_cast<double>(rem_a) / static_cast<double>(rem_a + rem_b);
      if (rng_.uniform() < p) {
        ++from_a;
        --rem_a;
      } else {
        --rem_b;
      }
    }
    const std::uint64_t from_b = take - from_a;
    auto pick = [&](std::size_t have, std::uint64_t want) {
      std::vector<std::size_t> ids(have);
      for (std::size_t i = 0; i < have; ++i) ids[i] = i;
      for (std::uint64_t i = 0; i < want; ++i) {
        const auto j = static_cast<std::size_t>(i + rng_.below(have - i));
        std::swap(ids[static_cast<std::size_t>(i)], ids[j]);
      }
      ids.resize(static_cast<std::size_t>(want));
      return ids;
    };
    const auto a = pick(index_.size(), from_a);
    const auto b = pick(o.index_.size(), from_b);
    std::vector<std::uint64_t> idx;
    for (auto i : a) {
      from.push_back({0, i});
      idx.push_back(index_[i]);
    }
    for (auto i : b) {
      from.push_back({1, i});
      idx.push_back(seen_ + o.index_[i]);
    }
    index_ = std::move(idx);
    seen_ = n_total;
    if (index_.size() == k_) {
      w_ = beta_kth_smallest(k_, seen_);
      next_ = skip_from(seen_ - 1);
    }
    return from;
  }

  /// Format 1: u64 k, u64 seed, u8 weighted, u64 rng state, u64 seen, f64 total weight,
  /// f64 w, u64 next, f64 skip, u64 size, size x u64 indices, (weighted) size x f64 keys,
  /// then the caller's item payload (u64 length + bytes).
  std::vector<unsigned char> serialize(const void* items, std::size_t items_size) const {
    frame_writer w(magic, format_version);
    w.put<std::uint64_t>(k_).put<std::uint64_t>(seed_).put<std::uint8_t>(weighted_ ? 1 : 0);
    w.put<std::uint64_t>(rng_.state()).put<std::uint64_t>(seen_).put<double>(total_weight_);
    w.put<double>(w_).put<std::uint64_t>(next_).put<double>(skip_);
    w.put<std::uint64_t>(index_.size());
    w.put_array(index_.data(), index_.size());
    if (weighted_) w.put_array(keys_.data(), keys_.size());
    w.put<std::uint64_t>(items_size);
    w.put_bytes(items, items_size);
    return w.finish();
  }

  /// Reads the sampler and returns it with a pointer/size to the item payload inside `data`.
  static reservoir_sampler deserialize(const void* data, std::size_t size, const unsigned char** items,
                                       std::size_t* items_size) {
    frame_reader r(data, size, magic, 1, format_version, "Reservoir");
    const auto k = r.get_size(1, max_k, "k");
    const auto seed = r.get<std::uint64_t>();
    const auto wt = r.get<std::uint8_t>();
    if (wt > 1) r.fail("bad mode flag");
    reservoir_sampler s(k, seed, wt == 1);
    s.rng_.set_state(r.get<std::uint64_t>());
    s.seen_ = r.get<std::uint64_t>();
    s.total_weight_ = r.get<double>();
    s.w_ = r.get<double>();
    s.next_ = r.get<std::uint64_t>();
    s.skip_ = r.get<double>();
    if (!(s.total_weight_ >= 0) || !(s.w_ >= 0 && s.w_ <= 1) || std::isnan(s.skip_)) r.fail("bad sampler state");
    const auto n = r.get_size(0, k, "sample size");
    if (!s.weighted_ && n != std::min(k, s.seen_)) r.fail("sample size disagrees with the stream length");
    if (n > s.seen_) r.fail("sample larger than the stream");
    if (!s.weighted_ && n == k && s.next_ < s.seen_) r.fail("bad skip state");
    s.index_ = r.get_array<std::uint64_t>(n);
    for (auto i : s.index_) {
      if (i >= s.seen_) r.fail("sample index beyond the stream");
    }
    if (s.weighted_) {
      s.keys_ = r.get_array<double>(n);
      for (double key : s.keys_) {
        if (!(key <= 0)) r.fail("bad weighted key");
      }
      for (std::size_t i = 0; i < n; ++i) {
        s.heap_.push_back(static_cast<std::uint32_t>(i));
        s.sift_up(i);
      }
    }
    const auto len = r.get<std::uint64_t>();
    if (len != r.remaining()) r.fail("item payload size disagrees with the input");
    *items_size = static_cast<std::size_t>(len);
    *items = r.get_bytes(*items_size);
    r.expect_end();
    return s;
  }

 private:
  /// Position of the next accepted item after position `pos` (Algorithm L).
  std::uint64_t skip_from(std::uint64_t pos) noexcept {
    const double lw = std::log1p(-w_);
    if (!(lw < 0)) return never;  // w_ underflowed to 0: nothing will be accepted any more
    const double gap = std::floor(std::log(rng_.uniform_pos()) / lw);
    if (!(gap < 9.0e18) || static_cast<std::uint64_t>(gap) >= never - pos - 1) return never;
    return pos + static_cast<std::uint64_t>(gap) + 1;
  }

  void new_jump() noexcept {
    const double lt = keys_[heap_[0]];
    skip_ = lt < 0 ? std::log(rng_.uniform_pos()) / lt : std::numeric_limits<double>::infinity();
  }

  bool less(std::size_t a, std::size_t b) const noexcept { return keys_[heap_[a]] < keys_[heap_[b]]; }
  void sift_up(std::size_t i) noexcept {
    while (i > 0) {
      const std::size_t p = (i - 1) / 2;
      if (!less(i, p)) break;
      std::swap(heap_[i], heap_[p]);
      i = p;
    }
  }
  void sift_down(std::size_t i) noexcept {
    for (;;) {
      const std::size_t l = 2 * i + 1, r = l + 1;
      std::size_t m = i;
      if (l < heap_.size() && less(l, m)) m = l;
      if (r < heap_.size() && less(r, m)) m = r;
      if (m == i) return;
      std::swap(heap_[i], heap_[m]);
      i = m;
    }
  }

  // Random variates for the merge (own implementations, reproducible on every platform given
  // the same libm): standard normal (Marsaglia polar), gamma (Marsaglia & Tsang 2000).
  double normal() noexcept {
    for (;;) {
      const double u = 2 * rng_.uniform() - 1, v = 2 * rng_.uniform() - 1;
      const double s = u * u + v * v;
      if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
    }
  }
  double gamma(double a) noexcept {
    if (a < 1) return gamma(a + 1) * std::pow(rng_.uniform_pos(), 1 / a);
    const double d = a - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = rng_.uniform_pos();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  /// The k-th smallest of n uniforms: Beta(k, n - k + 1).
  double beta_kth_smallest(std::uint64_t k, std::uint64_t n) noexcept {
    const double x = gamma(static_cast<double>(k));
    const double y = gamma(static_cast<double>(n - k + 1));
    return x / (x + y);
  }

  std::uint64_t k_;
  std::uint64_t seed_;
  bool weighted_;
  sketch_rng rng_;
  std::uint64_t seen_ = 0;
  double total_weight_ = 0;
  double w_ = 0;                 // Algorithm L: the largest key in the sample
  std::uint64_t next_ = never;   // Algorithm L: position of the next accepted item
  double skip_ = 0;              // A-ExpJ: weight still to skip
  std::vector<std::uint64_t> index_;
  std::vector<double> keys_;     // A-ExpJ: log keys per slot
  std::vector<std::uint32_t> heap_;  // A-ExpJ: slots, smallest key first
};

}  // namespace neural_trader::sketch
