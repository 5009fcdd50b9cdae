/// @file order_book.hpp
/// @brief A price-time priority limit order book and matching engine (one symbol).
///
/// Prices are int64 ticks and quantities int64 lots inside; callers speak their own units and
/// the book converts through a `grid` that rejects anything off the grid (never rounds).
///
/// Structure:
/// - an order pool (`std::vector` of nodes with a free list): no allocation per order once warm;
/// - an id index (open addressing) from order id to pool slot: cancel and modify are O(1)
///   expected wherever the order sits in its level (levels are doubly linked FIFO lists);
/// - per side, a ladder of price levels kept sorted with the best price at the back of a
///   `std::vector`, so the touch is O(1) to read, and adding or removing a level near the touch
///   moves only the few levels behind it;
/// - a trigger book for stop orders, per side, sorted with the next stop to fire at the back.
///
/// Every call appends what happened to `fills()` and `events()` (cleared only by the caller),
/// in the order it happened; the rules are written out in python/neural_trader/book.py.
/// Single-threaded: one thread at a time may use a book.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../common/config.hpp"
#include "../common/errors.hpp"
#include "../common/huge_page_allocator.hpp"
#include "../common/serialize.hpp"
#include "id_index.hpp"
#include "types.hpp"

namespace neural_trader::book {

/// Output arrays of a book (large replays: huge pages where the OS offers them, kept for the next
/// replay when released; see block_cache).
using fill_vector = std::vector<fill_record, cached_huge_page_allocator<fill_record>>;
using event_vector = std::vector<event_record, cached_huge_page_allocator<event_record>>;

/// What an API call did to the order it was about.
struct call_result {
  std::int64_t order_id = -1;
  order_status status = order_status::none;
  reason why = reason::none;  // for rejected / cancelled
};

/// One live order, as order() and orders() report it.
struct order_view {
  std::int64_t id;
  std::int64_t owner;
  std::int64_t price;       // ticks (limit price; 0 for a stop market)
  std::int64_t stop_price;  // ticks (stops only)
  std::int64_t open;        // lots
  std::int64_t ts;
  std::uint64_t seq;
  side sd;
  order_type type;
  tif tf;
  std::uint8_t flags;
  bool pending;  // a stop waiting for its trigger
};

class order_book {
 public:
  static constexpr std::uint32_t nil = 0xFFFFFFFFu;
  static constexpr std::uint32_t magic = make_magic('N', 'T', 'O', 'B');
  static constexpr std::uint16_t format_version = 1;

  order_book(double tick_size, double lot_size, stp self_trade = stp::cancel_newest)
      : stp_(self_trade) {
    if (!(std::isfinite(tick_size) && tick_size > 0.0)) throw std::invalid_argument("tick_size must be a positive finite number");
    if (!(std::isfinite(lot_size) && lot_size > 0.0)) throw std::invalid_argument("lot_size must be a positive finite number");
    if (static_cast<unsigned>(self_trade) > 3u) throw std::invalid_argument("unknown self-trade prevention mode");
    price_grid_ = grid(tick_size);
    qty_grid_ = grid(lot_size);
  }

  // ------------------------------------------------------------------ configuration and output
  double tick_size() const noexcept { return price_grid_.step(); }
  double lot_size() const noexcept { return qty_grid_.step(); }
  stp self_trade() const noexcept { return stp_; }
  const grid& price_grid() const noexcept { return price_grid_; }
  const grid& quantity_grid() const noexcept { return qty_grid_; }

  fill_vector& fills() noexcept { return fills_; }
  event_vector& events() noexcept { return events_; }
  const fill_vector& fills() const noexcept { return fills_; }
  const event_vector& events() const noexcept { return events_; }
  void clear_output() noexcept {
    fills_.clear();
    events_.clear();
  }
  /// The message index and symbol written into the records that follow.
  void set_context(std::int64_t msg, std::int32_t symbol) noexcept {
    msg_ = msg;
    symbol_ = symbol;
  }
  std::int32_t symbol() const noexcept { return symbol_; }

  // ------------------------------------------------------------------ actions
  /// Submits an order. `id` < 0 asks for an automatic id. Prices and quantities in caller
  /// units; NaN means "not given".
  call_result submit(side sd, order_type type, tif tf, double quantity, double price, double stop_price,
                     std::int64_t id, std::int64_t owner, bool post_only, std::int64_t ts) {
    const call_result r = with_status(submit_order(sd, type, tf, quantity, price, stop_price, id, owner, post_only, ts));
    // Between two calls from Python or a strategy there is time to fetch what the next one is
    // likely to touch: the index cells of the next automatic id, and at the touch of each side
    // the head order (whose id cells a fill erases) and the order queued behind it.
    ids_.prefetch_cells(auto_id_);
    prefetch_touch(bids_);
    prefetch_touch(asks_);
    return r;
  }

  /// Changes a live order; NaN arguments are unchanged. `quantity` is the new open quantity.
  call_result modify(std::int64_t id, double quantity, double price, double stop_price, std::int64_t ts) {
    return with_status(modify_order(id, quantity, price, stop_price, ts));
  }

