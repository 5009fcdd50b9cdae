/// @file blocks.hpp
/// @brief Building blocks of the indicators: fixed-size windows, rolling extremes, the state
/// visitor used for persistence, and TA-Lib's numeric conventions.
///
/// Every indicator is a small value type with `update(const double* in, double* out)`: O(1) work
/// per call (CCI excepted, see indicators.hpp) and O(period) fixed-size state. A state only ever
/// holds scalars, `window`s and `extremes`, so copying it never allocates once constructed
/// (std::vector copy-assignment between equal sizes reuses storage).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace neural_trader::ta {

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// TA-Lib's TA_IS_ZERO: |v| < 1e-8.
inline constexpr bool ta_is_zero(double v) noexcept { return -0.00000001 < v && v < 0.00000001; }
/// TA-Lib's TA_IS_ZERO_OR_NEG: v < 1e-8.
inline constexpr bool ta_is_zero_or_neg(double v) noexcept { return v < 0.00000001; }

/// Checks an integer parameter given as a double (as Python passes it) and returns it.
inline int int_param(double v, int lo, int hi, const char* name) {
  if (!(v >= lo && v <= hi) || v != std::floor(v)) {
    throw std::invalid_argument(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

inline double real_param(double v, const char* name) {
  if (!std::isfinite(v)) throw std::invalid_argument(std::string(name) + " must be finite");
  return v;
}

inline constexpr int max_period = 100000;

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
  /// Raw slot order (CCI sums in slot order, as TA-Lib's circular buffer does).
  const std::vector<double>& slots() const noexcept { return buf_; }
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
  template <class V>
  void visit(V& v) {
    v(buf_);
    v(pos_);
    v(count_);
    v.check(pos_ < buf_.size() && count_ <= buf_.size(), "window position");
  }

 private:
  std::vector<double> buf_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
};

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
    if (len_ > 0 && seqs_[head_] <= seq - span_) {  // the front left the span
      head_ = head_ + 1 == cap ? 0 : head_ + 1;
      --len_;
    }
    const std::size_t at = index(len_);
    vals_[at] = x;
    seqs_[at] = seq;
    ++len_;
  }
  double value() const noexcept { return vals_[head_]; }
  std::int64_t seq() const noexcept { return seqs_[head_]; }
  void reset() noexcept {
    head_ = 0;
    len_ = 0;
  }
  template <class V>
  void visit(V& v) {
    v(vals_);
    v(seqs_);
    v(head_);
    v(len_);
    v.check(head_ < vals_.size() && len_ <= vals_.size(), "extremes position");
  }

 private:
  std::size_t index(std::size_t i) const noexcept {
    std::size_t k = head_ + i;
    return k >= vals_.size() ? k - vals_.size() : k;
  }
  std::vector<double> vals_;
  std::vector<std::int64_t> seqs_;
  std::int64_t span_ = 1;
  std::size_t head_ = 0;
  std::size_t len_ = 0;
};

/// Simple moving average as TA-Lib seeds it: NaN for the first period-1 inputs, then the mean of
/// the last `period` inputs. The running sum is updated with one addition of (x - oldest).
class sma_state {
 public:
  sma_state() = default;
  explicit sma_state(int period) : win_(period), period_(period) {}
  /// Returns the average, or NaN while warming up.
  double update(double x) noexcept {
    sum_ += x - win_.oldest();
    win_.push(x);
    return win_.full() ? sum_ / period_ : nan;
  }
  bool ready() const noexcept { return win_.full(); }
  void reset() noexcept {
    win_.reset();
    sum_ = 0.0;
  }
  template <class V>
  void visit(V& v) {
    v(win_);
    v(sum_);
  }

 private:
  window win_;
  double sum_ = 0.0;
  int period_ = 1;
};

/// Exponential moving average with TA-Lib's default seeding: the first value is the simple mean
/// of the first `period` inputs, then prev + k * (x - prev) with k = 2 / (period + 1) (or a
/// given k).
class ema_state {
 public:
  ema_state() = default;
  explicit ema_state(int period) : ema_state(period, 2.0 / (period + 1)) {}
  ema_state(int period, double k) : k_(k), period_(period) {}
  double update(double x) noexcept {
    if (n_ >= period_) {
      prev_ = (x - prev_) * k_ + prev_;
      return prev_;
    }
    sum_ += x;
    if (++n_ < period_) return nan;
    prev_ = sum_ / period_;
    return prev_;
  }
  bool ready() const noexcept { return n_ >= period_; }
  double value() const noexcept { return prev_; }
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
    v.check(n_ >= 0 && n_ <= period_, "ema count");
  }

 private:
  double k_ = 1.0;
  int period_ = 1;
  int n_ = 0;
  double sum_ = 0.0;
  double prev_ = 0.0;
};

/// Wilder's smoothing seeded TA-Lib's way: the first value is the mean of the first `period`
/// inputs, then (prev * (period - 1) + x) / period.
class wilder_state {
 public:
  wilder_state() = default;
  explicit wilder_state(int period) : period_(period) {}
  double update(double x) noexcept {
    if (n_ >= period_) {
      prev_ = (prev_ * (period_ - 1) + x) / period_;
      return prev_;
    }
    sum_ += x;
    if (++n_ < period_) return nan;
    prev_ = sum_ / period_;
    return prev_;
  }
  bool ready() const noexcept { return n_ >= period_; }
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
    v.check(n_ >= 0 && n_ <= period_, "wilder count");
  }

 private:
  int period_ = 1;
  int n_ = 0;
  double sum_ = 0.0;
  double prev_ = 0.0;
};

/// True range as TA-Lib computes it (the largest of high-low, |prev close - high|,
/// |prev close - low|); NaN for the first bar.
class trange_state {
 public:
  double update(double high, double low, double close) noexcept {
    double out = nan;
    if (have_prev_) {
      out = high - low;
      const double a = std::fabs(prev_close_ - high);
      if (a > out) out = a;
      const double b = std::fabs(prev_close_ - low);
      if (b > out) out = b;
    }
    prev_close_ = close;
    have_prev_ = true;
    return out;
  }
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
