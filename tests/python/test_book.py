"""nt.OrderBook and nt.Exchange: one hand-written example (with its expected fills written out)
per matching rule, the price/quantity grid, rejections that leave the book unchanged, API
misuse, queries, replay, snapshots and the golden file. The differential test against a slow
reference book is tests/python/test_book_diff.py."""

from __future__ import annotations

import copy
import pathlib
import pickle

import numpy as np
import polars as pl
import pytest

import neural_trader as nt
from neural_trader import errors

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "book_v1.bin"


def fills(report: nt.book.Report) -> list[tuple[int, int, float, float]]:
    return [(f.maker_id, f.taker_id, f.price, f.quantity) for f in report.fills]


def kinds(report: nt.book.Report) -> list[tuple[str, int, str | None]]:
    return [
        (e.kind.name.lower(), e.order_id, e.reason.name.lower() if e.reason else None) for e in report.events
    ]


# ----------------------------------------------------------------------------------- rules
def test_price_then_time_priority() -> None:
    book = nt.OrderBook(0.01, 1)
    book.submit("sell", 5, 10.01, order_id=1)
    book.submit("sell", 5, 10.00, order_id=2)
    book.submit("sell", 5, 10.00, order_id=3)
    book.submit("sell", 5, 10.02, order_id=4)
    r = book.submit("buy", 12, 10.01, order_id=10)
    assert fills(r) == [(2, 10, 10.00, 5.0), (3, 10, 10.00, 5.0), (1, 10, 10.01, 2.0)]
    assert r.status == "filled" and r.filled_quantity == 12.0
    assert r.avg_price == pytest.approx((50.0 + 50.0 + 20.02) / 12)
    assert all(f.side is nt.Side.BUY for f in r.fills)
    # The leftover of a partly filled limit order rests at its limit.
    r = book.submit("buy", 10, 10.01, order_id=11)
    assert fills(r) == [(1, 11, 10.01, 3.0)]
    assert r.status == "resting"
    assert book.best_bid == 10.01 and book.best_ask == 10.02
    assert book.volume_at(10.01) == 7.0
    book.validate()


def test_market_order_sweeps_and_cancels_leftover() -> None:
    book = nt.OrderBook(0.5, 0.001)
    book.submit("buy", 1.5, 99.5, order_id=1)
    book.submit("buy", 0.25, 99.0, order_id=2)
    r = book.submit("sell", 2.0, order_id=3)  # no price: market
    assert fills(r) == [(1, 3, 99.5, 1.5), (2, 3, 99.0, 0.25)]
    assert r.status == "cancelled" and r.reason is nt.Reason.NO_LIQUIDITY
    assert kinds(r)[-1] == ("cancelled", 3, "no_liquidity")
    assert r.events[-1].quantity == pytest.approx(0.25)
    assert book.best_bid is None and book.spread is None and book.mid is None


def test_ioc_never_rests() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("buy", 1, 97, order_id=1)
    r = book.submit("sell", 3, 97, tif="IOC", order_id=2)
    assert fills(r) == [(1, 2, 97.0, 1.0)]
    assert r.status == "cancelled" and r.reason is nt.Reason.IOC_REMAINDER
    assert 2 not in book and len(book) == 0


def test_fok_all_or_nothing_checked_before_any_fill() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, 100, order_id=1)
    book.submit("sell", 1, 101, order_id=2)
    before = book.to_bytes()
    r = book.submit("buy", 3, 101, tif=nt.TIF.FOK, order_id=3)
    assert not r.accepted and r.reason is nt.Reason.FOK_UNFILLABLE and r.fills == ()
    assert book.to_bytes() == before
    r = book.submit("buy", 2, 101, tif="fok", order_id=4)
    assert fills(r) == [(1, 4, 100.0, 1.0), (2, 4, 101.0, 1.0)]
    # A FOK market order too.
    book.submit("buy", 2, 90, order_id=5)
    assert book.submit("sell", 3, tif="FOK").reason is nt.Reason.FOK_UNFILLABLE
    assert fills(book.submit("sell", 2, tif="FOK", order_id=6)) == [(5, 6, 90.0, 2.0)]


