/// @file stream.hpp
/// @brief The streaming wrapper shared by every indicator, the batch loop, persistence of
/// half-warm states, and the registry that makes indicators by name.
///
/// Policy for missing inputs (NaN, +-inf in any input): the output at that step is NaN and the
/// state is left exactly as it was, so the indicator continues as if the bar had not been there
/// (a window covers the last `period` finite bars). Batch and streaming apply it alike.
///
/// The forming bar: `update(in, out, /*replace=*/true)` first restores the state from before the
/// previous update (an undo_journal noted on each update: the scalars and the one slot of each
/// window the update overwrites, O(1) whatever the period), then applies the new input, so a live
/// bar can be revised tick by tick; the result equals a fresh run over the revised series.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../common/cpu.hpp"
#include "../common/serialize.hpp"
#include "../common/threads.hpp"
#include "indicators.hpp"

// Where NT_AVX2_FMA_CLONES (common/cpu.hpp), a second, AVX2 + FMA copy of the batch loop
// (run_finite_fma) runs when the CPU has it (use_avx2_fma_kernels: cpuid and NT_SIMD); elsewhere
// the one loop is built for the target's baseline (on arm64 that has FMA instructions).

namespace neural_trader::ta {

inline constexpr std::uint32_t state_magic = 0x4154544eu;  // "NTTA" little-endian
inline constexpr std::uint16_t state_version = 3;  // 2: four-lane sums (2026-12); 3: TA-Lib 0.8 zero rules (MFI run counter, variance peak)

/// Writes a state's fields (see the visit() members) into a frame.
struct state_writer {
  frame_writer& w;
  void operator()(double x) { w.put(x); }
  void operator()(int x) { w.put<std::int64_t>(x); }
  void operator()(std::int64_t x) { w.put(x); }
  void operator()(std::size_t x) { w.put<std::uint64_t>(x); }
  void operator()(bool x) { w.put<std::uint8_t>(x ? 1 : 0); }
  void operator()(std::vector<double>& v) {
    w.put<std::uint64_t>(v.size());
    w.put_array(v.data(), v.size());
  }
  void operator()(std::vector<std::int64_t>& v) {
    w.put<std::uint64_t>(v.size());
    w.put_array(v.data(), v.size());
  }
  template <class T, std::enable_if_t<std::is_class_v<T>, int> = 0>
  void operator()(T& obj) { obj.visit(*this); }
  void check(bool, const char*) {}
};

/// Reads fields back into a state constructed with the same parameters; every size must equal
/// the one the parameters gave, every count must be in range, or the input is reported corrupt.
struct state_reader {
  frame_reader& r;
  void operator()(double& x) { x = r.get<double>(); }
  void operator()(int& x) {
    const auto v = r.get<std::int64_t>();
    if (v < -2147483647 || v > 2147483647) r.fail("integer field out of range");
    x = static_cast<int>(v);
  }
  void operator()(std::int64_t& x) { x = r.get<std::int64_t>(); }
  void operator()(std::size_t& x) {
    const auto v = r.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(max_period) * 4) r.fail("position field out of range");
    x = static_cast<std::size_t>(v);
  }
  void operator()(bool& x) {
    const auto v = r.get<std::uint8_t>();
    if (v > 1) r.fail("boolean field out of range");
    x = v == 1;
  }
  template <class T>
  void read_vec(std::vector<T>& v) {
    const auto n = r.get<std::uint64_t>();
    if (n != v.size()) r.fail("window size does not match the indicator's parameters");
    auto got = r.get_array<T>(n);
    v.swap(got);
  }
  void operator()(std::vector<double>& v) { read_vec(v); }
  void operator()(std::vector<std::int64_t>& v) { read_vec(v); }
  template <class T, std::enable_if_t<std::is_class_v<T>, int> = 0>
  void operator()(T& obj) { obj.visit(*this); }
  void check(bool ok, const char* what) {
    if (!ok) r.fail(std::string(what) + " out of range");
  }
};

/// The state before one update, for replace, in O(1) time and space: every scalar field of the
/// state (the visit() members) and, of each `window` and `extremes`, only what one push can
/// change (their undo_save / undo_load). Copying the whole state instead costs O(period) per
/// update. Requires that an update pushes at most once into each window and each extremes
/// (every indicator does; test_ta's replace checks would see it otherwise).
class undo_journal {
 public:
  undo_journal() = default;
  template <class Ind>
  explicit undo_journal(Ind& proto) {
    pass<mode::count> z;
    z(proto);
    bytes_.resize(z.n);
  }
  /// Notes the state s is in now (before an update).
  template <class Ind>
  void save(Ind& s) noexcept {
    pass<mode::save> w{bytes_.data()};
    w(s);
  }
  /// Puts s back into the state noted by the last save(), when at most one update has run since.
  template <class Ind>
  void load(Ind& s) noexcept {
    pass<mode::load> r{bytes_.data()};
    r(s);
  }

