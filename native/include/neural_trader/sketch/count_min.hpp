/// @file count_min.hpp
/// @brief Count-min sketch (Cormode & Muthukrishnan 2005) with optional conservative update and
/// a heavy-hitter list tracked alongside.
///
/// `depth` rows of `width` 64-bit counters. An item with hash h lands in row r at column
/// mulhi(h * a_r + b_r, width) with per-row odd multipliers a_r and offsets b_r derived from the
/// seed. A point query returns the minimum over the rows: never below the true count, and with
/// width = ceil(e / epsilon), depth = ceil(ln(1 / delta)) above it by more than epsilon * N
/// (N = total count) with probability at most delta.
///
/// Conservative update (Estan & Varghese 2002) raises each row only as far as the new minimum
/// needs: still never an under-estimate, usually much tighter; merged sketches stay valid upper
/// bounds.
///
/// Heavy hitters: with `top > 0`, a candidate list of at most `top` items (their canonical
/// keys) is kept: an item enters when its estimate after an update beats the smallest estimate
/// in a full list. `top_k(k)` returns the k candidates with the largest current estimates.
///
/// Counters saturate at 2^64 - 1 instead of wrapping; no counter ever exceeds the total count
/// (checked on load), which lets batches that cannot reach 2^64 - 1 skip the saturation test.
/// Thread safety: single writer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../common/hash.hpp"
#include "../common/serialize.hpp"
#include "../common/threads.hpp"

namespace neural_trader::sketch {

/// The canonical key of an item, kept for heavy hitters: kind and canonical bytes (8 LE bytes
/// for integers and floats, the UTF-8 / raw bytes for text and bytes).
struct item_key {
  enum kind_t : std::uint8_t { integer = 0, floating = 1, text = 2, bytes = 3 };
  std::uint8_t kind = integer;
  std::string data;

  static item_key of_int(std::int64_t v) {
    item_key k;
    k.kind = integer;
    k.data.resize(8);
    detail::store_le(reinterpret_cast<unsigned char*>(k.data.data()), v);
    return k;
  }
  static item_key of_float(double v) {
    item_key k;
    k.kind = floating;
    k.data.resize(8);
    detail::store_le(reinterpret_cast<unsigned char*>(k.data.data()), canonical_float_bits(v));
    return k;
  }
  static item_key of_bytes(const void* p, std::size_t n, bool is_text) {
    item_key k;
    k.kind = is_text ? text : bytes;
    k.data.assign(static_cast<const char*>(p), n);
    return k;
  }
  std::uint64_t hash(const item_hasher& h) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    switch (kind) {
      case integer: return h.hash_int(detail::load_le<std::int64_t>(p));
      case floating: return h.hash_float_bits(detail::load_le<std::uint64_t>(p));
      default: return h.hash_bytes(p, data.size());
    }
  }
};

class count_min {
 public:
  static constexpr std::uint32_t magic = make_magic('N', 'T', 'C', 'M');
  static constexpr std::uint16_t format_version = 1;
  static constexpr std::uint64_t max_width = std::uint64_t{1} << 31;
  static constexpr std::uint32_t max_depth = 64;
  static constexpr std::uint64_t max_cells = std::uint64_t{1} << 30;
  static constexpr std::uint32_t max_top = 1u << 16;

  struct candidate {
    std::uint64_t hash;
    item_key key;
  };

  count_min(std::uint64_t width, std::uint32_t depth, std::uint64_t seed = 0, bool conservative = false,
            std::uint32_t top = 0)
      : hasher_(seed), width_(width), depth_(depth), conservative_(conservative), top_(top) {
    if (width < 1 || width > max_width) {
      throw std::invalid_argument("width must be in [1, 2^31], got " + std::to_string(width));
    }
    if (depth < 1 || depth > max_depth) {
      throw std::invalid_argument("depth must be in [1, 64], got " + std::to_string(depth));
    }
    if (width * depth > max_cells) throw std::invalid_argument("width * depth exceeds 2^30 counters");
    if (top > max_top) throw std::invalid_argument("top must be in [0, 65536], got " + std::to_string(top));
    table_.assign(static_cast<std::size_t>(width * depth), 0);
    a_.resize(depth);
    b_.resize(depth);
    sketch_rng rng(seed ^ 0x6A09E667F3BCC908ull);
    for (std::uint32_t r = 0; r < depth; ++r) {
      a_[r] = rng.next() | 1;
      b_[r] = rng.next();
    }
  }