def test_day_orders_expire_at_end_of_day_in_priority_order() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, 120, tif="DAY", order_id=1)
    book.submit("buy", 1, order_type="stop", stop_price=130, tif="DAY", order_id=2)
    book.submit("buy", 1, 90, tif="DAY", order_id=3)
    book.submit("buy", 1, 91, order_id=4)  # GTC stays
    r = book.end_of_day(ts=86_400)
    assert kinds(r) == [("expired", 1, "end_of_day"), ("expired", 2, "end_of_day"), ("expired", 3, "end_of_day")]
    assert all(e.ts == 86_400 for e in r.events)
    assert r.status == "none" and len(book) == 1 and 4 in book


def test_post_only_rejected_when_it_would_trade() -> None:
    book = nt.OrderBook(0.01, 1)
    book.submit("sell", 5, 10.05, order_id=1)
    r = book.submit("buy", 1, 10.05, post_only=True, order_id=2)
    assert r.reason is nt.Reason.POST_ONLY_WOULD_CROSS and r.status == "rejected"
    r = book.submit("buy", 1, 10.04, post_only=True, order_id=3)
    assert r.status == "resting" and book.order(3).post_only  # type: ignore[union-attr]
    # Not allowed with IOC/FOK or a market order.
    assert book.submit("buy", 1, 10.00, tif="IOC", post_only=True).reason is nt.Reason.INVALID_OPTION
    # A post-only order whose new price would cross cannot be modified there.
    r = book.modify(3, price=10.05)
    assert r.reason is nt.Reason.POST_ONLY_WOULD_CROSS
    assert book.order(3).price == 10.04  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mode", "want_fills", "want_live", "status"),
    [
        ("cancel_newest", [], {1, 2}, "cancelled"),
        ("cancel_oldest", [(2, 3, 100.0, 1.0)], {3}, "resting"),
        ("cancel_both", [], {2}, "cancelled"),
        ("none", [(1, 3, 100.0, 1.0), (2, 3, 100.0, 1.0)], set(), "filled"),
    ],
)
def test_self_trade_prevention(mode: str, want_fills: list, want_live: set, status: str) -> None:
    book = nt.OrderBook(1, 1, self_trade=mode)
    book.submit("sell", 1, 100, owner=7, order_id=1)
    book.submit("sell", 1, 100, owner=8, order_id=2)
    r = book.submit("buy", 2, 100, owner=7, order_id=3)
    assert fills(r) == want_fills
    assert {i for i in (1, 2, 3) if i in book} == want_live
    assert r.status == status
    if mode != "none":
        assert any(e.reason is nt.Reason.SELF_TRADE for e in r.events)
    assert book.self_trade is nt.STP[mode.upper()]
    book.validate()


def test_orders_without_owner_never_self_trade_prevented() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, 100, order_id=1)
    assert fills(book.submit("buy", 1, 100, order_id=2)) == [(1, 2, 100.0, 1.0)]


def test_modify_keeps_priority_on_decrease_loses_it_otherwise() -> None:
    book = nt.OrderBook(0.01, 1)
    book.submit("buy", 5, 10.00, order_id=1)
    book.submit("buy", 5, 10.00, order_id=2)
    r = book.modify(1, quantity=3)
    assert r.status == "resting" and kinds(r) == [("modified", 1, None)]
    assert book.order(2).queue_ahead == 3.0  # type: ignore[union-attr]
    assert fills(book.submit("sell", 3)) == [(1, 3, 10.00, 3.0)]
    # An increase goes to the back of the level.
    book.submit("buy", 5, 10.00, order_id=4)
    book.modify(2, quantity=6)
    assert [o["id"] for o in book.orders()] == [4, 2]
    assert fills(book.submit("sell", 6, order_id=5)) == [(4, 5, 10.00, 5.0), (2, 5, 10.00, 1.0)]
    # A price change loses priority and may trade at once.
    book.submit("sell", 2, 10.05, order_id=6)
    r = book.modify(2, price=10.05)
    assert fills(r) == [(6, 2, 10.05, 2.0)]
    assert r.status == "resting" and book.best_bid == 10.05 and book.order(2).quantity == 3.0  # type: ignore[union-attr]
    book.validate()