 private:
  template <class T>
  static constexpr bool scalar = std::is_arithmetic_v<T>;
  enum class mode { count, save, load };
  /// One walk over a state's fields (visit(), or a window's / queue's undo_save / undo_load):
  /// counts the bytes, copies the fields out, or copies them back, in the same order.
  template <mode M>
  struct pass {
    std::conditional_t<M == mode::load, const unsigned char*, unsigned char*> p = nullptr;
    std::size_t n = 0;
    template <class T>
    void operator()(T& x) noexcept {
      if constexpr (!scalar<T>) {
        if constexpr (requires { x.undo_save(*this); }) {
          if constexpr (M != mode::load) {
            x.undo_save(*this);
          } else {
            x.undo_load(*this);
          }
        } else {
          x.visit(*this);
        }
      } else if constexpr (M == mode::count) {
        n += sizeof x;
      } else {
        if constexpr (M == mode::save) {
          std::memcpy(p, &x, sizeof x);
        } else {
          std::memcpy(&x, p, sizeof x);
        }
        p += sizeof x;
      }
    }
    void check(bool, const char*) noexcept {}
  };
  std::vector<unsigned char> bytes_;
};

/// One indicator with the missing-input policy, the count of accepted inputs, the last output
/// and the state before the last update (for replace: an undo_journal; a full copy only right
/// after load(), whose input holds the previous state whole). One copy of the state otherwise,
/// plus run()'s rollback copy once run() has been called: O(period) memory, not four copies.
template <class Ind>
class stream {
 public:
  static constexpr int n_in = Ind::n_in;
  static constexpr int n_out = Ind::n_out;

  explicit stream(const Ind& proto) : cur_(proto), undo_(cur_) {
    for (auto& v : last_) v = nan;
  }

  int lookback() const noexcept { return cur_.lookback(); }
  /// The indicator's split_span() (indicators.hpp), or 0 where it makes no such promise.
  std::size_t split_span() const noexcept {
    if constexpr (requires(const Ind& i) { i.split_span(); }) {
      return cur_.split_span();
    } else {
      return 0;
    }
  }
  /// The indicator's split_cycle() (indicators.hpp): {lead, cycle}, or {0, 0} where it has none.
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept {
    if constexpr (requires(const Ind& i) { i.split_cycle(); }) {
      return cur_.split_cycle();
    } else {
      return {0, 0};
    }
  }
  /// The indicator's settle_span() (indicators.hpp), or 0 where it has none.
  std::size_t settle_span() const noexcept {
    if constexpr (requires(const Ind& i) { i.settle_span(); }) {
      return cur_.settle_span();
    } else {
      return 0;
    }
  }
  /// The indicator's state alone (not the count, the last outputs or the replace snapshot) as
  /// bytes: two objects whose bytes are equal give the same outputs from here on.
  std::vector<unsigned char> state_bytes() const {
    frame_writer w(state_magic, state_version);
    state_writer sw{w};
    sw(const_cast<Ind&>(cur_));
    return w.finish();
  }

  /// One step. Returns through `out` (n_out values).
  void update(const double* in, double* out, bool replace) noexcept {
    if (replace && has_prev_) {
      back_to_prev();
    } else {
      prev_n_ = n_;
      has_prev_ = true;
      prev_.reset();
    }
    undo_.save(cur_);
    step(in, out);
  }

  /// Continues the stream over n steps; input k of step i is in[k][i * stride[k]]; output j of
  /// step i goes to out[j][i]. Only the last step's previous state is kept for replace.
  void run(const double* const* in, const std::ptrdiff_t* stride, double* const* out, std::size_t n) noexcept {
    if (n == 0) return;
    run_range(in, stride, out, 0, n - 1);
    double x[n_in];
    double o[n_out];
    for (int k = 0; k < n_in; ++k) x[k] = in[k][static_cast<std::ptrdiff_t>(n - 1) * stride[k]];
    update(x, o, false);
    for (int j = 0; j < n_out; ++j) out[j][n - 1] = o[j];
  }

  /// Back to the state of a new object (the indicator's own reset(); test_ta checks that it
  /// leaves the same state as a fresh one, for every indicator).
  void reset() noexcept {
    cur_.reset();
    n_ = prev_n_ = 0;
    has_prev_ = false;
    prev_.reset();
    for (auto& v : last_) v = nan;
  }

  const double* value() const noexcept { return last_; }
  bool ready() const noexcept { return n_ > static_cast<std::int64_t>(cur_.lookback()); }
  std::int64_t count() const noexcept { return n_; }

  void save(frame_writer& w) {
    state_writer sw{w};
    sw(n_);
    sw(prev_n_);
    sw(has_prev_);
    for (auto& v : last_) sw(v);
    sw(cur_);
    Ind prev = cur_;  // the state before the last update, whole (the format keeps both states)
    if (prev_) {
      prev = *prev_;
    } else if (has_prev_) {
      undo_.load(prev);
    }
    sw(prev);
  }
  void load(frame_reader& r) {
    state_reader sr{r};
    Ind cur = cur_, prev = cur_;  // every field the format holds is read into them
    std::int64_t n = 0, pn = 0;
    bool hp = false;
    double last[n_out];
    sr(n);
    sr(pn);
    sr(hp);
    for (auto& v : last) sr(v);
    sr(cur);
    sr(prev);
    if (n < 0 || pn < 0 || pn > n) r.fail("update counts out of range");
    cur_ = std::move(cur);
    if (hp) {
      prev_ = std::move(prev);
    } else {
      prev_.reset();
    }
    n_ = n;
    prev_n_ = pn;
    has_prev_ = hp;
    for (int j = 0; j < n_out; ++j) last_[j] = last[j];
  }

