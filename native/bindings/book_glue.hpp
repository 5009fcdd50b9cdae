// What the Cython order book needs beyond the core header: calls with plain integer codes
// instead of scoped enums, snapshots into flat arrays, construction from bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <neural_trader/book/order_book.hpp>

namespace nt_bind {

using neural_trader::book::order_book;

/// call_result with plain integers (Cython-friendly).
struct book_call {
  std::int64_t order_id;
  int status;
  int why;
};

/// One live order with caller-unit prices (for order(id)).
struct book_order {
  std::int64_t id;
  std::int64_t owner;
  double price;       // NaN for a stop market
  double stop_price;  // NaN unless a stop
  double quantity;
  double ahead;       // quantity queued before it at its price (0 for a pending stop)
  std::int64_t ts;
  int side;
  int type;
  int tif;
  int post_only;
  int pending;
};

inline book_call to_call(const neural_trader::book::call_result& r) {
  return book_call{r.order_id, static_cast<int>(r.status), static_cast<int>(r.why)};
}

inline order_book* book_new(double tick_size, double lot_size, int self_trade) {
  return new order_book(tick_size, lot_size, static_cast<neural_trader::book::stp>(self_trade));
}
inline order_book* book_load(const unsigned char* data, std::size_t size) {
  return new order_book(order_book::from_bytes(data, size));
}
inline order_book* book_clone(const order_book& b) { return new order_book(b); }

inline book_call book_submit(order_book& b, int side, int type, int tif, double quantity, double price,
                             double stop_price, std::int64_t id, std::int64_t owner, bool post_only, std::int64_t ts) {
  using namespace neural_trader::book;
  return to_call(b.submit(static_cast<enum side>(side), static_cast<order_type>(type), static_cast<enum tif>(tif), quantity,
                          price, stop_price, id, owner, post_only, ts));
}
inline book_call book_cancel(order_book& b, std::int64_t id, std::int64_t ts) { return to_call(b.cancel(id, ts)); }
inline book_call book_modify(order_book& b, std::int64_t id, double quantity, double price, double stop_price,
                             std::int64_t ts) {
  return to_call(b.modify(id, quantity, price, stop_price, ts));
}

inline void book_process(order_book& b, const unsigned char* msgs, std::size_t n, std::int64_t first) {
  b.process(reinterpret_cast<const neural_trader::book::order_msg*>(msgs), n, first);
}

inline int book_has_best(const order_book& b, int side) {
  return b.empty_side(static_cast<neural_trader::book::side>(side)) ? 0 : 1;
}
inline double book_best(const order_book& b, int side) {
  return b.price_grid().to_value(b.best(static_cast<neural_trader::book::side>(side)));
}
inline double book_last(const order_book& b) { return b.price_grid().to_value(b.last_price()); }
inline int book_self_trade(const order_book& b) { return static_cast<int>(b.self_trade()); }

/// Up to max_levels levels of one side, best first; returns how many were written.
inline std::size_t book_depth(const order_book& b, int side, std::size_t max_levels, double* price, double* qty,
                              std::int64_t* count) {
  std::size_t k = 0;
  b.for_each_level(static_cast<neural_trader::book::side>(side), max_levels,
                   [&](std::int64_t px, std::int64_t vol, std::uint32_t n) {
                     price[k] = b.price_grid().to_value(px);
                     qty[k] = b.quantity_grid().to_value(vol);
                     count[k] = n;
                     ++k;
                   });
  return k;
}

inline double book_volume_at(const order_book& b, double price, int* ok) {
  const auto& g = b.price_grid();
  std::int64_t ticks = 0;
  if (g.to_units(price, ticks) != neural_trader::book::grid::fit::on) {
    *ok = 0;
    return 0.0;
  }
  *ok = 1;
  return b.quantity_grid().to_value(b.volume_at(ticks));
}

inline book_order to_flat(const order_book& b, const neural_trader::book::order_view& v) {
  using namespace neural_trader::book;
  const bool is_stop = v.type == order_type::stop || v.type == order_type::stop_limit;
  return book_order{v.id, v.owner, has_limit_price(v.type) ? b.price_grid().to_value(v.price) : nan_value,
                    is_stop ? b.price_grid().to_value(v.stop_price) : nan_value, b.quantity_grid().to_value(v.open),
                    0.0, v.ts, static_cast<int>(v.sd), static_cast<int>(v.type), static_cast<int>(v.tf),
                    (v.flags & flag_post_only) != 0 ? 1 : 0, v.pending ? 1 : 0};
}

inline int book_find(const order_book& b, std::int64_t id, book_order* out) {
  neural_trader::book::order_view v{};
  std::int64_t ahead = 0;
  if (!b.find_order(id, v, &ahead)) return 0;
  *out = to_flat(b, v);
  out->ahead = b.quantity_grid().to_value(ahead);
  return 1;
}

/// Every live order (order of for_each_order) into `out` (sized by the caller from size()).
inline std::size_t book_orders(const order_book& b, book_order* out, std::size_t capacity) {
  std::size_t k = 0;
  b.for_each_order([&](const neural_trader::book::order_view& v) {
    if (k < capacity) out[k] = to_flat(b, v);
    ++k;
  });
  return k;
}

/// Appends the book's fills and events to the given vectors and clears the book's.
inline void book_move_output(order_book& b, neural_trader::book::fill_vector& fills,
                             neural_trader::book::event_vector& events) {
  fills.insert(fills.end(), b.fills().begin(), b.fills().end());
  events.insert(events.end(), b.events().begin(), b.events().end());
  b.clear_output();
}

inline std::string book_validate(const order_book& b) { return b.validate(); }
inline std::vector<unsigned char> book_bytes(const order_book& b) { return b.to_bytes(); }

}  // namespace nt_bind