def test_stops_fire_on_last_trade_in_a_defined_order() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 10, 100, order_id=1)
    assert book.submit("buy", 1, stop_price=99, order_id=2).status == "pending"
    book.submit("buy", 1, stop_price=98, order_id=3)
    book.submit("buy", 1, stop_price=98, order_id=4)
    assert book.order(3).status == "pending" and book.order(3).type is nt.OrderType.STOP  # type: ignore[union-attr]
    assert book.last_price is None  # no trade yet: nothing can fire
    r = book.submit("buy", 1, order_id=5)
    # The trade at 100 fires every buy stop <= 100: lowest stop first, ties by arrival.
    assert [e.order_id for e in r.events if e.kind is nt.EventKind.TRIGGERED] == [3, 4, 2]
    assert fills(r) == [(1, 5, 100.0, 1.0), (1, 3, 100.0, 1.0), (1, 4, 100.0, 1.0), (1, 2, 100.0, 1.0)]
    assert book.last_price == 100.0


def test_stop_limit_trades_as_limit_after_trigger() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, 103, order_id=10)
    book.submit("sell", 1, 104, order_id=11)
    book.submit("sell", 3, 106, order_id=12)
    r = book.submit("buy", 2, 104, stop_price=103, order_id=1)  # STOP_LIMIT (both prices)
    assert r.status == "pending"
    r = book.submit("buy", 1, order_id=20)  # trades at 103 -> fires the stop-limit
    assert fills(r) == [(10, 20, 103.0, 1.0), (11, 1, 104.0, 1.0)]
    assert book.order(1).type is nt.OrderType.LIMIT and book.order(1).price == 104.0  # type: ignore[union-attr]
    # A stop already satisfied when it arrives fires at once.
    r = book.submit("sell", 1, stop_price=110, order_id=2)
    assert [e.kind.name for e in r.events][:2] == ["ACCEPTED", "TRIGGERED"]
    assert fills(r) == [(1, 2, 104.0, 1.0)]


def test_stop_cancel_and_modify() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, stop_price=50, order_id=1)
    assert book.modify(1, quantity=2, stop_price=60).status == "pending"
    info = book.order(1)
    assert info is not None and info.stop_price == 60.0 and info.quantity == 2.0 and info.price is None
    assert book.modify(1, price=59).reason is nt.Reason.INVALID_OPTION  # a stop market has no price
    assert book.cancel(1).status == "cancelled" and 1 not in book


# ----------------------------------------------------------------------------------- grid
def test_prices_on_the_tick_grid_and_back_exactly() -> None:
    book = nt.OrderBook(0.01, 0.001)
    book.submit("sell", 0.123, 100.01, order_id=1)
    o = book.orders()[0]
    assert o["price"] == 100.01 and o["quantity"] == 0.123  # exact, not 10001 * 0.01
    assert book.submit("buy", 1, 100.015).reason is nt.Reason.OFF_TICK
    assert book.submit("buy", 0.0005, 100.0).reason is nt.Reason.OFF_LOT
    # Within 1e-9 relative of a tick is that tick.
    r = book.submit("buy", 0.001, 100.01 * (1 + 4e-10), order_id=2)
    assert fills(r) == [(1, 2, 100.01, 0.001)]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"quantity": 0, "price": 10.0}, "INVALID_QUANTITY"),
        ({"quantity": -1, "price": 10.0}, "INVALID_QUANTITY"),
        ({"quantity": float("nan"), "price": 10.0}, "INVALID_QUANTITY"),
        ({"quantity": float("inf"), "price": 10.0}, "INVALID_QUANTITY"),
        ({"quantity": 1.5, "price": 10.0}, "OFF_LOT"),
        ({"quantity": 1, "price": float("nan")}, "INVALID_PRICE"),
        ({"quantity": 1, "price": float("inf")}, "INVALID_PRICE"),
        ({"quantity": 1, "price": 1e300}, "INVALID_PRICE"),
        ({"quantity": 1, "price": 10.005}, "OFF_TICK"),
        ({"quantity": 1, "price": 10.0, "order_type": "market"}, "UNEXPECTED_PRICE"),
        ({"quantity": 1, "order_type": "limit"}, "MISSING_PRICE"),
        ({"quantity": 1, "order_type": "stop"}, "MISSING_STOP_PRICE"),
        ({"quantity": 1, "price": 10.0, "stop_price": 10.001}, "OFF_TICK"),
        ({"quantity": 1, "price": 10.0, "order_id": 1}, "DUPLICATE_ID"),
    ],
)
def test_bad_input_rejected_and_book_unchanged(kwargs: dict, reason: str) -> None:
    book = nt.OrderBook(0.01, 1)
    book.submit("buy", 5, 10.00, order_id=1)
    book.submit("sell", 5, 10.05, order_id=2)
    before = book.to_bytes()
    r = book.submit("buy", **kwargs)
    assert r.status == "rejected" and not r.accepted and not r
    assert r.reason is nt.Reason[reason]
    assert kinds(r) == [("rejected", r.order_id, reason.lower())]
    assert book.to_bytes() == before


