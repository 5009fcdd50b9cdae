/// @file blocks.hpp
/// @brief Building blocks of the indicators: fixed-size windows, rolling extremes, the state
/// visitor used for persistence, and TA-Lib's numeric conventions.
///
/// Every indicator is a small value type with `update(const double* in, double* out)`: O(1) work
/// per call (CCI excepted, see indicators.hpp) and O(period) fixed-size state. A state only ever
/// holds scalars, `window`s and `extremes`, so copying it never allocates once constructed
/// (std::vector copy-assignment between equal sizes reuses storage).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif
#include <vector>

#if !defined(NT_RESTRICT)
#if defined(_MSC_VER)
#define NT_RESTRICT __restrict
#else
#define NT_RESTRICT __restrict__
#endif
#endif

namespace neural_trader::ta {

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// TA-Lib's TA_EPSILON since 0.6 (earlier releases: 1e-8). TA-Lib 0.8 keeps a fixed band only
/// where the tested value has no unit; a price, a range or a sum of prices is tested exactly or
/// relative to its own scale, so that an instrument quoted at 1e-7 is not read as flat.
inline constexpr double ta_epsilon = 0.00000000000001;
/// TA-Lib's TA_IS_ZERO: |v| < 1e-14 (for unitless values, e.g. the sum of two DIs).
inline constexpr bool ta_is_zero(double v) noexcept { return -ta_epsilon < v && v < ta_epsilon; }
/// TA-Lib's TA_IS_ZERO_SCALED: |v| <= 1e-14 scale, for a difference v of two prices whose
/// magnitudes sum to `scale` (a dead zone of ~90 ulp at every price level).
inline bool ta_is_zero_scaled(double v, double scale) noexcept { return std::fabs(v) <= ta_epsilon * scale; }

/// A parameter's value for an error message: "0", "-1", "2.5", "1e+300", "nan" (not
/// std::to_string's "0.000000").
inline std::string param_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

/// Checks an integer parameter given as a double (as Python passes it) and returns it.
inline int int_param(double v, int lo, int hi, const char* name) {
  if (!(v >= lo && v <= hi) || v != std::floor(v)) {
    throw std::invalid_argument(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got " + param_text(v));
  }
  return static_cast<int>(v);
}

inline double real_param(double v, const char* name) {
  if (!std::isfinite(v)) throw std::invalid_argument(std::string(name) + " must be finite");
  return v;
}

inline constexpr int max_period = 100000;

/// Bit 63 set exactly when v is NaN or infinite: (bits & exponent mask) + 2^52 carries into bit
/// 63 only when the exponent is all ones. Batch kernels OR this over every input value they read
/// (and/add/or, no branch, so it is free next to the kernel's own work) and the stream wrapper
/// tests bit 63 once per block (see stream::run_range).
inline std::uint64_t missing_bit(double v) noexcept {
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7ff0000000000000ull) + (std::uint64_t{1} << 52);
}

/// missing_bit() of several inputs of one bar at once, through their sum: a sum is NaN or
/// infinite whenever one of its terms is (inf - inf is NaN). A sum of huge finite values can
/// overflow as well; that only sends the block down the careful path (which finds nothing to
/// skip), never lets a missing value through. Fewer instructions than one test per input, in
/// loops whose instruction count is what bounds them.
inline std::uint64_t missing_bit_any(double a, double b) noexcept { return missing_bit(a + b); }
inline std::uint64_t missing_bit_any(double a, double b, double c) noexcept { return missing_bit((a + b) + c); }

/// missing_bit() of the final value of an exponential recursion v = fma(v, decay, x * gain)
/// (decay >= 0, gain > 0) that every input of a block went through: NaN and infinities are
/// absorbing in it (NaN stays NaN; inf stays inf, turns NaN on -inf or a zero decay), and finite
/// inputs keep it finite, so it ends non-finite exactly when an input was missing. Scalar loops
/// bound by their instruction count then test nothing per bar (missing_bit costs four
/// operations per input). An input sum does the same for any loop, at one addition per bar.
inline std::uint64_t absorbed_missing(double v) noexcept { return missing_bit(v); }

/// missing_bit() OR-ed over x[0, n) (a loop compilers vectorise).
inline std::uint64_t missing_bits(const double* x, std::size_t n) noexcept {
  std::uint64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad |= missing_bit(x[i]);
  return bad;
}

/// The last `capacity` values pushed, oldest first.
class window {
 public:
  window() = default;
  explicit window(int capacity) : buf_(static_cast<std::size_t>(capacity), 0.0) {}

