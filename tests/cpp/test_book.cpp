// Tests of book/order_book.hpp: hand-written examples per rule (price-time priority, each order
// type and TIF, post-only, self-trade prevention, modify keeping or losing priority, stop
// triggering order), the price/quantity grid, invariants (validate(), never crossed, quantity
// conserved) after every message of a long random stream, snapshots (round trip, the golden file
// tests/golden/book_v1.bin, every corruption and truncation raising corrupt_data_error).
//
//   test_book --write-golden PATH  writes the golden snapshot (done once; the file is committed)
#include "check.hpp"

#include <cmath>
#include <cstring>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "neural_trader/book/order_book.hpp"
#include "neural_trader/common/errors.hpp"

#ifndef NT_GOLDEN_DIR
#error "NT_GOLDEN_DIR must name tests/golden"
#endif

using namespace neural_trader;
using namespace neural_trader::book;

namespace {

bool g_quick = false;
constexpr double none = nan_value;

call_result limit(order_book& b, side sd, double qty, double px, std::int64_t id, tif tf = tif::gtc,
                  std::int64_t owner = -1, bool post_only = false) {
  return b.submit(sd, order_type::limit, tf, qty, px, none, id, owner, post_only, 0);
}
call_result market(order_book& b, side sd, double qty, std::int64_t id, tif tf = tif::ioc, std::int64_t owner = -1) {
  return b.submit(sd, order_type::market, tf, qty, none, none, id, owner, false, 0);
}

struct fill_t {
  std::int64_t maker, taker;
  double price, qty;
  bool operator==(const fill_t&) const = default;
};

std::vector<fill_t> take_fills(order_book& b) {
  std::vector<fill_t> out;
  for (const auto& f : b.fills()) out.push_back({f.maker_id, f.taker_id, f.price, f.quantity});
  b.clear_output();
  return out;
}

void check_valid(const order_book& b) {
  const std::string why = b.validate();
  if (!why.empty()) std::fprintf(stderr, "validate: %s\n", why.c_str());
  CHECK(why.empty());
}

void test_grid() {
  using fit = grid::fit;
  grid cents(0.01);
  std::int64_t k = 0;
  CHECK(cents.to_units(100.01, k) == fit::on);
  CHECK_EQ(k, 10001);
  CHECK(cents.to_value(10001) == 100.01);  // exact: 10001 / 100, not 10001 * 0.01
  CHECK(cents.to_value(3) == 0.03);
  CHECK(cents.to_units(100.015, k) == fit::off);
  CHECK(cents.to_units(100.01 * (1 + 5e-10), k) == fit::on);  // within 1e-9 relative: that tick
  CHECK(cents.to_units(100.01 * (1 + 1e-7), k) == fit::off);
  CHECK(cents.to_units(-2.5, k) == fit::on);
  CHECK_EQ(k, -250);
  CHECK(cents.to_units(std::nan(""), k) == fit::out_of_range);
  CHECK(cents.to_units(INFINITY, k) == fit::out_of_range);
  CHECK(cents.to_units(1e300, k) == fit::out_of_range);
  grid lots(0.001);
  CHECK(lots.to_units(0.123, k) == fit::on);
  CHECK_EQ(k, 123);
  CHECK(lots.to_units(0.0005, k) == fit::off);
  grid odd(0.25 * 3);  // 0.75: not an integer reciprocal, values are k * step
  CHECK(odd.to_units(2.25, k) == fit::on);
  CHECK_EQ(k, 3);
  CHECK(odd.to_value(3) == 2.25);
  // Exact integers between 2^52 and 2^53 units stay themselves; beyond 2^53 is out of range.
  grid ones(1.0);
  CHECK(ones.to_units(4503599627370497.0, k) == fit::on);
  CHECK_EQ(k, 4503599627370497);
  CHECK(ones.to_units(9007199254740991.0, k) == fit::on);
  CHECK_EQ(k, 9007199254740991);
  CHECK(ones.to_units(9007199254740992.0 * 2, k) == fit::out_of_range);
  // Halves round away from zero (what a half-tick price means when the tolerance admits it).
  CHECK(ones.to_units(2.5e9 + 0.5, k) == fit::on);
  CHECK_EQ(k, 2500000001);
  CHECK(ones.to_units(-(2.5e9 + 0.5), k) == fit::on);
  CHECK_EQ(k, -2500000001);
}

void test_price_time_priority() {
  order_book b(0.01, 1);
  limit(b, side::sell, 5, 10.01, 1);
  limit(b, side::sell, 5, 10.00, 2);
  limit(b, side::sell, 5, 10.00, 3);
  limit(b, side::sell, 5, 10.02, 4);
  b.clear_output();
  // Best price first, then arrival within the price.
  auto r = limit(b, side::buy, 12, 10.01, 10);
  CHECK(r.status == order_status::filled);
  const std::vector<fill_t> want{{2, 10, 10.00, 5}, {3, 10, 10.00, 5}, {1, 10, 10.01, 2}};
  CHECK(take_fills(b) == want);
  CHECK_EQ(b.volume_at(1001), 3);
  CHECK_EQ(b.best(side::sell), 1001);
  CHECK(b.empty_side(side::buy));
  // A limit that does not reach the book rests; then the book is not crossed.
  r = limit(b, side::buy, 4, 10.00, 11);
  CHECK(r.status == order_status::resting);
  CHECK(b.fills().empty());
  CHECK_EQ(b.best(side::buy), 1000);
  // Partial fill of the taker: the rest rests at its limit.
  b.clear_output();
  r = limit(b, side::buy, 10, 10.01, 12);
  CHECK(r.status == order_status::resting);
  CHECK((take_fills(b) == std::vector<fill_t>{{1, 12, 10.01, 3}}));
  CHECK_EQ(b.best(side::buy), 1001);
  CHECK_EQ(b.volume_at(1001), 7);
  check_valid(b);
}

void test_market_and_tif() {
  order_book b(0.5, 0.001);
  limit(b, side::buy, 1.5, 99.5, 1);
  limit(b, side::buy, 0.25, 99.0, 2);
  limit(b, side::buy, 1.0, 98.0, 3, tif::day);
  b.clear_output();
  // Market sweeps levels; a leftover is cancelled with NO_LIQUIDITY.
  auto r = market(b, side::sell, 1.6, 5);
  CHECK(r.status == order_status::filled);
  CHECK((take_fills(b) == std::vector<fill_t>{{1, 5, 99.5, 1.5}, {2, 5, 99.0, 0.1}}));
  r = market(b, side::sell, 2.0, 6, tif::gtc);
  CHECK(r.status == order_status::cancelled);
  CHECK(r.why == reason::no_liquidity);
  b.clear_output();
  // IOC: trades what it can, never rests.
  limit(b, side::buy, 1.0, 97.0, 7);
  b.clear_output();
  r = limit(b, side::sell, 2.0, 97.0, 8, tif::ioc);
  CHECK(r.status == order_status::cancelled && r.why == reason::ioc_remainder);
  CHECK((take_fills(b) == std::vector<fill_t>{{7, 8, 97.0, 1.0}}));
  CHECK(!b.contains(8));
  // FOK: all or nothing, checked before any fill; the book is left unchanged.
  limit(b, side::sell, 1.0, 100.0, 9);
  limit(b, side::sell, 1.0, 100.5, 10);
  b.clear_output();
  r = limit(b, side::buy, 2.5, 100.5, 11, tif::fok);
  CHECK(r.status == order_status::rejected && r.why == reason::fok_unfillable);
  CHECK(b.fills().empty());
  CHECK_EQ(b.volume_at(200), 1000);
  r = limit(b, side::buy, 2.0, 100.5, 12, tif::fok);
  CHECK(r.status == order_status::filled);
  CHECK((take_fills(b) == std::vector<fill_t>{{9, 12, 100.0, 1.0}, {10, 12, 100.5, 1.0}}));
  // DAY orders expire at end_of_day, in sequence order; GTC ones stay.
  limit(b, side::sell, 1.0, 120.0, 13, tif::day);
  b.submit(side::buy, order_type::stop, tif::day, 1.0, none, 130.0, 14, -1, false, 0);
  limit(b, side::buy, 1.0, 90.0, 15, tif::day);
  limit(b, side::buy, 1.0, 91.0, 16);
  b.clear_output();
  b.end_of_day(5);
  std::vector<std::int64_t> expired;
  for (const auto& e : b.events()) {
    if (e.kind == static_cast<std::uint8_t>(event_kind::expired)) expired.push_back(e.order_id);
  }
  CHECK((expired == std::vector<std::int64_t>{13, 14, 15}));
  CHECK(!b.contains(13) && !b.contains(14) && !b.contains(15) && b.contains(16) && b.size() == 1);
  check_valid(b);
}

void test_rejections_leave_book_unchanged() {
  order_book b(0.01, 1);
  limit(b, side::buy, 5, 10.00, 1);
  limit(b, side::sell, 5, 10.05, 2);
  b.clear_output();
  const auto before = b.to_bytes();
  struct bad {
    call_result r;
    reason want;
  };
  const std::vector<bad> cases{
      {limit(b, side::buy, 0, 10.00, 3), reason::invalid_quantity},
      {limit(b, side::buy, -1, 10.00, 3), reason::invalid_quantity},
      {limit(b, side::buy, std::nan(""), 10.00, 3), reason::invalid_quantity},
      {limit(b, side::buy, 1.5, 10.00, 3), reason::off_lot},
      {limit(b, side::buy, 1, std::nan(""), 3), reason::missing_price},
      {limit(b, side::buy, 1, INFINITY, 3), reason::invalid_price},
      {limit(b, side::buy, 1, 10.005, 3), reason::off_tick},
      {limit(b, side::buy, 1, 10.00, 1), reason::duplicate_id},
      {limit(b, side::buy, 1, 10.05, 3, tif::gtc, -1, true), reason::post_only_would_cross},
      {limit(b, side::buy, 1, 10.00, 3, tif::ioc, -1, true), reason::invalid_option},
      {b.submit(side::buy, order_type::market, tif::ioc, 1, 10.0, none, 3, -1, false, 0), reason::unexpected_price},
      {b.submit(side::buy, order_type::stop, tif::gtc, 1, none, none, 3, -1, false, 0), reason::missing_stop_price},
      {b.submit(side::buy, order_type::limit, tif::gtc, 1, 10.0, 11.0, 3, -1, false, 0), reason::invalid_option},
      {b.cancel(99, 0), reason::unknown_id},
      {b.modify(99, 1, none, none, 0), reason::unknown_id},
      {b.modify(1, 0, none, none, 0), reason::invalid_quantity},
      {b.modify(1, none, 10.001, none, 0), reason::off_tick},
      {b.modify(1, none, none, 9.0, 0), reason::invalid_option},
  };
  for (const auto& c : cases) {
    CHECK(c.r.status == order_status::rejected);
    CHECK(c.r.why == c.want);
  }
  CHECK(b.fills().empty());
  CHECK(b.to_bytes() == before);
  CHECK_EQ(b.events().size(), cases.size());
  for (const auto& e : b.events()) CHECK(e.kind == static_cast<std::uint8_t>(event_kind::rejected));
}

void test_modify_priority() {
  order_book b(0.01, 1);
  limit(b, side::buy, 5, 10.00, 1);
  limit(b, side::buy, 5, 10.00, 2);
  // A decrease keeps time priority ...
  CHECK(b.modify(1, 3, none, none, 0).status == order_status::resting);
  b.clear_output();
  market(b, side::sell, 3, 10);
  CHECK((take_fills(b) == std::vector<fill_t>{{1, 10, 10.00, 3}}));
  // ... an increase loses it ...
  limit(b, side::buy, 5, 10.00, 3);
  b.modify(2, 6, none, none, 0);
  b.clear_output();
  market(b, side::sell, 6, 11);
  CHECK((take_fills(b) == std::vector<fill_t>{{3, 11, 10.00, 5}, {2, 11, 10.00, 1}}));
  // ... and so does a price change, which may trade at once as a taker.
  limit(b, side::sell, 2, 10.05, 4);
  limit(b, side::buy, 1, 10.00, 5);
  b.clear_output();
  auto r = b.modify(2, none, 10.05, none, 0);
  CHECK(r.status == order_status::resting);  // 2 traded, 3 rest at 10.05
  CHECK((take_fills(b) == std::vector<fill_t>{{4, 2, 10.05, 2}}));
  CHECK_EQ(b.best(side::buy), 1005);
  check_valid(b);
}

void test_self_trade_prevention() {
  for (stp mode : {stp::cancel_newest, stp::cancel_oldest, stp::cancel_both, stp::none}) {
    order_book b(1, 1, mode);
    limit(b, side::sell, 1, 100, 1, tif::gtc, 7);
    limit(b, side::sell, 1, 100, 2, tif::gtc, 8);
    b.clear_output();
    auto r = limit(b, side::buy, 2, 100, 3, tif::gtc, 7);
    const auto fills = take_fills(b);
    if (mode == stp::cancel_newest) {
      CHECK(fills.empty());
      CHECK(r.status == order_status::cancelled && r.why == reason::self_trade);
      CHECK(b.contains(1) && b.contains(2));
    } else if (mode == stp::cancel_oldest) {
      CHECK((fills == std::vector<fill_t>{{2, 3, 100, 1}}));
      CHECK(!b.contains(1));
      CHECK(r.status == order_status::resting);  // 1 lot left rests at 100
    } else if (mode == stp::cancel_both) {
      CHECK(fills.empty());
      CHECK(!b.contains(1) && b.contains(2) && !b.contains(3));
    } else {
      CHECK((fills == std::vector<fill_t>{{1, 3, 100, 1}, {2, 3, 100, 1}}));
    }
    check_valid(b);
  }
  // FOK counts only liquidity it could trade with under the STP mode.
  order_book b(1, 1, stp::cancel_newest);
  limit(b, side::sell, 1, 100, 1, tif::gtc, 7);
  limit(b, side::sell, 5, 101, 2, tif::gtc, 8);
  CHECK(limit(b, side::buy, 2, 101, 3, tif::fok, 7).why == reason::fok_unfillable);
  CHECK(limit(b, side::buy, 2, 101, 4, tif::fok, 9).status == order_status::filled);
}

void test_stops() {
  order_book b(1, 1);
  // No last trade yet: stops wait.
  CHECK(b.submit(side::buy, order_type::stop, tif::gtc, 1, none, 105, 1, -1, false, 0).status == order_status::pending);
  CHECK(b.submit(side::buy, order_type::stop_limit, tif::gtc, 1, 106, 103, 2, -1, false, 0).status ==
        order_status::pending);
  CHECK(b.submit(side::sell, order_type::stop, tif::gtc, 2, none, 95, 3, -1, false, 0).status == order_status::pending);
  limit(b, side::sell, 1, 103, 10);
  limit(b, side::sell, 1, 104, 11);
  limit(b, side::sell, 3, 106, 12);
  b.clear_output();
  // A trade at 103 fires the buy stop-limit (stop 103) only; it buys at 104 (limit 106),
  // last becomes 104; nothing else fires (buy stop 105 needs >= 105).
  market(b, side::buy, 1, 20);
  std::vector<std::int64_t> triggered;
  for (const auto& e : b.events()) {
    if (e.kind == static_cast<std::uint8_t>(event_kind::triggered)) triggered.push_back(e.order_id);
  }
  CHECK((triggered == std::vector<std::int64_t>{2}));
  CHECK((take_fills(b) == std::vector<fill_t>{{10, 20, 103, 1}, {11, 2, 104, 1}}));
  CHECK(b.last_price() == 104);
  // A trade at 106 fires the buy stop 105 (market), which buys at 106.
  market(b, side::buy, 1, 21);
  CHECK((take_fills(b) == std::vector<fill_t>{{12, 21, 106, 1}, {12, 1, 106, 1}}));
  // Several stops fire in a defined order: lowest buy stop first, ties by arrival.
  order_book c(1, 1);
  limit(c, side::sell, 10, 100, 1);
  c.submit(side::buy, order_type::stop, tif::gtc, 1, none, 99, 2, -1, false, 0);
  c.submit(side::buy, order_type::stop, tif::gtc, 1, none, 98, 3, -1, false, 0);
  c.submit(side::buy, order_type::stop, tif::gtc, 1, none, 98, 4, -1, false, 0);
  c.clear_output();
  market(c, side::buy, 1, 5);
  triggered.clear();
  for (const auto& e : c.events()) {
    if (e.kind == static_cast<std::uint8_t>(event_kind::triggered)) triggered.push_back(e.order_id);
  }
  CHECK((triggered == std::vector<std::int64_t>{3, 4, 2}));
  // A stop already satisfied by the last trade fires at once.
  c.clear_output();
  CHECK(c.submit(side::sell, order_type::stop, tif::gtc, 1, none, 101, 6, -1, false, 0).status ==
        order_status::cancelled);  // fired, no bids: leftover cancelled (no liquidity)
  // Cancel and modify of pending stops.
  c.submit(side::sell, order_type::stop, tif::gtc, 1, none, 50, 7, -1, false, 0);
  CHECK(c.modify(7, 2, none, 60, 0).status == order_status::pending);
  CHECK(c.cancel(7, 0).status == order_status::cancelled);
  check_valid(b);
  check_valid(c);
}

/// A long random stream through apply(), validate() after every message, and conservation:
/// accepted quantity = filled (as taker or maker) + open + cancelled + expired, per order.
void test_random_stream_invariants() {
  std::mt19937_64 rng(20261130);
  const int n = g_quick ? 20000 : 200000;
  for (stp mode : {stp::cancel_newest, stp::cancel_oldest, stp::cancel_both, stp::none}) {
    order_book b(0.5, 1, mode);
    std::vector<std::int64_t> ids;
    std::int64_t next_id = 0;
    double mid = 100.0;
    for (int i = 0; i < n; ++i) {
      order_msg m{};
      m.ts = i;
      m.owner = static_cast<std::int64_t>(rng() % 5) - 1;
      m.price = m.quantity = m.stop_price = none;
      const auto u = rng() % 100;
      mid += (static_cast<double>(rng() % 3) - 1.0) * 0.5;
      if (u < 55 || ids.empty()) {
        m.action = static_cast<std::uint8_t>(action::add);
        m.id = next_id++;
        m.side = rng() % 2 ? 1 : -1;
        m.quantity = static_cast<double>(1 + rng() % 9);
        const int t = static_cast<int>(rng() % 20);
        m.type = static_cast<std::uint8_t>(t < 14 ? 0 : t < 16 ? 1 : t < 18 ? 2 : 3);
        m.tif = static_cast<std::uint8_t>(rng() % 4);
        if (m.type == 0 || m.type == 3) m.price = mid + 0.5 * (static_cast<double>(rng() % 11) - 5.0);
        if (m.type >= 2) m.stop_price = mid + 0.5 * (static_cast<double>(rng() % 11) - 5.0);
        if (rng() % 10 == 0) m.flags = flag_post_only;
        ids.push_back(m.id);
      } else if (u < 85) {
        m.action = static_cast<std::uint8_t>(action::cancel);
        m.id = ids[rng() % ids.size()];
      } else if (u < 98) {
        m.action = static_cast<std::uint8_t>(action::modify);
        m.id = ids[rng() % ids.size()];
        if (rng() % 2) m.quantity = static_cast<double>(1 + rng() % 9);
        if (rng() % 2) m.price = mid + 0.5 * (static_cast<double>(rng() % 11) - 5.0);
      } else {
        m.action = static_cast<std::uint8_t>(action::end_of_day);
      }
      const std::size_t f0 = b.fills().size();
      b.apply(m);
      for (std::size_t j = f0; j < b.fills().size(); ++j) {
        const auto& f = b.fills()[j];
        CHECK(f.maker_id != f.taker_id);
        CHECK(f.quantity > 0);
      }
      const std::string why = b.validate();
      if (!why.empty()) {
        std::fprintf(stderr, "message %d: %s\n", i, why.c_str());
        CHECK(why.empty());
        return;
      }
      if (b.fills().size() > 100000) b.clear_output();
    }
    // Snapshot round trip of a big, busy book.
    const auto bytes = b.to_bytes();
    const order_book c = order_book::from_bytes(bytes.data(), bytes.size());
    CHECK(c.to_bytes() == bytes);
    check_valid(c);
  }
}

/// Quantity conservation without modifies: accepted = filled + open + cancelled + expired.
void test_conservation() {
  std::mt19937_64 rng(7);
  order_book b(1, 1, stp::cancel_oldest);
  std::map<std::int64_t, std::int64_t> accepted, removed, filled;
  std::vector<std::int64_t> ids;
  const int n = g_quick ? 20000 : 100000;
  for (int i = 0; i < n; ++i) {
    order_msg m{};
    m.ts = i;
    m.owner = static_cast<std::int64_t>(rng() % 4) - 1;
    m.price = m.quantity = m.stop_price = none;
    if (rng() % 3 != 0 || ids.empty()) {
      m.action = static_cast<std::uint8_t>(action::add);
      m.id = i;
      m.side = rng() % 2 ? 1 : -1;
      m.quantity = static_cast<double>(1 + rng() % 5);
      m.type = static_cast<std::uint8_t>(rng() % 4);
      m.tif = static_cast<std::uint8_t>(rng() % 4);
      if (m.type == 0 || m.type == 3) m.price = static_cast<double>(95 + rng() % 11);
      if (m.type >= 2) m.stop_price = static_cast<double>(95 + rng() % 11);
      ids.push_back(i);
    } else {
      m.action = static_cast<std::uint8_t>(rng() % 50 ? action::cancel : action::end_of_day);
      m.id = ids[rng() % ids.size()];
    }
    b.apply(m);
  }
  for (const auto& e : b.events()) {
    const auto kind = static_cast<event_kind>(e.kind);
    if (kind == event_kind::accepted) accepted[e.order_id] += static_cast<std::int64_t>(e.quantity);
    if (kind == event_kind::cancelled || kind == event_kind::expired) removed[e.order_id] += static_cast<std::int64_t>(e.quantity);
  }
  for (const auto& f : b.fills()) {
    filled[f.maker_id] += static_cast<std::int64_t>(f.quantity);
    filled[f.taker_id] += static_cast<std::int64_t>(f.quantity);
    CHECK(f.side == 1 || f.side == -1);
  }
  std::map<std::int64_t, std::int64_t> open;
  b.for_each_order([&](const order_view& v) { open[v.id] = v.open; });
  std::size_t checked = 0;
  for (const auto& [id, qty] : accepted) {
    const std::int64_t rest = open.count(id) ? open[id] : 0;
    CHECK_EQ(qty, filled[id] + rest + removed[id]);
    ++checked;
  }
  CHECK(checked > 1000);
  check_valid(b);
}

std::vector<unsigned char> golden_bytes() {
  order_book b(0.01, 0.001, stp::cancel_oldest);
  limit(b, side::buy, 1.5, 99.98, 1, tif::gtc, 3);
  limit(b, side::buy, 0.25, 99.98, 2, tif::day);
  limit(b, side::buy, 2, 99.5, 3);
  limit(b, side::sell, 1, 100.02, 4, tif::gtc, 3, true);
  limit(b, side::sell, 0.75, 100.05, 5, tif::day);
  market(b, side::buy, 0.5, 6);  // last trade 100.02
  b.submit(side::sell, order_type::stop, tif::gtc, 1, none, 99.0, 7, -1, false, 10);
  b.submit(side::buy, order_type::stop_limit, tif::day, 0.5, 101.0, 100.5, 8, 4, false, 11);
  return b.to_bytes();
}

std::vector<unsigned char> read_golden() {
  std::ifstream in(std::string(NT_GOLDEN_DIR) + "/book_v1.bin", std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void test_snapshot_and_golden() {
  const auto golden = read_golden();
  CHECK(!golden.empty());
  CHECK(golden_bytes() == golden);  // the v1 writer is unchanged
  order_book b = order_book::from_bytes(golden.data(), golden.size());
  check_valid(b);
  CHECK_EQ(b.size(), 7u);
  CHECK(b.has_last_price() && b.last_price() == 10002);
  CHECK(b.lot_size() == 0.001 && b.tick_size() == 0.01 && b.self_trade() == stp::cancel_oldest);
  order_view v{};
  std::int64_t ahead = -1;
  CHECK(b.find_order(2, v, &ahead));
  CHECK(v.open == 250 && ahead == 1500 && v.tf == tif::day);
  CHECK(b.find_order(8, v) && v.pending && v.type == order_type::stop_limit && v.stop_price == 10050);
  // Every byte flip and truncation raises corrupt_data_error.
  for (std::size_t i = 0; i < golden.size(); ++i) {
    auto bad = golden;
    bad[i] ^= 0x21;
    CHECK_THROWS(order_book::from_bytes(bad.data(), bad.size()), corrupt_data_error);
  }
  for (std::size_t n = 0; n < golden.size(); ++n) {
    CHECK_THROWS(order_book::from_bytes(golden.data(), n), corrupt_data_error);
  }
  // A well-formed frame with a crossed book inside is rejected too.
  order_book c(1, 1);
  limit(c, side::buy, 1, 100, 1);
  limit(c, side::sell, 1, 101, 2);
  auto bytes = c.to_bytes();
  // Rewrite the ask's price (second record) to 99 and re-seal the frame.
  frame_writer w(order_book::magic, 1);
  {
    frame_reader r(bytes.data(), bytes.size(), order_book::magic, 1, 1);
    w.put(r.get<double>()).put(r.get<double>()).put(r.get<std::uint8_t>());
    w.put(r.get<std::uint64_t>()).put(r.get<std::int64_t>()).put(r.get<std::uint8_t>()).put(r.get<std::int64_t>());
    const auto count = r.get<std::uint64_t>();
    w.put(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      w.put(r.get<std::int64_t>()).put(r.get<std::int64_t>());
      const auto px = r.get<std::int64_t>();
      w.put(i == 1 ? std::int64_t{99} : px);
      for (int k = 0; k < 4; ++k) w.put(r.get<std::int64_t>());
      for (int k = 0; k < 5; ++k) w.put(r.get<std::uint8_t>());
    }
  }
  const auto crossed = w.finish();
  CHECK_THROWS(order_book::from_bytes(crossed.data(), crossed.size()), corrupt_data_error);
}

void test_deep_level_cancel() {
  // Thousands of orders at one price: cancelling any of them is O(1) and keeps FIFO.
  order_book b(1, 1);
  const int n = 5000;
  for (int i = 0; i < n; ++i) limit(b, side::buy, 1, 100, i);
  for (int i = 1; i < n; i += 2) CHECK(b.cancel(i, 0).status == order_status::cancelled);
  CHECK_EQ(b.volume_at(100), n / 2);
  b.clear_output();
  market(b, side::sell, 3, n + 1);
  CHECK((take_fills(b) == std::vector<fill_t>{{0, n + 1, 100, 1}, {2, n + 1, 100, 1}, {4, n + 1, 100, 1}}));
  check_valid(b);
}

void test_output_block_cache() {
  // Released huge-page output blocks are kept (up to the limit, oldest evicted first) and handed
  // to the next request that fits within 1.5x; a block handed to a smaller request comes back
  // with its real size; the outputs of a replay into reused blocks equal a fresh replay's.
  block_cache& c = block_cache::instance();
  const std::size_t old_limit = c.set_limit(0);
  CHECK_EQ(c.get_stats().held_bytes, 0u);
  const std::size_t mb = std::size_t{1} << 20;
  c.set_limit(64 * mb);
  const auto s0 = c.get_stats();
  void* a = c.take(8 * mb);
  void* b = c.take(16 * mb);
  CHECK_EQ(c.get_stats().misses, s0.misses + 2);
  static_cast<unsigned char*>(a)[8 * mb - 1] = 1;  // writable to the end
  c.give(a, 8 * mb);
  c.give(b, 16 * mb);
  CHECK_EQ(c.get_stats().held_bytes, 24 * mb);
  CHECK_EQ(c.get_stats().held_blocks, 2u);
  CHECK(c.take(8 * mb) == a);  // exact fit
  CHECK_EQ(c.get_stats().hits, s0.hits + 1);
  CHECK(c.take(12 * mb) == b);  // 16 MiB serves 12 MiB (<= 1.5x) ...
  c.give(b, 12 * mb);            // ... and comes back as 16 MiB
  CHECK_EQ(c.get_stats().held_bytes, 16 * mb);
  void* d = c.take(4 * mb);      // 16 MiB is more than 1.5x of 4 MiB: a new block
  CHECK(d != b);
  c.give(a, 8 * mb);
  c.give(d, 4 * mb);
  CHECK_EQ(c.get_stats().held_bytes, 28 * mb);
  void* big = c.take(48 * mb);
  c.give(big, 48 * mb);  // 76 MiB > 64: the oldest (b) makes room
  CHECK_EQ(c.get_stats().held_bytes, 60 * mb);
  CHECK_EQ(c.get_stats().held_blocks, 3u);
  void* huge = c.take(96 * mb);
  c.give(huge, 96 * mb);  // over the limit by itself: freed, the cache unchanged
  CHECK_EQ(c.get_stats().held_bytes, 60 * mb);
  c.set_limit(50 * mb);  // shrinking frees the oldest until the rest fits (a, then d)
  CHECK_EQ(c.get_stats().held_bytes, 48 * mb);
  CHECK_EQ(c.get_stats().held_blocks, 1u);
  CHECK(c.take(48 * mb) == big);
  c.give(big, 48 * mb);

  // A replay large enough for huge-page outputs, three times: into fresh blocks, into blocks
  // reused while the first outputs are still alive (no aliasing), into the first ones' blocks.
  c.set_limit(512 * mb);
  std::mt19937_64 rng(7);
  std::vector<order_msg> msgs(150'000);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    order_msg& m = msgs[i];
    m = order_msg{};
    m.ts = static_cast<std::int64_t>(i);
    m.owner = -1;
    m.stop_price = none;
    if (i % 3 == 2) {
      m.action = static_cast<std::uint8_t>(action::cancel);
      m.id = static_cast<std::int64_t>(i - 1 - rng() % std::min<std::size_t>(i, 50));
      m.price = m.quantity = none;
    } else {
      m.action = static_cast<std::uint8_t>(action::add);
      m.id = static_cast<std::int64_t>(i);
      m.side = rng() % 2 ? 1 : -1;
      m.price = 100 + static_cast<double>(static_cast<int>(rng() % 21) - 10);
      m.quantity = static_cast<double>(1 + rng() % 5);
    }
  }
  auto replay = [&](fill_vector& f, event_vector& e) {
    order_book bk(1, 1);
    bk.process(msgs.data(), msgs.size());
    f.swap(bk.fills());
    e.swap(bk.events());
  };
  auto same = [](const auto& x, const auto& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0;
  };
  fill_vector f1, f2, f3;
  event_vector e1, e2, e3;
  replay(f1, e1);
  CHECK(e1.size() * sizeof(event_record) >= huge_pages::threshold);
  CHECK(!f1.empty());
  const fill_vector f1_copy(f1);
  const event_vector e1_copy(e1);
  replay(f2, e2);
  CHECK(same(f1, f2) && same(e1, e2) && same(f1, f1_copy) && same(e1, e1_copy));
  const event_record* first_block = e1.data();
  { event_vector gone; gone.swap(e1); }  // released into the cache
  const auto before = c.get_stats().hits;
  replay(f3, e3);
  CHECK(e3.data() == first_block);  // reused ...
  CHECK(c.get_stats().hits > before);
  CHECK(same(f3, f2) && same(e3, e2));  // ... and fully rewritten
  c.set_limit(old_limit);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-golden") {
    const auto bytes = golden_bytes();
    std::ofstream(argv[2], std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                    static_cast<std::streamsize>(bytes.size()));
    return 0;
  }
  g_quick = argc > 1 && std::string(argv[1]) == "--quick";
  NT_RUN(test_grid);
  NT_RUN(test_price_time_priority);
  NT_RUN(test_market_and_tif);
  NT_RUN(test_rejections_leave_book_unchanged);
  NT_RUN(test_modify_priority);
  NT_RUN(test_self_trade_prevention);
  NT_RUN(test_stops);
  NT_RUN(test_deep_level_cancel);
  NT_RUN(test_conservation);
  NT_RUN(test_random_stream_invariants);
  NT_RUN(test_snapshot_and_golden);
  NT_RUN(test_output_block_cache);
  return nt_check::finish("test_book");
}
