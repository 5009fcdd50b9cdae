/// @file indicators.hpp
/// @brief The indicators: one state machine each, serving streaming (one update per input) and
/// batch (the same update in a loop) alike, so the two give the same bits.
///
/// Conventions (TA-Lib's, unless a comment says otherwise): parameter names and defaults,
/// look-back = number of leading NaNs on finite input, seeding of the recursive averages.
/// `update(in, out)` takes `n_in` inputs in TA-Lib's order and writes `n_out` outputs in TA-Lib's
/// order, NaN while warming up. Missing inputs (NaN, ±inf) are handled by `stream<>` (stream.hpp),
/// not here: a state only ever sees finite inputs.
///
/// `split_span()`, where an indicator has it, is a promise: each output is a function of the
/// last split_span() inputs only, its own step's included (a window's values and their relative
/// positions; no running sum or recursion that carries older rounding), so a new object fed the
/// split_span() - 1 inputs before a step gives the same bits from that step on. Batch runs over
/// long arrays use it to split the work across threads (stream.hpp, run_parts); test_ta checks
/// the promise, and that one less breaks it, for each indicator that makes it.
///
/// `settle_span()`, where an indicator has it, is an expectation, not a promise: the state is a
/// contracting recursion (exponential or Wilder smoothing: the weight of an input k steps back
/// decays like decay^k, and once two runs' states are within an ulp their roundings coincide
/// and they merge for good), so a new object fed the settle_span() inputs before a step is
/// expected to reach the very bits of one fed the whole history. Its seeding leftovers are
/// cleared and its counters saturate, so that equal states are equal bytes. run_parts uses it
/// speculatively and checks every part against the exact state, recomputing where they differ.
/// settle_for() gives the span from the recursion's decay length.
///
/// `split_cycle()`, where an indicator has it, is a promise about running sums refreshed from
/// the window on a fixed schedule (WMA, VAR and what is built on VAR): counting its finite
/// inputs from 1, the state after input number lead + j × cycle (j >= 0) is a function of the
/// window then (the last `period` inputs), and the outputs from there on depend on that state
/// and the inputs after. So a new object fed the finite inputs after number
/// lead + j × cycle - lead reaches that same state at that same input and gives the same bits.
#pragma once
#include <utility>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "blocks.hpp"

namespace neural_trader::ta {

/// settle_span() of a state whose slowest recursion has 1 / (1 - decay) = `decay_length` and
/// `depth` recursions chained (DEMA's EMA of an EMA: 2): 64 decay lengths per level bring an O(1)
/// relative difference under an ulp (2^-53 needs 37) with room left for the runs to merge (each
/// step merges one ulp apart with probability about 1 - decay); plus the look-back, for the seed.
inline std::size_t settle_for(double decay_length, int depth, int lookback) noexcept {
  return static_cast<std::size_t>(64.0 * decay_length * depth) + static_cast<std::size_t>(lookback) + 1;
}

/// Moving-average kinds accepted by TA-Lib's `matype` arguments that we implement.
enum class ma_kind : int { sma = 0, ema = 1, wma = 2, dema = 3, tema = 4, kama = 6 };

// ---------------------------------------------------------------------------------------------
// Overlap studies

struct sma {
  static constexpr int n_in = 1, n_out = 1;
  explicit sma(int period) : s_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  void update(const double* in, double* out) noexcept { out[0] = s_.update(in[0]); }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    return s_.run_block(in[0], out[0], n);
  }
  void reset() noexcept { s_.reset(); }
  template <class V>
  void visit(V& v) { v(s_); }

 private:
  sma_state s_;
  int period_;
};

struct ema {
  static constexpr int n_in = 1, n_out = 1;
  explicit ema(int period) : s_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  std::size_t settle_span() const noexcept { return settle_for((period_ + 1) / 2.0, 1, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept { out[0] = s_.update(in[0]); }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !s_.ready(); ++i) {
      bad |= missing_bit(x[i]);
      o[i] = s_.update(x[i]);
    }
    if (i == n) return bad;
    const double d = s_.decay(), g = s_.gain();
    double v = s_.value();
    for (; i < n; ++i) {
      v = std::fma(v, d, x[i] * g);
      o[i] = v;
    }
    s_.set_value(v);
    return bad | absorbed_missing(v);
  }
  void reset() noexcept { s_.reset(); }
  template <class V>
  void visit(V& v) { v(s_); }

 private:
  ema_state s_;
  int period_;
};

/// Weighted moving average: weights 1..period, the latest input weighing most. Running sums
/// (the window's sum and its weighted sum, kept shifted for the next step) with an exact
/// recomputation from the window every max(2 period, 128) steps, so rounding cannot drift over
/// long series (amortised O(1); batch and streaming refresh at the same steps).
struct wma {
  static constexpr int n_in = 1, n_out = 1;
  explicit wma(int period)
      : win_(period),
        period_(period),
        refresh_(period * 2 > 128 ? period * 2 : 128),
        divider_(static_cast<double>(period) * (period + 1) / 2.0) {}
  int lookback() const noexcept { return period_ - 1; }
  /// The window is first full at input `period`, refreshed `refresh_` inputs later and every
  /// `refresh_` after (the first full window's sums come of the warm-up, not of exact()).
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept {  // run_parts
    return {static_cast<std::size_t>(period_ + refresh_), static_cast<std::size_t>(refresh_)};
  }
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    if (!win_.full()) {
      // warm-up: weight of x is its position (1-based) among the first `period` inputs
      const double w = static_cast<double>(win_.size() + 1);
      sub_ += x;
      wsum_ += x * w;
      win_.push(x);
      if (!win_.full()) {
        out[0] = nan;
        return;
      }
      out[0] = wsum_ / divider_;
      wsum_ -= sub_;  // every weight drops by one for the next step
      return;
    }
    const double old = win_.oldest();
    const double t = x * period_;
    sub_ += x - old;
    win_.push(x);
    out[0] = (wsum_ + t) / divider_;
    if (++since_ >= refresh_) {
      exact([this](std::size_t i) { return win_.at(i); });
    } else {
      wsum_ += t - sub_;  // one addition on the dependency chain
    }
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* x = in[0];
    double* o = out[0];
    const std::size_t p = win_.capacity();
    if (n < 2 * p) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, p);
    const double pw = period_;
    const double div = divider_;
    const std::size_t refresh = static_cast<std::size_t>(refresh_);  // a local: stores to o[] may not alias it
    double sub = sub_, wsum = wsum_;
    std::size_t since = static_cast<std::size_t>(since_);
    for (std::size_t i = p; i < n;) {
      // the steps before the next refresh, without a test per step
      const std::size_t stop = std::min(n, i + (refresh - 1 - since));
      std::size_t j = i;
#if defined(NT_HAVE_VECTOR_EXT)
      // Four bars at a time: the weighted inputs, the changes and the outputs' divisions as
      // vectors, the two sums one addition per bar (update()'s operations, so its bits).
      if (j + 4 <= stop) {
        f64x4 seen4 = {};
        for (; j + 4 <= stop; j += 4) {
          f64x4 xs, olds;
          std::memcpy(&xs, x + j, sizeof xs);
          std::memcpy(&olds, x + j - p, sizeof olds);
          seen4 += xs;
          const f64x4 t = xs * pw, dx = xs - olds;
          const double s0 = sub + dx[0], s1 = s0 + dx[1], s2 = s1 + dx[2];
          sub = s2 + dx[3];
          const f64x4 u = t - f64x4{s0, s1, s2, sub};
          const double w1 = wsum + u[0], w2 = w1 + u[1], w3 = w2 + u[2];
          const f64x4 r = (f64x4{wsum, w1, w2, w3} + t) / div;
          wsum = w3 + u[3];
          std::memcpy(o + j, &r, sizeof r);
        }
        bad |= missing_bit(lane_sum(seen4));
      }
#endif
      for (; j < stop; ++j) {
        bad |= missing_bit(x[j]);
        const double t = x[j] * pw;
        sub += x[j] - x[j - p];
        o[j] = (wsum + t) / div;
        wsum += t - sub;
      }
      since += stop - i;
      i = stop;
      if (i == n) break;
      bad |= missing_bit(x[i]);  // the refresh step
      sub += x[i] - x[i - p];
      o[i] = (wsum + x[i] * pw) / div;
      const double* w = x + (i + 1 - p);
      exact([w](std::size_t r) { return w[r]; });
      sub = sub_;
      wsum = wsum_;
      since = 0;
      ++i;
    }
    sub_ = sub;
    wsum_ = wsum;
    since_ = static_cast<int>(since);
    win_.assign_tail(x + n - p);
    return bad;
  }
  void reset() noexcept {
    win_.reset();
    sub_ = 0.0;
    wsum_ = 0.0;
    since_ = 0;
  }
  template <class V>
  void visit(V& v) {
    v(win_);
    v(sub_);
    v(wsum_);
    v(since_);
    v.check(since_ >= 0 && since_ < refresh_, "wma refresh counter");
  }

 private:
  /// The sums from the window (oldest first): sub = sum, wsum = weights 0..period-1 (shifted).
  template <class At>
  void exact(At&& at) noexcept {
    const std::size_t p = win_.capacity();
    double a = 0.0, b = 0.0;
    for (std::size_t i = 0; i < p; ++i) {
      const double v = at(i);
      a += v;
      b += v * static_cast<double>(i);
    }
    sub_ = a;
    wsum_ = b;
    since_ = 0;
  }

  window win_;
  int period_;
  int refresh_;
  double divider_;  // 1 + 2 + ... + period
  double sub_ = 0.0;   // sum of the window
  double wsum_ = 0.0;  // weighted sum, weights already shifted for the next input
  int since_ = 0;
};

/// Double EMA: 2 * EMA(x) - EMA(EMA(x)); the second EMA is seeded by the mean of the first
/// `period` values of the first.
struct dema {
  static constexpr int n_in = 1, n_out = 1;
  explicit dema(int period) : e1_(period), e2_(period), period_(period) {}
  int lookback() const noexcept { return 2 * (period_ - 1); }
  std::size_t settle_span() const noexcept { return settle_for((period_ + 1) / 2.0, 2, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    const double a = e1_.update(in[0]);
    if (!e1_.ready()) {
      out[0] = nan;
      return;
    }
    const double b = e2_.update(a);
    out[0] = e2_.ready() ? 2.0 * a - b : nan;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !e2_.ready(); ++i) {
      bad |= missing_bit(x[i]);
      update(x + i, o + i);
    }
    if (i == n) return bad;
    const double d = e1_.decay(), g = e1_.gain();
    double a = e1_.value(), b = e2_.value();
    for (; i < n; ++i) {
      a = std::fma(a, d, x[i] * g);
      b = std::fma(b, d, a * g);
      o[i] = 2.0 * a - b;
    }
    e1_.set_value(a);
    e2_.set_value(b);
    return bad | absorbed_missing(a);
  }
  void reset() noexcept {
    e1_.reset();
    e2_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(e1_);
    v(e2_);
  }

 private:
  ema_state e1_, e2_;
  int period_;
};