def test_unknown_ids_rejected() -> None:
    book = nt.OrderBook()
    assert book.cancel(5).reason is nt.Reason.UNKNOWN_ID
    assert book.modify(5, quantity=1).reason is nt.Reason.UNKNOWN_ID
    book.submit("buy", 1, 1.0, order_id=5)
    assert book.cancel(5).status == "cancelled"
    assert book.cancel(5).reason is nt.Reason.UNKNOWN_ID  # finished orders are unknown


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda b: b.submit("hold", 1, 1.0), errors.InvalidArgumentError),
        (lambda b: b.submit(2, 1, 1.0), errors.InvalidArgumentError),
        (lambda b: b.submit(None, 1, 1.0), errors.DTypeError),
        (lambda b: b.submit("buy", "1", 1.0), errors.DTypeError),
        (lambda b: b.submit("buy", 1, "1.0"), errors.DTypeError),
        (lambda b: b.submit("buy", 1, 1.0, tif="GTD"), errors.InvalidArgumentError),
        (lambda b: b.submit("buy", 1, 1.0, order_type="iceberg"), errors.InvalidArgumentError),
        (lambda b: b.submit("buy", 1, 1.0, order_id=-3), errors.InvalidArgumentError),
        (lambda b: b.submit("buy", 1, 1.0, order_id=1.5), errors.DTypeError),
        (lambda b: b.submit("buy", 1, 1.0, ts=1.5), errors.DTypeError),
        (lambda b: b.cancel("a"), errors.DTypeError),
        (lambda b: b.depth(-1), errors.InvalidArgumentError),
        (lambda b: b.volume_at(1.005), errors.InvalidArgumentError),
        (lambda b: b.process(np.zeros(3)), errors.DTypeError),
        (lambda b: b.process({"bogus": [1]}), errors.InvalidArgumentError),
    ],
)
def test_api_misuse_raises(call, exc) -> None:  # type: ignore[no-untyped-def]
    book = nt.OrderBook(0.01, 1)
    before = book.to_bytes()
    with pytest.raises(exc):
        call(book)
    assert book.to_bytes() == before


@pytest.mark.parametrize("bad", [0, -0.01, float("nan"), float("inf")])
def test_bad_grid_raises(bad: float) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        nt.OrderBook(bad, 1)
    with pytest.raises(errors.InvalidArgumentError):
        nt.OrderBook(0.01, bad)
    with pytest.raises(errors.InvalidArgumentError):
        nt.OrderBook(0.01, 1, self_trade="sometimes")


def test_enums_strings_and_codes_accepted() -> None:
    book = nt.OrderBook(1, 1)
    a = book.submit(nt.Side.SELL, 1, 10, tif=nt.TIF.GTC, order_type=nt.OrderType.LIMIT)
    b = book.submit("SELL", 1, 10, tif="gtc", order_type="LIMIT")
    c = book.submit(-1, 1, 10, tif=0, order_type=0)
    assert a.status == b.status == c.status == "resting"
    assert book.depth().ask_quantity.tolist() == [3.0]


