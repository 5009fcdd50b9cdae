# The vectorised path's kernel (nt.vector.from_signals): the account walked from one change of the
# target position to the next, in C, with the same arithmetic, in the same order, as the plain
# Python loop it replaces. Included from _backtest.pyx.
from libc.math cimport nextafter


cdef inline double _vec_size(double available, double px, int mode, double size, bint whole,
                             double fees) noexcept nogil:
    """Quantity to open: mode 0 all of `available`, 1 a fraction, 2 a value, 3 a number of units."""
    cdef double unit_cost, qty
    if not available > 0.0:
        return 0.0
    unit_cost = px * (1.0 + fees)
    if mode == 0:
        qty = available / unit_cost
    elif mode == 1:
        qty = (size * available) / unit_cost
    elif mode == 2:
        qty = min(size, available) / unit_cost
    else:
        qty = min(size, available / unit_cost)
    if whole:
        return floor(qty)
    while qty > 0.0 and qty * px + fees * (qty * px) > available:
        qty = nextafter(qty, 0.0)
    return qty


def signal_kernel(const int64_t[::1] change, const int64_t[::1] exec_bars, const double[::1] exec_px,
                  const double[::1] target, double cash, double fees, double slippage, int size_mode,
                  double size, bint whole, int close_mode, double last_close, double last_open, int64_t n):
    """Walks the target changes; returns the fills, closed trades and account states as arrays
    (see nt.vector._simulate). `close_mode`: 0 keep the last position, 1 close it at the last
    close, 2 at the last open (no slippage either way)."""
    cdef vector[int64_t] f_bar, f_created, t_entry_bar, t_exit_bar, s_bar
    cdef vector[int8_t] f_side, f_tag, t_dir
    cdef vector[double] f_qty, f_price, f_fee, t_qty, t_entry_px, t_exit_px, t_pnl, t_fees, s_cash, s_qty
    cdef double cur_cash = cash, pos = 0.0, entry_px = 0.0, entry_fee = 0.0, realized = 0.0
    cdef int64_t entry_bar = -1, c, e
    cdef double buy_mult = 1.0 + slippage, sell_mult = 1.0 - slippage
    cdef double want, have, raw, px, qty, fee, pnl
    cdef int direction
    cdef int8_t side_v, tag_v     # typed locals: Cython turns a conditional passed to a vector's
                                  # push_back(const T&) into a reference to a temporary
    cdef bint changed
    cdef Py_ssize_t k, m = change.shape[0]
    if exec_bars.shape[0] != m or exec_px.shape[0] != m:
        raise _errors.InvalidArgumentError("change, exec_bars and exec_px differ in length")
    with nogil:
        for k in range(m + 1):
            if k < m:
                c = change[k]; e = exec_bars[k]; raw = exec_px[k]
                want = target[c]
            else:
                # the end of the data: close what is open, at the last close or open, no slippage
                if close_mode == 0 or pos == 0.0:
                    break
                c = n - 1; e = n - 1
                raw = last_close if close_mode == 1 else last_open
                want = 0.0
            have = 1.0 if pos > 0 else (-1.0 if pos < 0 else 0.0)
            if want == have:
                continue
            changed = False
            if have != 0.0:
                direction = 1 if pos > 0 else -1
                qty = fabs(pos)
                if k == m:
                    px = raw
                else:
                    px = raw * sell_mult if direction > 0 else raw * buy_mult
                fee = fees * (qty * px)
                if direction > 0:
                    cur_cash += qty * px - fee
                else:
                    cur_cash -= qty * px + fee
                pnl = direction * qty * (px - entry_px) - entry_fee - fee
                realized += pnl
                side_v = -direction
                tag_v = 2 if k == m else 1
                f_bar.push_back(e); f_created.push_back(c); f_side.push_back(side_v); f_qty.push_back(qty)
                f_price.push_back(px); f_fee.push_back(fee); f_tag.push_back(tag_v)
                side_v = direction
                t_dir.push_back(side_v); t_qty.push_back(qty); t_entry_bar.push_back(entry_bar)
                t_entry_px.push_back(entry_px); t_exit_bar.push_back(e); t_exit_px.push_back(px)
                t_pnl.push_back(pnl); t_fees.push_back(entry_fee + fee)
                pos = 0.0
                changed = True
            if want != 0.0:
                px = raw * (buy_mult if want > 0 else sell_mult)
                qty = _vec_size(cur_cash, px, size_mode, size, whole, fees)
                if qty > 0.0:
                    fee = fees * (qty * px)
                    if want > 0:
                        cur_cash -= qty * px + fee
                        pos = qty
                    else:
                        cur_cash += qty * px - fee
                        pos = -qty
                    entry_bar = e; entry_px = px; entry_fee = fee
                    side_v = 1 if want > 0 else -1
                    tag_v = 0
                    f_bar.push_back(e); f_created.push_back(c); f_side.push_back(side_v)
                    f_qty.push_back(qty); f_price.push_back(px); f_fee.push_back(fee); f_tag.push_back(tag_v)
                    changed = True
            if changed:
                if s_bar.size() and s_bar.back() == e:
                    s_cash[s_cash.size() - 1] = cur_cash
                    s_qty[s_qty.size() - 1] = pos
                else:
                    s_bar.push_back(e); s_cash.push_back(cur_cash); s_qty.push_back(pos)
    return {
        "f_bar": _arr_i64(f_bar), "f_created": _arr_i64(f_created), "f_side": _arr_i8(f_side),
        "f_qty": _arr_f64(f_qty), "f_price": _arr_f64(f_price), "f_fee": _arr_f64(f_fee), "f_tag": _arr_i8(f_tag),
        "t_dir": _arr_i8(t_dir), "t_qty": _arr_f64(t_qty), "t_entry_bar": _arr_i64(t_entry_bar),
        "t_entry_px": _arr_f64(t_entry_px), "t_exit_bar": _arr_i64(t_exit_bar), "t_exit_px": _arr_f64(t_exit_px),
        "t_pnl": _arr_f64(t_pnl), "t_fees": _arr_f64(t_fees), "s_bar": _arr_i64(s_bar),
        "s_cash": _arr_f64(s_cash), "s_qty": _arr_f64(s_qty),
        "pos": pos, "entry_px": entry_px, "realized": realized, "cash": cur_cash,
    }


cdef object _arr_f64(vector[double]& v):
    out = np.empty(v.size(), np.float64)
    if v.size():
        memcpy(<void*><size_t>out.ctypes.data, v.data(), v.size() * sizeof(double))
    return out


cdef object _arr_i64(vector[int64_t]& v):
    out = np.empty(v.size(), np.int64)
    if v.size():
        memcpy(<void*><size_t>out.ctypes.data, v.data(), v.size() * sizeof(int64_t))
    return out


cdef object _arr_i8(vector[int8_t]& v):
    out = np.empty(v.size(), np.int8)
    if v.size():
        memcpy(<void*><size_t>out.ctypes.data, v.data(), v.size() * sizeof(int8_t))
    return out