/// Triple EMA: 3 * e1 - 3 * e2 + e3.
struct tema {
  static constexpr int n_in = 1, n_out = 1;
  explicit tema(int period) : e1_(period), e2_(period), e3_(period), period_(period) {}
  int lookback() const noexcept { return 3 * (period_ - 1); }
  std::size_t settle_span() const noexcept { return settle_for((period_ + 1) / 2.0, 3, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    out[0] = nan;
    const double a = e1_.update(in[0]);
    if (!e1_.ready()) return;
    const double b = e2_.update(a);
    if (!e2_.ready()) return;
    const double c = e3_.update(b);
    if (!e3_.ready()) return;
    out[0] = 3.0 * a - 3.0 * b + c;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !e3_.ready(); ++i) {
      bad |= missing_bit(x[i]);
      update(x + i, o + i);
    }
    if (i == n) return bad;
    const double d = e1_.decay(), g = e1_.gain();
    double a = e1_.value(), b = e2_.value(), c = e3_.value();
    for (; i < n; ++i) {
      a = std::fma(a, d, x[i] * g);
      b = std::fma(b, d, a * g);
      c = std::fma(c, d, b * g);
      o[i] = 3.0 * a - 3.0 * b + c;
    }
    e1_.set_value(a);
    e2_.set_value(b);
    e3_.set_value(c);
    return bad | absorbed_missing(a);
  }
  void reset() noexcept {
    e1_.reset();
    e2_.reset();
    e3_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(e1_);
    v(e2_);
    v(e3_);
  }

 private:
  ema_state e1_, e2_, e3_;
  int period_;
};

/// Kaufman adaptive moving average (TA-Lib: fast 2, slow 30 fixed). The efficiency ratio is
/// |x - x[t-period]| over the sum of the last `period` absolute one-step changes; the first
/// value uses the previous input as the previous KAMA.
struct kama {
  static constexpr int n_in = 1, n_out = 1;
  explicit kama(int period) : win_(period + 1), period_(period) {}
  int lookback() const noexcept { return period_; }
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    const bool had_prev = win_.size() > 0;
    const double prev_x = had_prev ? last_ : 0.0;
    double old = 0.0, old_next = 0.0;
    const bool full_before = win_.full();
    if (full_before) {
      old = win_.oldest();   // x[t - period - 1], leaves now
      old_next = win_.at(1);  // x[t - period]
    }
    win_.push(x);
    last_ = x;
    if (had_prev) sum_roc1_ += change_of_sum(x, prev_x, full_before ? old : 0.0, full_before ? old_next : 0.0);
    if (!win_.full()) {
      out[0] = nan;
      return;
    }
    if (!started_) {
      prev_kama_ = prev_x;
      started_ = true;
    }
    const double period_roc = x - win_.at(0);
    if (period_roc == 0.0 && win_.segments([x](const double* a, std::size_t na, const double* b, std::size_t nb) {
          return all_equal(a, na, x) && all_equal(b, nb, x);
        })) {
      sum_roc1_ = 0.0;  // see all_equal
    }
    prev_kama_ = smooth(prev_kama_, x, period_roc, sum_roc1_);
    out[0] = prev_kama_;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT o = out[0];
    const std::size_t w = win_.capacity();  // period + 1
    if (n < 2 * w) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, w);  // the window now holds x[0, w)
    const std::size_t p = static_cast<std::size_t>(period_);
    double sum = sum_roc1_, k = prev_kama_;
    double seen = 0.0;  // the inputs' sum: non-finite when one is
    std::size_t i = w;
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time where none of them has a zero period change (the only bars where the
    // flat-window rule can apply): the changes, the efficiency ratios and the smoothing
    // constants as vectors, the two recursions (the sum of changes, the KAMA) one step per bar.
    // The same operations as update()'s, element by element, so the same bits.
    {
      const f64x4 one = {1.0, 1.0, 1.0, 1.0};
      f64x4 seen4 = {};
      for (; i + 4 <= n; i += 4) {
        f64x4 xi, xb, xo, xob;  // x[i + k], x[i + k - 1], x[i + k - p], x[i + k - p - 1]
        std::memcpy(&xi, x + i, sizeof xi);
        std::memcpy(&xb, x + i - 1, sizeof xb);
        std::memcpy(&xo, x + i - p, sizeof xo);
        std::memcpy(&xob, x + i - p - 1, sizeof xob);
        const f64x4 roc = xi - xo;
        const i64x4 flat = roc == 0.0;
        if ((flat[0] | flat[1] | flat[2] | flat[3]) != 0) [[unlikely]] {
          for (std::size_t j = i; j < i + 4; ++j) k = scalar_step(x, j, p, sum, k, seen, o);
          continue;
        }
        seen4 += xi;
        const f64x4 d = (f64x4)((i64x4)(xi - xb) & abs_mask4) - (f64x4)((i64x4)(xob - xo) & abs_mask4);
        const double s0 = sum + d[0], s1 = s0 + d[1], s2 = s1 + d[2];
        sum = s2 + d[3];
        const f64x4 s = {s0, s1, s2, sum};
        const f64x4 er = ((s <= 0.0) | (s <= roc)) ? one : (f64x4)((i64x4)(roc / s) & abs_mask4);
        f64x4 sc = er * const_diff + const_max;
        sc *= sc;
        const f64x4 keep = one - sc, add = xi * sc;
        const double k0 = std::fma(k, keep[0], add[0]), k1 = std::fma(k0, keep[1], add[1]),
                     k2 = std::fma(k1, keep[2], add[2]);
        k = std::fma(k2, keep[3], add[3]);
        const f64x4 ks = {k0, k1, k2, k};
        std::memcpy(o + i, &ks, sizeof ks);
      }
      seen += lane_sum(seen4);
    }
#endif
    for (; i < n; ++i) k = scalar_step(x, i, p, sum, k, seen, o);
    bad |= missing_bit(seen);
    sum_roc1_ = sum;
    prev_kama_ = k;
    last_ = x[n - 1];
    win_.assign_tail(x + n - w);
    return bad;
  }
  void reset() noexcept {
    win_.reset();
    last_ = 0.0;
    sum_roc1_ = 0.0;
    prev_kama_ = 0.0;
    started_ = false;
  }
  template <class V>
  void visit(V& v) {
    v(win_);
    v(last_);
    v(sum_roc1_);
    v(prev_kama_);
    v(started_);
  }

 private:
  /// The sum of one-step changes moves by the new change less the one that leaves the window
  /// (0, 0 while it is not full): one addition on the sum's chain per bar.
  static double change_of_sum(double x, double prev, double leaving, double leaving_next) noexcept {
    return std::fabs(x - prev) - std::fabs(leaving - leaving_next);
  }
  /// update()'s step at bar i of the batch loop (a full window in x[i - p - 1, i]); returns the
  /// new KAMA after writing it to o[i].
  static double scalar_step(const double* NT_RESTRICT x, std::size_t i, std::size_t p, double& sum, double k,
                            double& seen, double* NT_RESTRICT o) noexcept {
    seen += x[i];
    sum += change_of_sum(x[i], x[i - 1], x[i - p - 1], x[i - p]);
    const double period_roc = x[i] - x[i - p];
    if (period_roc == 0.0 && all_equal(x + (i - p), p + 1, x[i])) [[unlikely]] sum = 0.0;
    k = smooth(k, x[i], period_roc, sum);
    o[i] = k;
    return k;
  }
  static constexpr double const_max = 2.0 / (30.0 + 1.0);
  static constexpr double const_diff = 2.0 / (2.0 + 1.0) - const_max;
  /// One KAMA step from the period change and the sum of changes (TA-Lib: efficiency ratio 1
  /// where the sum is not above 0 or not above the period change).
  static double smooth(double k, double x, double period_roc, double sum) noexcept {
    const double er = (sum <= 0.0 || sum <= period_roc) ? 1.0 : std::fabs(period_roc / sum);
    double sc = er * const_diff + const_max;
    sc *= sc;
    return std::fma(k, 1.0 - sc, x * sc);  // TA-Lib: (x - prev) * sc + prev
  }
  /// Whether v[0, n) all equal x. TA-Lib 0.8 counts one-bar changes of exactly 0 in a row and,
  /// once there are `period` of them (the window's period + 1 values all equal), sets the sum of
  /// changes to exactly 0, dropping the running sum's rounding residue. The same rule
  /// without a counter in the loop: only a window whose period change is 0 can be flat, and its
  /// scan stops at the first value that differs.
  static bool all_equal(const double* v, std::size_t n, double x) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      if (v[i] != x) return false;
    }
    return true;
  }

  window win_;  // the last period + 1 inputs
  int period_;
  double last_ = 0.0;
  double sum_roc1_ = 0.0;
  double prev_kama_ = 0.0;
  bool started_ = false;
};

/// Any of the moving averages above, chosen by TA-Lib's matype number.
class ma_any {
 public:
  ma_any(int kind, int period) : kind_(static_cast<ma_kind>(kind)), period_(period) {
    switch (kind_) {
      case ma_kind::sma: sma_.emplace_back(period); break;
      case ma_kind::ema: ema_.emplace_back(period); break;
      case ma_kind::wma: wma_.emplace_back(period); break;
      case ma_kind::dema: dema_.emplace_back(period); break;
      case ma_kind::tema: tema_.emplace_back(period); break;
      case ma_kind::kama: kama_.emplace_back(period); break;
      default: throw std::invalid_argument("unsupported matype " + std::to_string(kind));
    }
  }
  static void check_kind(int kind, const char* name) {
    if (kind < 0 || kind > 6 || kind == 5) {
      throw std::invalid_argument(std::string(name) +
                                  ": supported matypes are 0 SMA, 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, 6 KAMA; got " +
                                  std::to_string(kind));
    }
  }
  int lookback() const noexcept {
    switch (kind_) {
      case ma_kind::dema: return 2 * (period_ - 1);
      case ma_kind::tema: return 3 * (period_ - 1);
      case ma_kind::kama: return period_;
      default: return period_ - 1;
    }
  }
  double update(double x) noexcept {
    double o = nan;
    switch (kind_) {
      case ma_kind::sma: o = sma_[0].update(x); break;
      case ma_kind::ema: ema_[0].update(&x, &o); break;
      case ma_kind::wma: wma_[0].update(&x, &o); break;
      case ma_kind::dema: dema_[0].update(&x, &o); break;
      case ma_kind::tema: tema_[0].update(&x, &o); break;
      case ma_kind::kama: kama_[0].update(&x, &o); break;
    }
    return o;
  }
  /// n update() calls over x into o, with the kind's batch kernel (x finite or at least not NaN).
  void run_block(const double* x, double* o, std::size_t n) noexcept {
    const double* const in[1] = {x};
    double* const out[1] = {o};
    switch (kind_) {
      case ma_kind::sma: sma_[0].run_block(x, o, n); break;
      case ma_kind::ema: ema_[0].run_block(in, out, n); break;
      case ma_kind::wma: wma_[0].run_block(in, out, n); break;
      case ma_kind::dema: dema_[0].run_block(in, out, n); break;
      case ma_kind::tema: tema_[0].run_block(in, out, n); break;
      case ma_kind::kama: kama_[0].run_block(in, out, n); break;
    }
  }
  /// The average of the non-NaN values of x: for each i, o[i] = update(x[i]), except that a NaN
  /// x[i] gives NaN and leaves the state alone (how STOCH and STOCHF chain their averages). The
  /// runs between NaNs go to run_block.
  void run_skipping_nan(const double* x, double* o, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < n) {
      std::size_t j = i;
      while (j < n && !std::isnan(x[j])) ++j;
      if (j > i) run_block(x + i, o + i, j - i);
      if (j < n) o[j] = nan;
      i = j + 1;
    }
  }
  void reset() noexcept {
    for (auto& s : sma_) s.reset();
    for (auto& s : ema_) s.reset();
    for (auto& s : wma_) s.reset();
    for (auto& s : dema_) s.reset();
    for (auto& s : tema_) s.reset();
    for (auto& s : kama_) s.reset();
  }
  template <class V>
  void visit(V& v) {
    for (auto& s : sma_) v(s);
    for (auto& s : ema_) v(s);
    for (auto& s : wma_) v(s);
    for (auto& s : dema_) v(s);
    for (auto& s : tema_) v(s);
    for (auto& s : kama_) v(s);
  }

 private:
  ma_kind kind_;
  int period_;
  // at most one of these holds an element (a variant without std::variant's copy costs)
  std::vector<sma_state> sma_;
  std::vector<ema> ema_;
  std::vector<wma> wma_;
  std::vector<dema> dema_;
  std::vector<tema> tema_;
  std::vector<kama> kama_;
};