# ----------------------------------------------------------------------------------- queries
def test_depth_orders_order_and_repr() -> None:
    book = nt.OrderBook(0.5, 1)
    for i, (side, px, q) in enumerate(
        [("buy", 99.5, 2), ("buy", 99.5, 3), ("buy", 99.0, 1), ("sell", 100.5, 4), ("sell", 101.0, 5)]
    ):
        book.submit(side, q, px, order_id=i, owner=i % 2, ts=i * 10)
    book.submit("sell", 1, stop_price=98.0, order_id=9, ts=99)
    d = book.depth(1)
    assert d.bid_price.tolist() == [99.5] and d.bid_quantity.tolist() == [5.0] and d.bid_orders.tolist() == [2]
    assert d.ask_price.tolist() == [100.5] and d.ask_quantity.tolist() == [4.0]
    d = book.depth()
    assert d.bid_price.tolist() == [99.5, 99.0] and d.ask_price.tolist() == [100.5, 101.0]
    assert d.bid_price.dtype == np.float64 and d.bid_orders.dtype == np.int64
    snap = book.orders()
    assert snap.dtype == nt.BOOK_ORDER_DTYPE
    assert snap["id"].tolist() == [0, 1, 2, 3, 4, 9]
    assert snap["pending"].tolist() == [False] * 5 + [True]
    assert snap["owner"].tolist() == [0, 1, 0, 1, 0, -1]
    assert np.isnan(snap["price"][-1]) and snap["stop_price"][-1] == 98.0
    info = book.order(1)
    assert info == nt.book.OrderInfo(
        id=1, side=nt.Side.BUY, type=nt.OrderType.LIMIT, tif=nt.TIF.GTC, price=99.5, stop_price=None,
        quantity=3.0, owner=1, post_only=False, status="resting", queue_ahead=2.0, ts=10,
    )
    assert book.order(77) is None
    assert book.spread == 1.0 and book.mid == 100.0
    assert book.volume_at(99.5) == 5.0 and book.volume_at(50.0) == 0.0
    assert len(book) == 6 and 9 in book and 77 not in book and "x" not in book
    assert "best_bid=99.5" in repr(book) and "orders=6" in repr(book)
    assert repr(book.submit("buy", 1, 98.0)).startswith("Report(order_id=")


def test_auto_ids_skip_live_ids() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("buy", 1, 1, order_id=1)
    book.submit("buy", 1, 1, order_id=2)
    assert book.submit("buy", 1, 1).order_id == 3
    assert book.submit("buy", 1, 1).order_id == 4


# ----------------------------------------------------------------------------------- replay
def _messages() -> np.ndarray:
    m = np.zeros(8, nt.ORDER_MSG_DTYPE)
    m["owner"] = -1
    m["price"] = m["quantity"] = m["stop_price"] = np.nan
    rows = [
        # ts, id, action, side, type, tif, price, qty
        (1, 1, nt.Action.ADD, 1, nt.OrderType.LIMIT, nt.TIF.GTC, 10.00, 5),
        (2, 2, nt.Action.ADD, 1, nt.OrderType.LIMIT, nt.TIF.DAY, 10.01, 5),
        (3, 3, nt.Action.ADD, -1, nt.OrderType.LIMIT, nt.TIF.GTC, 10.01, 2),
        (4, 2, nt.Action.MODIFY, 0, 0, 0, np.nan, 1),
        (5, 4, nt.Action.MARKET, -1, 0, 0, np.nan, 4),
        (6, 1, nt.Action.CANCEL, 0, 0, 0, np.nan, np.nan),
        (7, 99, nt.Action.CANCEL, 0, 0, 0, np.nan, np.nan),
        (8, -1, nt.Action.END_OF_DAY, 0, 0, 0, np.nan, np.nan),
    ]
    for i, (ts, oid, action, side, tp, tif, px, q) in enumerate(rows):
        m[i]["ts"], m[i]["id"], m[i]["action"], m[i]["side"] = ts, oid, action, side
        m[i]["type"], m[i]["tif"], m[i]["price"], m[i]["quantity"] = tp, tif, px, q
    return m