  std::size_t capacity() const noexcept { return buf_.size(); }
  bool full() const noexcept { return count_ == buf_.size(); }
  std::size_t size() const noexcept { return count_; }
  /// The value that the next push evicts (the oldest one); 0 while not full() (unwritten slots
  /// hold 0), so running sums can subtract it unconditionally.
  double oldest() const noexcept { return buf_[pos_]; }
  /// The i-th value, 0 = oldest.
  double at(std::size_t i) const noexcept {
    const std::size_t start = full() ? pos_ : 0;
    std::size_t k = start + i;
    if (k >= buf_.size()) k -= buf_.size();
    return buf_[k];
  }
  /// Calls f(older, n_older, newer, n_newer): the content, oldest first, as two contiguous runs
  /// of the storage (the second one empty when the window has not wrapped).
  template <class F>
  decltype(auto) segments(F&& f) const {
    if (!full()) return f(buf_.data(), count_, buf_.data(), std::size_t{0});
    return f(buf_.data() + pos_, buf_.size() - pos_, buf_.data(), pos_);
  }
  void push(double x) noexcept {
    buf_[pos_] = x;
    const std::size_t next = pos_ + 1;
    pos_ = next == buf_.size() ? 0 : next;
    count_ += count_ < buf_.size() ? 1 : 0;
  }
  void reset() noexcept {
    for (auto& v : buf_) v = 0.0;
    pos_ = 0;
    count_ = 0;
  }
  /// Makes the window hold exactly last[0 .. capacity) (oldest first), as that many pushes
  /// would, for every logical read (oldest(), at()); the slot rotation may differ.
  void assign_tail(const double* last) noexcept {
    for (std::size_t i = 0; i < buf_.size(); ++i) buf_[i] = last[i];
    pos_ = 0;
    count_ = buf_.size();
  }
  template <class V>
  void visit(V& v) {
    v(buf_);
    v(pos_);
    v(count_);
    v.check(pos_ < buf_.size() && count_ <= buf_.size(), "window position");
  }
  /// One-step undo (stream's replace, see undo_journal): what the next push() can change, the
  /// position, the count and the slot it overwrites, O(1). undo_load() puts them back in the
  /// same order (the position first, so the slot is the one saved).
  template <class J>
  void undo_save(J& j) {
    j(pos_);
    j(count_);
    j(buf_[pos_]);
  }
  template <class J>
  void undo_load(J& j) {
    undo_save(j);  // the same fields in the same order, read back
  }

 private:
  std::vector<double> buf_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
};

/// Adds term(x[i]) for x[0, n) to four partial sums, acc[(j0 + i) mod 4]: a sum over a window in
/// four independent chains whose bits do not depend on how the window is split into runs (call
/// it once per run, with j0 = the run's position in the window).
template <class Term>
inline void add4(double (&acc)[4], const double* x, std::size_t n, std::size_t j0, Term term) noexcept {
  std::size_t i = 0;
  for (; i < n && ((j0 + i) & 3u) != 0; ++i) acc[(j0 + i) & 3u] += term(x[i]);
  for (; i + 4 <= n; i += 4) {
    acc[0] += term(x[i]);
    acc[1] += term(x[i + 1]);
    acc[2] += term(x[i + 2]);
    acc[3] += term(x[i + 3]);
  }
  for (; i < n; ++i) acc[(j0 + i) & 3u] += term(x[i]);
}

/// Rolling maximum (Greater = true) or minimum over the last `span` pushes, with the sequence
/// number of the extreme: a monotonic queue, O(1) amortised per push, O(span) state. On ties
/// the latest position wins (TA-Lib's AROON convention).
template <bool Greater>
class extremes {
 public:
  extremes() = default;
  explicit extremes(int span)
      : vals_(static_cast<std::size_t>(span), 0.0), seqs_(static_cast<std::size_t>(span), 0), span_(span) {}