  /// Width and depth for an additive error of epsilon * N with probability >= 1 - delta.
  static std::pair<std::uint64_t, std::uint32_t> dimensions_for(double epsilon, double delta) {
    if (!(epsilon > 0 && epsilon < 1)) throw std::invalid_argument("epsilon must be in (0, 1)");
    if (!(delta > 0 && delta < 1)) throw std::invalid_argument("delta must be in (0, 1)");
    const double w = std::ceil(std::exp(1.0) / epsilon);
    const double d = std::ceil(std::log(1.0 / delta));
    if (w > static_cast<double>(max_width)) throw std::invalid_argument("epsilon too small: width would exceed 2^31");
    return {static_cast<std::uint64_t>(w), static_cast<std::uint32_t>(std::max(1.0, d))};
  }

  std::uint64_t width() const noexcept { return width_; }
  std::uint32_t depth() const noexcept { return depth_; }
  std::uint64_t seed() const noexcept { return hasher_.seed(); }
  bool conservative() const noexcept { return conservative_; }
  std::uint32_t top() const noexcept { return top_; }
  std::uint64_t total() const noexcept { return total_; }
  const item_hasher& hasher() const noexcept { return hasher_; }
  const std::vector<std::uint64_t>& table() const noexcept { return table_; }
  /// epsilon of the classic bound (e / width).
  double epsilon() const noexcept { return std::exp(1.0) / static_cast<double>(width_); }
  /// delta of the classic bound (exp(-depth)).
  double delta() const noexcept { return std::exp(-static_cast<double>(depth_)); }

  std::size_t column(std::uint32_t row, std::uint64_t h) const noexcept {
    return static_cast<std::size_t>(mulhi64(h * a_[row] + b_[row], width_));
  }