def test_process_matches_calls_one_by_one() -> None:
    m = _messages()
    book = nt.OrderBook(0.01, 1)
    f, e = book.process(m)
    assert f.dtype == nt.FILL_DTYPE and e.dtype == nt.EVENT_DTYPE
    assert [(r["maker_id"], r["taker_id"], r["price"], r["quantity"], r["msg"]) for r in f] == [
        (2, 3, 10.01, 2.0, 2),
        (2, 4, 10.01, 1.0, 4),
        (1, 4, 10.00, 3.0, 4),
    ]
    assert [(nt.EventKind(r["kind"]).name, r["order_id"], r["msg"]) for r in e] == [
        ("ACCEPTED", 1, 0), ("ACCEPTED", 2, 1), ("ACCEPTED", 3, 2), ("MODIFIED", 2, 3),
        ("ACCEPTED", 4, 4), ("CANCELLED", 1, 5), ("REJECTED", 99, 6),
    ]
    # The same through the Python calls.
    other = nt.OrderBook(0.01, 1)
    got = []
    got += other.submit("buy", 5, 10.00, order_id=1, ts=1).fills
    got += other.submit("buy", 5, 10.01, order_id=2, tif="DAY", ts=2).fills
    got += other.submit("sell", 2, 10.01, order_id=3, ts=3).fills
    got += other.modify(2, quantity=1, ts=4).fills
    got += other.submit("sell", 4, order_id=4, ts=5).fills
    other.cancel(1, ts=6)
    assert [(x.maker_id, x.taker_id, x.price, x.quantity, x.ts) for x in got] == [
        (r["maker_id"], r["taker_id"], r["price"], r["quantity"], r["ts"]) for r in f
    ]
    assert other.to_bytes() == book.to_bytes()


def test_process_output_is_an_owning_view() -> None:
    book = nt.OrderBook(0.01, 1)
    f, e = book.process(_messages())
    del book
    f["quantity"] += 0  # writable, and alive after the book is gone
    assert f["quantity"].sum() == 6.0 and len(e) == 7


def _big_stream(n: int = 120_000) -> np.ndarray:
    """Adds and cancels near one price: outputs of several MiB (huge-page blocks)."""
    rng = np.random.default_rng(3)
    m = np.zeros(n, nt.ORDER_MSG_DTYPE)
    m["ts"] = np.arange(n)
    m["id"] = np.arange(n)
    m["owner"] = -1
    m["stop_price"] = np.nan
    m["side"] = rng.choice([1, -1], n)
    m["price"] = 100 + rng.integers(-10, 11, n) * 0.01
    m["quantity"] = rng.integers(1, 6, n)
    cancel = np.arange(n) % 3 == 2
    m["action"][cancel] = int(nt.book.Action.CANCEL)
    m["id"][cancel] = np.arange(n)[cancel] - 1 - rng.integers(0, 40, int(cancel.sum())) % np.maximum(np.arange(n)[cancel], 1)
    m["price"][cancel] = np.nan
    m["quantity"][cancel] = np.nan
    return m


def test_replay_cache_reuses_released_outputs() -> None:
    m = _big_stream()

    def _same(x: np.ndarray, y: np.ndarray) -> bool:
        # field by field (FILL_DTYPE has padding bytes a NumPy copy need not carry over; events
        # hold NaN prices)
        names = x.dtype.names or ()
        return x.dtype == y.dtype and all(
            np.array_equal(x[f], y[f], equal_nan=x[f].dtype.kind == "f") for f in names
        )

    old = nt.set_output_cache_limit(256 << 20)
    try:
        f1, e1 = nt.OrderBook(0.01, 1).process(m)
        assert e1.nbytes >= 4 << 20 and len(f1) > 0
        keep = (f1.copy(), e1.copy())
        f2, e2 = nt.OrderBook(0.01, 1).process(m)  # f1/e1 alive: new memory, no aliasing
        assert _same(f1, keep[0]) and _same(e1, keep[1])
        assert _same(f2, keep[0]) and _same(e2, keep[1])
        address = e1.__array_interface__["data"][0]
        hits = nt.output_cache_info()["hits"]
        del f1, e1
        assert nt.output_cache_info()["held_bytes"] >= 4 << 20
        f3, e3 = nt.OrderBook(0.01, 1).process(m)
        assert e3.__array_interface__["data"][0] == address  # the released block, reused ...
        assert nt.output_cache_info()["hits"] > hits
        assert _same(f3, keep[0]) and _same(e3, keep[1])  # ... and rewritten
        nt.set_output_cache_limit(0)  # off: frees what it holds
        del f2, e2
        info = nt.output_cache_info()
        assert info["limit"] == 0 and info["held_bytes"] == 0 and info["held_blocks"] == 0
    finally:
        nt.set_output_cache_limit(old)
    assert nt.output_cache_info()["limit"] == old
    with pytest.raises(errors.InvalidArgumentError):
        nt.set_output_cache_limit(-1)
    for bad in (1.5, "1", True):
        with pytest.raises(errors.DTypeError):
            nt.set_output_cache_limit(bad)