 private:
  /// The state (and count) before the last update.
  void back_to_prev() noexcept {
    if (prev_) {
      cur_ = std::move(*prev_);
      prev_.reset();
    } else {
      undo_.load(cur_);
    }
    n_ = prev_n_;
  }

  void step(const double* in, double* out) noexcept {
    bool ok = true;
    for (int k = 0; k < n_in; ++k) ok &= std::isfinite(in[k]);
    if (ok) {
      cur_.update(in, out);
      ++n_;
    } else {
      for (int j = 0; j < n_out; ++j) out[j] = nan;
    }
    for (int j = 0; j < n_out; ++j) last_[j] = out[j];
  }

  /// Steps [b, e) without touching last_ or the replace snapshot (run() does those once).
  ///
  /// Contiguous inputs run in blocks, optimistically: every kernel ORs missing_bit() over the
  /// inputs it reads (free inside its loop, where a separate scan would be a second pass over
  /// memory), and a block that turns out to hold a missing value is rolled back to the state
  /// before it and redone carefully (careful_block: scanned, cut into runs of finite bars). After
  /// a careful block that found missing values, the next block is careful too, so inputs full of
  /// gaps do not pay every block twice. Strided inputs step one by one.
  void run_range(const double* const* in, const std::ptrdiff_t* stride, double* const* out, std::size_t b,
                 std::size_t e) noexcept {
    if (b >= e) return;
    Ind s = cur_;  // a local copy the compiler can keep in registers
    std::int64_t count = n_;
    bool contiguous = true;
    for (int k = 0; k < n_in; ++k) contiguous &= stride[k] == 1;
    if (contiguous) {
      // Blocks long enough that the rollback copy (O(state), about the look-back) stays small
      // next to the block's work.
      const std::size_t block = std::max<std::size_t>(8192, 16 * (static_cast<std::size_t>(s.lookback()) + 1));
      bool careful = false;
      for (std::size_t a = b; a < e;) {
        const std::size_t z = std::min(e, a + block);
        if (!careful) {
          if (saved_) {
            *saved_ = s;  // equal sizes: copy-assignment reuses the windows' storage
          } else {
            saved_.emplace(s);
          }
          if ((run_between(s, in, out, a, z) >> 63) == 0) [[likely]] {
            count += static_cast<std::int64_t>(z - a);
            a = z;
            continue;
          }
          s = *saved_;
        }
        careful = careful_block(s, count, in, out, a, z);
        a = z;
      }
    } else {
      double x[n_in];
      double o[n_out];
      for (std::size_t i = b; i < e; ++i) {
        bool ok = true;
        for (int k = 0; k < n_in; ++k) {
          x[k] = in[k][static_cast<std::ptrdiff_t>(i) * stride[k]];
          ok &= std::isfinite(x[k]);
        }
        if (ok) [[likely]] {
          s.update(x, o);
          ++count;
        } else {
          for (int m = 0; m < n_out; ++m) o[m] = nan;
        }
        for (int m = 0; m < n_out; ++m) out[m][i] = o[m];
      }
    }
    cur_ = std::move(s);
    n_ = count;
  }

  /// Contiguous [b, e) with missing values in it: finds them chunk by chunk and runs the finite
  /// bars between them while they are still in cache (the missing bars give NaN and leave the
  /// state alone). Returns whether any value was missing.
  static bool careful_block(Ind& s, std::int64_t& count, const double* const* in, double* const* out, std::size_t b,
                            std::size_t e) noexcept {
    constexpr std::size_t chunk = 1024;
    auto flush = [&](std::size_t a, std::size_t z) {
      if (z <= a) return;
      run_between(s, in, out, a, z);
      count += static_cast<std::int64_t>(z - a);
    };
    bool found = false;
    std::size_t i = b;
    std::size_t run_start = b;
    while (i < e) {
      const std::size_t stop = std::min(e, i + chunk);
      const std::size_t j = first_missing(in, i, stop);
      if (j == stop) {
        i = stop;
        continue;
      }
      found = true;
      flush(run_start, j);
      for (int m = 0; m < n_out; ++m) out[m][j] = nan;
      i = j + 1;
      run_start = i;
    }
    flush(run_start, i);
    return found;
  }

  /// run_finite over bars [a, z) of the contiguous arrays.
  static std::uint64_t run_between(Ind& s, const double* const* in, double* const* out, std::size_t a,
                                   std::size_t z) noexcept {
    const double* ip[n_in];
    double* op[n_out];
    for (int k = 0; k < n_in; ++k) ip[k] = in[k] + a;
    for (int m = 0; m < n_out; ++m) op[m] = out[m] + a;
    return run_finite(s, ip, op, z - a);
  }

  /// n contiguous bars: the kernel's run_block, else one update() per bar. Returns the
  /// missing_bit()s of every input read (the values are only valid if bit 63 is clear).
  static std::uint64_t run_finite(Ind& s, const double* const* in, double* const* out, std::size_t n) noexcept {
#if defined(NT_AVX2_FMA_CLONES)
    if (use_avx2_fma_kernels()) return run_finite_fma(s, in, out, n);
#endif
    return run_finite_impl(s, in, out, n);
  }

#if defined(NT_AVX2_FMA_CLONES)
  /// run_finite_impl compiled for AVX2 + FMA, everything it calls inlined into it (flatten), so
  /// that the kernels' std::fma become single instructions. The values are the same bits as the
  /// baseline build's (std::fma is exactly rounded; no other contraction: -ffp-contract=off).
  [[gnu::target("avx2,fma"), gnu::flatten]] static std::uint64_t run_finite_fma(Ind& s, const double* const* in,
                                                                             double* const* out,
                                                                             std::size_t n) noexcept {
    return run_finite_impl(s, in, out, n);
  }
#endif