  /// Adds the value of sequence number `seq` (consecutive from 0) and drops what left the span.
  void push(double x, std::int64_t seq) noexcept {
    const std::size_t cap = vals_.size();
    while (len_ > 0) {
      const std::size_t back = index(len_ - 1);
      if (Greater ? vals_[back] <= x : vals_[back] >= x) {
        --len_;
      } else {
        break;
      }
    }
    // The front left the span. A full queue only arises from a state that no run of pushes makes
    // (load() rejects those it can see): dropping its front keeps every index in range anyway.
    if (len_ > 0 && (seqs_[head_] <= seq - span_ || len_ == cap)) {
      head_ = head_ + 1 == cap ? 0 : head_ + 1;
      --len_;
    }
    const std::size_t at = index(len_);
    undo_at_ = at;  // the one slot a push overwrites (the popped entries stay where they were)
    undo_val_ = vals_[at];
    undo_seq_ = seqs_[at];
    vals_[at] = x;
    seqs_[at] = seq;
    ++len_;
  }
  double value() const noexcept { return vals_[head_]; }
  std::int64_t seq() const noexcept { return seqs_[head_]; }
  std::int64_t span() const noexcept { return span_; }
  /// Replaces the content with the pushes of x[0, n) numbered first_seq, first_seq + 1, ...
  /// (the same state as those pushes from any earlier state, when n >= span).
  void rebuild(const double* x, std::size_t n, std::int64_t first_seq) noexcept {
    head_ = 0;
    len_ = 0;
    const std::size_t from = n > static_cast<std::size_t>(span_) ? n - static_cast<std::size_t>(span_) : 0;
    for (std::size_t i = from; i < n; ++i) push(x[i], first_seq + static_cast<std::int64_t>(i));
  }
  /// The state of a new queue (the slots cleared too, so a reset object saves the same bytes).
  void reset() noexcept {
    std::fill(vals_.begin(), vals_.end(), 0.0);
    std::fill(seqs_.begin(), seqs_.end(), 0);
    head_ = 0;
    len_ = 0;
    undo_at_ = no_slot;
  }
  template <class V>
  void visit(V& v) {
    v(vals_);
    v(seqs_);
    v(head_);
    v(len_);
    v.check(head_ < vals_.size() && len_ <= vals_.size(), "extremes position");
    v.check(ordered(), "extremes order");
  }
  /// The queue's invariant: sequence numbers (from 0) increasing within one span, values strictly
  /// decreasing from the front for a maximum (increasing for a minimum; a push drops equal ones).
  bool ordered() const noexcept {
    if (head_ >= vals_.size() || len_ > vals_.size()) return false;
    if (len_ > 0 && seqs_[head_] < 0) return false;  // then no difference below can overflow
    for (std::size_t i = 1; i < len_; ++i) {
      const std::size_t a = index(i - 1), b = index(i);
      if (!(seqs_[a] < seqs_[b]) || !(Greater ? vals_[a] > vals_[b] : vals_[a] < vals_[b])) return false;
    }
    return len_ == 0 || seqs_[index(len_ - 1)] - seqs_[head_] < span_;
  }
  /// The sequence number of the latest entry (the last push), -1 when empty.
  std::int64_t newest_seq() const noexcept { return len_ == 0 ? -1 : seqs_[index(len_ - 1)]; }
  /// One-step undo (stream's replace, see undo_journal), O(1): the front and the length, and
  /// the slot that the push since undo_save() overwrote (push() notes it: where it writes is
  /// only known once the dominated entries are popped; popping itself moves no entry).
  template <class J>
  void undo_save(J& j) {
    undo_at_ = no_slot;
    j(head_);
    j(len_);
  }
  template <class J>
  void undo_load(J& j) {
    if (undo_at_ != no_slot) {
      vals_[undo_at_] = undo_val_;
      seqs_[undo_at_] = undo_seq_;
      undo_at_ = no_slot;
    }
    j(head_);
    j(len_);
  }