  /// Adds `count` to an item by hash; returns its estimate afterwards.
  std::uint64_t update_hash(std::uint64_t h, std::uint64_t count) noexcept {
    total_ = sat_add(total_, count);
    std::uint64_t* t = table_.data();
    if (!conservative_) {
      std::uint64_t est = std::numeric_limits<std::uint64_t>::max();
      for (std::uint32_t r = 0; r < depth_; ++r) {
        std::uint64_t& c = t[r * width_ + column(r, h)];
        c = sat_add(c, count);
        est = std::min(est, c);
      }
      return est;
    }
    std::uint64_t est = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t r = 0; r < depth_; ++r) est = std::min(est, t[r * width_ + column(r, h)]);
    const std::uint64_t target = sat_add(est, count);
    for (std::uint32_t r = 0; r < depth_; ++r) {
      std::uint64_t& c = t[r * width_ + column(r, h)];
      c = std::max(c, target);
    }
    return target;
  }

  /// Adds `count` to an item; `key()` makes its canonical key, called only when the heavy-hitter
  /// list takes the item.
  template <class KeyFn>
  void update(std::uint64_t h, std::uint64_t count, KeyFn&& key) {
    const std::uint64_t est = update_hash(h, count);
    if (top_ != 0 && est >= threshold_) track(h, est, key);
  }

  /// Items per thread below which a batch update starts no more threads.
  static constexpr std::size_t items_per_thread = std::size_t{1} << 16;

  /// Batch update of hashes with counts (nullptr: 1 each) and no heavy-hitter tracking. The
  /// cells of the item `ahead` positions on are computed and prefetched first (the table is
  /// usually larger than the L2 cache). `threads` as for update_items.
  void update_hashes(const std::uint64_t* h, const std::uint64_t* counts, std::size_t n, int threads = 1) {
    auto at = [h](std::size_t i) noexcept { return h[i]; };
    if (try_plain(at, counts, n, threads)) return;
    update_hashes_general(h, counts, n);
  }

  /// Batch update of n items whose hashes hash_at(i) gives (no heavy-hitter tracking), hashed
  /// inside the loop where the plain path runs, else in chunks.
  ///
  /// threads (0: get_num_threads()): the plain update (not conservative, no saturation
  /// possible) of a batch of at least 2 * items_per_thread items is split by *row*: each thread
  /// reads the whole batch and adds it to its own rows, so the counters equal a one-thread
  /// run's exactly; hash_at is then called by several threads at once and must be a pure
  /// function of i. Conservative updates depend on the order of the items and stay on one
  /// thread.
  template <class HashAt>
  void update_items(std::size_t n, HashAt&& hash_at, const std::uint64_t* counts, int threads = 1) {
    if (try_plain(hash_at, counts, n, threads)) return;
    constexpr std::size_t chunk = 1024;
    std::uint64_t buf[chunk];
    for (std::size_t from = 0; from < n; from += chunk) {
      const std::size_t m = std::min(chunk, n - from);
      for (std::size_t i = 0; i < m; ++i) buf[i] = hash_at(from + i);
      update_hashes_general(buf, counts != nullptr ? counts + from : nullptr, m);
    }
  }

 private:
  /// Runs the plain batch when it applies (not conservative, depth <= 8, no saturation
  /// possible); false when the caller must take the general path.
  template <class HashAt>
  bool try_plain(HashAt& at, const std::uint64_t* counts, std::size_t n, int threads) {
    std::uint64_t added = 0;
    if (conservative_ || depth_ > 8 || !fits_unsaturated(counts, n, added)) return false;
    const std::size_t t = std::min<std::size_t>(threads_for(n, items_per_thread, threads), depth_);
    if (t <= 1) {
      plain_rows(at, counts, n, 0, depth_);
    } else {
      parallel_for(
          t,
          [&](std::size_t first, std::size_t last) {
            for (std::size_t part = first; part < last; ++part) {
              const auto r0 = static_cast<std::uint32_t>(depth_ * part / t);
              const auto r1 = static_cast<std::uint32_t>(depth_ * (part + 1) / t);
              plain_rows(at, counts, n, r0, r1 - r0);
            }
          },
          static_cast<int>(t));
    }
    total_ += added;
    return true;
  }

  /// The plain batch over rows [r0, r0 + rows), rows in 1..8.
  template <class HashAt>
  void plain_rows(HashAt& at, const std::uint64_t* counts, std::size_t n, std::uint32_t r0,
                  std::uint32_t rows) noexcept {
    switch (rows) {
      case 1: plain_batch<1>(at, counts, n, r0); break;
      case 2: plain_batch<2>(at, counts, n, r0); break;
      case 3: plain_batch<3>(at, counts, n, r0); break;
      case 4: plain_batch<4>(at, counts, n, r0); break;
      case 5: plain_batch<5>(at, counts, n, r0); break;
      case 6: plain_batch<6>(at, counts, n, r0); break;
      case 7: plain_batch<7>(at, counts, n, r0); break;
      default: plain_batch<8>(at, counts, n, r0); break;
    }
  }

  void update_hashes_general(const std::uint64_t* h, const std::uint64_t* counts, std::size_t n) noexcept {
    if (depth_ > max_prefetch_rows) {
      for (std::size_t i = 0; i < n; ++i) update_hash(h[i], counts ? counts[i] : 1);
      return;
    }
    auto none = [](std::size_t, std::uint64_t, std::uint64_t) noexcept {};
    if (conservative_) {
      if (counts) batch<true, true, false>(h, counts, n, none); else batch<true, false, false>(h, counts, n, none);
    } else {
      if (counts) batch<false, true, false>(h, counts, n, none); else batch<false, false, false>(h, counts, n, none);
    }
  }


 public:
  /// Batch update with the heavy-hitter list kept: `key(i)` makes the canonical key of item i,
  /// called only when the list takes it.
  template <class KeyFn>
  void update_hashes_tracked(const std::uint64_t* h, const std::uint64_t* counts, std::size_t n, KeyFn&& key) {
    if (top_ == 0) {
      update_hashes(h, counts, n);
      return;
    }
    if (depth_ > max_prefetch_rows) {
      for (std::size_t i = 0; i < n; ++i) update(h[i], counts ? counts[i] : 1, [&] { return key(i); });
      return;
    }
    auto on_est = [&](std::size_t i, std::uint64_t hi, std::uint64_t est) {
      auto k = [&] { return key(i); };
      track(hi, est, k);
    };
    if (conservative_) {
      if (counts) batch<true, true, true>(h, counts, n, on_est); else batch<true, false, true>(h, counts, n, on_est);
    } else {
      if (counts) batch<false, true, true>(h, counts, n, on_est); else batch<false, false, true>(h, counts, n, on_est);
    }
  }

  std::uint64_t estimate_hash(std::uint64_t h) const noexcept {
    std::uint64_t est = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t* t = table_.data();
    for (std::uint32_t r = 0; r < depth_; ++r) est = std::min(est, t[r * width_ + column(r, h)]);
    return est;
  }

  /// The heavy-hitter candidates with their current estimates, largest first (at most k).
  std::vector<std::pair<const candidate*, std::uint64_t>> top_k(std::size_t k) const {
    std::vector<std::pair<const candidate*, std::uint64_t>> out;
    out.reserve(cands_.size());
    for (const auto& c : cands_) out.emplace_back(&c, estimate_hash(c.hash));
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
      if (x.second != y.second) return x.second > y.second;
      return x.first->hash < y.first->hash;
    });
    if (out.size() > k) out.resize(k);
    return out;
  }
  const std::vector<candidate>& candidates() const noexcept { return cands_; }

  bool compatible(const count_min& o) const noexcept {
    return width_ == o.width_ && depth_ == o.depth_ && seed() == o.seed();
  }

  /// Adds another sketch's counts (same width, depth and seed); merges the candidate lists.
  void merge(const count_min& o) {
    if (!compatible(o)) {
      throw std::invalid_argument("cannot merge count-min sketches of different width, depth or seed (" +
                                  describe() + " and " + o.describe() + ")");
    }
    if (&o == this) {
      for (auto& c : table_) c = sat_add(c, c);
      total_ = sat_add(total_, total_);
      return;
    }
    for (std::size_t i = 0; i < table_.size(); ++i) table_[i] = sat_add(table_[i], o.table_[i]);
    total_ = sat_add(total_, o.total_);
    if (top_ == 0) return;
    std::vector<candidate> all = cands_;
    for (const auto& c : o.cands_) {
      if (index_.find(c.hash) == index_.end()) all.push_back(c);
    }
    rebuild_candidates(std::move(all));
  }

  void clear() noexcept {
    std::fill(table_.begin(), table_.end(), std::uint64_t{0});
    total_ = 0;
    cands_.clear();
    index_.clear();
    threshold_ = 0;
  }

  std::string describe() const {
    return "width=" + std::to_string(width_) + " depth=" + std::to_string(depth_) + " seed=" + std::to_string(seed());
  }

  /// Format 1: u64 width, u32 depth, u64 seed, u8 conservative, u32 top, u64 total,
  /// width*depth u64 counters, u32 candidates, each: u8 kind, u64-length-prefixed key bytes.
  std::vector<unsigned char> serialize() const {
    frame_writer w(magic, format_version);
    w.put<std::uint64_t>(width_).put<std::uint32_t>(depth_).put<std::uint64_t>(seed());
    w.put<std::uint8_t>(conservative_ ? 1 : 0).put<std::uint32_t>(top_).put<std::uint64_t>(total_);
    w.put_array(table_.data(), table_.size());
    w.put<std::uint32_t>(static_cast<std::uint32_t>(cands_.size()));
    for (const auto& c : cands_) {
      w.put<std::uint8_t>(c.key.kind);
      w.put_string(c.key.data);
    }
    return w.finish();
  }

  static count_min deserialize(const void* data, std::size_t size) {
    frame_reader r(data, size, magic, 1, format_version, "CountMinSketch");
    const auto width = r.get_size(1, max_width, "width");
    const auto depth = static_cast<std::uint32_t>(r.get<std::uint32_t>());
    if (depth < 1 || depth > max_depth) r.fail("depth " + std::to_string(depth) + " out of range");
    if (width * depth > max_cells) r.fail("width * depth too large");
    const auto seed = r.get<std::uint64_t>();
    const auto cons = r.get<std::uint8_t>();
    if (cons > 1) r.fail("bad conservative flag");
    const auto top = r.get<std::uint32_t>();
    if (top > max_top) r.fail("top out of range");
    const auto total = r.get<std::uint64_t>();
    if (r.remaining() / 8 < width * depth) r.fail("counter table exceeds the input");
    count_min s(width, depth, seed, cons == 1, top);
    s.table_ = r.get_array<std::uint64_t>(width * depth);
    s.total_ = total;
    for (const std::uint64_t c : s.table_) {
      if (c > total) r.fail("a counter exceeds the total count");
    }
    const auto n = r.get<std::uint32_t>();
    if (n > top) r.fail("more heavy-hitter candidates than top");
    std::vector<candidate> cands;
    for (std::uint32_t i = 0; i < n; ++i) {
      candidate c;
      c.key.kind = r.get<std::uint8_t>();
      if (c.key.kind > item_key::bytes) r.fail("bad item kind");
      c.key.data = r.get_string(1u << 24);
      if (c.key.kind <= item_key::floating && c.key.data.size() != 8) r.fail("bad numeric key size");
      c.hash = c.key.hash(s.hasher_);
      cands.push_back(std::move(c));
    }
    r.expect_end();
    s.rebuild_candidates(std::move(cands));
    if (s.cands_.size() != n) r.fail("duplicate heavy-hitter candidates");
    return s;
  }

 private:
  static constexpr std::uint32_t max_prefetch_rows = 16;

  /// The batch loop. With Track, on_est(i, hash, estimate) is called for every item whose
  /// estimate after the update reaches the heavy-hitter threshold.
  template <bool Conservative, bool Counts, bool Track, class OnEst>
  void batch(const std::uint64_t* h, const std::uint64_t* counts, std::size_t n, OnEst&& on_est) {
    constexpr std::size_t ahead = 8;
    std::size_t cells[ahead][max_prefetch_rows];
    std::uint64_t* t = table_.data();
    const std::uint32_t depth = depth_;
    const std::uint64_t width = width_;
    // Local copies: the table is uint64_t too, so the compiler would reload these after each store.
    std::uint64_t a[max_prefetch_rows], b[max_prefetch_rows];
    for (std::uint32_t r = 0; r < depth; ++r) {
      a[r] = a_[r];
      b[r] = b_[r];
    }
    auto prepare = [&](std::size_t i) noexcept {
      std::size_t* c = cells[i % ahead];
      const std::uint64_t hi = h[i];
      for (std::uint32_t r = 0; r < depth; ++r) {
        c[r] = static_cast<std::size_t>(r * width + mulhi64(hi * a[r] + b[r], width));
        prefetch_cell(t + c[r]);
      }
    };
    for (std::size_t i = 0; i < n && i < ahead; ++i) prepare(i);
    std::uint64_t total = total_;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t* c = cells[i % ahead];
      std::uint64_t est = std::numeric_limits<std::uint64_t>::max();
      if constexpr (!Counts) {
        total += static_cast<std::uint64_t>(total != std::numeric_limits<std::uint64_t>::max());
        if constexpr (!Conservative) {
          for (std::uint32_t r = 0; r < depth; ++r) {
            std::uint64_t& x = t[c[r]];
            x += static_cast<std::uint64_t>(x != std::numeric_limits<std::uint64_t>::max());
            if constexpr (Track) est = std::min(est, x);
          }
        }
      } else {
        total = sat_add(total, counts[i]);
        if constexpr (!Conservative) {
          for (std::uint32_t r = 0; r < depth; ++r) {
            t[c[r]] = sat_add(t[c[r]], counts[i]);
            if constexpr (Track) est = std::min(est, t[c[r]]);
          }
        }
      }
      if constexpr (Conservative) {
        for (std::uint32_t r = 0; r < depth; ++r) est = std::min(est, t[c[r]]);
        const std::uint64_t target = sat_add(est, Counts ? counts[i] : 1);
        for (std::uint32_t r = 0; r < depth; ++r) t[c[r]] = std::max(t[c[r]], target);
        est = target;
      }
      if (i + ahead < n) prepare(i + ahead);
      if constexpr (Track) {
        if (est >= threshold_) {
          total_ = total;  // keep the sketch consistent while the list is updated
          on_est(i, h[i], est);
        }
      }
    }
    total_ = total;
  }

  /// Whether adding this batch can saturate nothing: every counter is at most the total
  /// (an invariant of every update and merge, checked on load), so a total that stays below
  /// 2^64 - 1 keeps every counter below it too.
  /// `added` receives the batch's total count when it fits.
  bool fits_unsaturated(const std::uint64_t* counts, std::size_t n, std::uint64_t& added) const noexcept {
    constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    if (counts == nullptr) {
      added = n;
      return n < top - total_;
    }
    std::uint64_t sum = total_;
    for (std::size_t i = 0; i < n; ++i) {
      if (counts[i] >= top - sum) return false;
      sum += counts[i];
    }
    added = sum - total_;
    return true;
  }

  /// The plain (not conservative, untracked) batch over D rows from r0 (D known at compile
  /// time), once fits_unsaturated() holds: the rows' cells of the item `ahead` on are computed
  /// and prefetched, then each counter is a plain add. The caller adds the total.
  template <std::uint32_t D, class HashAt>
  void plain_batch(HashAt& hash_at, const std::uint64_t* counts, std::size_t n, std::uint32_t r0) noexcept {
    constexpr std::size_t ahead = 8;
    std::uint32_t cells[ahead][D];  // width * depth <= 2^30
    std::uint64_t* t = table_.data() + static_cast<std::size_t>(r0) * width_;
    const std::uint64_t width = width_;
    std::uint64_t a[D], b[D];
    for (std::uint32_t r = 0; r < D; ++r) {
      a[r] = a_[r0 + r];
      b[r] = b_[r0 + r];
    }
    auto prepare = [&](std::size_t i) noexcept {
      std::uint32_t* c = cells[i % ahead];
      const std::uint64_t hi = hash_at(i);
      for (std::uint32_t r = 0; r < D; ++r) {
        c[r] = static_cast<std::uint32_t>(r * width + mulhi64(hi * a[r] + b[r], width));
        prefetch_cell(t + c[r]);
      }
    };
    for (std::size_t i = 0; i < n && i < ahead; ++i) prepare(i);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t* c = cells[i % ahead];
      const std::uint64_t v = counts != nullptr ? counts[i] : 1;
      for (std::uint32_t r = 0; r < D; ++r) t[c[r]] += v;
      if (i + ahead < n) prepare(i + ahead);
    }
  }

  static void prefetch_cell(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 1, 3);