  static std::uint64_t run_finite_impl(Ind& s, const double* const* in, double* const* out, std::size_t n) noexcept {
    if constexpr (requires { s.run_block(in, out, n); }) {
      static_assert(std::is_same_v<decltype(s.run_block(in, out, n)), std::uint64_t>,
                    "run_block must return the missing_bit()s of its inputs");
      return s.run_block(in, out, n);
    } else {
      // The state works on a local copy and the arrays are declared unaliased, so that the
      // compiler keeps the recursion in registers instead of reloading it after every store.
      Ind local = s;
      const double* NT_RESTRICT ip[n_in];
      double* NT_RESTRICT op[n_out];
      for (int k = 0; k < n_in; ++k) ip[k] = in[k];
      for (int m = 0; m < n_out; ++m) op[m] = out[m];
      double x[n_in];
      double o[n_out];
      std::uint64_t bad = 0;
      for (std::size_t i = 0; i < n; ++i) {
        for (int k = 0; k < n_in; ++k) {
          x[k] = ip[k][i];
          bad |= missing_bit(x[k]);
        }
        local.update(x, o);
        for (int m = 0; m < n_out; ++m) op[m][i] = o[m];
      }
      s = std::move(local);
      return bad;
    }
  }

  /// The first index in [b, e) where some input is NaN or infinite, or e. Scans in chunks with
  /// missing_bit(), which the compiler vectorises (and/add/or on 64-bit lanes, which SSE2 and
  /// NEON have; a 64-bit compare they lack).
  static std::size_t first_missing(const double* const* in, std::size_t b, std::size_t e) noexcept {
    constexpr std::size_t chunk = 1024;
    std::size_t i = b;
    while (i < e) {
      const std::size_t stop = std::min(e, i + chunk);
      std::uint64_t bad = 0;
      for (int k = 0; k < n_in; ++k) bad |= missing_bits(in[k] + i, stop - i);
      if ((bad >> 63) != 0) {
        for (std::size_t t = i; t < stop; ++t) {
          for (int k = 0; k < n_in; ++k) {
            if (!std::isfinite(in[k][t])) return t;
          }
        }
      }
      i = stop;
    }
    return e;
  }

  Ind cur_;
  std::optional<Ind> prev_;   // the state before the last update whole: set by load() only, until the next update
  std::optional<Ind> saved_;  // run_range's rollback copy, kept so that its storage is reused (not state: never saved)
  undo_journal undo_;         // the state before the last update otherwise
  std::int64_t n_ = 0, prev_n_ = 0;
  bool has_prev_ = false;
  double last_[n_out];
};

/// Any indicator behind one interface (the bindings and the feature extractor use this).
class indicator {
 public:
  virtual ~indicator() = default;
  virtual const std::string& name() const noexcept = 0;
  virtual const std::vector<double>& params() const noexcept = 0;
  virtual int n_in() const noexcept = 0;
  virtual int n_out() const noexcept = 0;
  virtual int lookback() const noexcept = 0;
  /// See indicators.hpp: 0 (no promise), or how many of the last inputs, the current one
  /// included, each output depends on.
  virtual std::size_t split_span() const noexcept = 0;
  /// See indicators.hpp: 0 (none), or how many inputs a new object is expected to need to reach
  /// the exact state.
  virtual std::size_t settle_span() const noexcept = 0;
  /// See indicators.hpp: {lead, cycle} of the window refreshes, or {0, 0} where there are none.
  virtual std::pair<std::size_t, std::size_t> split_cycle() const noexcept = 0;
  /// stream::state_bytes(): equal bytes, equal outputs from here on.
  virtual std::vector<unsigned char> state_bytes() const = 0;
  virtual void update(const double* in, double* out, bool replace) noexcept = 0;
  virtual void run(const double* const* in, const std::ptrdiff_t* stride, double* const* out,
                   std::size_t n) noexcept = 0;
  virtual void reset() noexcept = 0;
  virtual const double* value() const noexcept = 0;
  virtual bool ready() const noexcept = 0;
  virtual std::int64_t count() const noexcept = 0;
  virtual std::unique_ptr<indicator> clone() const = 0;

  /// The state as a checksummed frame: name, parameters, then the stream's state.
  std::vector<unsigned char> save() const {
    frame_writer w(state_magic, state_version);
    w.put_string(name());
    w.put<std::uint64_t>(params().size());
    w.put_array(params().data(), params().size());
    save_state(w);
    return w.finish();
  }
  /// Loads a state saved by an indicator of the same name and parameters (else
  /// corrupt_data_error); the object is unchanged when it throws.
  void load(const void* data, std::size_t size) {
    frame_reader r(data, size, state_magic, state_version, state_version, "indicator state");
    if (r.get_string(64) != name()) r.fail("saved by a different indicator");
    const auto np = r.get_size(0, 16, "parameter count");
    const auto p = r.get_array<double>(np);
    if (p != params()) r.fail("saved with different parameters");
    load_state(r);
    r.expect_end();
  }