/// Population variance over `period` (TA-Lib's VAR ignores nbdev; so do we), accurate when the
/// variance is tiny next to the squared mean (where E[x^2] - E[x]^2 on raw values loses every
/// digit; TA-Lib 0.8's values agree with a two-pass computation). Running sums of x - K and
/// (x - K)^2 around a shift K near the mean, O(1) per step; an exact two-pass refresh over the
/// window (when it first fills, then every `refresh` steps: amortised O(1)) resets K to the mean
/// and the sums, so neither drift nor a wandering mean costs digits.
struct var {
  static constexpr int n_in = 1, n_out = 1;
  explicit var(int period)
      : win_(period), period_(period), refresh_(period * 2 > 128 ? period * 2 : 128), inv_(1.0 / period) {}
  int lookback() const noexcept { return period_ - 1; }
  /// exact() when the window is first full (input `period`) and every `refresh_` inputs after.
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept {  // run_parts
    return {static_cast<std::size_t>(period_), static_cast<std::size_t>(refresh_)};
  }
  /// One step; the variance of the window, NaN until it is full.
  double variance(double x) noexcept {
    if (!win_.full()) {
      win_.push(x);
      if (!win_.full()) return nan;
      exact([this](std::size_t i) { return win_.at(i); });
      return moments(s1_, s2_, k_, inv_, peak_, mean_);
    }
    const double old = win_.oldest();
    win_.push(x);
    if (++since_ >= refresh_) {
      exact([this](std::size_t i) { return win_.at(i); });
    } else {
      roll(x, old, k_, s1_, s2_);
      peak_ = std::max(peak_, s2_);
    }
    return moments(s1_, s2_, k_, inv_, peak_, mean_);
  }
  /// The window's mean as of the last variance() call.
  double mean() const noexcept { return mean_; }
  /// n consecutive variance() calls over x; emit(i, variance, mean) for each. Returns the
  /// missing_bit()s of x[0, n).
  template <class F>
  std::uint64_t each(const double* x, std::size_t n, F&& emit) noexcept {
    return each(x, n, emit, [&emit](std::size_t i, const double* v, const double* m) {
      for (int t = 0; t < 4; ++t) emit(i + t, v[t], m[t]);
    });
  }
  /// The same, where the batch loop may also hand over four bars at once: emit4(i, v, m) with
  /// the variances v[0, 4) and means m[0, 4) of bars i .. i + 3 (so that the caller's work on
  /// them vectorises).
  template <class F, class F4>
  std::uint64_t each(const double* x, std::size_t n, F&& emit, [[maybe_unused]] F4&& emit4) noexcept {
    const std::size_t p = win_.capacity();
    std::uint64_t bad = 0;
    std::size_t i = 0;
    const std::size_t warm = n < 2 * p ? n : p;
    for (; i < warm; ++i) {
      bad |= missing_bit(x[i]);
      const double v = variance(x[i]);
      emit(i, v, mean_);
    }
    if (i == n) return bad;
    double s1 = s1_, s2 = s2_, mean = mean_, k = k_, peak = peak_;
    const double inv = inv_;
    const std::size_t refresh = static_cast<std::size_t>(refresh_);
    std::size_t since = static_cast<std::size_t>(since_);
#if defined(NT_HAVE_VECTOR_EXT)
    f64x4 seen4 = {};  // the inputs' sum: non-finite when one is
#endif
    while (i < n) {
      // the steps before the next refresh, without a test per step
      const std::size_t stop = std::min(n, i + (refresh - 1 - since));
      std::size_t j = i;
#if defined(NT_HAVE_VECTOR_EXT)
      // Four bars at a time: the changes of the sums as vectors, the sums (and the peak) one
      // step per bar, the floor test as a vector; roll() and moments()'s operations element by
      // element, so the same bits.
      for (; j + 4 <= stop; j += 4) {
        f64x4 xs, olds;
        std::memcpy(&xs, x + j, sizeof xs);
        std::memcpy(&olds, x + j - p, sizeof olds);
        seen4 += xs;
        const f64x4 d = xs - olds, q = d * ((xs - k) + (olds - k));
        // the sums after each of the four bars (lanes built in registers: a vector read back
        // from four scalar stores would stall on store forwarding)
        const double a0 = s1 + d[0], a1 = a0 + d[1], a2 = a1 + d[2], a3 = a2 + d[3];
        const double b0 = s2 + q[0], b1 = b0 + q[1], b2 = b1 + q[2], b3 = b2 + q[3];
        const double p0 = std::max(peak, b0), p1 = std::max(p0, b1), p2 = std::max(p1, b2), p3 = std::max(p2, b3);
        s1 = a3;
        s2 = b3;
        peak = p3;
        const f64x4 m1 = f64x4{a0, a1, a2, a3} * inv, sq = f64x4{b0, b1, b2, b3} * inv;
        f64x4 v = {std::fma(-m1[0], m1[0], sq[0]), std::fma(-m1[1], m1[1], sq[1]), std::fma(-m1[2], m1[2], sq[2]),
                   std::fma(-m1[3], m1[3], sq[3])};
        v = v > 0.000000000001 * (f64x4{p0, p1, p2, p3} * inv) ? v : f64x4{};
        const f64x4 m = k + m1;
        alignas(32) double v4[4], m4[4];
        std::memcpy(v4, &v, sizeof v);
        std::memcpy(m4, &m, sizeof m);
        mean = m4[3];
        emit4(j, v4, m4);
      }
#endif
      for (; j < stop; ++j) {
        bad |= missing_bit(x[j]);
        roll(x[j], x[j - p], k, s1, s2);
        peak = std::max(peak, s2);
        const double v = moments(s1, s2, k, inv, peak, mean);
        emit(j, v, mean);
      }
      since += stop - i;
      i = stop;
      if (i == n) break;
      bad |= missing_bit(x[i]);  // the refresh step
      const double* w = x + (i + 1 - p);
      exact([w](std::size_t r) { return w[r]; });
      s1 = s1_;
      s2 = s2_;
      k = k_;
      peak = peak_;
      since = 0;
      const double v = moments(s1, s2, k, inv, peak, mean);
      emit(i, v, mean);
      ++i;
    }
#if defined(NT_HAVE_VECTOR_EXT)
    bad |= missing_bit(lane_sum(seen4));
#endif
    s1_ = s1;
    s2_ = s2;
    peak_ = peak;
    mean_ = mean;
    since_ = static_cast<int>(since);
    win_.assign_tail(x + n - p);
    return bad;
  }
  void update(const double* in, double* out) noexcept { out[0] = variance(in[0]); }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    double* o = out[0];
    return each(
        in[0], n, [o](std::size_t i, double v, double) { o[i] = v; },
        [o](std::size_t i, const double* v, const double*) { std::memcpy(o + i, v, 4 * sizeof(double)); });
  }
  void reset() noexcept {
    win_.reset();
    k_ = s1_ = s2_ = peak_ = mean_ = 0.0;
    since_ = 0;
  }
  template <class V>
  void visit(V& v) {
    v(win_);
    v(k_);
    v(s1_);
    v(s2_);
    v(peak_);
    v(mean_);
    v(since_);
    v.check(since_ >= 0 && since_ < refresh_, "variance refresh counter");
  }

 private:
  /// Two-pass over the window (oldest first): K = the mean, sums of deviations from it.
  template <class At>
  void exact(At&& at) noexcept {
    const std::size_t p = win_.capacity();
    double s = 0.0;
    for (std::size_t i = 0; i < p; ++i) s += at(i);
    const double k = s / period_;
    double a = 0.0, q = 0.0;
    for (std::size_t i = 0; i < p; ++i) {
      const double d = at(i) - k;
      a += d;
      q += d * d;
    }
    k_ = k;
    s1_ = a;
    s2_ = q;
    peak_ = q;
    since_ = 0;
  }
  // (static, taking the shift k and 1 / period as arguments: the batch loop keeps them in
  // registers, where members would be reloaded after every store to an output array)
  /// One step of the sums of a = x - k and a^2: a_new - a_old = x - old, and a_new^2 - a_old^2 =
  /// (x - old) ((x - k) + (old - k)) (one product, not two; x + old - 2k would cancel away the
  /// digits of a small spread around a large mean).
  static void roll(double x, double old, double k, double& s1, double& s2) noexcept {
    const double d = x - old;
    s1 += d;
    s2 += d * ((x - k) + (old - k));
  }
  /// Variance from the shifted sums; sets the mean. 0 where it is below 1e-12 of the largest
  /// shifted second moment since the last exact refresh: the rounding residue the running sums
  /// can carry over up to `refresh` steps is far below that, so a window gone flat reads 0
  /// exactly (TA-Lib 0.8 has the same 1e-12 floor, relative to its raw E[x^2], which would also
  /// zero a genuine but tiny spread around a large mean; this one keeps it).
  static double moments(double s1, double s2, double k, double inv, double peak, double& mean) noexcept {
    const double m1 = s1 * inv;
    mean = k + m1;
    const double v = std::fma(-m1, m1, s2 * inv);
    return v > 0.000000000001 * (peak * inv) ? v : 0.0;
  }

  window win_;
  int period_;
  int refresh_;
  double inv_;  // 1 / period: the moments multiply (two divisions per bar would bound the kernel)
  double k_ = 0.0, s1_ = 0.0, s2_ = 0.0, mean_ = 0.0;
  double peak_ = 0.0;  // the largest s2_ since the last exact refresh
  int since_ = 0;
};

/// The standard deviation of a variance: 0 for 0 (or below), NaN for NaN. Written with selects,
/// not branches, so that loops of it vectorise (with the build's -fno-math-errno the square root
/// is one instruction).
inline double deviation(double var, double scale = 1.0) noexcept {
  const bool zero = var <= 0.0;
  const double sd = std::sqrt(zero ? 0.0 : var) * scale;
  return zero ? 0.0 : sd;
}