#else
    (void)p;
#endif
  }

  static std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) noexcept {
    const std::uint64_t c = a + b;
    return c < a ? std::numeric_limits<std::uint64_t>::max() : c;
  }

  template <class KeyFn>
  void track(std::uint64_t h, std::uint64_t est, KeyFn& key) {
    if (index_.find(h) != index_.end()) return;  // already a candidate: its estimate is live
    if (cands_.size() < top_) {
      index_.emplace(h, cands_.size());
      cands_.push_back({h, key()});
      if (cands_.size() == top_) recompute_threshold();
      return;
    }
    if (est <= threshold_) return;
    // Replace the candidate with the smallest current estimate.
    std::size_t worst = 0;
    std::uint64_t worst_est = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t i = 0; i < cands_.size(); ++i) {
      const auto e = estimate_hash(cands_[i].hash);
      if (e < worst_est) {
        worst_est = e;
        worst = i;
      }
    }
    if (worst_est >= est) {
      threshold_ = worst_est;
      return;
    }
    index_.erase(cands_[worst].hash);
    cands_[worst] = {h, key()};
    index_.emplace(h, worst);
    recompute_threshold();
  }

  void recompute_threshold() noexcept {
    std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
    for (const auto& c : cands_) m = std::min(m, estimate_hash(c.hash));
    threshold_ = cands_.size() < top_ ? 0 : m;
  }

  void rebuild_candidates(std::vector<candidate> all) {
    std::vector<std::pair<std::uint64_t, std::size_t>> order;
    for (std::size_t i = 0; i < all.size(); ++i) order.emplace_back(estimate_hash(all[i].hash), i);
    std::sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
      if (x.first != y.first) return x.first > y.first;
      return all[x.second].hash < all[y.second].hash;
    });
    cands_.clear();
    index_.clear();
    for (const auto& [e, i] : order) {
      if (cands_.size() >= top_) break;
      if (index_.count(all[i].hash)) continue;
      index_.emplace(all[i].hash, cands_.size());
      cands_.push_back(std::move(all[i]));
    }
    recompute_threshold();
  }

  item_hasher hasher_;
  std::uint64_t width_;
  std::uint32_t depth_;
  bool conservative_;
  std::uint32_t top_;
  std::uint64_t total_ = 0;
  std::vector<std::uint64_t> table_;
  std::vector<std::uint64_t> a_, b_;
  std::vector<candidate> cands_;
  std::unordered_map<std::uint64_t, std::size_t> index_;
  std::uint64_t threshold_ = 0;
};

}  // namespace neural_trader::sketch