def test_process_takes_columns_dataframes_and_empty_input() -> None:
    cols = {
        "id": [1, 2], "side": [1, -1], "price": [10.0, 10.0], "quantity": [3.0, 1.0],
    }
    for src in (cols, pl.DataFrame(cols)):
        book = nt.OrderBook(0.01, 1)
        f, _ = book.process(src)
        assert f["maker_id"].tolist() == [1] and f["quantity"].tolist() == [1.0]
    f, e = nt.OrderBook().process(np.zeros(0, nt.ORDER_MSG_DTYPE))
    assert len(f) == 0 and len(e) == 0
    assert nt.book.as_messages(cols)["tif"].tolist() == [0, 0]


def test_process_bad_codes_rejected_not_crashing() -> None:
    m = np.zeros(3, nt.ORDER_MSG_DTYPE)
    m["price"], m["quantity"], m["stop_price"] = 1.0, 1.0, np.nan
    m["action"] = [0, 9, 0]
    m["side"] = [5, 1, 1]
    m["type"] = [0, 0, 7]
    m["id"] = [1, 2, 3]
    f, e = nt.OrderBook(1, 1).process(m)
    assert len(f) == 0
    assert e["kind"].tolist() == [int(nt.EventKind.REJECTED)] * 3
    assert e["reason"].tolist() == [int(nt.Reason.INVALID_OPTION)] * 3


# ----------------------------------------------------------------------------------- exchange
def test_exchange_routes_by_symbol() -> None:
    ex = nt.Exchange()
    assert ex.add_symbol("AAA", 0.01, 1) == 0
    assert ex.add_symbol("BBB", 0.5, 0.001) == 1
    with pytest.raises(errors.InvalidArgumentError):
        ex.add_symbol("AAA")
    ex.submit("AAA", "sell", 2, 10.00, order_id=1)
    ex.submit("BBB", "sell", 0.5, 20.5, order_id=1)
    assert fills(ex.submit("BBB", "buy", 0.25, 21.0, order_id=2)) == [(1, 2, 20.5, 0.25)]
    assert ex.book("AAA").best_ask == 10.00 and ex.book("BBB").volume_at(20.5) == 0.25
    assert ex.cancel("AAA", 1).status == "cancelled"
    m = np.zeros(2, nt.ORDER_MSG_DTYPE)
    m["symbol"] = [1, 0]
    m["id"] = [7, 7]
    m["side"] = [1, 1]
    m["quantity"] = [0.25, 1]
    m["price"] = [20.5, 9.99]
    m["stop_price"] = np.nan
    f, e = ex.process(m)
    assert f["symbol"].tolist() == [1] and f["maker_id"].tolist() == [1] and f["msg"].tolist() == [0]
    assert e["symbol"].tolist() == [1, 0]
    assert ex.book("AAA").best_bid == 9.99
    reports = ex.end_of_day()
    assert set(reports) == {"AAA", "BBB"}
    # An unknown symbol index raises before anything is applied.
    before = [ex.book(s).to_bytes() for s in ex.symbols]
    m["symbol"] = [0, 5]
    with pytest.raises(errors.InvalidArgumentError, match="symbol index 5"):
        ex.process(m)
    assert [ex.book(s).to_bytes() for s in ex.symbols] == before
    with pytest.raises(errors.InvalidArgumentError):
        ex.book("ZZZ")
    restored = pickle.loads(pickle.dumps(ex))
    assert restored.symbols == ("AAA", "BBB")
    assert [restored.book(s).to_bytes() for s in restored.symbols] == before
    assert restored.book("BBB").symbol == "BBB" and "BBB" in restored and len(restored) == 2


# ----------------------------------------------------------------------------------- persistence
def _busy_book() -> nt.OrderBook:
    book = nt.OrderBook(0.01, 0.001, self_trade="cancel_oldest")
    book.submit("buy", 1.5, 99.98, order_id=1, owner=3)
    book.submit("buy", 0.25, 99.98, order_id=2, tif="DAY")
    book.submit("sell", 1, 100.02, order_id=4, post_only=True)
    book.submit("buy", 0.5, order_id=6)
    book.submit("sell", 1, stop_price=99.0, order_id=7, ts=10)
    return book