#if defined(NT_HAVE_VECTOR_EXT)
/// deviation() of four variances (the same operations element by element).
inline void deviation4(const double* var4, double scale, double* out) noexcept {
  f64x4 v;
  std::memcpy(&v, var4, sizeof v);
  const auto zero = v <= 0.0;
  const f64x4 r = zero ? f64x4{} : v;
  f64x4 root;
  for (int t = 0; t < 4; ++t) root[t] = std::sqrt(r[t]);
  const f64x4 sd = zero ? f64x4{} : root * scale;
  std::memcpy(out, &sd, sizeof sd);
}
#else
inline void deviation4(const double* var4, double scale, double* out) noexcept {
  for (int t = 0; t < 4; ++t) out[t] = deviation(var4[t], scale);
}
#endif

/// Bollinger bands: (upper, middle, lower) = MA ± nbdev × population standard deviation over
/// `period` (the deviation is around the simple mean whatever the matype, as in TA-Lib). Mean
/// and deviation come from the rolling shifted sums of `var`; for matype 0 the middle band is
/// that mean.
struct bbands {
  static constexpr int n_in = 1, n_out = 3;
  bbands(int period, double up, double dn, int matype)
      : v_(period), ma_(matype, period), period_(period), up_(up), dn_(dn), matype_(matype) {}
  int lookback() const noexcept { return ma_.lookback(); }
  /// The three bands from the window's variance and the middle band, NaN where either is NaN
  /// (selects only, no branch).
  static void bands(double var_, double mid, double up, double dn, double& o_up, double& o_md, double& o_lo) noexcept {
    const bool missing = std::isnan(var_) || std::isnan(mid);
    const double sd = deviation(var_);
    const double m = missing ? nan : mid;
    o_up = m + up * sd;
    o_md = m;
    o_lo = m - dn * sd;
  }
#if defined(NT_HAVE_VECTOR_EXT)
  /// bands() of four bars (the same operations element by element).
  static void bands4(const double* var4, const double* mid4, double up, double dn, double* o_up, double* o_md,
                     double* o_lo) noexcept {
    f64x4 v, mid;
    std::memcpy(&v, var4, sizeof v);
    std::memcpy(&mid, mid4, sizeof mid);
    const auto missing = (v != v) | (mid != mid);
    alignas(32) double sd4[4];
    deviation4(var4, 1.0, sd4);
    f64x4 sd;
    std::memcpy(&sd, sd4, sizeof sd);
    const f64x4 m = missing ? f64x4{nan, nan, nan, nan} : mid;
    const f64x4 hi = m + up * sd, lo = m - dn * sd;
    std::memcpy(o_up, &hi, sizeof hi);
    std::memcpy(o_md, &m, sizeof m);
    std::memcpy(o_lo, &lo, sizeof lo);
  }
#else
  static void bands4(const double* var4, const double* mid4, double up, double dn, double* o_up, double* o_md,
                     double* o_lo) noexcept {
    for (int t = 0; t < 4; ++t) bands(var4[t], mid4[t], up, dn, o_up[t], o_md[t], o_lo[t]);
  }
#endif
  void emit(double var_, double mean, double ma, double* out) const noexcept {
    bands(var_, matype_ == 0 ? mean : ma, up_, dn_, out[0], out[1], out[2]);
  }
  void update(const double* in, double* out) noexcept {
    const double v = v_.variance(in[0]);
    const double ma = matype_ == 0 ? nan : ma_.update(in[0]);
    emit(v, v_.mean(), ma, out);
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* x = in[0];
    double* up = out[0];
    double* md = out[1];
    double* lo = out[2];
    if (matype_ != 0) return step_range(*this, in, out, 0, n);
    const double u = up_, d = dn_;
    return v_.each(
        x, n, [up, md, lo, u, d](std::size_t i, double v, double m) { bands(v, m, u, d, up[i], md[i], lo[i]); },
        [up, md, lo, u, d](std::size_t i, const double* v, const double* m) {
          bands4(v, m, u, d, up + i, md + i, lo + i);
        });
  }
  void reset() noexcept {
    v_.reset();
    ma_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(v_);
    v(ma_);
  }

 private:
  var v_;
  ma_any ma_;
  int period_;
  double up_, dn_;
  int matype_;
};

/// Population standard deviation × nbdev: the square root of `var`.
struct stddev {
  static constexpr int n_in = 1, n_out = 1;
  stddev(int period, double nbdev) : v_(period), period_(period), nbdev_(nbdev) {}
  int lookback() const noexcept { return period_ - 1; }
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept { return v_.split_cycle(); }  // run_parts
  void update(const double* in, double* out) noexcept {
    out[0] = deviation(v_.variance(in[0]), nbdev_);
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    double* o = out[0];
    const double k = nbdev_;
    return v_.each(
        in[0], n, [o, k](std::size_t i, double v, double) { o[i] = deviation(v, k); },
        [o, k](std::size_t i, const double* v, const double*) {
          deviation4(v, k, o + i);
        });
  }
  void reset() noexcept { v_.reset(); }
  template <class V>
  void visit(V& v) { v(v_); }

 private:
  var v_;
  int period_;
  double nbdev_;
};

/// Rolling z-score (not in TA-Lib): (x - mean) / population standard deviation over the last
/// `period` inputs (the shifted running sums of `var`); 0 on a flat window (variance at most
/// 1e-20 of the squared mean, i.e. rounding noise).
struct zscore {
  static constexpr int n_in = 1, n_out = 1;
  explicit zscore(int period) : v_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept { return v_.split_cycle(); }  // run_parts
  /// NaN while the variance is (warm-up), 0 on a flat window, else the score; selects only, so
  /// the batch kernel's second loop vectorises.
  static double z(double x, double var, double mean) noexcept {
    const bool spread = (var > 1e-20 * mean * mean) && (var > 0.0);
    const double r = (x - mean) / std::sqrt(spread ? var : 1.0);
    return std::isnan(var) ? nan : (spread ? r : 0.0);
  }
  void update(const double* in, double* out) noexcept {
    const double v = v_.variance(in[0]);
    out[0] = z(in[0], v, v_.mean());
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    // variances and means first, then the scores in a loop that vectorises (a square root and
    // a division per bar: measured faster apart than inside the moments' loop)
    double* o = out[0];
    const double* x = in[0];
    auto& means = scratch_buffers()[0];
    means.resize(n);
    double* mu = means.data();
    const std::uint64_t bad = v_.each(x, n, [o, mu](std::size_t i, double v, double m) {
      o[i] = v;
      mu[i] = m;
    });
    for (std::size_t i = 0; i < n; ++i) o[i] = z(x[i], o[i], mu[i]);
    return bad;
  }
  void reset() noexcept { v_.reset(); }
  template <class V>
  void visit(V& v) { v(v_); }

 private:
  var v_;
  int period_;
};

// ---------------------------------------------------------------------------------------------
// Momentum

/// max(d, 0) and max(-d, 0) for a price change d, written so that compilers emit maxsd rather
/// than a branch (the sign of a price change is a coin flip to a branch predictor).
inline double up_part(double d) noexcept { return 0.0 < d ? d : 0.0; }
inline double down_part(double d) noexcept {
  const double m = -d;
  return 0.0 < m ? m : 0.0;
}

/// Relative strength index, Wilder's smoothing of gains and losses, TA-Lib's seeding (the
/// first value averages the first `period` changes); 0 when gains + losses are 0 (TA-Lib 0.8).
struct rsi {
  static constexpr int n_in = 1, n_out = 1;
  explicit rsi(int period) : gain_(period), loss_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  std::size_t settle_span() const noexcept { return settle_for(period_, 1, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    if (!have_prev_) {
      have_prev_ = true;
      prev_ = x;
      out[0] = nan;
      return;
    }
    const double d = x - prev_;
    prev_ = x;
    const double g = gain_.update(up_part(d));
    const double l = loss_.update(down_part(d));
    if (!gain_.ready()) {
      out[0] = nan;
      return;
    }
    const double t = g + l;
    out[0] = 100.0 * div_or(g, t, t > 0.0, 0.0);
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !gain_.ready(); ++i) {
      bad |= missing_bit(x[i]);
      update(x + i, o + i);
    }
    if (i == n) return bad;
    const double a = gain_.decay(), b = gain_.gain();
    double g = gain_.value(), l = loss_.value(), prev = prev_;
    double seen = 0.0;  // the inputs' sum: non-finite when one is (up_part drops a NaN change)
    const auto step = [a, b](double xi, double& prev_x, double& gain, double& loss) noexcept {
      const double d = xi - prev_x;
      prev_x = xi;
      gain = std::fma(gain, a, up_part(d) * b);
      loss = std::fma(loss, a, down_part(d) * b);
      const double t = gain + loss;
      return 100.0 * div_or(gain, t, t > 0.0, 0.0);
    };
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time: the weighted gains and losses and the output divisions as vectors,
    // the two smoothing recursions one fma per bar each (update()'s operations, so its bits).
    if (i == 0) {  // a block's first bar: its change needs the previous block's input
      seen += x[0];
      o[0] = step(x[0], prev, g, l);
      i = 1;
    }
    {
      const f64x4 zero = {}, one = {1.0, 1.0, 1.0, 1.0};
      f64x4 seen4 = {};
      for (; i + 4 <= n; i += 4) {
        f64x4 xi, xb;
        std::memcpy(&xi, x + i, sizeof xi);
        std::memcpy(&xb, x + i - 1, sizeof xb);
        seen4 += xi;
        const f64x4 d = xi - xb, m = -d;
        const f64x4 up = (zero < d ? d : zero) * b, down = (zero < m ? m : zero) * b;  // up_part, down_part
        const double g0 = std::fma(g, a, up[0]), l0 = std::fma(l, a, down[0]);
        const double g1 = std::fma(g0, a, up[1]), l1 = std::fma(l0, a, down[1]);
        const double g2 = std::fma(g1, a, up[2]), l2 = std::fma(l1, a, down[2]);
        g = std::fma(g2, a, up[3]);
        l = std::fma(l2, a, down[3]);
        const f64x4 gv = {g0, g1, g2, g}, t = gv + f64x4{l0, l1, l2, l};
        const auto positive = t > 0.0;
        const f64x4 r = 100.0 * (positive ? gv / (positive ? t : one) : zero);
        std::memcpy(o + i, &r, sizeof r);
      }
      if (i > 0) prev = x[i - 1];
      seen += lane_sum(seen4);
    }
#endif
    for (; i < n; ++i) {
      seen += x[i];
      o[i] = step(x[i], prev, g, l);
    }
    gain_.set_value(g);
    loss_.set_value(l);
    prev_ = prev;
    return bad | missing_bit(seen);
  }
  void reset() noexcept {
    gain_.reset();
    loss_.reset();
    have_prev_ = false;
    prev_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(gain_);
    v(loss_);
    v(have_prev_);
    v(prev_);
  }

 private:
  wilder_state gain_, loss_;
  int period_;
  bool have_prev_ = false;
  double prev_ = 0.0;
};