 private:
  std::size_t index(std::size_t i) const noexcept {
    std::size_t k = head_ + i;
    return k >= vals_.size() ? k - vals_.size() : k;
  }
  static constexpr std::size_t no_slot = ~std::size_t{0};
  std::vector<double> vals_;
  std::vector<std::int64_t> seqs_;
  std::int64_t span_ = 1;
  std::size_t head_ = 0;
  std::size_t len_ = 0;
  // the last push's overwritten slot, for undo_load() (not state: never saved)
  std::size_t undo_at_ = no_slot;
  double undo_val_ = 0.0;
  std::int64_t undo_seq_ = 0;
};

/// A running window sum in four interleaved chains: with d_t = x_t - x_{t-period} (x before the
/// first input counts as 0) and q_t = d_t + d_{t-1},
///     s_t = s_{t-4} + (q_t + q_{t-2}),
/// the sum of the last `period` inputs in exact arithmetic. One addition per step on each of four
/// independent chains, where `s += d` puts every step on one chain: the batch loop runs four
/// steps per chain latency instead of one. Streaming and batch evaluate the same expression in
/// the same order, so they give the same bits; the state is the four lane sums, d_{t-1},
/// q_{t-1}, q_{t-2} and the lane of the next step (O(1) on top of the window).
class lag4_sum {
 public:
  /// One step with d = x_t - x_{t-period}; returns s_t.
  double step(double d) noexcept {
    const double q = d + d1_;
    const double s = lane_[phase_] + (q + q2_);
    lane_[phase_] = s;
    q2_ = q1_;
    q1_ = q;
    d1_ = d;
    phase_ = (phase_ + 1) & 3u;
    return s;
  }
  /// Steps i = b .. e-1 with d_i = d(i), calling emit(i, s_i) after each: the values of step()
  /// called in order. The inner loop runs four steps at a time once the lane is 0, reading d(i)
  /// to d(i + 3) before any of them is emitted. Returns the missing_bit()s of m[b, e) (the input
  /// that d reads; tested inside this loop, where a separate scan costs a second pass).
  template <class D, class Emit>
  std::uint64_t run(const double* m, std::size_t b, std::size_t e, D&& d, Emit&& emit) noexcept {
    std::uint64_t bad = 0;
    std::size_t i = b;
    for (; i < e && phase_ != 0; ++i) {
      bad |= missing_bit(m[i]);
      emit(i, step(d(i)));
    }
    double s0 = lane_[0], s1 = lane_[1], s2 = lane_[2], s3 = lane_[3];
    double d1 = d1_, q1 = q1_, q2 = q2_;
    for (; i + 4 <= e; i += 4) {
      bad |= missing_bit(m[i]) | missing_bit(m[i + 1]) | missing_bit(m[i + 2]) | missing_bit(m[i + 3]);
      const double d0 = d(i), dA = d(i + 1), dB = d(i + 2), dC = d(i + 3);
      const double qa = d0 + d1, qb = dA + d0, qc = dB + dA, qd = dC + dB;
      s0 = s0 + (qa + q2);
      s1 = s1 + (qb + q1);
      s2 = s2 + (qc + qa);
      s3 = s3 + (qd + qb);
      emit(i, s0);
      emit(i + 1, s1);
      emit(i + 2, s2);
      emit(i + 3, s3);
      d1 = dC;
      q2 = qc;
      q1 = qd;
    }
    lane_[0] = s0;
    lane_[1] = s1;
    lane_[2] = s2;
    lane_[3] = s3;
    d1_ = d1;
    q1_ = q1;
    q2_ = q2;
    for (; i < e; ++i) {
      bad |= missing_bit(m[i]);
      emit(i, step(d(i)));
    }
    return bad;
  }
  void reset() noexcept { *this = lag4_sum{}; }
  template <class V>
  void visit(V& v) {
    for (double& s : lane_) v(s);
    v(d1_);
    v(q1_);
    v(q2_);
    v(phase_);
    v.check(phase_ < 4, "sum lane");
  }

 private:
  double lane_[4] = {0.0, 0.0, 0.0, 0.0};  // lane k: the last s_t with t = k (mod 4)
  double d1_ = 0.0, q1_ = 0.0, q2_ = 0.0;
  std::size_t phase_ = 0;
};

/// Simple moving average as TA-Lib seeds it: NaN for the first period-1 inputs, then the mean of
/// the last `period` inputs. The window sum is a lag4_sum, divided by the period (not
/// multiplied by its reciprocal: a flat series must average to exactly its value, or two
/// averages of it would cross).
class sma_state {
 public:
  sma_state() = default;
  explicit sma_state(int period) : win_(period), period_(period) {}
  /// Returns the average, or NaN while warming up.
  double update(double x) noexcept {
    const double s = sum_.step(x - win_.oldest());
    win_.push(x);
    return win_.full() ? s / period_ : nan;
  }
  bool ready() const noexcept { return win_.full(); }
  /// n consecutive updates over x, outputs to o (equal to n update() calls); returns the
  /// missing_bit()s of x[0, n).
  std::uint64_t run_block(const double* x, double* o, std::size_t n) noexcept {
    const std::size_t p = win_.capacity();
    std::uint64_t bad = 0;
    if (n < 2 * p) {
      for (std::size_t i = 0; i < n; ++i) {
        bad |= missing_bit(x[i]);
        o[i] = update(x[i]);
      }
      return bad;
    }
    for (std::size_t i = 0; i < p; ++i) {  // the window now holds x[0, p)
      bad |= missing_bit(x[i]);
      o[i] = update(x[i]);
    }
    const double div = period_;
    const double* NT_RESTRICT xr = x;
    double* NT_RESTRICT orr = o;
    bad |= sum_.run(
        xr, p, n, [xr, p](std::size_t i) { return xr[i] - xr[i - p]; },
        [orr, div](std::size_t i, double s) { orr[i] = s / div; });
    win_.assign_tail(x + n - p);
    return bad;
  }
  void reset() noexcept {
    win_.reset();
    sum_.reset();
  }
  template <class V>
  void visit(V& v) {
    v(win_);
    v(sum_);
  }