 protected:
  virtual void save_state(frame_writer& w) const = 0;
  virtual void load_state(frame_reader& r) = 0;
};

template <class Ind>
class indicator_impl final : public indicator {
 public:
  indicator_impl(std::string name, std::vector<double> params, const Ind& proto)
      : name_(std::move(name)), params_(std::move(params)), s_(proto) {}
  const std::string& name() const noexcept override { return name_; }
  const std::vector<double>& params() const noexcept override { return params_; }
  int n_in() const noexcept override { return Ind::n_in; }
  int n_out() const noexcept override { return Ind::n_out; }
  int lookback() const noexcept override { return s_.lookback(); }
  std::size_t split_span() const noexcept override { return s_.split_span(); }
  std::size_t settle_span() const noexcept override { return s_.settle_span(); }
  std::pair<std::size_t, std::size_t> split_cycle() const noexcept override { return s_.split_cycle(); }
  std::vector<unsigned char> state_bytes() const override { return s_.state_bytes(); }
  void update(const double* in, double* out, bool replace) noexcept override { s_.update(in, out, replace); }
  void run(const double* const* in, const std::ptrdiff_t* stride, double* const* out,
           std::size_t n) noexcept override {
    s_.run(in, stride, out, n);
  }
  void reset() noexcept override { s_.reset(); }
  const double* value() const noexcept override { return s_.value(); }
  bool ready() const noexcept override { return s_.ready(); }
  std::int64_t count() const noexcept override { return s_.count(); }
  std::unique_ptr<indicator> clone() const override { return std::make_unique<indicator_impl>(*this); }

 protected:
  void save_state(frame_writer& w) const override { const_cast<stream<Ind>&>(s_).save(w); }
  void load_state(frame_reader& r) override {
    stream<Ind> tmp = s_;
    tmp.load(r);
    s_ = tmp;
  }

 private:
  std::string name_;
  std::vector<double> params_;
  stream<Ind> s_;
};

/// What the registry knows of one indicator.
struct indicator_spec {
  const char* name;
  int n_in;
  int n_out;
  int n_params;
  std::unique_ptr<indicator> (*make)(const std::vector<double>& p);
};

namespace detail {

template <class Ind, class... A>
std::unique_ptr<indicator> wrap(const char* name, const std::vector<double>& p, A... args) {
  return std::make_unique<indicator_impl<Ind>>(name, p, Ind(args...));
}
inline int period(const std::vector<double>& p, std::size_t i, int lo, const char* what) {
  return int_param(p[i], lo, max_period, what);
}
inline int matype(const std::vector<double>& p, std::size_t i, const char* what) {
  const int k = int_param(p[i], 0, 8, what);
  ma_any::check_kind(k, what);
  return k;
}

}  // namespace detail

/// Every indicator by name (lower case, TA-Lib's names), with its parameter count.
inline const std::vector<indicator_spec>& registry() {
  using namespace detail;
  using P = const std::vector<double>&;
  static const std::vector<indicator_spec> specs = {
      {"sma", 1, 1, 1, [](P p) { return wrap<sma>("sma", p, period(p, 0, 1, "timeperiod")); }},
      {"ema", 1, 1, 1, [](P p) { return wrap<ema>("ema", p, period(p, 0, 1, "timeperiod")); }},
      {"wma", 1, 1, 1, [](P p) { return wrap<wma>("wma", p, period(p, 0, 1, "timeperiod")); }},
      {"dema", 1, 1, 1, [](P p) { return wrap<dema>("dema", p, period(p, 0, 1, "timeperiod")); }},
      {"tema", 1, 1, 1, [](P p) { return wrap<tema>("tema", p, period(p, 0, 1, "timeperiod")); }},
      {"kama", 1, 1, 1, [](P p) { return wrap<kama>("kama", p, period(p, 0, 1, "timeperiod")); }},
      {"rsi", 1, 1, 1, [](P p) { return wrap<rsi>("rsi", p, period(p, 0, 1, "timeperiod")); }},
      {"macd", 1, 3, 3,
       [](P p) {
         return wrap<macd>("macd", p, period(p, 0, 1, "fastperiod"), period(p, 1, 1, "slowperiod"),
                           period(p, 2, 1, "signalperiod"));
       }},
      {"bbands", 1, 3, 4,
       [](P p) {
         return wrap<bbands>("bbands", p, period(p, 0, 1, "timeperiod"), real_param(p[1], "nbdevup"),
                             real_param(p[2], "nbdevdn"), matype(p, 3, "matype"));
       }},
      {"stddev", 1, 1, 2,
       [](P p) { return wrap<stddev>("stddev", p, period(p, 0, 1, "timeperiod"), real_param(p[1], "nbdev")); }},
      {"var", 1, 1, 2,
       [](P p) {
         real_param(p[1], "nbdev");
         return wrap<var>("var", p, period(p, 0, 1, "timeperiod"));
       }},
      {"zscore", 1, 1, 1, [](P p) { return wrap<zscore>("zscore", p, period(p, 0, 1, "timeperiod")); }},
      {"mom", 1, 1, 1, [](P p) { return wrap<mom>("mom", p, period(p, 0, 1, "timeperiod")); }},
      {"roc", 1, 1, 1, [](P p) { return wrap<roc>("roc", p, period(p, 0, 1, "timeperiod")); }},
      {"atr", 3, 1, 1, [](P p) { return wrap<atr>("atr", p, period(p, 0, 1, "timeperiod")); }},
      {"natr", 3, 1, 1, [](P p) { return wrap<natr>("natr", p, period(p, 0, 1, "timeperiod")); }},
      {"trange", 3, 1, 0, [](P p) { return wrap<trange>("trange", p); }},
      {"stoch", 3, 2, 5,
       [](P p) {
         return wrap<stoch>("stoch", p, period(p, 0, 1, "fastk_period"), period(p, 1, 1, "slowk_period"),
                            matype(p, 2, "slowk_matype"), period(p, 3, 1, "slowd_period"),
                            matype(p, 4, "slowd_matype"));
       }},
      {"stochf", 3, 2, 3,
       [](P p) {
         return wrap<stochf>("stochf", p, period(p, 0, 1, "fastk_period"), period(p, 1, 1, "fastd_period"),
                             matype(p, 2, "fastd_matype"));
       }},
      {"willr", 3, 1, 1, [](P p) { return wrap<willr>("willr", p, period(p, 0, 1, "timeperiod")); }},
      {"cci", 3, 1, 1, [](P p) { return wrap<cci>("cci", p, period(p, 0, 1, "timeperiod")); }},
      {"adx", 3, 1, 1, [](P p) { return wrap<adx>("adx", p, period(p, 0, 2, "timeperiod")); }},
      {"plus_di", 3, 1, 1, [](P p) { return wrap<plus_di>("plus_di", p, period(p, 0, 2, "timeperiod")); }},
      {"minus_di", 3, 1, 1, [](P p) { return wrap<minus_di>("minus_di", p, period(p, 0, 2, "timeperiod")); }},
      {"aroon", 2, 2, 1, [](P p) { return wrap<aroon>("aroon", p, period(p, 0, 1, "timeperiod")); }},
      {"mfi", 4, 1, 1, [](P p) { return wrap<mfi>("mfi", p, period(p, 0, 1, "timeperiod")); }},
      {"obv", 2, 1, 0, [](P p) { return wrap<obv>("obv", p); }},
      {"vwap", 2, 1, 1, [](P p) { return wrap<vwap>("vwap", p, period(p, 0, 1, "timeperiod")); }},
  };
  return specs;
}