/// MACD (macd, signal, hist). As in TA-Lib the fast EMA starts late, so that both EMAs are
/// seeded over windows ending on the same input (the slow one's first); the signal EMA is seeded
/// by the mean of the first `signalperiod` MACD values. A slow period below the fast one is
/// swapped, as TA-Lib does.
struct macd {
  static constexpr int n_in = 1, n_out = 3;
  macd(int fast, int slow, int signal)
      : fast_p_(slow < fast ? slow : fast),
        slow_p_(slow < fast ? fast : slow),
        sig_p_(signal),
        fast_(fast_p_),
        slow_(slow_p_),
        sig_(signal) {}
  int lookback() const noexcept { return (slow_p_ - 1) + (sig_p_ - 1); }
  /// The signal line is an EMA of the difference of two EMAs: two levels, the slower of them.
  std::size_t settle_span() const noexcept {  // run_parts
    return settle_for((std::max(slow_p_, sig_p_) + 1) / 2.0, 2, lookback());
  }
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    if (n_ <= slow_p_ - fast_p_) ++n_;  // saturates: only compared with slow - fast (settle_span)
    const double s = slow_.update(x);
    double f = nan;
    if (n_ > slow_p_ - fast_p_) f = fast_.update(x);
    out[0] = out[1] = out[2] = nan;
    if (!slow_.ready()) return;
    const double m = f - s;
    const double sg = sig_.update(m);
    if (!sig_.ready()) return;
    out[0] = m;
    out[1] = sg;
    out[2] = m - sg;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    double* NT_RESTRICT om = out[0];
    double* NT_RESTRICT os = out[1];
    double* NT_RESTRICT oh = out[2];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    double o3[3];
    for (; i < n && !sig_.ready(); ++i) {
      bad |= missing_bit(x[i]);
      update(x + i, o3);
      om[i] = o3[0];
      os[i] = o3[1];
      oh[i] = o3[2];
    }
    if (i == n) return bad;
    const double fd = fast_.decay(), fg = fast_.gain(), sd = slow_.decay(), sgn = slow_.gain();
    const double gd = sig_.decay(), gg = sig_.gain();
    double f = fast_.value(), s = slow_.value(), sg = sig_.value();
    for (; i < n; ++i) {
      f = std::fma(f, fd, x[i] * fg);
      s = std::fma(s, sd, x[i] * sgn);
      const double m = f - s;
      sg = std::fma(sg, gd, m * gg);
      om[i] = m;
      os[i] = sg;
      oh[i] = m - sg;
    }
    // n_ is saturated already: the signal line is ready, so the slow - fast first bars have passed
    fast_.set_value(f);
    slow_.set_value(s);
    sig_.set_value(sg);
    return bad | absorbed_missing(f);
  }
  void reset() noexcept {
    n_ = 0;
    fast_.reset();
    slow_.reset();
    sig_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(n_);
    v(fast_);
    v(slow_);
    v(sig_);
  }

 private:
  int fast_p_, slow_p_, sig_p_;
  ema_state fast_, slow_, sig_;
  std::int64_t n_ = 0;
};

/// Momentum: x - x[t - period].
struct mom {
  static constexpr int n_in = 1, n_out = 1;
  explicit mom(int period) : win_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  std::size_t split_span() const noexcept { return static_cast<std::size_t>(period_) + 1; }  // see stream.hpp, run_parts
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    out[0] = win_.full() ? x - win_.oldest() : nan;
    win_.push(x);
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* x = in[0];
    double* o = out[0];
    const std::size_t p = win_.capacity();
    if (n < 2 * p) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, p);
    for (std::size_t i = p; i < n; ++i) {
      bad |= missing_bit(x[i]);
      o[i] = x[i] - x[i - p];
    }
    win_.assign_tail(x + n - p);
    return bad;
  }
  void reset() noexcept { win_.reset(); }
  template <class V>
  void visit(V& v) { v(win_); }

 private:
  window win_;
  int period_;
};

/// Rate of change: (x / x[t - period] - 1) × 100; 0 where the old value is 0 (TA-Lib).
struct roc {
  static constexpr int n_in = 1, n_out = 1;
  explicit roc(int period) : win_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  std::size_t split_span() const noexcept { return static_cast<std::size_t>(period_) + 1; }  // see stream.hpp, run_parts
  void update(const double* in, double* out) noexcept {
    const double x = in[0];
    if (win_.full()) {
      const double old = win_.oldest();
      out[0] = (div_or(x, old, old != 0.0, 1.0) - 1.0) * 100.0;
    } else {
      out[0] = nan;
    }
    win_.push(x);
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* x = in[0];
    double* o = out[0];
    const std::size_t p = win_.capacity();
    if (n < 2 * p) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, p);
    for (std::size_t i = p; i < n; ++i) {
      bad |= missing_bit(x[i]);
      const double old = x[i - p];
      o[i] = (div_or(x[i], old, old != 0.0, 1.0) - 1.0) * 100.0;
    }
    win_.assign_tail(x + n - p);
    return bad;
  }
  void reset() noexcept { win_.reset(); }
  template <class V>
  void visit(V& v) { v(win_); }

 private:
  window win_;
  int period_;
};

/// Fast stochastic (fastk, fastd): fastk = 100 (close - lowest low) / (highest high - lowest
/// low) over `fastk_period` (0 on a flat range), fastd = MA(fastk, fastd_period).
struct stochf {
  static constexpr int n_in = 3, n_out = 2;
  stochf(int fastk, int fastd, int fastd_matype)
      : range_(fastk), d_(fastd_matype, fastd), fastk_(fastk) {}
  int lookback() const noexcept { return (fastk_ - 1) + d_.lookback(); }
  /// fastk of this bar, NaN while the range window fills.
  double fast_k(double high, double low, double close) noexcept {
    range_.push(high, low);
    if (range_.count() < fastk_) return nan;
    return k_value(close, range_.high(), range_.low());
  }
  /// 100 (close - ll) / (hh - ll), 0 on a flat range. (TA-Lib divides by (hh - ll) / 100: a second
  /// division per bar for the same value to rounding.)
  static double k_value(double close, double hh, double ll) noexcept {
    const double r = hh - ll;
    return div_or(close - ll, r, !ta_is_zero_scaled(r, std::fabs(hh) + std::fabs(ll)), 0.0) * 100.0;
  }
  void update(const double* in, double* out) noexcept {
    const double k = fast_k(in[0], in[1], in[2]);
    out[0] = out[1] = nan;
    if (std::isnan(k)) return;
    const double d = d_.update(k);
    if (std::isnan(d)) return;
    out[0] = k;
    out[1] = d;
  }
  /// fast_k() over n contiguous bars into k (equal to n fast_k() calls); returns the
  /// missing_bit()s of the inputs.
  std::uint64_t fast_k_block(const double* h, const double* l, const double* c, double* k, std::size_t n) noexcept {
    const std::size_t span = static_cast<std::size_t>(fastk_);
    std::uint64_t bad = 0;
    if (n < 2 * span) {
      for (std::size_t i = 0; i < n; ++i) {
        bad |= missing_bit_any(h[i], l[i], c[i]);
        k[i] = fast_k(h[i], l[i], c[i]);
      }
      return bad;
    }
    const std::int64_t seq0 = range_.count();
    for (std::size_t i = 0; i < span; ++i) {
      bad |= missing_bit(c[i]);  // h and l: rolling_range reads them all
      k[i] = fast_k(h[i], l[i], c[i]);
    }
    bad |= rolling_range(h, l, n, span, span, [&](std::size_t i0, std::size_t i1, const double* hh, const double* ll) {
      for (std::size_t i = i0; i < i1; ++i) {
        bad |= missing_bit(c[i]);
        k[i] = k_value(c[i], hh[i - i0], ll[i - i0]);
      }
    });
    range_.assign_tail(h, l, n, seq0);
    return bad;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    double* fk = out[0];
    double* fd = out[1];
    const std::uint64_t bad = fast_k_block(in[0], in[1], in[2], fk, n);
    d_.run_skipping_nan(fk, fd, n);
    for (std::size_t i = 0; i < n; ++i) fk[i] = std::isnan(fd[i]) ? nan : fk[i];
    return bad;
  }
  void reset() noexcept {
    range_.reset();
    d_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(range_);
    v(d_);
  }

 private:
  range_window range_;
  ma_any d_;
  int fastk_;
};

/// Slow stochastic (slowk, slowd): slowk = MA(fastk, slowk_period), slowd = MA(slowk, slowd_period).
struct stoch {
  static constexpr int n_in = 3, n_out = 2;
  stoch(int fastk, int slowk, int slowk_matype, int slowd, int slowd_matype)
      : f_(fastk, 1, 0), k_(slowk_matype, slowk), d_(slowd_matype, slowd), fastk_(fastk) {}
  int lookback() const noexcept { return (fastk_ - 1) + k_.lookback() + d_.lookback(); }
  void update(const double* in, double* out) noexcept {
    out[0] = out[1] = nan;
    const double fk = f_.fast_k(in[0], in[1], in[2]);
    if (std::isnan(fk)) return;
    const double sk = k_.update(fk);
    if (std::isnan(sk)) return;
    const double sd = d_.update(sk);
    if (std::isnan(sd)) return;
    out[0] = sk;
    out[1] = sd;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    double* sk_out = out[0];
    double* sd_out = out[1];
    // fastk into sd_out, slowk over it into sk_out, slowd over that into sd_out (each average
    // skips the NaNs of the previous stage, as update() does); both NaN where slowd is.
    const std::uint64_t bad = f_.fast_k_block(in[0], in[1], in[2], sd_out, n);
    k_.run_skipping_nan(sd_out, sk_out, n);
    d_.run_skipping_nan(sk_out, sd_out, n);
    for (std::size_t i = 0; i < n; ++i) sk_out[i] = std::isnan(sd_out[i]) ? nan : sk_out[i];
    return bad;
  }
  void reset() noexcept {
    f_.reset();
    k_.reset();
    d_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(f_);
    v(k_);
    v(d_);
  }

 private:
  stochf f_;
  ma_any k_, d_;
  int fastk_;
};

/// Williams' %R: -100 (highest high - close) / (highest high - lowest low); 0 on a flat range.
struct willr {
  static constexpr int n_in = 3, n_out = 1;
  explicit willr(int period) : range_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  std::size_t split_span() const noexcept { return static_cast<std::size_t>(period_); }  // see stream.hpp, run_parts
  void update(const double* in, double* out) noexcept {
    range_.push(in[0], in[1]);
    if (range_.count() < period_) {
      out[0] = nan;
      return;
    }
    out[0] = value(in[2], range_.high(), range_.low());
  }
  /// -100 (hh - close) / (hh - ll), 0 on a flat range (TA-Lib divides by (hh - ll) / -100).
  static double value(double close, double hh, double ll) noexcept {
    const double r = hh - ll;
    return div_or(hh - close, r, !ta_is_zero_scaled(r, std::fabs(hh) + std::fabs(ll)), 0.0) * -100.0;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const std::size_t span = static_cast<std::size_t>(period_);
    if (n < 2 * span) return step_range(*this, in, out, 0, n);
    const std::int64_t seq0 = range_.count();
    std::uint64_t bad = step_range(*this, in, out, 0, span);
    const double *h = in[0], *l = in[1], *c = in[2];
    double* o = out[0];
    bad |= rolling_range(h, l, n, span, span, [&](std::size_t i0, std::size_t i1, const double* hh, const double* ll) {
      for (std::size_t i = i0; i < i1; ++i) {
        bad |= missing_bit(c[i]);
        o[i] = value(c[i], hh[i - i0], ll[i - i0]);
      }
    });
    range_.assign_tail(h, l, n, seq0);
    return bad;
  }
  void reset() noexcept { range_.reset(); }
  template <class V>
  void visit(V& v) { v(range_); }