 private:
  window win_;
  lag4_sum sum_;
  int period_ = 1;
};

/// A recursive average seeded TA-Lib's way: NaN for the first period - 1 inputs, then the simple
/// mean of the first `period` inputs, then fma(prev, decay, x * gain). EMA and Wilder's smoothing
/// are this with their own coefficients (below).
///
/// The recursion is one fused multiply-add on the dependency chain (4 cycles where a multiply
/// and an add take 6-8). std::fma is exactly rounded by definition, so every platform gives the
/// same bits with or without FMA hardware: the batch kernels run FMA instructions where the CPU
/// has them (stream.hpp), the streaming update() calls the C library's fma.
class smoothing_state {
 public:
  smoothing_state() = default;
  smoothing_state(int period, double decay, double gain) : decay_(decay), gain_(gain), period_(period) {}
  double update(double x) noexcept {
    if (n_ >= period_) [[likely]] {
      prev_ = std::fma(prev_, decay_, x * gain_);
      return prev_;
    }
    sum_ += x;
    if (++n_ < period_) return nan;
    prev_ = sum_ / period_;
    sum_ = 0.0;  // spent: cleared so that settled states compare equal (indicators.hpp, settle_span)
    return prev_;
  }
  bool ready() const noexcept { return n_ >= period_; }
  double value() const noexcept { return prev_; }
  /// The recursion's coefficients, for batch kernels that run it on local variables:
  /// next = std::fma(prev, decay(), x * gain()).
  double decay() const noexcept { return decay_; }
  double gain() const noexcept { return gain_; }
  /// Sets the value after steps a batch kernel ran (only once ready()).
  void set_value(double v) noexcept { prev_ = v; }
  void reset() noexcept {
    n_ = 0;
    sum_ = 0.0;
    prev_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(n_);
    v(sum_);
    v(prev_);
    v.check(n_ >= 0 && n_ <= period_, "smoothing count");
  }

