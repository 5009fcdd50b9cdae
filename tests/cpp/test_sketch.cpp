// Tests of common/hash.hpp and sketch/*.hpp: golden hash values, avalanche, HyperLogLog accuracy
// and merging, count-min bounds and heavy hitters, Bloom filter false negatives/positives,
// reservoir uniformity, serialisation round trips, the golden files tests/golden/*_v1.bin, and
// that every corruption of a serialised sketch raises corrupt_data_error.
#include "check.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "neural_trader/common/errors.hpp"
#include "neural_trader/common/hash.hpp"
#include "neural_trader/sketch/sketch.hpp"

#ifndef NT_GOLDEN_DIR
#error "NT_GOLDEN_DIR must name tests/golden"
#endif

using namespace neural_trader;
using namespace neural_trader::sketch;

namespace {

std::vector<unsigned char> read_file(const std::string& name) {
  std::ifstream in(std::string(NT_GOLDEN_DIR) + "/" + name, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::uint64_t hash_str(const char* s, std::uint64_t seed = 0) { return hash64_bytes(s, std::strlen(s), seed); }

/// Every single-byte flip and every truncation must throw corrupt_data_error.
template <class Load>
void check_corruption(const std::vector<unsigned char>& good, Load&& load) {
  const std::size_t step = good.size() > 400 ? good.size() / 200 : 1;
  for (std::size_t i = 0; i < good.size(); i += step) {
    auto bad = good;
    bad[i] ^= 0x5A;
    CHECK_THROWS(load(bad), corrupt_data_error);
  }
  for (std::size_t n = 0; n < good.size(); n += step) {
    std::vector<unsigned char> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS(load(cut), corrupt_data_error);
  }
  sketch_rng rng(7);
  for (std::size_t size : {0u, 5u, 20u, 64u, 300u}) {
    std::vector<unsigned char> junk(size);
    for (auto& b : junk) b = static_cast<unsigned char>(rng.next());
    CHECK_THROWS(load(junk), corrupt_data_error);
  }
}

void test_hash_golden_values() {
  // The same values are pinned in tests/python/test_sketch.py.
  CHECK_EQ(hash64_int(0), 12405702546882280382ull);
  CHECK_EQ(hash64_int(1), 86320053361880074ull);
  CHECK_EQ(hash64_int(-1), 10637532756393756980ull);
  CHECK_EQ(hash64_float(1.0), 2316751678296416042ull);
  CHECK_EQ(hash64_float(std::nan("")), 13492600408349111277ull);
  CHECK_EQ(hash_str(""), 15858469599420516659ull);
  CHECK_EQ(hash_str("a"), 7019872302709573343ull);
  CHECK_EQ(hash_str("AAPL"), 17453313587358916716ull);
  CHECK_EQ(hash64_int(1, 7), 9039311881605594949ull);
  CHECK_EQ(hash_str("AAPL", 7), 3078572134996565353ull);
  CHECK_EQ(hash64_float(-0.0), hash64_float(0.0));
  CHECK(hash64_float(1.0) != hash64_int(1));
  CHECK_EQ(hash64_float(-std::nan("")), hash64_float(std::nan("")));
}

void test_hash_avalanche() {
  sketch_rng rng(1);
  const item_hasher h(0);
  constexpr int n = 4000;
  static long flips[64][64];
  for (int i = 0; i < n; ++i) {
    const std::uint64_t x = rng.next();
    const std::uint64_t a = h.hash_int(static_cast<std::int64_t>(x));
    for (int b = 0; b < 64; ++b) {
      const std::uint64_t d = a ^ h.hash_int(static_cast<std::int64_t>(x ^ (std::uint64_t{1} << b)));
      for (int o = 0; o < 64; ++o) flips[b][o] += static_cast<long>((d >> o) & 1);
    }
  }
  double worst = 0;
  for (auto& row : flips) {
    for (long c : row) worst = std::fmax(worst, std::fabs(static_cast<double>(c) / n - 0.5));
  }
  CHECK(worst < 0.045);
  // byte strings: flip each bit of a 24-byte key
  double worst_b = 0;
  static long fb[192][64];
  for (int i = 0; i < 1500; ++i) {
    unsigned char key[24];
    for (auto& c : key) c = static_cast<unsigned char>(rng.next());
    const std::uint64_t a = h.hash_bytes(key, 24);
    for (int b = 0; b < 192; ++b) {
      key[b / 8] ^= static_cast<unsigned char>(1u << (b % 8));
      const std::uint64_t d = a ^ h.hash_bytes(key, 24);
      key[b / 8] ^= static_cast<unsigned char>(1u << (b % 8));
      for (int o = 0; o < 64; ++o) fb[b][o] += static_cast<long>((d >> o) & 1);
    }
  }
  for (auto& row : fb) {
    for (long c : row) worst_b = std::fmax(worst_b, std::fabs(static_cast<double>(c) / 1500 - 0.5));
  }
  CHECK(worst_b < 0.07);
}

void test_hll_accuracy_and_merge() {
  for (int lg : {4, 10, 12, 21}) {
    hyperloglog h(lg, 3);
    CHECK_EQ(h.estimate(), 0.0);
    const std::int64_t n = 200000;
    for (std::int64_t i = 0; i < n; ++i) h.update_int(i);
    const double rel = h.estimate() / static_cast<double>(n) - 1;
    CHECK(std::fabs(rel) < 5 * 1.04 / std::sqrt(std::ldexp(1.0, lg)));
    CHECK(std::fabs(h.ertl_estimate() / static_cast<double>(n) - 1) < 5 * 1.04 / std::sqrt(std::ldexp(1.0, lg)));
  }
  hyperloglog a(12, 1), b(12, 1), both(12, 1), coarse(10, 1), coarse_both(10, 1);
  for (std::int64_t i = 0; i < 50000; ++i) {
    a.update_int(i);
    both.update_int(i);
    coarse_both.update_int(i);
  }
  for (std::int64_t i = 30000; i < 90000; ++i) {
    b.update_int(i);
    both.update_int(i);
    coarse.update_int(i);
    coarse_both.update_int(i);
  }
  hyperloglog u = a;
  u.merge(b);
  CHECK(u.registers() == both.registers());
  CHECK(!u.hip_valid());
  hyperloglog f = a;
  f.merge(coarse);  // folds down to 10
  CHECK_EQ(f.lg_k(), 10);
  CHECK(f.registers() == coarse_both.registers());
  hyperloglog g = coarse;
  g.merge(a);  // folds a on the fly
  CHECK(g.registers() == coarse_both.registers());
  CHECK_THROWS(a.merge(hyperloglog(12, 2)), std::invalid_argument);
  CHECK_THROWS(hyperloglog(3), std::invalid_argument);
  CHECK_THROWS(hyperloglog(22), std::invalid_argument);
}

void test_hll_serialisation() {
  for (int items : {1000, 20}) {  // dense and sparse layouts
    hyperloglog h(items > 100 ? 6 : 10, 9);
    for (std::int64_t i = 0; i < items; ++i) h.update_int(i);
    const auto bytes = h.serialize();
    const auto back = hyperloglog::deserialize(bytes.data(), bytes.size());
    CHECK(back == h);
    CHECK_EQ(back.estimate(), h.estimate());
    check_corruption(bytes, [](const std::vector<unsigned char>& v) { return hyperloglog::deserialize(v.data(), v.size()); });
  }
}

void test_count_min_batch_paths() {
  // The batch paths (compiled per depth, skipping saturation, hashing inside the loop)
  // add exactly what one-item updates add, for every compiled depth, odd lengths and widths
  // from 1 to about a million (tables kept to 4 Mi counters).
  sketch_rng rng(11);
  for (std::uint32_t depth = 1; depth <= 9; ++depth) {
    for (const std::uint64_t width : {std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{27183}, std::uint64_t{1000003}}) {
      if (width * depth > (std::uint64_t{1} << 22)) continue;
      count_min one(width, depth, 5), ints(width, depth, 5), weighted(width, depth, 5), one_w(width, depth, 5);
      const std::size_t n = 1000 + depth * 7;
      std::vector<std::int64_t> v(n);
      std::vector<std::uint64_t> cnt(n);
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::int64_t>(rng.next() % 5000) - 2500;
        cnt[i] = rng.next() % 100;
      }
      for (std::size_t i = 0; i < n; ++i) {
        one.update_hash(one.hasher().hash_int(v[i]), 1);
        one_w.update_hash(one_w.hasher().hash_int(v[i]), cnt[i]);
      }
      const item_hasher hasher = ints.hasher();
      auto at = [&](std::size_t i) { return hasher.hash_int(v[i]); };
      ints.update_items(n, at, nullptr);
      weighted.update_items(n, at, cnt.data());
      CHECK(ints.table() == one.table() && ints.total() == one.total());
      CHECK(weighted.table() == one_w.table() && weighted.total() == one_w.total());
    }
  }
}

void test_count_min() {
  count_min c(2719, 5, 4, false, 16);
  count_min cons(2719, 5, 4, true, 0);
  std::unordered_map<std::int64_t, std::uint64_t> truth;
  sketch_rng rng(3);
  std::uint64_t total = 0;
  for (int i = 0; i < 200000; ++i) {
    // skewed: id 0 a quarter of the time, 1 an eighth, 2 a sixteenth, else uniform in [3, 20000)
    const std::uint64_t r = rng.below(16);
    const auto v = static_cast<std::int64_t>(r < 4 ? 0 : r < 6 ? 1 : r < 7 ? 2 : 3 + rng.below(19997));
    const std::uint64_t cnt = 1 + rng.below(3);
    c.update(c.hasher().hash_int(v), cnt, [&] { return item_key::of_int(v); });
    cons.update_hash(cons.hasher().hash_int(v), cnt);
    truth[v] += cnt;
    total += cnt;
  }
  CHECK_EQ(c.total(), total);
  std::size_t over = 0;
  bool never_under = true, cons_tighter = true;
  for (const auto& [v, n] : truth) {
    const auto e = c.estimate_hash(c.hasher().hash_int(v));
    const auto ec = cons.estimate_hash(cons.hasher().hash_int(v));
    never_under = never_under && e >= n && ec >= n;
    cons_tighter = cons_tighter && ec <= e;
    over += static_cast<double>(e - n) > c.epsilon() * static_cast<double>(total);
  }
  CHECK(never_under);
  CHECK(cons_tighter);
  CHECK(static_cast<double>(over) <= 0.01 * static_cast<double>(truth.size()));
  // the heaviest items are 0, 1, 2 in that order
  const auto top = c.top_k(3);
  CHECK_EQ(top.size(), std::size_t{3});
  for (std::size_t i = 0; i < top.size(); ++i) {
    CHECK(top[i].first->key.data == item_key::of_int(static_cast<std::int64_t>(i)).data);
  }
  const auto bytes = c.serialize();
  const auto back = count_min::deserialize(bytes.data(), bytes.size());
  CHECK(back.table() == c.table());
  CHECK_EQ(back.top_k(16).size(), c.top_k(16).size());
  check_corruption(bytes, [](const std::vector<unsigned char>& v) { return count_min::deserialize(v.data(), v.size()); });
  // the prefetching batch path with heavy hitters gives exactly what per-item updates give
  for (bool conservative : {false, true}) {
    count_min one(500, 4, 9, conservative, 8), many(500, 4, 9, conservative, 8);
    std::vector<std::uint64_t> hs, counts;
    std::vector<std::int64_t> vals;
    sketch_rng g(11);
    for (int i = 0; i < 20000; ++i) {
      const auto v = static_cast<std::int64_t>(g.below(4) == 0 ? g.below(10) : g.below(5000));
      vals.push_back(v);
      hs.push_back(one.hasher().hash_int(v));
      counts.push_back(1 + g.below(5));
      one.update(hs.back(), counts.back(), [&] { return item_key::of_int(v); });
    }
    many.update_hashes_tracked(hs.data(), counts.data(), hs.size(), [&](std::size_t i) { return item_key::of_int(vals[i]); });
    CHECK(one.table() == many.table());
    CHECK_EQ(one.total(), many.total());
    const auto a = one.top_k(8), b = many.top_k(8);
    bool same = a.size() == b.size();
    for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].first->hash == b[i].first->hash && a[i].second == b[i].second;
    CHECK(same);
  }
  count_min other(2719, 5, 5);
  CHECK_THROWS(c.merge(other), std::invalid_argument);
  const auto [w, d] = count_min::dimensions_for(1e-4, 0.01);
  CHECK_EQ(w, std::uint64_t{27183});
  CHECK_EQ(d, std::uint32_t{5});
}

void test_bloom() {
  auto f = bloom_filter::with_capacity(100000, 0.01, 1);
  for (std::int64_t i = 0; i < 100000; ++i) f.add_hash(f.hasher().hash_int(i * 3));
  bool no_fn = true;
  for (std::int64_t i = 0; i < 100000; ++i) no_fn = no_fn && f.contains_hash(f.hasher().hash_int(i * 3));
  CHECK(no_fn);
  std::size_t fp = 0;
  for (std::int64_t i = 0; i < 500000; ++i) fp += f.contains_hash(f.hasher().hash_int(-1 - i));
  const double rate = static_cast<double>(fp) / 500000;
  CHECK(rate > 0.005 && rate < 0.015);
  CHECK(std::fabs(f.estimate_count() / 100000 - 1) < 0.05);
  // batch calls agree with single ones
  std::vector<std::uint64_t> hs;
  for (std::int64_t i = 0; i < 1000; ++i) hs.push_back(f.hasher().hash_int(i));
  std::vector<char> out(hs.size());
  f.contains_hashes(hs.data(), hs.size(), reinterpret_cast<bool*>(out.data()));
  bool agree = true;
  for (std::size_t i = 0; i < hs.size(); ++i) agree = agree && (out[i] != 0) == f.contains_hash(hs[i]);
  CHECK(agree);
  // The batch kernel (AVX2 where the CPU has it) sets the same bits and reports the same
  // "new" flags as the scalar single-item path, for every shape.
  for (const double p : {0.2, 0.01, 1e-4, 1e-7}) {
    auto one = bloom_filter::with_capacity(3000, p, 9);
    auto many = bloom_filter::with_capacity(3000, p, 9);
    CHECK(one.layout() == bloom_layout::split);
    CHECK_EQ(one.num_hashes() % one.words_per_block(), std::uint32_t{0});
    std::vector<std::uint64_t> items;
    for (std::int64_t i = 0; i < 4000; ++i) items.push_back(one.hasher().hash_int(i % 3500));
    std::vector<char> fresh_one(items.size()), fresh_many(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) fresh_one[i] = one.add_hash(items[i]) ? 1 : 0;
    many.add_hashes(items.data(), items.size(), reinterpret_cast<bool*>(fresh_many.data()));
    CHECK(one == many);
    CHECK(fresh_one == fresh_many);
    std::vector<std::uint64_t> probe;
    for (std::int64_t i = 0; i < 20000; ++i) probe.push_back(one.hasher().hash_int(i));
    std::vector<char> hit(probe.size());
    many.contains_hashes(probe.data(), probe.size(), reinterpret_cast<bool*>(hit.data()));
    bool same = true;
    for (std::size_t i = 0; i < probe.size(); ++i) same = same && (hit[i] != 0) == one.contains_hash(probe[i]);
    CHECK(same);
  }
  // Shapes: the sizing picks 4-word blocks at loose rates and several bits per word at tight ones.
  CHECK_EQ(bloom_filter::dimensions_for(100000, 0.1).words, std::uint32_t{4});
  CHECK_EQ(bloom_filter::dimensions_for(100000, 0.01).words, std::uint32_t{8});
  CHECK(bloom_filter::dimensions_for(100000, 1e-6).k > 8);
  for (const double p : {0.3, 0.1, 0.01, 1e-3, 1e-6}) {
    const auto d = bloom_filter::dimensions_for(100000, p);
    CHECK(bloom_filter::expected_fpr(100000, d.blocks, d.k, d.words) <= p);
    CHECK(bloom_filter::expected_fpr(100000, d.blocks - 1, d.k, d.words) > p);  // smallest that meets p
  }
  auto small = bloom_filter::with_capacity(50, 0.05, 2);
  for (std::int64_t i = 0; i < 50; ++i) small.add_hash(small.hasher().hash_int(i));
  const auto bytes = small.serialize();
  const auto back = bloom_filter::deserialize(bytes.data(), bytes.size());
  CHECK(back == small);
  check_corruption(bytes, [](const std::vector<unsigned char>& v) { return bloom_filter::deserialize(v.data(), v.size()); });
  CHECK_THROWS(f.union_with(small), std::invalid_argument);
  CHECK_THROWS(bloom_filter::with_capacity(0, 0.01), std::invalid_argument);
  CHECK_THROWS(bloom_filter::with_capacity(10, 0.0), std::invalid_argument);
}

void test_reservoir() {
  // Uniform inclusion of 10 items, k = 3, over 30,000 seeds: each item 9,000 times.
  std::vector<long> counts(10, 0);
  for (std::uint64_t s = 0; s < 30000; ++s) {
    reservoir_sampler r(3, s, false);
    std::vector<std::uint64_t> slots(3);
    r.offer(10, [&](std::size_t slot, std::uint64_t off) { slots[slot] = off; });
    for (auto v : slots) ++counts[v];
  }
  double chi2 = 0;
  for (long c : counts) chi2 += (c - 9000.0) * (c - 9000.0) / 9000.0;
  CHECK(chi2 < 30);  // 9 degrees of freedom: p < 0.0005 beyond 30
  // slot decisions are independent of batching
  reservoir_sampler a(4, 5, false), b(4, 5, false);
  std::vector<std::uint64_t> sa(4), sb(4);
  a.offer(1000, [&](std::size_t slot, std::uint64_t off) { sa[slot] = off; });
  std::uint64_t base = 0;
  for (std::uint64_t part : {1u, 2u, 300u, 697u}) {
    b.offer(part, [&](std::size_t slot, std::uint64_t off) { sb[slot] = base + off; });
    base += part;
  }
  CHECK(sa == sb);
  CHECK(a.indices() == b.indices());
  // weighted: zero weights never enter; bad weights throw before anything changes
  reservoir_sampler w(2, 1, true);
  const double ws[] = {0.0, 1.0, 0.0, 2.0, 3.0};
  w.offer_weighted(ws, 5, [](std::size_t, std::uint64_t) {});
  for (auto i : w.indices()) CHECK(i == 1 || i == 3 || i == 4);
  const double bad[] = {1.0, -1.0};
  CHECK_THROWS(w.offer_weighted(bad, 2, [](std::size_t, std::uint64_t) {}), std::invalid_argument);
  CHECK_EQ(w.seen(), std::uint64_t{5});
  // serialisation with an item payload
  const char payload[] = "items";
  const auto bytes = a.serialize(payload, 5);
  const unsigned char* items = nullptr;
  std::size_t items_size = 0;
  const auto back = reservoir_sampler::deserialize(bytes.data(), bytes.size(), &items, &items_size);
  CHECK(back.indices() == a.indices());
  CHECK_EQ(items_size, std::size_t{5});
  check_corruption(bytes, [](const std::vector<unsigned char>& v) {
    const unsigned char* it = nullptr;
    std::size_t n = 0;
    return reservoir_sampler::deserialize(v.data(), v.size(), &it, &n);
  });
  CHECK_THROWS(a.merge(w), std::invalid_argument);
}

void test_golden_files() {
  // Recipes in tests/golden/make_sketch_golden.py.
  const auto hb = read_file("hll_v1.bin");
  CHECK(!hb.empty());
  hyperloglog ref(10, 42);
  for (std::int64_t i = 0; i < 10000; ++i) ref.update_int(i);
  ref.update_bytes("AAPL", 4);
  ref.update_bytes("MSFT", 4);
  ref.update_float(1.5);
  const auto h = hyperloglog::deserialize(hb.data(), hb.size());
  CHECK(h == ref);  // format 1 (dense) still loads
  const auto hb2 = read_file("hll_v2.bin");
  hyperloglog ref2(14, 42);
  for (std::int64_t i = 0; i < 100; ++i) ref2.update_int(i);
  ref2.update_bytes("AAPL", 4);
  CHECK(hyperloglog::deserialize(hb2.data(), hb2.size()) == ref2);
  CHECK(ref2.serialize() == hb2);  // format 2, sparse layout
  CHECK(hb2.size() < 1000);

  const auto cb = read_file("count_min_v1.bin");
  count_min cref(64, 4, 7, false, 4);
  for (std::int64_t i = 0; i < 100; ++i) {
    const std::int64_t v = i % 10;
    cref.update(cref.hasher().hash_int(v), static_cast<std::uint64_t>(i), [&] { return item_key::of_int(v); });
  }
  cref.update(cref.hasher().hash_bytes("AAPL", 4), 1000, [] { return item_key::of_bytes("AAPL", 4, true); });
  const auto c = count_min::deserialize(cb.data(), cb.size());
  CHECK(c.table() == cref.table());
  CHECK(cref.serialize() == cb);

  // Format 1: the classic layout, rebuilt here from the same recipe with its shape.
  const auto bb = read_file("bloom_v1.bin");
  const auto b1 = bloom_filter::deserialize(bb.data(), bb.size());
  CHECK(b1.layout() == bloom_layout::classic);
  bloom_filter bref(bloom_layout::classic, b1.dims(), 3, 1000, 0.01);
  for (std::int64_t i = 0; i < 1000; ++i) bref.add_hash(bref.hasher().hash_int(i));
  CHECK(b1 == bref);
  std::vector<std::uint64_t> bh;
  for (std::int64_t i = 0; i < 1000; ++i) bh.push_back(bref.hasher().hash_int(i));
  bloom_filter bbatch(bloom_layout::classic, b1.dims(), 3, 1000, 0.01);
  bbatch.add_hashes(bh.data(), bh.size(), nullptr);
  CHECK(bbatch == bref);
  const auto b1_again = bref.serialize();  // written as format 2, layout kept
  CHECK(bloom_filter::deserialize(b1_again.data(), b1_again.size()) == b1);
  const auto bb2 = read_file("bloom_v2.bin");
  auto bref2 = bloom_filter::with_capacity(1000, 0.01, 3);
  for (std::int64_t i = 0; i < 1000; ++i) bref2.add_hash(bref2.hasher().hash_int(i));
  CHECK(bloom_filter::deserialize(bb2.data(), bb2.size()) == bref2);
  CHECK(bref2.serialize() == bb2);

  const auto rb = read_file("reservoir_v1.bin");
  reservoir_sampler rref(8, 11, false);
  rref.offer(100, [](std::size_t, std::uint64_t) {});
  const unsigned char* items = nullptr;
  std::size_t n = 0;
  const auto r = reservoir_sampler::deserialize(rb.data(), rb.size(), &items, &n);
  CHECK(r.indices() == rref.indices());
  CHECK(n > 1 && items[0] == 'R');
}

/// The parallel_for chunks that ran a logged call: the split runs must really be split (equal
/// results alone would also come from a call that ignored `threads`). Chunks, not threads: which
/// thread runs a chunk depends on timing (the caller runs any chunk no pool worker has claimed).
struct chunk_log {
  std::mutex m;
  std::set<std::size_t> ids;
  void note() {
    std::lock_guard<std::mutex> lock(m);
    ids.insert(neural_trader::detail::running_chunk());
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(m);
    return ids.size();
  }
};

/// Long batches split over threads (Bloom adds by block range, queries by item range,
/// count-min by row) equal one-thread runs exactly: bits, "new" flags, answers, counters.
void test_threaded_batches() {
  const std::size_t n = 3 * bloom_filter::items_per_thread + 123;
  sketch_rng rng(21);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = static_cast<std::int64_t>(rng.below(n / 2));  // repeats: order matters
  for (const bool classic : {false, true}) {
    const auto d = bloom_filter::dimensions_for(n, 0.01);
    const bloom_dims cd{d.blocks, 8, 7};
    auto make = [&] {
      return classic ? bloom_filter(bloom_layout::classic, cd, 4, n, 0.01) : bloom_filter(d, 4, n, 0.01);
    };
    for (const int threads : {2, 3, 4}) {
      auto one = make();
      auto split = make();
      const item_hasher h = one.hasher();
      auto at = [&](std::size_t i) noexcept { return h.hash_int(v[i]); };
      std::vector<char> f1(n), f2(n);
      chunk_log adders, queriers;
      auto logged_at = [&](std::size_t i) {
        if (i == 0) adders.note();  // every chunk of a split add reads item 0
        return at(i);
      };
      one.add_items(n, at, reinterpret_cast<bool*>(f1.data()), 1);
      split.add_items(n, logged_at, reinterpret_cast<bool*>(f2.data()), threads);
      CHECK(one == split);
      CHECK(f1 == f2);
      CHECK_EQ(adders.count(), std::size_t{threads < 3 ? 2u : 3u});  // n holds 3 chunks' worth
      auto probe = [&](std::size_t i) noexcept { return h.hash_int(static_cast<std::int64_t>(i)); };
      auto logged_probe = [&](std::size_t i) {
        queriers.note();
        return probe(i);
      };
      std::vector<char> q1(n), q2(n);
      one.contains_items(n, probe, reinterpret_cast<bool*>(q1.data()), 1);
      split.contains_items(n, logged_probe, reinterpret_cast<bool*>(q2.data()), threads);
      CHECK(q1 == q2);
      CHECK_EQ(queriers.count(), std::size_t{threads < 3 ? 2u : 3u});
      auto none = make();
      none.add_items(n, at, nullptr, threads);  // no flags asked for
      CHECK(none == one);
    }
  }
  for (const std::uint32_t depth : {1u, 3u, 5u, 8u}) {
    for (const int threads : {2, 3, 8}) {
      count_min one(27183, depth, 6), split(27183, depth, 6);
      const item_hasher h = one.hasher();
      auto at = [&](std::size_t i) noexcept { return h.hash_int(v[i]); };
      std::vector<std::uint64_t> cnt(n);
      for (auto& c : cnt) c = rng.below(10);
      chunk_log rows;
      auto logged_at = [&](std::size_t i) {
        if (i == 0) rows.note();  // every chunk of a split update reads item 0
        return at(i);
      };
      one.update_items(n, at, cnt.data(), 1);
      split.update_items(n, logged_at, cnt.data(), threads);
      // one chunk per item_per_thread items (3 here), at most one per row
      const std::size_t want_rows = std::min({std::size_t{static_cast<unsigned>(threads)}, std::size_t{3}, std::size_t{depth}});
      CHECK_EQ(rows.count(), want_rows);
      one.update_items(n, at, nullptr, 1);
      split.update_items(n, at, nullptr, threads);
      CHECK(one.table() == split.table());
      CHECK_EQ(one.total(), split.total());
    }
  }
}

}  // namespace

int main() {
  NT_RUN(test_hash_golden_values);
  NT_RUN(test_hash_avalanche);
  NT_RUN(test_hll_accuracy_and_merge);
  NT_RUN(test_hll_serialisation);
  NT_RUN(test_count_min);
  NT_RUN(test_count_min_batch_paths);
  NT_RUN(test_bloom);
  NT_RUN(test_threaded_batches);
  NT_RUN(test_reservoir);
  NT_RUN(test_golden_files);
  return nt_check::finish("test_sketch");
}