 private:
  range_window range_;
  int period_;
};

/// Commodity channel index: (tp - mean(tp)) / (0.015 × mean absolute deviation), tp = (h+l+c)/3.
/// The mean absolute deviation has no O(1) update: each update costs O(period) (as in TA-Lib);
/// the state is O(period) like every other indicator's. Both sums run over the window oldest
/// first in four partial sums (add4), recomputed every step like TA-Lib's (no drift); the batch
/// kernel sums the same windows straight from an array of typical prices.
struct cci {
  static constexpr int n_in = 3, n_out = 1;
  explicit cci(int period) : win_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  std::size_t split_span() const noexcept { return static_cast<std::size_t>(period_); }  // see stream.hpp, run_parts
  static double typical(double h, double l, double c) noexcept { return (h + l + c) / 3.0; }
  void update(const double* in, double* out) noexcept {
    const double tp = typical(in[0], in[1], in[2]);
    win_.push(tp);
    if (!win_.full()) {
      out[0] = nan;
      return;
    }
    out[0] = win_.segments([&](const double* a, std::size_t na, const double* b, std::size_t nb) {
      return value(tp, a, na, b, nb);
    });
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const std::size_t p = static_cast<std::size_t>(period_);
    if (n < 2 * p) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, p);
    const double *h = in[0], *l = in[1], *c = in[2];
    double* o = out[0];
    auto& tps = scratch_buffers()[0];
    tps.resize(n);
    double* tp = tps.data();
    for (std::size_t i = 0; i < n; ++i) {
      bad |= missing_bit_any(h[i], l[i], c[i]);
      tp[i] = typical(h[i], l[i], c[i]);
    }
    std::size_t i = p;
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time, one per vector lane: window position j of bar i + b is tp[i + b + 1 -
    // p + j], so one unaligned load serves all four bars, and each lane adds its window in
    // value()'s order (four partial sums by position mod 4), with value()'s arithmetic after.
    {
      const double pd = period_;
      // (adds tp[k + lane] to acc; by reference: a vector returned by value has a different ABI
      // with and without AVX)
      const auto add = [](f64x4& acc, const double* q) noexcept {
        f64x4 v;
        std::memcpy(&v, q, sizeof v);
        acc += v;
      };
      const auto add_dev = [](f64x4& acc, const double* q, const f64x4& avg) noexcept {
        f64x4 v;
        std::memcpy(&v, q, sizeof v);
        acc += (f64x4)((i64x4)(v - avg) & abs_mask4);
      };
      for (; i + 4 <= n; i += 4) {
        const double* w = tp + (i + 1 - p);
        f64x4 s0 = {}, s1 = {}, s2 = {}, s3 = {};
        std::size_t j = 0;
        for (; j + 4 <= p; j += 4) {
          add(s0, w + j);
          add(s1, w + j + 1);
          add(s2, w + j + 2);
          add(s3, w + j + 3);
        }
        if (j < p) add(s0, w + j);
        if (j + 1 < p) add(s1, w + j + 1);
        if (j + 2 < p) add(s2, w + j + 2);
        const f64x4 avg = ((s0 + s1) + (s2 + s3)) / pd;
        f64x4 d0 = {}, d1 = {}, d2 = {}, d3 = {};
        for (j = 0; j + 4 <= p; j += 4) {
          add_dev(d0, w + j, avg);
          add_dev(d1, w + j + 1, avg);
          add_dev(d2, w + j + 2, avg);
          add_dev(d3, w + j + 3, avg);
        }
        if (j < p) add_dev(d0, w + j, avg);
        if (j + 1 < p) add_dev(d1, w + j + 1, avg);
        if (j + 2 < p) add_dev(d2, w + j + 2, avg);
        const f64x4 mean_dev = ((d0 + d1) + (d2 + d3)) / pd;
        f64x4 num = {};
        add(num, tp + i);
        num -= avg;
        const f64x4 lim = ta_epsilon * (f64x4)((i64x4)avg & abs_mask4);
        const auto nonzero = ((f64x4)((i64x4)num & abs_mask4) > lim) & ((f64x4)((i64x4)mean_dev & abs_mask4) > lim);
        const f64x4 r = nonzero ? num / (0.015 * mean_dev) : f64x4{};
        std::memcpy(o + i, &r, sizeof r);
      }
    }
#endif
    for (; i < n; ++i) o[i] = value(tp[i], tp + (i + 1 - p), p, tp, 0);
    win_.assign_tail(tp + n - p);
    return bad;
  }
  void reset() noexcept { win_.reset(); }
  template <class V>
  void visit(V& v) { v(win_); }

 private:
  /// The CCI of `tp` over the window given oldest first as two runs.
  double value(double tp, const double* a, std::size_t na, const double* b, std::size_t nb) const noexcept {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    add4(s, a, na, 0, [](double v) { return v; });
    add4(s, b, nb, na, [](double v) { return v; });
    const double avg = ((s[0] + s[1]) + (s[2] + s[3])) / period_;
    double d[4] = {0.0, 0.0, 0.0, 0.0};
    const auto dev_of = [avg](double v) { return std::fabs(v - avg); };
    add4(d, a, na, 0, dev_of);
    add4(d, b, nb, na, dev_of);
    const double mean_dev = ((d[0] + d[1]) + (d[2] + d[3])) / period_;
    const double num = tp - avg;
    // TA-Lib 0.8: 0 where either is zero relative to the average's magnitude
    const double scale = std::fabs(avg);
    return (!ta_is_zero_scaled(num, scale) && !ta_is_zero_scaled(mean_dev, scale)) ? num / (0.015 * mean_dev)
                                                                                    : 0.0;
  }

  window win_;
  int period_;
};

/// Aroon (aroondown, aroonup) over the last period + 1 bars: 100 / period × (period - bars since
/// the lowest low / highest high); the latest bar wins ties (TA-Lib).
struct aroon {
  static constexpr int n_in = 2, n_out = 2;
  explicit aroon(int period) : range_(period + 1), period_(period), factor_(100.0 / period) {}
  int lookback() const noexcept { return period_; }
  std::size_t split_span() const noexcept { return static_cast<std::size_t>(period_) + 1; }  // see stream.hpp, run_parts
  void update(const double* in, double* out) noexcept {
    const std::int64_t today = range_.count();
    range_.push(in[0], in[1]);
    if (range_.count() <= period_) {
      out[0] = out[1] = nan;
      return;
    }
    out[0] = oscillator(factor_, period_, static_cast<double>(today - range_.low_seq()));
    out[1] = oscillator(factor_, period_, static_cast<double>(today - range_.high_seq()));
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const std::size_t span = static_cast<std::size_t>(period_) + 1;
    if (n < 2 * span) return step_range(*this, in, out, 0, n);
    const std::int64_t seq0 = range_.count();
    std::uint64_t bad = step_range(*this, in, out, 0, span);
    const double *h = in[0], *l = in[1];
    double *dn = out[0], *up = out[1];
    const double f = factor_, p = period_;
    bad |= rolling_arg_range(h, l, n, span, span, [dn, up, f, p](std::size_t i, double hi_at, double lo_at) {
      const double b = static_cast<double>(i);
      dn[i] = oscillator(f, p, b - lo_at);
      up[i] = oscillator(f, p, b - hi_at);
    });
    range_.assign_tail(h, l, n, seq0);
    return bad;
  }
  void reset() noexcept { range_.reset(); }
  template <class V>
  void visit(V& v) { v(range_); }

 private:
  /// factor × (period - bars since the extreme), the one expression of update() and both batch
  /// paths (ages are whole numbers, exact as doubles, so every path gives the same bits).
  static double oscillator(double factor, double period, double age) noexcept { return factor * (period - age); }

  range_window range_;
  int period_;
  double factor_;
};

/// Money flow index over `period` bars: 100 × positive flow / total flow, flow = typical price ×
/// volume signed by the change of the typical price, as TA-Lib 0.8 has it: a change within
/// 1e-14 of the two typical prices' magnitude is no flow; after `period` bars in a row without
/// flow the sums are exactly 0 (the running sums' rounding residue dropped); 0 when the total is
/// 0, the positive sum clamped into [0, total].
struct mfi {
  static constexpr int n_in = 4, n_out = 1;
  explicit mfi(int period) : pos_(period), neg_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  void update(const double* in, double* out) noexcept {
    const double tp = (in[0] + in[1] + in[2]) / 3.0;
    if (!have_prev_) {
      have_prev_ = true;
      prev_ = tp;
      out[0] = nan;
      return;
    }
    double p, n;
    const double t = advance(tp, prev_, in[3], pos_.oldest(), neg_.oldest(), period_, p, n, pos_sum_, neg_sum_,
                             null_run_);
    prev_ = tp;
    pos_.push(p);
    neg_.push(n);
    out[0] = pos_.full() ? index(pos_sum_, t) : nan;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double *h = in[0], *l = in[1], *c = in[2], *vol = in[3];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !pos_.full(); ++i) bad |= step_range(*this, in, out, i, i + 1);
    if (i == n) return bad;
    // the flows of the window, oldest first, then those of bars i.. n: bar j leaves from slot j - i
    // and enters at slot j - i + period
    const std::size_t w = static_cast<std::size_t>(period_), m = n - i;
    const auto sc = scratch_buffers();
    sc[0].resize(w + m);
    sc[1].resize(w + m);
    double* NT_RESTRICT fp = sc[0].data();
    double* NT_RESTRICT fn = sc[1].data();
    for (std::size_t k = 0; k < w; ++k) {
      fp[k] = pos_.at(k);
      fn[k] = neg_.at(k);
    }
    double ps = pos_sum_, ns = neg_sum_, prev = prev_;
    int run = null_run_;
    const int period = period_;
    double seen = 0.0;  // the raw flows' sum: non-finite when an input is
    for (std::size_t k = 0; k < m; ++k) {
      const std::size_t j = i + k;
      const double tp = (h[j] + l[j] + c[j]) / 3.0;
      seen += tp * vol[j];
      double p, q;
      const double t = advance(tp, prev, vol[j], fp[k], fn[k], period, p, q, ps, ns, run);
      prev = tp;
      fp[k + w] = p;
      fn[k + w] = q;
      o[j] = index(ps, t);
    }
    pos_sum_ = ps;
    neg_sum_ = ns;
    null_run_ = run;
    prev_ = prev;
    pos_.assign_tail(fp + m);
    neg_.assign_tail(fn + m);
    return bad | missing_bit(seen);
  }
  void reset() noexcept {
    pos_.reset();
    neg_.reset();
    pos_sum_ = neg_sum_ = 0.0;
    null_run_ = 0;
    have_prev_ = false;
    prev_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(pos_);
    v(neg_);
    v(pos_sum_);
    v(neg_sum_);
    v(null_run_);
    v(have_prev_);
    v(prev_);
    v.check(null_run_ >= 0 && null_run_ <= period_, "mfi null run");
  }

 private:
  window pos_, neg_;
  int period_;
  double pos_sum_ = 0.0, neg_sum_ = 0.0;
  int null_run_ = 0;  // bars in a row without money flow
  /// One bar (typical price tp after prev, volume vol; old_p / old_n leave the window): its
  /// positive and negative flows p, n, the sums and the run of bars without flow updated, as
  /// TA-Lib 0.8 has it (a change within 1e-14 of the two prices' magnitude is no flow; a full
  /// period without flow sets the sums to exactly 0). Returns the total. update() and the batch
  /// loop both step through here (the same bits); selects are masks, not branches (a branch kept
  /// the state in memory in the per-bar loop, and the flow's side is a coin flip).
  static double advance(double tp, double prev, double vol, double old_p, double old_n, int period, double& p,
                        double& n, double& ps, double& ns, int& run) noexcept {
    const double d = tp - prev;
    const double flow = keep_if_nonzero_scaled(d, std::fabs(tp) + std::fabs(prev), tp * vol);
    n = keep_if_less(d, 0.0, flow);  // the negative side where the price fell
    p = flow - n;                    // else the positive side (exact: flow - flow = 0)
    ps += p - old_p;
    ns += n - old_n;
    run = std::min(flow == 0.0 ? run + 1 : 0, period);
    const double live = run < period ? 1.0 : 0.0;
    ps *= live;
    ns *= live;
    return ps + ns;
  }
  /// 100 positive / total, the positive sum clamped into [0, total]; 0 for a zero total.
  static double index(double ps, double t) noexcept { return 100.0 * div_or(clamp_to(ps, t), t, t > 0.0, 0.0); }
  /// x clamped into [0, t] (TA-Lib 0.8: the positive sum can drift below 0 or above the total by
  /// a few ulp), branch-free.
  static double clamp_to(double x, double t) noexcept {
#if defined(__SSE2__) || defined(_M_X64)
    return _mm_cvtsd_f64(_mm_min_sd(_mm_max_sd(_mm_set_sd(x), _mm_setzero_pd()), _mm_set_sd(t)));
#else
    return x < 0.0 ? 0.0 : (x > t ? t : x);
#endif
  }
  bool have_prev_ = false;
  double prev_ = 0.0;
};