 private:
  double decay_ = 0.0;
  double gain_ = 1.0;
  int period_ = 1;
  int n_ = 0;
  double sum_ = 0.0;
  double prev_ = 0.0;
};

/// Exponential moving average, k = 2 / (period + 1) (or a given k). TA-Lib evaluates
/// (x - prev) * k + prev; fma(prev, 1 - k, x * k) is equal to rounding and has one operation on
/// the dependency chain.
class ema_state : public smoothing_state {
 public:
  ema_state() = default;
  explicit ema_state(int period) : ema_state(period, 2.0 / (period + 1)) {}
  ema_state(int period, double k) : smoothing_state(period, 1.0 - k, k) {}
};

/// Wilder's smoothing: TA-Lib's (prev * (period - 1) + x) / period, evaluated as
/// fma(prev, (period - 1) / period, x * (1 / period)) (equal to rounding; no division on the chain).
class wilder_state : public smoothing_state {
 public:
  wilder_state() = default;
  explicit wilder_state(int period)
      : smoothing_state(period, static_cast<double>(period - 1) / period, 1.0 / period) {}
};

/// num / den where `use`, else `otherwise`. The division runs either way (by 1 where it is not
/// used), so a loop of these compiles without a branch and vectorises: compilers do not
/// if-convert a division that only one side of a branch performs.
inline double div_or(double num, double den, bool use, double otherwise) noexcept {
  const double q = num / (use ? den : 1.0);
  return use ? q : otherwise;
}

/// x where a < b, else 0.0, without a branch (a compare mask and-ed with x). Compilers turn such
/// selects, and std::max(a, 0.0) as well, into branches, which mispredict about every other bar
/// where the comparison is a coin flip (which of two price moves is larger, or its sign).
inline double keep_if_less(double a, double b, double x) noexcept {
#if defined(__SSE2__) || defined(_M_X64)
  return _mm_cvtsd_f64(_mm_and_pd(_mm_cmplt_sd(_mm_set_sd(a), _mm_set_sd(b)), _mm_set_sd(x)));
#else
  return a < b ? x : 0.0;
#endif
}

/// a where a > b and a > 0, else 0.0, without a branch.
inline double positive_and_greater(double a, double b) noexcept { return keep_if_less(b, a, keep_if_less(0.0, a, a)); }

/// x where v is not zero relative to `scale` (!ta_is_zero_scaled(v, scale)), else 0.0, without
/// a branch.
inline double keep_if_nonzero_scaled(double v, double scale, double x) noexcept {
  return keep_if_less(ta_epsilon * scale, std::fabs(v), x);
}

/// The largest of high - low, |prev_close - high|, |prev_close - low| (TA-Lib's TRUE_RANGE;
/// written with max so that it compiles branch-free).
inline double true_range(double high, double low, double prev_close) noexcept {
  return std::max(std::max(high - low, std::fabs(prev_close - high)), std::fabs(prev_close - low));
}

// NT_NO_VECTOR_EXT: build the scalar loops only (what MSVC builds get; lets a GCC build test them).
#if (defined(__GNUC__) || defined(__clang__)) && !defined(NT_NO_VECTOR_EXT)
#define NT_HAVE_VECTOR_EXT 1
/// Four doubles as one GCC/Clang vector: SSE2 pairs in the baseline build, one AVX register in
/// the AVX2 + FMA copies (run_finite_fma). Element-wise arithmetic, so the bits are the scalar
/// code's. (Helpers take and give such vectors through memory, not by value: a by-value vector
/// argument has a different ABI with and without AVX.)
typedef double f64x4 __attribute__((vector_size(32)));
typedef std::int64_t i64x4 __attribute__((vector_size(32)));
/// And-ed with a vector's bits: its absolute values.
inline constexpr i64x4 abs_mask4 = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
/// The sum of four lanes ((0 + 1) + (2 + 3)): non-finite when one is (inputs summed lane-wise
/// into a vector are checked for missing values this way).
inline double lane_sum(const f64x4& v) noexcept { return (v[0] + v[1]) + (v[2] + v[3]); }

/// out[k] = true_range(high[k], low[k], prev_close[k]) * w + (prev_close[k] - prev_close[k])
/// for k < 4: the weighted true ranges of four bars, NaN where a previous close is missing (a
/// max could drop it) and otherwise exactly true_range() * w (the added term is +0).
inline void weighted_true_range4(const double* high, const double* low, const double* prev_close, double w,
                                 double* out) noexcept {
  f64x4 h, l, pc;
  std::memcpy(&h, high, sizeof h);
  std::memcpy(&l, low, sizeof l);
  std::memcpy(&pc, prev_close, sizeof pc);
  const f64x4 range = h - l;
  const f64x4 up = (f64x4)((i64x4)(pc - h) & abs_mask4);
  const f64x4 down = (f64x4)((i64x4)(pc - l) & abs_mask4);
  const f64x4 m = range < up ? up : range;  // std::max(range, up): a NaN range is kept
  const f64x4 t = (m < down ? down : m) * w + (pc - pc);
  std::memcpy(out, &t, sizeof t);
}
#endif

/// Steps `ind` one update per bar over [b, e) of contiguous inputs (the fallback of the
/// run_block kernels); returns the missing_bit()s of the inputs read.
template <class Ind>
std::uint64_t step_range(Ind& ind, const double* const* in, double* const* out, std::size_t b,
                         std::size_t e) noexcept {
  double x[Ind::n_in];
  double o[Ind::n_out];
  std::uint64_t bad = 0;
  for (std::size_t i = b; i < e; ++i) {
    for (int k = 0; k < Ind::n_in; ++k) {
      x[k] = in[k][i];
      bad |= missing_bit(x[k]);
    }
    ind.update(x, o);
    for (int m = 0; m < Ind::n_out; ++m) out[m][i] = o[m];
  }
  return bad;
}

/// Per-thread scratch arrays for batch kernels (reused, so a kernel called block after block
/// does not allocate).
inline std::vector<double>* scratch_buffers_impl() {
  thread_local std::vector<double> bufs[3];
  return bufs;
}
struct scratch_ref {
  std::vector<double>* p;
  std::vector<double>& operator[](std::size_t i) const noexcept { return p[i]; }
};
inline scratch_ref scratch_buffers() { return scratch_ref{scratch_buffers_impl()}; }

/// Scratch of rolling_extremes(): per chunk, the suffix extremes of the blocks from b0 - w (bar p
/// at p + w - b0; [0, per + w)) and the prefix extremes of the blocks from b0 (bar p at p - b0;
/// [0, per)), values (v) and, when positions are tracked, bar numbers as doubles (p).
struct extremes_scratch {
  double *svh, *svl, *gvh, *gvl;
  double *sph, *spl, *gph, *gpl;  // null unless Pos
};

/// The skeleton of rolling_range and rolling_arg_range: van Herk / Gil-Werman (prefix and suffix
/// extremes within blocks of w, no data-dependent branch) over chunks of whole blocks (about 512
/// bars), so that the per-thread scratch (O(w + chunk)) stays in L1 and the arrays are read once
/// from memory. For each chunk [b0, b1) that holds bars from `from` on, fills the scratch and
/// calls combine(i0, b1, b0, scratch) with i0 = max(from, b0). Pos adds the positions, the latest
/// bar on ties (the prefix takes a later bar on ties, the suffix keeps the later one); without
/// it the earlier bar's value stands on ties and no position is stored. Returns the missing_bit()s
/// of hi[0, n) and lo[0, n).
template <bool Pos, class Combine>
std::uint64_t rolling_extremes(const double* NT_RESTRICT hi, const double* NT_RESTRICT lo, std::size_t n,
                               std::size_t w, std::size_t from, Combine&& combine) {
  if (n < w || from >= n) return missing_bits(hi, n) | missing_bits(lo, n);
  const std::size_t per = std::max<std::size_t>(1, 512 / w) * w;  // bars per chunk: whole blocks
  const std::size_t lanes = 2 * (per + w) + 2 * per;
  std::vector<double>& buf = scratch_buffers()[2];
  buf.resize(Pos ? 2 * lanes : lanes);
  double* NT_RESTRICT svh = buf.data();
  double* NT_RESTRICT svl = svh + (per + w);
  double* NT_RESTRICT gvh = svl + (per + w);
  double* NT_RESTRICT gvl = gvh + per;
  double* NT_RESTRICT sph = Pos ? svh + lanes : nullptr;
  double* NT_RESTRICT spl = Pos ? svl + lanes : nullptr;
  double* NT_RESTRICT gph = Pos ? gvh + lanes : nullptr;
  double* NT_RESTRICT gpl = Pos ? gvl + lanes : nullptr;
  const extremes_scratch sc{svh, svl, gvh, gvl, sph, spl, gph, gpl};
  std::uint64_t bad = 0;
  for (std::size_t b0 = 0; b0 < n; b0 += per) {
    const std::size_t b1 = std::min(n, b0 + per);
    for (std::size_t b = b0; b < b1; b += w) {
      const std::size_t e = std::min(b1, b + w);
      double vh = hi[b], vl = lo[b];
      [[maybe_unused]] double at = static_cast<double>(b), ph = at, pl = at;  // positions: Pos only
      bad |= missing_bit_any(vh, vl);
      gvh[b - b0] = vh;
      gvl[b - b0] = vl;
      if constexpr (Pos) {
        gph[b - b0] = ph;
        gpl[b - b0] = pl;
      }
      for (std::size_t i = b + 1; i < e; ++i) {
        bad |= missing_bit_any(hi[i], lo[i]);
        if constexpr (Pos) {
          const double x = hi[i], y = lo[i];
          at += 1.0;
          const bool th = x >= vh, tl = y <= vl;
          vh = th ? x : vh;
          ph = th ? at : ph;
          vl = tl ? y : vl;
          pl = tl ? at : pl;
          gph[i - b0] = ph;
          gpl[i - b0] = pl;
        } else {
          vh = hi[i] > vh ? hi[i] : vh;
          vl = lo[i] < vl ? lo[i] : vl;
        }
        gvh[i - b0] = vh;
        gvl[i - b0] = vl;
      }
    }
    const std::size_t i0 = std::max(from, b0);
    if (i0 >= b1) continue;
    // the windows of [i0, b1) start in [i0 + 1 - w, b1 - w]: the blocks from b0 - w (or 0) on
    for (std::size_t b = b0 >= w ? b0 - w : 0; b < b1; b += w) {
      const std::size_t e = std::min(b1, b + w);
      double vh = hi[e - 1], vl = lo[e - 1];
      [[maybe_unused]] double at = static_cast<double>(e - 1), ph = at, pl = at;  // Pos only
      svh[e - 1 + w - b0] = vh;
      svl[e - 1 + w - b0] = vl;
      if constexpr (Pos) {
        sph[e - 1 + w - b0] = ph;
        spl[e - 1 + w - b0] = pl;
      }
      for (std::size_t i = e - 1; i > b; --i) {
        if constexpr (Pos) {
          const double x = hi[i - 1], y = lo[i - 1];
          at -= 1.0;
          const bool th = x > vh, tl = y < vl;  // the later bar keeps a tie
          vh = th ? x : vh;
          ph = th ? at : ph;
          vl = tl ? y : vl;
          pl = tl ? at : pl;
          sph[i - 1 + w - b0] = ph;
          spl[i - 1 + w - b0] = pl;
        } else {
          vh = hi[i - 1] > vh ? hi[i - 1] : vh;
          vl = lo[i - 1] < vl ? lo[i - 1] : vl;
        }
        svh[i - 1 + w - b0] = vh;
        svl[i - 1 + w - b0] = vl;
      }
    }
    combine(i0, b1, b0, sc);
  }
  return bad;
}

/// Rolling highest hi and lowest lo over the windows [i - w + 1, i] for i in [from, n)
/// (from >= w - 1), handed out a chunk at a time, in order: emit(i0, i1, hh, ll) with hh[i - i0]
/// and ll[i - i0] for i in [i0, i1) (valid during the call only). rolling_extremes() without
/// positions; three comparisons per element. Values are exact, so any method agrees. Returns the
/// missing_bit()s of hi[0, n) and lo[0, n).
template <class Emit>
std::uint64_t rolling_range(const double* NT_RESTRICT hi, const double* NT_RESTRICT lo, std::size_t n,
                            std::size_t w, std::size_t from, Emit&& emit) {
  return rolling_extremes<false>(hi, lo, n, w, from,
                                 [&](std::size_t i0, std::size_t b1, std::size_t b0, const extremes_scratch& s) {
    const double* NT_RESTRICT sh = s.svh + 1;  // window i: suffix at i + 1 - b0, prefix at i - b0
    const double* NT_RESTRICT sl = s.svl + 1;
    double* NT_RESTRICT gh = s.gvh;  // the window's extremes, in place of the prefix
    double* NT_RESTRICT gl = s.gvl;
    for (std::size_t g = i0 - b0; g < b1 - b0; ++g) {
      gh[g] = gh[g] > sh[g] ? gh[g] : sh[g];
      gl[g] = gl[g] < sl[g] ? gl[g] : sl[g];
    }
    emit(i0, b1, static_cast<const double*>(gh + (i0 - b0)), static_cast<const double*>(gl + (i0 - b0)));
  });
}

/// Where the highest hi and the lowest lo of each window [i - w + 1, i] are, the latest bar on
/// ties (TA-Lib's AROON convention): emit(i, hi_at, lo_at) for i in [from, n) (from >= w - 1), in
/// order, bar numbers as doubles (exact). rolling_extremes() with positions; the prefix part of a
/// window (the later bars) wins a tie with its suffix part. Returns the missing_bit()s of hi[0, n)
/// and lo[0, n).
template <class Emit>
std::uint64_t rolling_arg_range(const double* NT_RESTRICT hi, const double* NT_RESTRICT lo, std::size_t n,
                                std::size_t w, std::size_t from, Emit&& emit) {
  return rolling_extremes<true>(hi, lo, n, w, from,
                                [&](std::size_t i0, std::size_t b1, std::size_t b0, const extremes_scratch& s) {
    for (std::size_t i = i0; i < b1; ++i) {
      const std::size_t g = i - b0, q = i + 1 - b0;
      emit(i, s.gvh[g] >= s.svh[q] ? s.gph[g] : s.sph[q], s.gvl[g] <= s.svl[q] ? s.gpl[g] : s.spl[q]);
    }
  });
}

/// Highest high and lowest low over the last `span` bars, with the bar number of each (two
/// monotonic queues): the state of WILLR, STOCHF/STOCH and AROON. Batch kernels compute the
/// extremes from the arrays (rolling_range) and then set the state as the pushes would have.
class range_window {
 public:
  range_window() = default;
  explicit range_window(int span) : hi_(span), lo_(span) {}
  void push(double high, double low) noexcept {
    hi_.push(high, seq_);
    lo_.push(low, seq_);
    ++seq_;
  }
  /// Bars pushed since the last reset (the next bar's number).
  std::int64_t count() const noexcept { return seq_; }
  double high() const noexcept { return hi_.value(); }
  double low() const noexcept { return lo_.value(); }
  std::int64_t high_seq() const noexcept { return hi_.seq(); }
  std::int64_t low_seq() const noexcept { return lo_.seq(); }
  /// The state after the bars h/l[0, n), numbered from first_seq (n >= span).
  void assign_tail(const double* h, const double* l, std::size_t n, std::int64_t first_seq) noexcept {
    hi_.rebuild(h, n, first_seq);
    lo_.rebuild(l, n, first_seq);
    seq_ = first_seq + static_cast<std::int64_t>(n);
  }
  void reset() noexcept {
    hi_.reset();
    lo_.reset();
    seq_ = 0;
  }
  template <class V>
  void visit(V& v) {
    v(hi_);
    v(lo_);
    v(seq_);
    v.check(seq_ >= 0 && seq_ < (std::int64_t{1} << 62) && hi_.newest_seq() == lo_.newest_seq() &&
                hi_.newest_seq() == (seq_ == 0 ? -1 : seq_ - 1),
            "range window sequence");
  }

 private:
  extremes<true> hi_;
  extremes<false> lo_;
  std::int64_t seq_ = 0;
};

/// True range as TA-Lib computes it (the largest of high-low, |prev close - high|,
/// |prev close - low|); NaN for the first bar.
class trange_state {
 public:
  double update(double high, double low, double close) noexcept {
    const double out = have_prev_ ? true_range(high, low, prev_close_) : nan;
    prev_close_ = close;
    have_prev_ = true;
    return out;
  }
  /// The state after a bar with this close (batch kernels skip the per-bar updates).
  void set_prev_close(double close) noexcept {
    prev_close_ = close;
    have_prev_ = true;
  }
  bool has_prev() const noexcept { return have_prev_; }
  double prev_close() const noexcept { return prev_close_; }
  void reset() noexcept {
    have_prev_ = false;
    prev_close_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(have_prev_);
    v(prev_close_);
  }

 private:
  bool have_prev_ = false;
  double prev_close_ = 0.0;
};

}  // namespace neural_trader::ta
