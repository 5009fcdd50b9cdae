/// @file types.hpp
/// @brief Vocabulary of the order book: enums, the message / fill / event records (the layouts
/// of nt.ORDER_MSG_DTYPE, nt.FILL_DTYPE and nt.EVENT_DTYPE) and the price / quantity grid.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace neural_trader::book {

/// Side of an order. The values are signs, so `position += int(side) * quantity` works.
enum class side : std::int8_t { buy = 1, sell = -1 };
enum class order_type : std::uint8_t { limit = 0, market = 1, stop = 2, stop_limit = 3 };
/// Time in force. A market order's TIF matters only for FOK (a market order never rests).
enum class tif : std::uint8_t { gtc = 0, day = 1, ioc = 2, fok = 3 };
/// Self-trade prevention for orders of the same owner (book-wide).
enum class stp : std::uint8_t { none = 0, cancel_newest = 1, cancel_oldest = 2, cancel_both = 3 };
/// Kind of one replay message.
enum class action : std::uint8_t { add = 0, cancel = 1, modify = 2, market = 3, end_of_day = 4 };
enum class event_kind : std::uint8_t { accepted = 0, rejected = 1, cancelled = 2, expired = 3, triggered = 4, modified = 5 };
/// Why an order was rejected, cancelled or expired.
enum class reason : std::uint8_t {
  none = 0,
  invalid_quantity = 1,
  invalid_price = 2,
  off_tick = 3,
  off_lot = 4,
  unknown_id = 5,
  duplicate_id = 6,
  fok_unfillable = 7,
  post_only_would_cross = 8,
  missing_price = 9,
  missing_stop_price = 10,
  unexpected_price = 11,
  invalid_option = 12,
  user = 13,
  ioc_remainder = 14,
  no_liquidity = 15,
  self_trade = 16,
  end_of_day = 17,
};
inline constexpr int reason_count = 18;

/// State of the order an API call was about, after the call.
enum class order_status : std::uint8_t {
  none = 0,       // the call was not about one order (end_of_day)
  rejected = 1,
  resting = 2,    // live on the book (possibly partly filled)
  pending = 3,    // a stop waiting in the trigger book
  filled = 4,
  cancelled = 5,  // by the user, an IOC/FOK/market leftover, self-trade prevention, post-only
};

/// Whether orders of this type carry a limit price (LIMIT, STOP_LIMIT).
constexpr bool has_limit_price(order_type type) noexcept {
  return type == order_type::limit || type == order_type::stop_limit;
}

/// Bit in order_msg::flags.
inline constexpr std::uint8_t flag_post_only = 1;

/// One replay message (nt.ORDER_MSG_DTYPE). NaN price / quantity / stop_price mean "none"
/// (for MODIFY: unchanged); owner < 0 means no owner; id < 0 on ADD asks for an automatic id.
struct order_msg {
  std::int64_t ts;
  std::int64_t id;
  std::int64_t owner;
  double price;
  double quantity;
  double stop_price;
  std::int32_t symbol;
  std::uint8_t action;
  std::int8_t side;
  std::uint8_t type;
  std::uint8_t tif;
  std::uint8_t flags;
  std::uint8_t pad_[7];
};
static_assert(sizeof(order_msg) == 64);
static_assert(offsetof(order_msg, symbol) == 48 && offsetof(order_msg, flags) == 56);

/// One trade (nt.FILL_DTYPE); price and quantity in the caller's units.
struct fill_record {
  std::int64_t ts;
  std::int64_t maker_id;
  std::int64_t taker_id;
  double price;
  double quantity;
  std::int64_t msg;  // index of the message in process(), -1 from a direct call
  std::int32_t symbol;
  std::int8_t side;  // the aggressor's side
  std::uint8_t pad_[3];
};
static_assert(sizeof(fill_record) == 56);
static_assert(offsetof(fill_record, symbol) == 48 && offsetof(fill_record, side) == 52);

/// One order event (nt.EVENT_DTYPE).
struct event_record {
  std::int64_t ts;
  std::int64_t order_id;
  double price;     // the order's limit price, NaN if none
  double quantity;  // accepted: order qty; cancelled/expired: open qty removed; modified: new open qty
  std::int64_t msg;
  std::int32_t symbol;
  std::uint8_t kind;
  std::uint8_t reason;
  std::int8_t side;
  std::uint8_t type;
};
static_assert(sizeof(event_record) == 48);
static_assert(offsetof(event_record, symbol) == 40 && offsetof(event_record, type) == 47);

/// A grid of prices (ticks) or quantities (lots): conversion both ways, never rounding silently.
///
/// In: k = round(x / step) (halves away from zero), accepted iff |x - k*step| <= 1e-9 * |x|
/// and |k| <= 2^53. Out: k / N when 1/step is within 1e-9 (relative) of an integer N (so 10001
/// ticks of 0.01 give exactly the double nearest 100.01), else k * step.
class grid {
 public:
  static constexpr double tolerance = 1e-9;
  static constexpr double max_units = 9007199254740992.0;  // 2^53

  enum class fit { on, off, out_of_range };

  grid() = default;
  explicit grid(double step) : step_(step) {
    const double inv = 1.0 / step;
    const double n = std::nearbyint(inv);
    inv_ = n >= 1.0 && n <= max_units && std::fabs(inv - n) <= tolerance * inv ? n : 0.0;
  }

  double step() const noexcept { return step_; }

  /// x in grid units: `on` (units written), `off` the grid, or `out_of_range` (not finite, or
  /// more than 2^53 units away from zero).
  fit to_units(double x, std::int64_t& out) const noexcept {
    const double q = x / step_;
    if (!(std::fabs(q) <= max_units)) return fit::out_of_range;  // also NaN and infinities
    // Round half away from zero without libm: |q| <= 2^53 fits an int64 exactly, and at and
    // above 2^52 every double is already an integer.
    const double a = std::fabs(q);
    const auto whole = static_cast<std::int64_t>(a);
    const std::int64_t mag = a - static_cast<double>(whole) >= 0.5 ? whole + 1 : whole;
    if (static_cast<double>(mag) > max_units) return fit::out_of_range;
    const std::int64_t units = q < 0.0 ? -mag : mag;
    if (std::fabs(x - static_cast<double>(units) * step_) > tolerance * std::fabs(x)) return fit::off;
    out = units;
    return fit::on;
  }

  double to_value(std::int64_t units) const noexcept {
    return inv_ != 0.0 ? static_cast<double>(units) / inv_ : static_cast<double>(units) * step_;
  }

 private:
  double step_ = 1.0;
  double inv_ = 1.0;  // N when 1/step is an integer N, else 0
};

inline constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

}  // namespace neural_trader::book