// ---------------------------------------------------------------------------------------------
// Volatility and trend

struct trange {
  static constexpr int n_in = 3, n_out = 1;
  trange() = default;
  int lookback() const noexcept { return 1; }
  std::size_t split_span() const noexcept { return 2; }  // see stream.hpp, run_parts
  void update(const double* in, double* out) noexcept { out[0] = tr_.update(in[0], in[1], in[2]); }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    if (n == 0) return 0;
    const double* NT_RESTRICT h = in[0];
    const double* NT_RESTRICT l = in[1];
    const double* NT_RESTRICT c = in[2];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = step_range(*this, in, out, 0, 1);
    std::size_t i = 1;
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time; a missing high, low or previous close makes its bar's value
    // non-finite (weighted_true_range4), so the values' sum says whether one was missing (the
    // last close is checked alone).
    if (i + 4 <= n) {
      f64x4 seen4 = {};
      for (; i + 4 <= n; i += 4) {
        weighted_true_range4(h + i, l + i, c + i - 1, 1.0, o + i);
        f64x4 t;
        std::memcpy(&t, o + i, sizeof t);
        seen4 += t;
      }
      bad |= missing_bit(lane_sum(seen4)) | missing_bit(c[i - 1]);
    }
#endif
    for (; i < n; ++i) {
      bad |= missing_bit_any(h[i], l[i], c[i]);
      o[i] = true_range(h[i], l[i], c[i - 1]);
    }
    tr_.set_prev_close(c[n - 1]);
    return bad;
  }
  void reset() noexcept { tr_.reset(); }
  template <class V>
  void visit(V& v) { v(tr_); }

 private:
  trange_state tr_;
};

/// Average true range: Wilder's smoothing of the true range, seeded by the mean of the first
/// `period` true ranges (from the second bar on). NATR = ATR / close × 100 (0 where close is 0).
template <bool Normalised>
struct atr_t {
  static constexpr int n_in = 3, n_out = 1;
  explicit atr_t(int period) : w_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  std::size_t settle_span() const noexcept { return settle_for(period_, 1, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    const double tr = tr_.update(in[0], in[1], in[2]);
    if (std::isnan(tr)) {
      out[0] = nan;
      return;
    }
    const double a = w_.update(tr);
    if (!w_.ready()) {
      out[0] = nan;
      return;
    }
    if constexpr (Normalised) {
      out[0] = normalised(a, in[2]);
    } else {
      out[0] = a;
    }
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT h = in[0];
    const double* NT_RESTRICT l = in[1];
    const double* NT_RESTRICT c = in[2];
    double* NT_RESTRICT o = out[0];
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !(w_.ready() && i > 0); ++i) bad |= step_range(*this, in, out, i, i + 1);
    if (i == n) return bad;
    const double a = w_.decay(), b = w_.gain();
    double v = w_.value();
    // Missing values are found without a test per input: a NaN or infinite high or low makes the
    // true range NaN or +inf (high - low comes first in true_range's maxima, and a max keeps its
    // first argument's NaN), and the smoothing keeps it (NaN and inf are absorbing in
    // fma(v, a, tr * b) with a, b >= 0), so v ends non-finite; the closes are summed, a sum
    // that ends non-finite when one of them is (or, harmlessly, when huge closes overflow it: the
    // block is then redone carefully and nothing is skipped). One addition per bar instead of
    // six operations; the loop is bound by its instruction count.
    double closes = 0.0;
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time: their weighted true ranges as one vector (independent of the
    // recursion, so they run ahead of it), then four fma steps on the chain. The previous
    // closes are checked as c - c (0 when finite, NaN otherwise) added to tr * b, which is
    // exact for finite closes (tr * b >= 0).
    for (; i + 4 <= n; i += 4) {
      double t[4];
      weighted_true_range4(h + i, l + i, c + i - 1, b, t);
      if constexpr (Normalised) {
        const double v0 = std::fma(v, a, t[0]), v1 = std::fma(v0, a, t[1]), v2 = std::fma(v1, a, t[2]);
        v = std::fma(v2, a, t[3]);
        normalised4(v0, v1, v2, v, c + i, o + i);
      } else {
        for (int k = 0; k < 4; ++k) o[i + k] = v = std::fma(v, a, t[k]);
      }
    }
    closes = c[i - 1];  // the one close the vectors have not checked
#endif
    for (; i < n; ++i) {
      closes += c[i];
      v = std::fma(v, a, true_range(h[i], l[i], c[i - 1]) * b);
      if constexpr (Normalised) {
        o[i] = normalised(v, c[i]);
      } else {
        o[i] = v;
      }
    }
    bad |= missing_bit(v) | missing_bit(closes);
    w_.set_value(v);
    tr_.set_prev_close(c[n - 1]);
    return bad;
  }
  void reset() noexcept {
    tr_.reset();
    w_.reset();
  }
  /// NATR from ATR and the close (0 on a zero close, as TA-Lib): update() and the batch loop.
  static double normalised(double atr, double close) noexcept {
    return div_or(atr, close, close != 0.0, 0.0) * 100.0;
  }
#if defined(NT_HAVE_VECTOR_EXT)
  /// normalised() of four bars.
  static void normalised4(double atr0, double atr1, double atr2, double atr3, const double* close,
                          double* out) noexcept {
    const f64x4 x = {atr0, atr1, atr2, atr3};
    f64x4 c;
    std::memcpy(&c, close, sizeof c);
    const auto use = c != 0.0;
    const f64x4 one = {1.0, 1.0, 1.0, 1.0}, zero = {};
    const f64x4 r = (use ? x / (use ? c : one) : zero) * 100.0;
    std::memcpy(out, &r, sizeof r);
  }
#endif
  template <class V>
  void visit(V& v) {
    v(tr_);
    v(w_);
  }

 private:
  trange_state tr_;
  wilder_state w_;
  int period_;
};
using atr = atr_t<false>;
using natr = atr_t<true>;

/// Directional movement as TA-Lib runs it for PLUS_DI, MINUS_DI and ADX: sums of +DM, -DM and
/// TR over the first period - 1 changes, then prev - prev / period + new.
class dm_state {
 public:
  dm_state() = default;
  explicit dm_state(int period) : period_(period), a_(static_cast<double>(period - 1) / period) {}
  /// Feeds one bar; returns true once +DM/-DM/TR are smoothed (from the period-th change on).
  bool update(double high, double low, double close) noexcept {
    if (n_ == 0) {
      prev_high_ = high;
      prev_low_ = low;
      prev_close_ = close;
      n_ = 1;
      return false;
    }
    double pdm, mdm;
    const double tr = movement(high, low, prev_high_, prev_low_, prev_close_, pdm, mdm);
    prev_high_ = high;
    prev_low_ = low;
    prev_close_ = close;
    if (n_ < period_) {  // changes 1 .. period-1: plain sums
      plus_ += pdm;
      minus_ += mdm;
      tr_ += tr;
      ++n_;
      return false;
    }
    plus_ = std::fma(plus_, a_, pdm);  // TA-Lib: prev - prev / period + new (equal to rounding)
    minus_ = std::fma(minus_, a_, mdm);
    tr_ = std::fma(tr_, a_, tr);
    if (n_ == period_) ++n_;
    return true;
  }
  /// Whether the next update() is a smoothing step (from then on run() can take over).
  bool smoothing() const noexcept { return n_ >= period_; }
  /// update()'s smoothing steps over bars [b, e) of contiguous high, low, close (only once
  /// smoothing()), with the same arithmetic on local variables; calls emit(i, +DM sum, -DM sum,
  /// TR sum) after each bar. Returns the missing_bit()s of the inputs.
  template <class Emit>
  std::uint64_t run(const double* NT_RESTRICT h, const double* NT_RESTRICT l, const double* NT_RESTRICT c,
                    std::size_t b, std::size_t e, Emit&& emit) noexcept {
    if (b >= e) return 0;
    double ph = prev_high_, pl = prev_low_, pc = prev_close_;
    double p = plus_, m = minus_, t = tr_;
    const double a = a_;
    std::uint64_t bad = 0;
    std::size_t i = b;
    const auto scalar_until = [&](std::size_t stop) {
      for (; i < stop; ++i) {
        bad |= missing_bit_any(h[i], l[i], c[i]);
        double pdm, mdm;
        const double tr = movement(h[i], l[i], ph, pl, pc, pdm, mdm);
        ph = h[i];
        pl = l[i];
        pc = c[i];
        p = std::fma(p, a, pdm);
        m = std::fma(m, a, mdm);
        t = std::fma(t, a, tr);
        emit(i, p, m, t);
      }
    };
#if defined(NT_HAVE_VECTOR_EXT)
    // Four bars at a time (from the block's second bar: a bar's movement needs the previous
    // one's high, low and close): the true ranges and the +DM, -DM as vectors, the three
    // recursions one fma per bar (movement()'s operations element by element, so its bits).
    // Missing values: a NaN or infinite high, low or previous close makes that bar's true range
    // non-finite (weighted_true_range4), which the TR sum keeps (fma with a >= 0), so t ends
    // non-finite; the block's last close is checked alone.
    if (i == 0) scalar_until(1);
    if (i + 4 <= e) {
      const f64x4 zero = {};
      for (; i + 4 <= e; i += 4) {
        f64x4 hi, hb, li, lb;
        std::memcpy(&hi, h + i, sizeof hi);
        std::memcpy(&hb, h + i - 1, sizeof hb);
        std::memcpy(&li, l + i, sizeof li);
        std::memcpy(&lb, l + i - 1, sizeof lb);
        double tr[4];
        weighted_true_range4(h + i, l + i, c + i - 1, 1.0, tr);
        const f64x4 diff_p = hi - hb, diff_m = lb - li;
        // positive_and_greater(diff_p, diff_m) and (diff_m, diff_p)
        const f64x4 pdm = (diff_m < diff_p) & (zero < diff_p) ? diff_p : zero;
        const f64x4 mdm = (diff_p < diff_m) & (zero < diff_m) ? diff_m : zero;
        for (int k = 0; k < 4; ++k) {
          p = std::fma(p, a, pdm[k]);
          m = std::fma(m, a, mdm[k]);
          t = std::fma(t, a, tr[k]);
          emit(i + k, p, m, t);
        }
      }
      ph = h[i - 1];
      pl = l[i - 1];
      pc = c[i - 1];
      bad |= missing_bit(t) | missing_bit(pc);
    }
#endif
    scalar_until(e);
    prev_high_ = ph;
    prev_low_ = pl;
    prev_close_ = pc;
    plus_ = p;
    minus_ = m;
    tr_ = t;
    if (n_ == period_) ++n_;
    return bad;
  }
  /// 100 * dm / tr, 0 where tr is zero (TA-Lib's DI from the smoothed sums).
  static double di(double dm, double tr) noexcept { return div_or(dm, tr, tr > 0.0, 0.0) * 100.0; }
  double plus_di() const noexcept { return di(plus_, tr_); }
  double minus_di() const noexcept { return di(minus_, tr_); }
  double plus_sum() const noexcept { return plus_; }
  double minus_sum() const noexcept { return minus_; }
  double tr_sum() const noexcept { return tr_; }
  /// +DM and -DM of a bar after the previous one (ph, pl: its high and low), and the true range
  /// (pc: its close). TA-Lib: -DM = diff_m when diff_m > 0 and diff_p < diff_m, else +DM = diff_p
  /// when diff_p > 0 and diff_p > diff_m; that is, the larger of the two moves where it is
  /// positive, else 0 (both 0 on a tie).
  static double movement(double high, double low, double ph, double pl, double pc, double& pdm,
                         double& mdm) noexcept {
    const double diff_p = high - ph;
    const double diff_m = pl - low;
    mdm = positive_and_greater(diff_m, diff_p);
    pdm = positive_and_greater(diff_p, diff_m);
    return true_range(high, low, pc);
  }
  void reset() noexcept {
    n_ = 0;
    plus_ = minus_ = tr_ = 0.0;
    prev_high_ = prev_low_ = prev_close_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(n_);
    v(plus_);
    v(minus_);
    v(tr_);
    v(prev_high_);
    v(prev_low_);
    v(prev_close_);
    v.check(n_ >= 0 && n_ <= period_ + 1, "directional movement count");
  }