/// The registry entry for `name`, or nullptr.
inline const indicator_spec* find_indicator(std::string_view name) noexcept {
  for (const auto& s : registry()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

/// Makes an indicator by name; throws std::invalid_argument on an unknown name, a wrong
/// parameter count or an out-of-range parameter (the message starts with the indicator's name:
/// "rsi: timeperiod must be an integer in [1, 100000], got 0").
inline std::unique_ptr<indicator> make_indicator(std::string_view name, const std::vector<double>& params) {
  const indicator_spec* s = find_indicator(name);
  if (s == nullptr) throw std::invalid_argument("unknown indicator '" + std::string(name) + "'");
  if (params.size() != static_cast<std::size_t>(s->n_params)) {
    throw std::invalid_argument(std::string(name) + " takes " + std::to_string(s->n_params) + " parameters, got " +
                                std::to_string(params.size()));
  }
  try {
    return s->make(params);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(name) + ": " + e.what());
  }
}

/// Makes an indicator from bytes that indicator::save() wrote (name and parameters included).
inline std::unique_ptr<indicator> load_indicator(const void* data, std::size_t size) {
  std::string name;
  std::vector<double> params;
  {
    frame_reader r(data, size, state_magic, state_version, state_version, "indicator state");
    name = r.get_string(64);
    const auto np = r.get_size(0, 16, "parameter count");
    params = r.get_array<double>(np);
  }
  std::unique_ptr<indicator> ind;
  try {
    ind = make_indicator(name, params);
  } catch (const std::invalid_argument& e) {
    throw corrupt_data_error(std::string("corrupt indicator state data: ") + e.what());
  }
  ind->load(data, size);
  return ind;
}

/// The fewest steps run_parts() gives a thread: starting one costs tens of microseconds, this
/// many steps of the cheapest indicator a few hundred.
inline constexpr std::size_t min_part_steps = std::size_t{1} << 17;

namespace detail {

/// How many of the steps before `s` have all their inputs finite (`s` where none is missing,
/// which one vectorised pass per input finds first).
inline std::size_t count_finite(const double* const* in, const std::ptrdiff_t* stride, std::size_t n_in,
                                std::size_t s) {
  bool contiguous = true;
  for (std::size_t j = 0; j < n_in; ++j) contiguous &= stride[j] == 1;
  if (contiguous) {
    std::uint64_t bad = 0;
    for (std::size_t j = 0; j < n_in; ++j) bad |= missing_bits(in[j], s);
    if ((bad >> 63) == 0) return s;
  }
  std::size_t f = 0;
  for (std::size_t i = 0; i < s; ++i) {
    bool ok = true;
    for (std::size_t j = 0; j < n_in; ++j) ok &= std::isfinite(in[j][static_cast<std::ptrdiff_t>(i) * stride[j]]);
    f += ok ? 1 : 0;
  }
  return f;
}

/// Runs `ind` over the steps before `s` from the one where the last split_span() - 1 steps with
/// all inputs finite begin (from 0 where there are fewer), dropping the outputs.
inline void warm_up(indicator& ind, const double* const* in, const std::ptrdiff_t* stride, std::size_t s,
                    std::size_t span) {
  const auto n_in = static_cast<std::size_t>(ind.n_in());
  const auto n_out = static_cast<std::size_t>(ind.n_out());
  std::size_t w = s, finite = 0;
  while (w > 0 && finite + 1 < span) {
    --w;
    bool ok = true;
    for (std::size_t j = 0; j < n_in; ++j) ok &= std::isfinite(in[j][static_cast<std::ptrdiff_t>(w) * stride[j]]);
    finite += ok ? 1 : 0;
  }
  constexpr std::size_t chunk = 1024;
  std::vector<double> sink(chunk * n_out);
  std::vector<const double*> ip(n_in);
  std::vector<double*> op(n_out);
  for (std::size_t j = 0; j < n_out; ++j) op[j] = sink.data() + j * chunk;
  for (std::size_t b = w; b < s; b += chunk) {
    for (std::size_t j = 0; j < n_in; ++j) ip[j] = in[j] + static_cast<std::ptrdiff_t>(b) * stride[j];
    ind.run(ip.data(), stride, op.data(), std::min(chunk, s - b));
  }
}

}  // namespace detail

/// What run_parts() did: the parts (their first steps, in order), and the steps run a second
/// time because a speculative part's state was not the exact one at any of its check points
/// (settle_span indicators; 0 otherwise).
struct run_parts_stats {
  std::size_t parts = 1;
  std::vector<std::size_t> starts{0};
  std::size_t recomputed = 0;
};

/// Where run_parts() compares a speculative part's state with the exact one: at these multiples
/// of settle_span() from the part's start.
inline constexpr std::size_t settle_checks[] = {0, 1, 2, 4};

/// The steps a part's owner takes at a time between looks at where its part now ends.
inline constexpr std::size_t part_chunk_steps = std::size_t{1} << 15;

/// Runs `ind`, a new object (as make_indicator() returns it), over n steps as ind.run() would,
/// on up to `threads` threads (0: get_num_threads()) where the indicator allows it, every output
/// equal to the one-thread run's, bit for bit.
///
/// The calling thread starts on the steps at once, a chunk at a time; each helper thread, once
/// it runs, takes the back half of what is left of the largest part (when both halves keep at
/// least `min_part` steps and 8 spans; else it does nothing), and so does every thread whose part
/// is done, until no part is worth halving. So a helper that starts late (a sleeping core can
/// take a tenth of a millisecond to wake) costs the caller nothing, and one that is held up
/// has the back of its part taken over. Two kinds of indicator split:
///
/// - split_span() (each output depends on the last split_span() inputs only): a taken part
///   starts from a new object fed the split_span() - 1 steps before it whose inputs are all
///   finite (further back over missing ones, which the missing-input policy skips).
/// - settle_span() (a contracting recursion, indicators.hpp): a taken part runs
///   speculatively from a new object fed the settle_span() finite steps before it, noting its
///   state at the settle_checks points. Then, part by part, the exact state (the previous part's
///   end, itself exact) is compared with the noted ones, stepping the exact object over the part
///   (its outputs overwrite the speculative ones) up to the first point where they are equal:
///   from there on the speculative outputs are the exact ones (same state, same inputs, same
///   code), and the part's end state is exact. Where no point agrees (a period so long that the
///   warm-up cannot forget its start), the exact object runs the whole part: right, only slower.
/// - split_cycle() (running sums refreshed from the window on a schedule of finite inputs): a
///   taken part starts from a new object fed the finite steps from the whole run's last refresh
///   before it (counting the finite steps before the part: one vectorised pass where none is
///   missing), so its refreshes fall on the same steps and its outputs are the same bits.
///
/// `fixed`: the helpers split before anyone starts (each in turn halving the largest part) and
/// nothing is taken later, so the parts are the same on every run (tests; a helper thread that
/// cannot be started would leave the others waiting). With one part `ind` ends after all n steps; with
/// several it is left part-way (callers that split discard it). Returns the number of parts;
/// `stats`, where given, says where they began and what was redone.
inline std::size_t run_parts(indicator& ind, const double* const* in, const std::ptrdiff_t* stride,
                             double* const* out, std::size_t n, int threads,
                             std::size_t min_part = min_part_steps, run_parts_stats* stats = nullptr,
                             bool fixed = false) {
  const std::size_t span = ind.split_span();
  const std::size_t settle = span == 0 ? ind.settle_span() : 0;
  const auto [lead, cycle] = span == 0 && settle == 0 ? ind.split_cycle() : std::pair<std::size_t, std::size_t>{0, 0};
  const std::size_t reach = span != 0 ? span : settle != 0 ? settle : cycle != 0 ? lead + cycle : 0;  // warm-up at most
  const std::size_t least = std::max(min_part, 8 * reach);  // steps a part keeps
  const std::size_t want = reach == 0 ? 1 : threads_for(n, least, threads);
  if (stats != nullptr) *stats = run_parts_stats{};
  if (want <= 1) {
    ind.run(in, stride, out, n);
    return 1;
  }
  const auto n_in = static_cast<std::size_t>(ind.n_in());
  const auto n_out = static_cast<std::size_t>(ind.n_out());
  // [b, e) of the arrays, as pointer lists
  auto run_on = [&](indicator& x, std::size_t b, std::size_t e) {
    if (e <= b) return;
    std::vector<const double*> ip(n_in);
    std::vector<double*> op(n_out);
    for (std::size_t j = 0; j < n_in; ++j) ip[j] = in[j] + static_cast<std::ptrdiff_t>(b) * stride[j];
    for (std::size_t j = 0; j < n_out; ++j) op[j] = out[j] + b;
    x.run(ip.data(), stride, op.data(), e - b);
  };
  struct part {
    std::size_t begin, next, limit;  // its steps [begin, limit); the owner has taken [begin, next)
    indicator* obj;
    std::vector<std::vector<unsigned char>> noted;  // settle_span: the states at the check points
  };
  const std::unique_ptr<indicator> fresh = ind.clone();  // before ind runs: what every part's object starts from
  std::vector<std::unique_ptr<indicator>> owned;         // the helpers' objects
  std::vector<part> parts;
  parts.reserve(n / least + 1);  // every part keeps `least` steps: never reallocated while threads index it
  parts.push_back(part{0, 0, n, &ind, {}});
  std::mutex mu;
  std::atomic<std::size_t> tried{0};  // helpers that have tried to take a part
  auto gate = [&] {  // fixed: everyone waits for every helper's try
    while (fixed && tried.load(std::memory_order_acquire) + 1 < want) std::this_thread::yield();
  };
  // Takes the back half of what is left of the largest part, where both halves keep `least`
  // steps; returns the new part's index, or 0 where there is none to take.
  auto take = [&]() -> std::size_t {
    std::unique_ptr<indicator> obj = fresh->clone();  // clone() of an object no one writes: outside the lock
    std::lock_guard<std::mutex> lock(mu);
    std::size_t best = 0;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].limit - parts[i].next > parts[best].limit - parts[best].next) best = i;
    }
    part& v = parts[best];
    const std::size_t left = v.limit - v.next;
    if (left < 2 * least) return 0;
    const std::size_t m = v.next + left / 2;
    parts.push_back(part{m, m, v.limit, obj.get(), {}});
    v.limit = m;
    owned.push_back(std::move(obj));
    return parts.size() - 1;
  };
  // The owner of part p: chunk by chunk up to its limit (which another thread may lower
  // meanwhile), noting the state at the check points of a speculative part.
  auto own = [&](std::size_t p) {
    std::size_t ci = 0;
    bool warm = p == 0;
    for (;;) {
      std::size_t a = 0, z = 0, begin = 0;
      indicator* obj = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu);
        part& q = parts[p];
        if (q.next >= q.limit) return;
        a = q.next;
        z = std::min(q.limit, a + part_chunk_steps);
        q.next = z;
        begin = q.begin;
        obj = q.obj;
      }
      if (!warm) {  // a taken part: its object first runs over the steps before it
        std::size_t steps = span != 0 ? span - 1 : settle;  // finite steps to run over
        if (cycle != 0) {  // from a refresh of the whole run's (indicators.hpp, split_cycle)
          const std::size_t f = detail::count_finite(in, stride, n_in, begin);
          steps = f < lead ? f : lead + (f - lead) % cycle;
        }
        detail::warm_up(*obj, in, stride, begin, steps + 1);
        warm = true;
      }
      while (a < z) {
        std::size_t stop = z;
        if (p > 0 && settle != 0 && ci < std::size(settle_checks)) {
          const std::size_t point = begin + settle_checks[ci] * settle;
          if (point == a) {
            auto bytes = obj->state_bytes();
            std::lock_guard<std::mutex> lock(mu);
            parts[p].noted.push_back(std::move(bytes));
            ++ci;
            continue;
          }
          stop = std::min(stop, point);
        }
        run_on(*obj, a, stop);
        a = stop;
      }
    }
  };
  // after its own part, a thread takes over the back half of what others have left
  auto help = [&] {
    if (fixed) return;
    for (std::size_t p = take(); p != 0; p = take()) own(p);
  };
  parallel_for(
      want,
      [&](std::size_t kb, std::size_t ke) {
        for (std::size_t k = kb; k < ke; ++k) {
          if (k == 0) {
            gate();
            own(0);
          } else {
            const std::size_t p = take();
            tried.fetch_add(1, std::memory_order_release);
            gate();
            if (p != 0) own(p);
          }
          help();
        }
      },
      static_cast<int>(want));
  std::sort(parts.begin(), parts.end(), [](const part& x, const part& y) { return x.begin < y.begin; });
  if (stats != nullptr) {
    stats->parts = parts.size();
    stats->starts.clear();
    for (const part& q : parts) stats->starts.push_back(q.begin);
  }
  if (settle == 0) return parts.size();
  indicator* exact = parts[0].obj;  // at the end of part k - 1, exactly
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const std::size_t b = parts[k].begin, e = parts[k].limit;
    std::size_t at = b;
    bool same = false;
    for (std::size_t i = 0; i < parts[k].noted.size() && !same; ++i) {
      const std::size_t point = b + settle_checks[i] * settle;
      run_on(*exact, at, point);
      at = point;
      same = exact->state_bytes() == parts[k].noted[i];
    }
    if (!same) run_on(*exact, at, e);
    if (stats != nullptr) stats->recomputed += (same ? at : e) - b;
    if (same) exact = parts[k].obj;
  }
  return parts.size();
}

}  // namespace neural_trader::ta