 private:
  /// submit() without the status of the order after the call (replay does not need it): a
  /// result whose status is `none` was accepted.
  call_result submit_order(side sd, order_type type, tif tf, double quantity, double price, double stop_price,
                           std::int64_t id, std::int64_t owner, bool post_only, std::int64_t ts) {
    call_result r;
    // A rejection reports the price and quantity as they were given.
    const double shown_qty = quantity;
    const double shown_price = price;
    auto reject = [&](reason why) {
      r.order_id = id;
      r.status = order_status::rejected;
      r.why = why;
      push_event(ts, id, shown_price, shown_qty, event_kind::rejected, why, sd, type);
      return r;
    };
    if (!valid_side(sd) || static_cast<unsigned>(type) > 3u || static_cast<unsigned>(tf) > 3u) {
      return reject(reason::invalid_option);
    }
    std::int64_t lots = 0;
    if (const reason why = parse_quantity(quantity, lots); why != reason::none) return reject(why);
    const bool needs_price = has_limit_price(type);
    const bool is_stop = type == order_type::stop || type == order_type::stop_limit;
    std::int64_t ticks = 0;
    std::int64_t stop_ticks = 0;
    if (needs_price) {
      if (std::isnan(price)) return reject(reason::missing_price);
      if (const reason why = parse_price(price, ticks); why != reason::none) return reject(why);
    } else if (!std::isnan(price)) {
      return reject(reason::unexpected_price);
    }
    if (is_stop) {
      if (std::isnan(stop_price)) return reject(reason::missing_stop_price);
      if (const reason why = parse_price(stop_price, stop_ticks); why != reason::none) return reject(why);
    } else if (!std::isnan(stop_price)) {
      return reject(reason::invalid_option);
    }
    if (post_only && !(needs_price && (tf == tif::gtc || tf == tif::day))) return reject(reason::invalid_option);
    if (id >= 0 && ids_.contains(id)) return reject(reason::duplicate_id);
    if (type == order_type::limit && post_only && crosses_opposite(sd, ticks)) {
      return reject(reason::post_only_would_cross);
    }
    if ((type == order_type::limit || type == order_type::market) && tf == tif::fok &&
        fillable(sd, type == order_type::limit, ticks, owner, lots) < lots) {
      return reject(reason::fok_unfillable);
    }
    if (id < 0) id = next_auto_id();  // only accepted orders take an automatic id
    r.order_id = id;
    push_event(ts, id, needs_price ? price_grid_.to_value(ticks) : nan_value, qty_grid_.to_value(lots),
               event_kind::accepted, reason::none, sd, type);
    taker t{id, owner, ticks, stop_ticks, lots, ts, next_seq_++, sd, type, tf,
            static_cast<std::uint8_t>(post_only ? flag_post_only : 0)};
    if (is_stop) {
      add_stop(t);
      run_triggers(ts);
    } else {
      execute(t, ts);
      run_triggers(ts);
    }
    return r;
  }

 public:
  /// Cancels a live order or a pending stop.
  call_result cancel(std::int64_t id, std::int64_t ts) {
    call_result r;
    r.order_id = id;
    const std::uint32_t slot = id >= 0 ? ids_.find(id) : nil;
    if (slot == nil) {
      r.status = order_status::rejected;
      r.why = reason::unknown_id;
      push_event(ts, id, nan_value, nan_value, event_kind::rejected, reason::unknown_id, side::buy,
                 order_type::limit, /*side_code=*/0);
      return r;
    }
    remove_order(slot, ts, event_kind::cancelled, reason::user);
    r.status = order_status::cancelled;
    r.why = reason::user;
    return r;
  }

  /// modify() without the status after the call (see submit_order).
  call_result modify_order(std::int64_t id, double quantity, double price, double stop_price, std::int64_t ts) {
    call_result r;
    r.order_id = id;
    const std::uint32_t slot = id >= 0 ? ids_.find(id) : nil;
    const double shown_qty = quantity;
    const double shown_price = price;
    auto reject = [&](reason why, side sd, order_type type, int side_code) {
      r.status = order_status::rejected;
      r.why = why;
      push_event(ts, id, shown_price, shown_qty, event_kind::rejected, why, sd, type, side_code);
      return r;
    };
    if (slot == nil) return reject(reason::unknown_id, side::buy, order_type::limit, 0);
    const order_node o = nodes_[slot];
    const order_cold oc = cold_[slot];
    const auto sd = static_cast<side>(o.side);
    const auto type = static_cast<order_type>(o.type);
    std::int64_t lots = o.open;
    std::int64_t ticks = o.price;
    std::int64_t stop_ticks = oc.stop;
    if (!std::isnan(quantity)) {
      if (const reason why = parse_quantity(quantity, lots); why != reason::none) return reject(why, sd, type, o.side);
    }
    if (!std::isnan(price)) {
      if (type == order_type::stop) return reject(reason::invalid_option, sd, type, o.side);
      if (const reason why = parse_price(price, ticks); why != reason::none) return reject(why, sd, type, o.side);
    }
    if (!std::isnan(stop_price)) {
      if (!o.pending) return reject(reason::invalid_option, sd, type, o.side);
      if (const reason why = parse_price(stop_price, stop_ticks); why != reason::none) return reject(why, sd, type, o.side);
    }
    const double shown_limit = has_limit_price(type) ? price_grid_.to_value(ticks) : nan_value;
    if (o.pending) {
      push_event(ts, id, shown_limit, qty_grid_.to_value(lots), event_kind::modified, reason::none, sd, type);
      if (ticks == o.price && stop_ticks == oc.stop && lots <= o.open) {
        nodes_[slot].open = lots;
      } else {
        unlink_stop(slot);
        order_node& n = nodes_[slot];
        n.open = lots;
        n.price = ticks;
        cold_[slot].stop = stop_ticks;
        n.seq = next_seq_++;
        link_stop(slot);
      }
      run_triggers(ts);
      return r;
    }
    if (ticks == o.price && lots <= o.open) {
      level& lv = levels_[o.level];
      lv.volume -= o.open - lots;
      nodes_[slot].open = lots;
      push_event(ts, id, shown_limit, qty_grid_.to_value(lots), event_kind::modified, reason::none, sd, type);
      r.status = order_status::resting;
      return r;
    }
    if ((o.flags & flag_post_only) != 0 && crosses_opposite(sd, ticks)) {
      return reject(reason::post_only_would_cross, sd, type, o.side);
    }
    unlink_resting(slot);
    free_node(slot);
    push_event(ts, id, shown_limit, qty_grid_.to_value(lots), event_kind::modified, reason::none, sd, type);
    taker t{id, oc.owner, ticks, 0, lots, ts, next_seq_++, sd, type, static_cast<tif>(o.tif), o.flags};
    execute(t, ts);
    run_triggers(ts);
    return r;
  }

  /// Fills in the status of an accepted call's order (submit_order / modify_order leave it).
  call_result with_status(call_result r) const noexcept {
    if (r.status == order_status::none) r.status = status_of(r.order_id, r.why);
    return r;
  }