 private:
  int period_ = 2;
  double a_ = 0.5;
  int n_ = 0;
  double plus_ = 0.0, minus_ = 0.0, tr_ = 0.0;
  double prev_high_ = 0.0, prev_low_ = 0.0, prev_close_ = 0.0;
};

template <bool Plus>
struct di_t {
  static constexpr int n_in = 3, n_out = 1;
  explicit di_t(int period) : dm_(period), period_(period) {}
  int lookback() const noexcept { return period_; }
  std::size_t settle_span() const noexcept { return settle_for(period_, 1, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    if (!dm_.update(in[0], in[1], in[2])) {
      out[0] = nan;
      return;
    }
    out[0] = Plus ? dm_.plus_di() : dm_.minus_di();
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && !dm_.smoothing(); ++i) bad |= step_range(*this, in, out, i, i + 1);
    double* NT_RESTRICT o = out[0];
    return bad | dm_.run(in[0], in[1], in[2], i, n, [o](std::size_t j, double p, double m, double t) {
             o[j] = dm_state::di(Plus ? p : m, t);
           });
  }
  void reset() noexcept { dm_.reset(); }
  template <class V>
  void visit(V& v) { v(dm_); }

 private:
  dm_state dm_;
  int period_;
};
using plus_di = di_t<true>;
using minus_di = di_t<false>;

/// Average directional index: the first value is the mean of the first `period` DX values,
/// then Wilder's smoothing; a bar whose TR or DI sum is zero leaves the ADX unchanged (TA-Lib).
struct adx {
  static constexpr int n_in = 3, n_out = 1;
  explicit adx(int period)
      : dm_(period), period_(period), a_(static_cast<double>(period - 1) / period), b_(1.0 / period) {}
  int lookback() const noexcept { return 2 * period_ - 1; }
  /// Wilder's smoothing of DX, which comes of Wilder-smoothed sums: two levels.
  std::size_t settle_span() const noexcept { return settle_for(period_, 2, lookback()); }  // run_parts
  void update(const double* in, double* out) noexcept {
    out[0] = nan;
    if (!dm_.update(in[0], in[1], in[2])) return;
    double dx;
    const bool have_dx = directional_index(dm_.plus_sum(), dm_.minus_sum(), dm_.tr_sum(), dx);
    if (n_dx_ < period_) {
      if (have_dx) sum_dx_ += dx;
      if (++n_dx_ < period_) return;
      adx_ = sum_dx_ / period_;
      sum_dx_ = 0.0;  // spent: cleared so that settled states compare equal (settle_span)
      out[0] = adx_;
      return;
    }
    adx_ = smoothed(adx_, have_dx, dx, a_, b_);
    out[0] = adx_;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    std::uint64_t bad = 0;
    std::size_t i = 0;
    for (; i < n && n_dx_ < period_; ++i) bad |= step_range(*this, in, out, i, i + 1);
    double* NT_RESTRICT o = out[0];
    double v = adx_;
    const double a = a_, b = b_;
    bad |= dm_.run(in[0], in[1], in[2], i, n, [o, &v, a, b](std::size_t j, double p, double m, double t) {
      double dx;
      const bool have = directional_index(p, m, t, dx);
      v = smoothed(v, have, dx, a, b);
      o[j] = v;
    });
    adx_ = v;
    return bad;
  }
  /// DX from the smoothed +DM, -DM and TR sums: 100 |-DI - +DI| / (-DI + +DI). False (no DX) where
  /// the TR sum or the DI sum is zero (TA-Lib then leaves the ADX unchanged). Branch-free.
  static bool directional_index(double p, double m, double t, double& dx) noexcept {
    const double pdi = dm_state::di(p, t), mdi = dm_state::di(m, t);
    const double s = mdi + pdi;
    const bool have = (t > 0.0) & !ta_is_zero(s);
    dx = div_or(std::fabs(mdi - pdi), s, have, 0.0) * 100.0;
    return have;
  }
  /// Wilder's step where there is a DX (TA-Lib: (adx * (period - 1) + dx) / period, equal to
  /// rounding), else the ADX unchanged.
  static double smoothed(double adx, bool have_dx, double dx, double a, double b) noexcept {
    const double next = std::fma(adx, a, dx * b);
    return have_dx ? next : adx;
  }
  void reset() noexcept {
    dm_.reset();
    n_dx_ = 0;
    sum_dx_ = adx_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(dm_);
    v(n_dx_);
    v(sum_dx_);
    v(adx_);
    v.check(n_dx_ >= 0 && n_dx_ <= period_, "adx count");
  }

 private:
  dm_state dm_;
  int period_;
  double a_, b_;
  int n_dx_ = 0;
  double sum_dx_ = 0.0, adx_ = 0.0;
};

// ---------------------------------------------------------------------------------------------
// Volume

/// +1, -1 or 0 as x is above, below or equal to prev, computed without branches (price
/// direction is a coin flip to a branch predictor).
inline double signum(double x, double prev) noexcept {
  const int s = static_cast<int>(x > prev) - static_cast<int>(x < prev);
  return static_cast<double>(s);
}

/// On-balance volume: starts at the first volume, then ± volume as the price rises or falls.
struct obv {
  static constexpr int n_in = 2, n_out = 1;
  obv() = default;
  int lookback() const noexcept { return 0; }
  void update(const double* in, double* out) noexcept {
    const double x = in[0], vol = in[1];
    if (!started_) {
      started_ = true;
      obv_ = vol;
    } else {
      obv_ += signum(x, prev_) * vol;
    }
    prev_ = x;
    out[0] = obv_;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* NT_RESTRICT x = in[0];
    const double* NT_RESTRICT v = in[1];
    double* NT_RESTRICT o = out[0];
    if (n == 0) return 0;
    std::uint64_t bad = step_range(*this, in, out, 0, 1);
    double acc = obv_;
    for (std::size_t i = 1; i < n; ++i) {
      bad |= missing_bit_any(x[i], v[i]);
      acc += signum(x[i], x[i - 1]) * v[i];
      o[i] = acc;
    }
    obv_ = acc;
    prev_ = x[n - 1];
    return bad;
  }
  void reset() noexcept {
    started_ = false;
    prev_ = obv_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(started_);
    v(prev_);
    v(obv_);
  }

 private:
  bool started_ = false;
  double prev_ = 0.0, obv_ = 0.0;
};

/// Rolling volume-weighted average price (not in TA-Lib): sum(price × volume) / sum(volume) over
/// the last `period` bars; NaN when the window's volume is 0.
struct vwap {
  static constexpr int n_in = 2, n_out = 1;
  explicit vwap(int period) : pv_(period), v_(period), period_(period) {}
  int lookback() const noexcept { return period_ - 1; }
  void update(const double* in, double* out) noexcept {
    const double pv = in[0] * in[1];
    const double old_pv = pv_.oldest();
    const double old_v = v_.oldest();
    spv_ += pv - old_pv;
    sv_ += in[1] - old_v;
    pv_.push(pv);
    v_.push(in[1]);
    out[0] = (pv_.full() && sv_ != 0.0) ? spv_ / sv_ : nan;
  }
  std::uint64_t run_block(const double* const* in, double* const* out, std::size_t n) noexcept {
    const double* x = in[0];
    const double* vol = in[1];
    double* o = out[0];
    const std::size_t p = pv_.capacity();
    if (n < 2 * p) return step_range(*this, in, out, 0, n);
    std::uint64_t bad = step_range(*this, in, out, 0, p);
    double spv = spv_, sv = sv_;
    for (std::size_t i = p; i < n; ++i) {
      bad |= missing_bit_any(x[i], vol[i]);
      const double pv = x[i] * vol[i];
      const double old_pv = x[i - p] * vol[i - p];
      spv += pv - old_pv;
      sv += vol[i] - vol[i - p];
      o[i] = sv != 0.0 ? spv / sv : nan;
    }
    spv_ = spv;
    sv_ = sv;
    for (std::size_t k = 0; k < p; ++k) {
      pv_.push(x[n - p + k] * vol[n - p + k]);
      v_.push(vol[n - p + k]);
    }
    return bad;
  }
  void reset() noexcept {
    pv_.reset();
    v_.reset();
    spv_ = sv_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(pv_);
    v(v_);
    v(spv_);
    v(sv_);
  }

 private:
  window pv_, v_;
  int period_;
  double spv_ = 0.0, sv_ = 0.0;
};

}  // namespace neural_trader::ta