def test_snapshot_round_trip_pickle_and_copy() -> None:
    book = _busy_book()
    for clone in (
        nt.OrderBook.from_bytes(book.to_bytes()),
        pickle.loads(pickle.dumps(book)),
        book.copy(),
        copy.deepcopy(book),
    ):
        assert clone.to_bytes() == book.to_bytes()
        assert clone.last_price == 100.02 and clone.self_trade is nt.STP.CANCEL_OLDEST
        clone.validate()
        # The copy behaves like the original, and is independent of it.
        a = clone.submit("sell", 2, 99.98)
        assert fills(a) == [(1, a.order_id, 99.98, 1.5), (2, a.order_id, 99.98, 0.25)]
    assert book.volume_at(99.98) == 1.75


def test_golden_snapshot_still_loads() -> None:
    book = nt.OrderBook.from_bytes(GOLDEN.read_bytes())
    book.validate()
    assert len(book) == 7 and book.last_price == 100.02
    assert book.tick_size == 0.01 and book.lot_size == 0.001
    info = book.order(2)
    assert info is not None and info.quantity == 0.25 and info.queue_ahead == 1.5 and info.tif is nt.TIF.DAY
    assert book.order(8).status == "pending"  # type: ignore[union-attr]


def test_corrupted_snapshots_raise_corrupt_data_error() -> None:
    good = GOLDEN.read_bytes()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x40
        with pytest.raises(errors.CorruptDataError):
            nt.OrderBook.from_bytes(bytes(bad))
    for n in range(0, len(good), 3):
        with pytest.raises(errors.CorruptDataError):
            nt.OrderBook.from_bytes(good[:n])
    with pytest.raises(errors.DTypeError):
        nt.OrderBook.from_bytes("not bytes")  # type: ignore[arg-type]


def test_fill_and_event_objects() -> None:
    book = nt.OrderBook(1, 1)
    book.submit("sell", 1, 5, order_id=1)
    r = book.submit("buy", 1, 5, order_id=2, ts=42)
    f = r.fills[0]
    assert (f.maker_id, f.taker_id, f.price, f.quantity, f.ts, f.side) == (1, 2, 5.0, 1.0, 42, nt.Side.BUY)
    assert pickle.loads(pickle.dumps(f)) == f and hash(f) == hash(pickle.loads(pickle.dumps(f)))
    assert "maker_id=1" in repr(f)
    ev = r.events[0]
    assert ev.kind is nt.EventKind.ACCEPTED and ev.type is nt.OrderType.LIMIT and ev.side is nt.Side.BUY
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert "accepted" in repr(ev)
    arr = r.fills_array()
    assert arr.dtype == nt.FILL_DTYPE and arr["taker_id"].tolist() == [2] and arr["msg"].tolist() == [-1]
    assert r.events_array()["kind"].tolist() == [0]
    with pytest.raises(TypeError):
        nt.book.Report()


@pytest.mark.parametrize("n_makers", [1, 6])
def test_report_pickles(n_makers: int) -> None:
    book = nt.OrderBook(1, 1)
    for i in range(n_makers):
        book.submit("sell", 1, 5 + i, order_id=i + 1)
    r = book.submit("buy", n_makers + 1, 5 + n_makers, order_id=100, tif="IOC")
    back = pickle.loads(pickle.dumps(r))
    assert (back.order_id, back.status, back.reason) == (r.order_id, r.status, r.reason)
    assert back.fills == r.fills and back.events == r.events and len(back.fills) == n_makers
    assert back.filled_quantity == r.filled_quantity and back.avg_price == r.avg_price
    assert repr(back) == repr(r)


def test_plot_depth_draws_cumulative_sides() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    book = nt.OrderBook(0.5, 1)
    book.submit("buy", 2, 99.5)
    book.submit("buy", 3, 99.0)
    book.submit("sell", 4, 100.5)
    ax = book.plot_depth(levels=5)
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    assert lines["bids"] == ([99.5, 99.0], [2.0, 5.0])
    assert lines["asks"] == ([100.5], [4.0])
    assert ax.get_ylabel() == "cumulative quantity"
    empty = nt.OrderBook().plot_depth()
    assert empty.get_lines() == []