 public:
  /// Expires every DAY order (resting or pending), in sequence order.
  void end_of_day(std::int64_t ts) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> day;
    for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
      const order_node& n = nodes_[i];
      if (n.live && n.tif == static_cast<std::uint8_t>(tif::day)) day.emplace_back(n.seq, i);
    }
    std::sort(day.begin(), day.end());
    for (const auto& [seq, slot] : day) remove_order(slot, ts, event_kind::expired, reason::end_of_day);
  }

  /// Applies one replay message (see order_msg).
  void apply(const order_msg& m) {
    switch (m.action) {
      case static_cast<std::uint8_t>(action::add):
        if (rest_plain_add(m)) break;
        [[fallthrough]];
      case static_cast<std::uint8_t>(action::market): {
        const auto type = m.action == static_cast<std::uint8_t>(action::market) ? order_type::market
                                                                                 : static_cast<order_type>(m.type);
        submit_order(static_cast<side>(m.side), type, static_cast<tif>(m.tif), m.quantity, m.price, m.stop_price,
                     m.id, m.owner < 0 ? -1 : m.owner, (m.flags & flag_post_only) != 0, m.ts);
        break;
      }
      case static_cast<std::uint8_t>(action::cancel):
        cancel(m.id, m.ts);
        break;
      case static_cast<std::uint8_t>(action::modify):
        modify_order(m.id, m.quantity, m.price, m.stop_price, m.ts);
        break;
      case static_cast<std::uint8_t>(action::end_of_day):
        end_of_day(m.ts);
        break;
      default:
        push_event(m.ts, m.id, nan_value, nan_value, event_kind::rejected, reason::invalid_option, side::buy,
                   order_type::limit, m.side);
        break;
    }
  }

 private:
  /// apply()'s path for most replay messages: an add of a plain limit GTC / DAY order (explicit
  /// id, no post-only, no stop price) that does not cross, so it rests at once. Returns false,
  /// having changed nothing, for anything else or anything wrong with it; submit_order() then
  /// gives the same result (it runs the same checks, in an order that picks the rejection
  /// reason). No stop can fire: no trade happened, and a pending stop never waits on a last
  /// price that already triggers it (every call that changes the last price runs the triggers).
  bool rest_plain_add(const order_msg& m) {
    if (m.type != static_cast<std::uint8_t>(order_type::limit) || m.tif > static_cast<std::uint8_t>(tif::day) ||
        m.flags != 0 || m.id < 0 || !std::isnan(m.stop_price) || (m.side != 1 && m.side != -1) ||
        !(m.quantity > 0.0)) {
      return false;
    }
    std::int64_t lots = 0;
    std::int64_t ticks = 0;
    if (qty_grid_.to_units(m.quantity, lots) != grid::fit::on || lots < 1 ||
        price_grid_.to_units(m.price, ticks) != grid::fit::on) {
      return false;
    }
    const auto sd = static_cast<side>(m.side);
    if (crosses_opposite(sd, ticks) || ids_.contains(m.id)) return false;
    push_event(m.ts, m.id, price_grid_.to_value(ticks), qty_grid_.to_value(lots), event_kind::accepted, reason::none,
               sd, order_type::limit);
    rest(taker{m.id, m.owner < 0 ? -1 : m.owner, ticks, 0, lots, m.ts, next_seq_++, sd, order_type::limit,
               static_cast<tif>(m.tif), 0});
    return true;
  }

 public:
  /// Applies messages [0, n); message i is recorded as msg = first_index + i.
  void process(const order_msg* msgs, std::size_t n, std::int64_t first_index = 0) {
    reserve_output(n);
    // Software pipelining of the memory a message will touch: a cancel or modify reads its id's
    // cell of the index, then its order, then the neighbours it unlinks from; an add probes the
    // index for a duplicate. Those reads miss the cache on a large book, so the cells are
    // prefetched `far` messages ahead, the orders `near` messages ahead (their slots found in
    // cells fetched earlier) and the neighbours `close` ahead. Prefetches are hints only: a
    // message in between may change everything, which costs a wasted prefetch, never a result.
    constexpr std::size_t far = 16, near = 8, close = 4;
    for (std::size_t i = 0; i < n; ++i) {
      if (i + far < n && msgs[i + far].id >= 0) prefetch(ids_.probe_address(msgs[i + far].id));
      if (i + near < n) prefetch_order(msgs[i + near], false);
      if (i + close < n) prefetch_order(msgs[i + close], true);
      msg_ = first_index + static_cast<std::int64_t>(i);
      apply(msgs[i]);
    }
    msg_ = -1;
  }

  /// Room in the fill and event outputs for about `n` more messages (a message makes about one
  /// event, plus two per fill; a fill comes from a few messages), grown geometrically: a replay
  /// fed in chunks reserves for the whole stream once instead of reallocating and copying its
  /// output at every chunk. Reserved but unused room is address space only (never touched).
  void reserve_output(std::size_t n) {
    grow_to(events_, events_.size() + n + n / 2);
    grow_to(fills_, fills_.size() + n / 2);
  }

  // ------------------------------------------------------------------ queries
  bool empty_side(side sd) const noexcept { return ladder(sd).empty(); }
  /// Best price in ticks of one side; the side must not be empty.
  std::int64_t best(side sd) const noexcept { return levels_[ladder(sd).back().second].price; }
  bool has_last_price() const noexcept { return has_last_; }
  std::int64_t last_price() const noexcept { return last_; }
  std::size_t size() const noexcept { return ids_.size(); }
  std::size_t level_count(side sd) const noexcept { return ladder(sd).size(); }
  bool contains(std::int64_t id) const noexcept { return id >= 0 && ids_.contains(id); }

  /// Aggregated levels of one side, best first: up to `max_levels` (price ticks, lots, orders).
  template <class F>
  void for_each_level(side sd, std::size_t max_levels, F&& f) const {
    const auto& lad = ladder(sd);
    std::size_t k = 0;
    for (auto it = lad.rbegin(); it != lad.rend() && k < max_levels; ++it, ++k) {
      const level& lv = levels_[it->second];
      f(lv.price, lv.volume, lv.count);
    }
  }

  /// Open lots resting at a price (either side; a price can only rest on one side).
  std::int64_t volume_at(std::int64_t ticks) const noexcept {
    for (side sd : {side::buy, side::sell}) {
      const std::size_t i = find_level(sd, ticks);
      if (i != npos_index) return levels_[ladder(sd)[i].second].volume;
    }
    return 0;
  }

  /// The live order with this id, if any; `ahead` gets the lots queued before it at its price.
  bool find_order(std::int64_t id, order_view& out, std::int64_t* ahead = nullptr) const {
    const std::uint32_t slot = id >= 0 ? ids_.find(id) : nil;
    if (slot == nil) return false;
    out = view(slot);
    if (ahead != nullptr) {
      *ahead = 0;
      if (!nodes_[slot].pending) {
        for (std::uint32_t m = levels_[nodes_[slot].level].head; m != slot; m = nodes_[m].next) *ahead += nodes_[m].open;
      }
    }
    return true;
  }

  /// Every live order: bids best to worst (FIFO in a level), asks best to worst, then pending
  /// stops in sequence order.
  template <class F>
  void for_each_order(F&& f) const {
    for (side sd : {side::buy, side::sell}) {
      const auto& lad = ladder(sd);
      for (auto it = lad.rbegin(); it != lad.rend(); ++it) {
        for (std::uint32_t m = levels_[it->second].head; m != nil; m = nodes_[m].next) f(view(m));
      }
    }
    for (std::uint32_t slot : stops_in_sequence()) f(view(slot));
  }

  /// Checks every internal invariant; returns an empty string or what is broken.
  std::string validate() const {
    std::size_t live = 0;
    for (side sd : {side::buy, side::sell}) {
      const auto& lad = ladder(sd);
      for (std::size_t i = 0; i < lad.size(); ++i) {
        if (i > 0 && !(lad[i - 1].first < lad[i].first)) return "price ladder out of order";
        const level& lv = levels_[lad[i].second];
        if (lad[i].first != key(sd, lv.price)) return "ladder key does not match its level's price";
        if (lv.count == 0 || lv.head == nil) return "empty price level left in the ladder";
        std::int64_t vol = 0;
        std::uint32_t count = 0;
        std::uint32_t prev = nil;
        std::uint64_t last_seq = 0;
        for (std::uint32_t m = lv.head; m != nil; m = nodes_[m].next) {
          const order_node& n = nodes_[m];
          if (!n.live || n.pending) return "a level links a dead or pending order";
          if (n.prev != prev) return "broken back link in a level";
          if (n.level != lad[i].second || n.price != lv.price || n.side != static_cast<std::int8_t>(sd)) {
            return "order sits in the wrong level";
          }
          if (n.open <= 0) return "resting order with no open quantity";
          if (count > 0 && n.seq <= last_seq) return "FIFO order broken within a level";
          if (ids_.find(n.id) != m) return "id index does not point at a resting order";
          last_seq = n.seq;
          vol += n.open;
          ++count;
          prev = m;
          if (count > nodes_.size()) return "cycle in a level";
        }
        if (lv.tail != prev) return "level tail is not its last order";
        if (vol != lv.volume || count != lv.count) return "level volume or count differs from its orders";
        live += count;
      }
    }
    if (!bids_.empty() && !asks_.empty() && best(side::buy) >= best(side::sell)) return "book is crossed";
    for (side sd : {side::buy, side::sell}) {
      const auto& st = stops(sd);
      for (std::size_t i = 0; i < st.size(); ++i) {
        const order_node& n = nodes_[st[i]];
        if (!n.live || !n.pending || n.side != static_cast<std::int8_t>(sd)) return "bad entry in the trigger book";
        if (i > 0 && !fires_before(sd, st[i], st[i - 1])) return "trigger book out of order";
        if (ids_.find(n.id) != st[i]) return "id index does not point at a pending stop";
        if (n.open <= 0) return "pending stop with no open quantity";
      }
      live += st.size();
    }
    if (live != ids_.size()) return "id index holds " + std::to_string(ids_.size()) + " ids, book holds " + std::to_string(live);
    std::size_t pooled = 0;
    for (const order_node& n : nodes_) pooled += n.live ? 1 : 0;
    if (pooled != live) return "order pool holds orders that are in no level";
    return {};
  }

  // ------------------------------------------------------------------ persistence
  std::vector<unsigned char> to_bytes() const {
    frame_writer w(magic, format_version);
    w.put(price_grid_.step()).put(qty_grid_.step()).put(static_cast<std::uint8_t>(stp_));
    w.put(next_seq_).put(auto_id_).put(static_cast<std::uint8_t>(has_last_ ? 1 : 0)).put(last_);
    w.put(static_cast<std::uint64_t>(size()));  // every live order, resting or pending
    for_each_order([&](const order_view& v) {
      w.put(v.id).put(v.owner).put(v.price).put(v.stop_price).put(v.open).put(v.ts).put(v.seq);
      w.put(static_cast<std::int8_t>(v.sd)).put(static_cast<std::uint8_t>(v.type)).put(static_cast<std::uint8_t>(v.tf));
      w.put(v.flags).put(static_cast<std::uint8_t>(v.pending ? 1 : 0));
    });
    return w.finish();
  }

  static order_book from_bytes(const void* data, std::size_t size) {
    frame_reader r(data, size, magic, 1, format_version, "order book");
    const double tick = r.get<double>();
    const double lot = r.get<double>();
    const auto mode = r.get<std::uint8_t>();
    if (!(std::isfinite(tick) && tick > 0.0 && std::isfinite(lot) && lot > 0.0) || mode > 3) r.fail("bad book parameters");
    order_book b(tick, lot, static_cast<stp>(mode));
    b.next_seq_ = r.get<std::uint64_t>();
    b.auto_id_ = r.get<std::int64_t>();
    const auto has_last = r.get<std::uint8_t>();
    b.last_ = r.get<std::int64_t>();
    if (has_last > 1 || b.auto_id_ < 1) r.fail("bad book counters");
    b.has_last_ = has_last == 1;
    constexpr std::size_t record = 7 * 8 + 5;
    const auto count = r.get_size(0, r.remaining() / record, "order count");
    constexpr std::int64_t limit = static_cast<std::int64_t>(1) << 53;
    for (std::uint64_t i = 0; i < count; ++i) {
      order_node n{};
      order_cold c{};
      n.id = r.get<std::int64_t>();
      c.owner = r.get<std::int64_t>();
      n.price = r.get<std::int64_t>();
      c.stop = r.get<std::int64_t>();
      n.open = r.get<std::int64_t>();
      c.ts = r.get<std::int64_t>();
      n.seq = r.get<std::uint64_t>();
      n.side = r.get<std::int8_t>();
      n.type = r.get<std::uint8_t>();
      n.tif = r.get<std::uint8_t>();
      n.flags = r.get<std::uint8_t>();
      const auto pending = r.get<std::uint8_t>();
      const bool stop_type = n.type == static_cast<std::uint8_t>(order_type::stop) ||
                             n.type == static_cast<std::uint8_t>(order_type::stop_limit);
      if (n.id < 0 || c.owner < -1 || n.open <= 0 || n.open > limit || n.price < -limit || n.price > limit ||
          c.stop < -limit || c.stop > limit || (n.side != 1 && n.side != -1) || n.type > 3 || n.tif > 3 ||
          n.flags > 1 || pending > 1 || n.seq >= b.next_seq_ || (pending == 1) != stop_type ||
          (pending == 0 && n.type != static_cast<std::uint8_t>(order_type::limit))) {
        r.fail("bad order record " + std::to_string(i));
      }
      if (b.ids_.contains(n.id)) r.fail("duplicate order id " + std::to_string(n.id));
      n.pending = pending == 1;
      const std::uint32_t slot = b.alloc_node();
      n.live = true;
      b.nodes_[slot] = n;
      b.cold_[slot] = c;
      b.ids_.insert(n.id, slot);
      if (n.pending) {
        b.link_stop(slot);
      } else {
        const auto sd = static_cast<side>(n.side);
        const std::uint32_t lv = b.level_for(sd, n.price);
        if (b.levels_[lv].tail != nil && b.nodes_[b.levels_[lv].tail].seq >= n.seq) r.fail("FIFO order broken in a level");
        b.append(lv, slot);
      }
    }
    r.expect_end();
    if (const std::string why = b.validate(); !why.empty()) r.fail(why);
    return b;
  }

 private:
  static constexpr std::size_t npos_index = static_cast<std::size_t>(-1);

  /// What matching and cancelling touch: one cache line per order.
  struct alignas(64) order_node {
    std::int64_t id;
    std::int64_t price;
    std::int64_t open;
    std::uint64_t seq;
    std::uint32_t prev;
    std::uint32_t next;
    std::uint32_t level;
    std::int8_t side;
    std::uint8_t type;
    std::uint8_t tif;
    std::uint8_t flags;
    bool live;
    bool pending;
  };
  static_assert(sizeof(order_node) == 64);

  /// What they rarely touch, in a parallel array (same slot).
  struct order_cold {
    std::int64_t owner;
    std::int64_t stop;
    std::int64_t ts;
  };

  struct level {
    std::int64_t price;
    std::int64_t volume;
    std::uint32_t count;
    std::uint32_t head;
    std::uint32_t tail;
  };

  /// An order while it trades (not in the pool until it rests).
  struct taker {
    std::int64_t id;
    std::int64_t owner;
    std::int64_t price;
    std::int64_t stop;
    std::int64_t open;
    std::int64_t ts;
    std::uint64_t seq;
    side sd;
    order_type type;
    tif tf;
    std::uint8_t flags;
  };

  using ladder_t = std::vector<std::pair<std::int64_t, std::uint32_t>>;  // (key, level slot), best at back

  static bool valid_side(side sd) noexcept { return sd == side::buy || sd == side::sell; }
  /// Ladder key: larger is better on both sides.
  static std::int64_t key(side sd, std::int64_t price) noexcept { return sd == side::buy ? price : -price; }

  ladder_t& ladder(side sd) noexcept { return sd == side::buy ? bids_ : asks_; }
  const ladder_t& ladder(side sd) const noexcept { return sd == side::buy ? bids_ : asks_; }
  std::vector<std::uint32_t>& stops(side sd) noexcept { return sd == side::buy ? buy_stops_ : sell_stops_; }
  const std::vector<std::uint32_t>& stops(side sd) const noexcept { return sd == side::buy ? buy_stops_ : sell_stops_; }
  static side opposite(side sd) noexcept { return sd == side::buy ? side::sell : side::buy; }

  reason parse_quantity(double q, std::int64_t& lots) const noexcept {
    if (!(q > 0.0)) return reason::invalid_quantity;
    switch (qty_grid_.to_units(q, lots)) {
      case grid::fit::on:
        return lots >= 1 ? reason::none : reason::off_lot;
      case grid::fit::off:
        return reason::off_lot;
      default:
        return reason::invalid_quantity;
    }
  }
  reason parse_price(double p, std::int64_t& ticks) const noexcept {
    switch (price_grid_.to_units(p, ticks)) {
      case grid::fit::on:
        return reason::none;
      case grid::fit::off:
        return reason::off_tick;
      default:
        return reason::invalid_price;
    }
  }

  std::int64_t next_auto_id() {
    while (ids_.contains(auto_id_)) ++auto_id_;
    return auto_id_++;
  }

  void push_event(std::int64_t ts, std::int64_t id, double price, double qty, event_kind kind, reason why, side sd,
                  order_type type, int side_code = 2) {
    event_record e;
    e.ts = ts;
    e.order_id = id;
    e.price = price;
    e.quantity = qty;
    e.msg = msg_;
    e.symbol = symbol_;
    e.kind = static_cast<std::uint8_t>(kind);
    e.reason = static_cast<std::uint8_t>(why);
    e.side = side_code == 2 ? static_cast<std::int8_t>(sd) : static_cast<std::int8_t>(side_code);
    e.type = static_cast<std::uint8_t>(type);
    events_.push_back(e);
  }

  void push_order_event(const order_node& n, std::int64_t ts, event_kind kind, reason why, std::int64_t lots) {
    push_event(ts, n.id, has_limit_price(static_cast<order_type>(n.type)) ? price_grid_.to_value(n.price) : nan_value, qty_grid_.to_value(lots), kind, why,
               static_cast<side>(n.side), static_cast<order_type>(n.type));
  }

  void push_taker_event(const taker& t, std::int64_t ts, event_kind kind, reason why) {
    push_event(ts, t.id, has_limit_price(t.type) ? price_grid_.to_value(t.price) : nan_value, qty_grid_.to_value(t.open), kind, why,
               t.sd, t.type);
  }

  /// Status of `id` after an accepted call: resting, pending, or gone (filled or cancelled).
  order_status status_of(std::int64_t id, reason& why) const noexcept {
    const std::uint32_t slot = ids_.find(id);
    if (slot != nil) return nodes_[slot].pending ? order_status::pending : order_status::resting;
    // Gone: cancelled if the last event about it in this call removed it, else filled.
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->order_id != id) continue;
      if (it->kind == static_cast<std::uint8_t>(event_kind::cancelled) ||
          it->kind == static_cast<std::uint8_t>(event_kind::expired)) {
        why = static_cast<reason>(it->reason);
        return order_status::cancelled;
      }
      break;
    }
    return order_status::filled;
  }

  static void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
  }

  /// The order a cancel / modify message names (and, with `links`, its neighbours and level).
  template <class V>
  static void grow_to(V& v, std::size_t need) {
    if (need > v.capacity()) v.reserve(std::max(need, v.capacity() * 2));
  }

  /// See submit(): the best level's head is usually cached already (it was prefetched as the
  /// order behind the previous head), so reading its id and next link costs no miss.
  void prefetch_touch(const ladder_t& lad) const noexcept {
    if (lad.empty()) return;
    const std::uint32_t h = levels_[lad.back().second].head;
    if (h == nil) return;
    const order_node& n = nodes_[h];
    ids_.prefetch_cells(n.id);
    if (n.next != nil) prefetch(&nodes_[n.next]);
  }

  void prefetch_order(const order_msg& m, bool links) const noexcept {
    if ((m.action != static_cast<std::uint8_t>(action::cancel) &&
         m.action != static_cast<std::uint8_t>(action::modify)) || m.id < 0) {
      return;
    }
    const std::uint32_t slot = ids_.find(m.id);
    if (slot == nil) return;
    const order_node& o = nodes_[slot];
    if (!links) {
      prefetch(&o);
      return;
    }
    if (o.pending) return;
    if (o.prev != nil) prefetch(&nodes_[o.prev]);
    if (o.next != nil) prefetch(&nodes_[o.next]);
    prefetch(&levels_[o.level]);
  }

  // ---------------------------------------------------------------- pool
  std::uint32_t alloc_node() {
    if (!free_nodes_.empty()) {
      const std::uint32_t s = free_nodes_.back();
      free_nodes_.pop_back();
      return s;
    }
    return new_node();
  }
  NT_NOINLINE
  std::uint32_t new_node() {
    if (nodes_.size() >= nil - 1) throw std::length_error("order book: too many live orders");
    nodes_.push_back(order_node{});
    cold_.push_back(order_cold{});
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }
  void free_node(std::uint32_t slot) {
    nodes_[slot].live = false;
    free_nodes_.push_back(slot);
  }
  std::uint32_t alloc_level() {
    if (!free_levels_.empty()) {
      const std::uint32_t s = free_levels_.back();
      free_levels_.pop_back();
      return s;
    }
    levels_.push_back(level{});
    return static_cast<std::uint32_t>(levels_.size() - 1);
  }

  // ---------------------------------------------------------------- ladders
  /// Index of the ladder entry with this price, or npos_index.
  std::size_t find_level(side sd, std::int64_t price) const noexcept {
    const auto& lad = ladder(sd);
    const std::int64_t k = key(sd, price);
    // Near the touch first (the common case), then binary search.
    const std::size_t n = lad.size();
    for (std::size_t j = 0; j < n && j < 4; ++j) {
      const std::int64_t kj = lad[n - 1 - j].first;
      if (kj == k) return n - 1 - j;
      if (kj < k) return npos_index;
    }
    const auto it = std::lower_bound(lad.begin(), lad.end(), k,
                                     [](const std::pair<std::int64_t, std::uint32_t>& e, std::int64_t v) { return e.first < v; });
    return it != lad.end() && it->first == k ? static_cast<std::size_t>(it - lad.begin()) : npos_index;
  }

  /// The level of this price on one side, created if missing.
  std::uint32_t level_for(side sd, std::int64_t price) {
    auto& lad = ladder(sd);
    const std::int64_t k = key(sd, price);
    std::size_t pos = lad.size();
    while (pos > 0 && pos + 4 > lad.size() && lad[pos - 1].first > k) --pos;
    if (pos > 0 && lad[pos - 1].first > k) {
      pos = static_cast<std::size_t>(
          std::lower_bound(lad.begin(), lad.end(), k,
                           [](const std::pair<std::int64_t, std::uint32_t>& e, std::int64_t v) { return e.first < v; }) -
          lad.begin());
    }
    if (pos > 0 && lad[pos - 1].first == k) return lad[pos - 1].second;
    if (pos < lad.size() && lad[pos].first == k) return lad[pos].second;
    const std::uint32_t lv = alloc_level();
    levels_[lv] = level{price, 0, 0, nil, nil};
    lad.insert(lad.begin() + static_cast<std::ptrdiff_t>(pos), {k, lv});
    return lv;
  }

  void append(std::uint32_t lv, std::uint32_t slot) noexcept {
    level& L = levels_[lv];
    order_node& n = nodes_[slot];
    n.level = lv;
    n.next = nil;
    n.prev = L.tail;
    if (L.tail != nil) {
      nodes_[L.tail].next = slot;
    } else {
      L.head = slot;
    }
    L.tail = slot;
    L.volume += n.open;
    ++L.count;
  }

  /// Takes a resting order out of its level (dropping the level if it empties) and the index.
  void unlink_resting(std::uint32_t slot) {
    order_node& n = nodes_[slot];
    level& L = levels_[n.level];
    if (n.prev != nil) {
      nodes_[n.prev].next = n.next;
    } else {
      L.head = n.next;
    }
    if (n.next != nil) {
      nodes_[n.next].prev = n.prev;
    } else {
      L.tail = n.prev;
    }
    L.volume -= n.open;
    --L.count;
    ids_.erase(n.id);
    if (L.count == 0) drop_level(static_cast<side>(n.side), n.level);
  }

  void drop_level(side sd, std::uint32_t lv) {
    auto& lad = ladder(sd);
    if (!lad.empty() && lad.back().second == lv) {
      lad.pop_back();
    } else {
      const std::size_t i = find_level(sd, levels_[lv].price);
      lad.erase(lad.begin() + static_cast<std::ptrdiff_t>(i));
    }
    free_levels_.push_back(lv);
  }

  bool crosses_opposite(side sd, std::int64_t price) const noexcept {
    const auto& opp = ladder(opposite(sd));
    if (opp.empty()) return false;
    const std::int64_t b = levels_[opp.back().second].price;
    return sd == side::buy ? b <= price : b >= price;
  }

  bool self_trade(std::int64_t a, std::int64_t b) const noexcept {
    return stp_ != stp::none && a >= 0 && a == b;
  }

  /// Quantity a taker could trade right now (FOK dry run), stopping once `need` is reached.
  std::int64_t fillable(side sd, bool has_limit, std::int64_t price, std::int64_t owner, std::int64_t need) const {
    const auto& opp = ladder(opposite(sd));
    std::int64_t got = 0;
    const bool plain = stp_ == stp::none || owner < 0;
    for (auto it = opp.rbegin(); it != opp.rend(); ++it) {
      const level& L = levels_[it->second];
      if (has_limit && (sd == side::buy ? L.price > price : L.price < price)) break;
      if (plain) {
        got += L.volume;
        if (got >= need) return got;
        continue;
      }
      for (std::uint32_t m = L.head; m != nil; m = nodes_[m].next) {
        const order_node& mk = nodes_[m];
        if (self_trade(owner, cold_[m].owner)) {
          if (stp_ == stp::cancel_oldest) continue;
          return got;
        }
        got += mk.open;
        if (got >= need) return got;
      }
    }
    return got;
  }

  /// Matches a taker against the opposite side, then rests or cancels its leftover.
  void execute(taker& t, std::int64_t ts) {
    auto& opp = ladder(opposite(t.sd));
    const bool has_limit = has_limit_price(t.type);
    const auto sd_code = static_cast<std::int8_t>(t.sd);
    while (t.open > 0 && !opp.empty()) {
      const std::uint32_t lv = opp.back().second;
      const std::int64_t px = levels_[lv].price;
      if (has_limit && (t.sd == side::buy ? px > t.price : px < t.price)) break;
      const double px_value = price_grid_.to_value(px);
      std::uint32_t m = levels_[lv].head;
      while (m != nil && t.open > 0) {
        order_node& mk = nodes_[m];
        const std::uint32_t next = mk.next;
        if (stp_ != stp::none && t.owner >= 0 && t.owner == cold_[m].owner) {
          if (stp_ == stp::cancel_newest) {
            push_taker_event(t, ts, event_kind::cancelled, reason::self_trade);
            return;
          }
          push_order_event(mk, ts, event_kind::cancelled, reason::self_trade, mk.open);
          const bool last_one = levels_[lv].count == 1;
          unlink_resting(m);
          free_node(m);
          if (stp_ == stp::cancel_both) {
            push_taker_event(t, ts, event_kind::cancelled, reason::self_trade);
            return;
          }
          if (last_one) break;
          m = next;
          continue;
        }
        const std::int64_t q = t.open < mk.open ? t.open : mk.open;
        fill_record& f = fills_.emplace_back();
        f.ts = ts;
        f.maker_id = mk.id;
        f.taker_id = t.id;
        f.price = px_value;
        f.quantity = qty_grid_.to_value(q);
        f.msg = msg_;
        f.symbol = symbol_;
        f.side = sd_code;
        f.pad_[0] = f.pad_[1] = f.pad_[2] = 0;
        last_ = px;
        has_last_ = true;
        t.open -= q;
        mk.open -= q;
        level& L = levels_[lv];
        L.volume -= q;
        if (mk.open == 0) {
          // Fully filled makers leave from the head of the level.
          L.head = next;
          if (next != nil) {
            nodes_[next].prev = nil;
          } else {
            L.tail = nil;
          }
          --L.count;
          ids_.erase(mk.id);
          free_node(m);
        }
        m = next;
      }
      if (!opp.empty() && opp.back().second == lv && levels_[lv].count == 0) {
        opp.pop_back();
        free_levels_.push_back(lv);
      }
    }
    if (t.open == 0) return;
    if (has_limit) {
      if (t.tf == tif::gtc || t.tf == tif::day) {
        rest(t);
        return;
      }
      push_taker_event(t, ts, event_kind::cancelled, reason::ioc_remainder);
      return;
    }
    push_taker_event(t, ts, event_kind::cancelled, reason::no_liquidity);
  }

  void rest(const taker& t) {
    const std::uint32_t slot = alloc_node();
    order_node& n = nodes_[slot];
    n.id = t.id;
    n.price = t.price;
    n.open = t.open;
    n.seq = t.seq;
    cold_[slot] = order_cold{t.owner, t.stop, t.ts};
    n.side = static_cast<std::int8_t>(t.sd);
    n.type = static_cast<std::uint8_t>(t.type);
    n.tif = static_cast<std::uint8_t>(t.tf);
    n.flags = t.flags;
    n.live = true;
    n.pending = false;
    const std::uint32_t lv = level_for(t.sd, t.price);
    append(lv, slot);
    ids_.insert(t.id, slot);
  }

  // ---------------------------------------------------------------- stops
  /// Whether stop a fires before stop b on side sd (both pending).
  bool fires_before(side sd, std::uint32_t a, std::uint32_t b) const noexcept {
    const std::int64_t sa = cold_[a].stop;
    const std::int64_t sb = cold_[b].stop;
    if (sa != sb) return sd == side::buy ? sa < sb : sa > sb;
    return nodes_[a].seq < nodes_[b].seq;
  }

  /// Inserts a pending stop into its trigger list (kept with the next to fire at the back).
  void link_stop(std::uint32_t slot) {
    auto& st = stops(static_cast<side>(nodes_[slot].side));
    const side sd = static_cast<side>(nodes_[slot].side);
    // Sorted so that fires_before(back, ...) holds: the list runs from last-to-fire to first.
    const auto it = std::lower_bound(st.begin(), st.end(), slot, [&](std::uint32_t e, std::uint32_t) {
      return fires_before(sd, slot, e);  // e fires after slot: e goes before it in the vector
    });
    st.insert(it, slot);
  }

  void unlink_stop(std::uint32_t slot) {
    auto& st = stops(static_cast<side>(nodes_[slot].side));
    st.erase(std::find(st.begin(), st.end(), slot));
  }

  void add_stop(const taker& t) {
    const std::uint32_t slot = alloc_node();
    order_node& n = nodes_[slot];
    n = order_node{t.id, t.price, t.open, t.seq, nil, nil, nil,
                   static_cast<std::int8_t>(t.sd), static_cast<std::uint8_t>(t.type),
                   static_cast<std::uint8_t>(t.tf), t.flags, true, true};
    cold_[slot] = order_cold{t.owner, t.stop, t.ts};
    link_stop(slot);
    ids_.insert(t.id, slot);
  }

  std::vector<std::uint32_t> stops_in_sequence() const {
    std::vector<std::uint32_t> all(buy_stops_);
    all.insert(all.end(), sell_stops_.begin(), sell_stops_.end());
    std::sort(all.begin(), all.end(), [&](std::uint32_t a, std::uint32_t b) { return nodes_[a].seq < nodes_[b].seq; });
    return all;
  }

  /// Fires stops while the last trade price triggers any (rules in the module docstring).
  void run_triggers(std::int64_t ts) {
    if (buy_stops_.empty() && sell_stops_.empty()) return;  // the common case, inline
    fire_triggers(ts);
  }

  NT_NOINLINE
  void fire_triggers(std::int64_t ts) {
    while (has_last_) {
      std::uint32_t pick = nil;
      if (!buy_stops_.empty() && cold_[buy_stops_.back()].stop <= last_) pick = buy_stops_.back();
      if (!sell_stops_.empty() && cold_[sell_stops_.back()].stop >= last_) {
        const std::uint32_t s = sell_stops_.back();
        if (pick == nil || nodes_[s].seq < nodes_[pick].seq) pick = s;
      }
      if (pick == nil) return;
      const order_node n = nodes_[pick];
      const order_cold nc = cold_[pick];
      stops(static_cast<side>(n.side)).pop_back();
      ids_.erase(n.id);
      free_node(pick);
      push_order_event(n, ts, event_kind::triggered, reason::none, n.open);
      const auto sd = static_cast<side>(n.side);
      const bool is_limit = n.type == static_cast<std::uint8_t>(order_type::stop_limit);
      // A triggered stop trades as a market order, a stop-limit as a limit order.
      taker t{n.id, nc.owner, n.price, nc.stop, n.open, ts, next_seq_++, sd,
              is_limit ? order_type::limit : order_type::market, static_cast<tif>(n.tif), n.flags};
      if (is_limit && (n.flags & flag_post_only) != 0 && crosses_opposite(sd, n.price)) {
        push_taker_event(t, ts, event_kind::cancelled, reason::post_only_would_cross);
        continue;
      }
      if (t.tf == tif::fok && fillable(sd, is_limit, n.price, nc.owner, n.open) < n.open) {
        push_taker_event(t, ts, event_kind::cancelled, reason::fok_unfillable);
        continue;
      }
      execute(t, ts);
    }
  }

  /// Removes a live order (resting or pending) with an event of `kind`.
  void remove_order(std::uint32_t slot, std::int64_t ts, event_kind kind, reason why) {
    const order_node n = nodes_[slot];
    push_order_event(n, ts, kind, why, n.open);
    if (n.pending) {
      unlink_stop(slot);
      ids_.erase(n.id);
    } else {
      unlink_resting(slot);
    }
    free_node(slot);
  }

  order_view view(std::uint32_t slot) const noexcept {
    const order_node& n = nodes_[slot];
    const order_cold& c = cold_[slot];
    return order_view{n.id, c.owner, n.price, c.stop, n.open, c.ts, n.seq, static_cast<side>(n.side),
                      static_cast<order_type>(n.type), static_cast<tif>(n.tif), n.flags, n.pending};
  }

  grid price_grid_;
  grid qty_grid_;
  stp stp_;
  // The pool grows by doubling into large blocks: huge pages where offered (a page fault per
  // 2 MiB instead of per 4 KiB while a book grows).
  std::vector<order_node, huge_page_allocator<order_node>> nodes_;
  std::vector<order_cold, huge_page_allocator<order_cold>> cold_;
  std::vector<std::uint32_t> free_nodes_;
  std::vector<level> levels_;
  std::vector<std::uint32_t> free_levels_;
  ladder_t bids_;
  ladder_t asks_;
  std::vector<std::uint32_t> buy_stops_;
  std::vector<std::uint32_t> sell_stops_;
  id_index ids_;
  std::uint64_t next_seq_ = 1;
  std::int64_t auto_id_ = 1;
  std::int64_t last_ = 0;
  bool has_last_ = false;
  fill_vector fills_;
  event_vector events_;
  std::int64_t msg_ = -1;
  std::int32_t symbol_ = 0;
};

}  // namespace neural_trader::book
