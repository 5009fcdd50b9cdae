/// @file bloom.hpp
/// @brief A blocked Bloom filter: each item sets its bits inside one block of a cache line.
///
/// Blocking (Putze, Sanders & Singler 2007) makes every add and query touch one cache line.
/// New filters use the *split* layout: a block is 4 or 8 64-bit words (256 or 512 bits) and an
/// item sets r bits in every word of its block (k = words * r bits in all), so the positions
/// of one draw are W independent 6-bit fields and an AVX2 kernel builds the block's masks with
/// two variable shifts per vector. Blocks fill unevenly, which raises the false-positive rate
/// above the classic formula, so the size is not taken from that formula alone: for a capacity
/// n and target rate p the constructor evaluates the layout's expected false-positive rate,
///
///     FPR = sum_j Poisson(j; n / blocks) * (1 - (1 - 1/64)^(r j))^k,
///
/// over the shapes 4 words x 1 bit and 8 words x 1..6 bits and keeps the smallest block count
/// that brings it to p or below (at p = 1%: 8 words x 1 bit, 10.1 bits per item against the
/// classic 9.6).
///
/// Item hash h: the block is mulhi(h, blocks) (the top bits of h); the bit in word w of draw j
/// is bits 6w..6w+5 of g_j, where g_0 = (h ^ h >> 29) * an odd constant and g_j =
/// mix64(g_{j-1} ^ h ^ j). Batch calls run that kernel when the CPU has AVX2 (NT_SIMD=scalar
/// forces the scalar loop; both set the same bits), with the blocks of items 48 ahead
/// prefetched. No false negatives, ever.
///
/// Format-1 files hold the *classic* layout (k bits anywhere in a 512-bit block: 9-bit fields
/// of g_0, re-mixed every 7 positions); they load and keep working in that layout.
///
/// Thread safety: single writer; concurrent queries are safe while nobody writes.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/checked.hpp"
#include "../common/hash.hpp"
#include "../common/serialize.hpp"
#include "../common/threads.hpp"
#include "simd.hpp"

#if defined(_MSC_VER) && !defined(__clang__)
#include <xmmintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace neural_trader::sketch {

/// The bit array of a Bloom filter: zeroed, cache-line aligned; arrays of 8 MiB and more are
/// aligned to 2 MiB and (on Linux) marked for transparent huge pages before they are touched,
/// which saves a TLB miss on most random accesses (a hint: ignored where unavailable).
class bloom_words {
 public:
  static constexpr std::size_t huge_page = std::size_t{1} << 21;

  bloom_words() = default;
  explicit bloom_words(std::uint64_t words) {
    const auto bytes = checked_mul(words, 8);
    if (!bytes || *bytes > (std::uint64_t{1} << 40)) throw std::length_error("Bloom filter too large");
    bytes_ = static_cast<std::size_t>(*bytes);
    align_ = bytes_ >= 4 * huge_page ? huge_page : 64;
    alloc_ = (bytes_ + align_ - 1) / align_ * align_;
    if (alloc_ == 0) alloc_ = align_;
    p_ = static_cast<std::uint64_t*>(::operator new(alloc_, std::align_val_t{align_}));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align_ == huge_page) static_cast<void>(::madvise(p_, alloc_, MADV_HUGEPAGE));
#endif
    std::memset(p_, 0, alloc_);
  }
  bloom_words(const bloom_words&) = delete;
  bloom_words& operator=(const bloom_words&) = delete;
  bloom_words(bloom_words&& o) noexcept { swap(o); }
  bloom_words& operator=(bloom_words&& o) noexcept {
    bloom_words tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~bloom_words() {
    if (p_ != nullptr) ::operator delete(p_, alloc_, std::align_val_t{align_});
  }
  std::uint64_t* data() noexcept { return p_; }
  const std::uint64_t* data() const noexcept { return p_; }
  std::size_t size_bytes() const noexcept { return bytes_; }

 private:
  void swap(bloom_words& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    std::swap(alloc_, o.alloc_);
    std::swap(align_, o.align_);
  }
  std::uint64_t* p_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t alloc_ = 0;
  std::size_t align_ = 64;
};

inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1, 3);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
  (void)p;
#endif
}

/// The two bit layouts. `split` is what new filters use; `classic` is the layout of format-1
/// files, which keep loading and working.
enum class bloom_layout : std::uint8_t { classic = 1, split = 2 };

/// Dimensions of a filter: block count, words per block (4 or 8) and bits per item.
struct bloom_dims {
  std::uint64_t blocks = 0;
  std::uint32_t words = 8;
  std::uint32_t k = 8;
};

namespace bloom_detail {

/// Split layout: the first 64-bit draw of an item's bit positions, and the next ones.
constexpr std::uint64_t split_first(std::uint64_t h) noexcept { return (h ^ (h >> 29)) * hashing::mul_c; }
constexpr std::uint64_t split_next(std::uint64_t g, std::uint64_t h, std::uint32_t j) noexcept {
  return mix64(g ^ h ^ j);
}

/// Scalar add of one item in the split layout: W words, r bits in each; returns whether some
/// bit was unset before.
template <unsigned W>
inline bool split_add(std::uint64_t* b, std::uint64_t h, std::uint32_t r) noexcept {
  std::uint64_t g = split_first(h), missing = 0;
  for (std::uint32_t j = 0; j < r; ++j) {
    if (j != 0) g = split_next(g, h, j);
    for (unsigned w = 0; w < W; ++w) {
      const std::uint64_t bit = std::uint64_t{1} << ((g >> (6 * w)) & 63);
      missing |= bit & ~b[w];
      b[w] |= bit;
    }
  }
  return missing != 0;
}

template <unsigned W>
inline bool split_contains(const std::uint64_t* b, std::uint64_t h, std::uint32_t r) noexcept {
  std::uint64_t g = split_first(h), missing = 0;
  for (std::uint32_t j = 0; j < r; ++j) {
    if (j != 0) g = split_next(g, h, j);
    for (unsigned w = 0; w < W; ++w) missing |= (std::uint64_t{1} << ((g >> (6 * w)) & 63)) & ~b[w];
  }
  return missing == 0;
}

/// How far ahead batch loops prefetch: enough blocks in flight to cover a memory miss.
inline constexpr std::size_t bloom_ahead = 48;

/// Item hashes of a batch loop, computed `bloom_ahead` items before use (when the block is
/// prefetched) and kept in a small ring until then: hashing overlaps the memory accesses.
template <class HashAt>
class hash_ring {
 public:
  static constexpr std::size_t size = 64;
  static_assert(size > bloom_ahead);
  explicit hash_ring(HashAt& at) noexcept : at_(at) {}
  /// Hashes item i (if it exists) and returns its hash.
  std::uint64_t fetch(std::size_t i) noexcept { return h_[i % size] = at_(i); }
  std::uint64_t operator[](std::size_t i) const noexcept { return h_[i % size]; }

 private:
  HashAt& at_;
  std::uint64_t h_[size];
};

template <unsigned W, class HashAt>
void split_batch_scalar(std::uint64_t* base, std::uint64_t blocks, std::uint32_t r, HashAt& hash_at, std::size_t n,
                        bool* out, bool add) noexcept {
  hash_ring<HashAt> ring(hash_at);
  for (std::size_t i = 0; i < n && i < bloom_ahead; ++i) prefetch(base + mulhi64(ring.fetch(i), blocks) * W);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + bloom_ahead < n) prefetch(base + mulhi64(ring.fetch(i + bloom_ahead), blocks) * W);
    const std::uint64_t hi = ring[i];
    std::uint64_t* b = base + mulhi64(hi, blocks) * W;
    if (add) {
      const bool fresh = split_add<W>(b, hi, r);
      if (out != nullptr) out[i] = fresh;
    } else {
      out[i] = split_contains<W>(b, hi, r);
    }
  }
}

#if defined(NT_SKETCH_AVX2)
/// AVX2 kernel of the split layout (compiled for AVX2 with a target attribute, called only
/// when the CPU has it): the W one-bit masks of a draw are built in one or two vectors with
/// variable shifts; bit-for-bit the same as split_add / split_contains.
template <unsigned W, class HashAt>
__attribute__((target("avx2"))) void split_batch_avx2(std::uint64_t* base, std::uint64_t blocks, std::uint32_t r,
                                                      HashAt& hash_at, std::size_t n, bool* out, bool add) noexcept {
  const __m256i s_lo = _mm256_setr_epi64x(0, 6, 12, 18), s_hi = _mm256_setr_epi64x(24, 30, 36, 42);
  const __m256i m63 = _mm256_set1_epi64x(63), one = _mm256_set1_epi64x(1);
  hash_ring<HashAt> ring(hash_at);
  for (std::size_t i = 0; i < n && i < bloom_ahead; ++i) prefetch(base + mulhi64(ring.fetch(i), blocks) * W);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + bloom_ahead < n) prefetch(base + mulhi64(ring.fetch(i + bloom_ahead), blocks) * W);
    const std::uint64_t hi = ring[i];
    auto* v = reinterpret_cast<__m256i*>(base + mulhi64(hi, blocks) * W);
    std::uint64_t g = split_first(hi);
    __m256i m_lo = _mm256_setzero_si256(), m_hi = _mm256_setzero_si256();
    for (std::uint32_t j = 0; j < r; ++j) {
      if (j != 0) g = split_next(g, hi, j);
      const __m256i gv = _mm256_set1_epi64x(static_cast<long long>(g));
      m_lo = _mm256_or_si256(m_lo, _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srlv_epi64(gv, s_lo), m63)));
      if constexpr (W == 8) {
        m_hi = _mm256_or_si256(m_hi, _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srlv_epi64(gv, s_hi), m63)));
      }
    }
    // Blocks of 4 words are 32-byte aligned, of 8 words 64-byte aligned.
    const __m256i b_lo = _mm256_load_si256(v);
    __m256i missing = _mm256_andnot_si256(b_lo, m_lo);
    __m256i b_hi = _mm256_setzero_si256();
    if constexpr (W == 8) {
      b_hi = _mm256_load_si256(v + 1);
      missing = _mm256_or_si256(missing, _mm256_andnot_si256(b_hi, m_hi));
    }
    const bool none_missing = _mm256_testz_si256(missing, missing) != 0;
    if (add) {
      _mm256_store_si256(v, _mm256_or_si256(b_lo, m_lo));
      if constexpr (W == 8) _mm256_store_si256(v + 1, _mm256_or_si256(b_hi, m_hi));
      if (out != nullptr) out[i] = !none_missing;
    } else {
      out[i] = none_missing;
    }
  }
}
#endif

}  // namespace bloom_detail

class bloom_filter {
 public:
  static constexpr std::uint32_t magic = make_magic('N', 'T', 'B', 'F');
  static constexpr std::uint16_t format_version = 2;
  static constexpr std::uint32_t word_bits = 64;
  static constexpr std::uint32_t max_hashes = 48;
  static constexpr std::uint64_t max_words = std::uint64_t{1} << 37;  // 1 TiB of bits
  /// The classic layout's block: 512 bits, k bits anywhere inside.
  static constexpr std::uint32_t classic_block_bits = 512;

  /// Expected false-positive rate of `blocks` blocks of `words` 64-bit words holding n items,
  /// each item setting k / words bits in every word of its block (split layout).
  static double expected_fpr(double n, std::uint64_t blocks, std::uint32_t k, std::uint32_t words = 8) noexcept {
    if (words == 0 || k % words != 0) return 1.0;
    return poisson_fpr(n, blocks, static_cast<double>(word_bits), k / words, words);
  }

  /// The same for the classic layout of format-1 files (k bits anywhere in a 512-bit block).
  static double expected_fpr_classic(double n, std::uint64_t blocks, std::uint32_t k) noexcept {
    return poisson_fpr(n, blocks, static_cast<double>(classic_block_bits), k, 1);
  }

  /// Dimensions for `capacity` items at false-positive rate `fp_rate`: the smallest filter over
  /// the split shapes (4 words x 1 bit, 8 words x 1..6 bits).
  static bloom_dims dimensions_for(std::uint64_t capacity, double fp_rate) {
    if (capacity < 1) throw std::invalid_argument("capacity must be >= 1");
    if (!(fp_rate > 0 && fp_rate < 1)) throw std::invalid_argument("fp_rate must be in (0, 1)");
    if (fp_rate < 1e-12) throw std::invalid_argument("fp_rate below 1e-12 is not supported");
    const double n = static_cast<double>(capacity);
    const double ln2 = std::log(2.0);
    const double classic_bits = -n * std::log(fp_rate) / (ln2 * ln2);
    bloom_dims best;
    std::uint64_t best_words = 0;
    const std::pair<std::uint32_t, std::uint32_t> shapes[] = {{4, 1}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 6}};
    for (const auto& [words, r] : shapes) {
      const std::uint32_t k = words * r;
      const double block_bits = static_cast<double>(words * word_bits);
      // Grow from the classic size until the blocked filter meets the target ...
      double blocks_d = std::max(1.0, std::ceil(classic_bits / block_bits));
      std::uint64_t blocks = 0;
      bool met = false;
      for (int iter = 0; iter < 600; ++iter) {
        blocks = static_cast<std::uint64_t>(blocks_d);
        if (blocks > max_words / words) break;
        if (expected_fpr(n, blocks, k, words) <= fp_rate) {
          met = true;
          break;
        }
        blocks_d = std::ceil(blocks_d * 1.005 + 1);
      }
      if (!met) continue;
      // ... then the smallest block count (binary search below the 0.5% step) that still meets p.
      std::uint64_t lo = std::max<std::uint64_t>(1, blocks - blocks / 190 - 2), hi = blocks;
      while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        if (expected_fpr(n, mid, k, words) <= fp_rate) hi = mid; else lo = mid + 1;
      }
      if (best_words == 0 || hi * words < best_words) {
        best_words = hi * words;
        best = {hi, words, k};
      }
    }
    if (best_words == 0) throw std::invalid_argument("Bloom filter too large for capacity and fp_rate");
    return best;
  }

  /// A filter of the split layout.
  bloom_filter(bloom_dims d, std::uint64_t seed, std::uint64_t capacity, double fp_rate)
      : bloom_filter(bloom_layout::split, d, seed, capacity, fp_rate) {}

  bloom_filter(bloom_layout layout, bloom_dims d, std::uint64_t seed, std::uint64_t capacity, double fp_rate)
      : hasher_(seed), layout_(layout), blocks_(d.blocks), words_per_block_(d.words), k_(d.k),
        capacity_(capacity), fp_rate_(fp_rate) {
    if (layout == bloom_layout::split) {
      if (d.words != 4 && d.words != 8) throw std::invalid_argument("bloom_filter: words per block must be 4 or 8");
      if (d.k < d.words || d.k > max_hashes || d.k % d.words != 0) {
        throw std::invalid_argument("bloom_filter: hash count must be a multiple of the words per block, <= 48");
      }
    } else if (layout == bloom_layout::classic) {
      if (d.words != classic_block_bits / word_bits) throw std::invalid_argument("bloom_filter: classic blocks have 8 words");
      if (d.k < 1 || d.k > max_hashes) throw std::invalid_argument("bloom_filter: hash count must be in [1, 48]");
    } else {
      throw std::invalid_argument("bloom_filter: unknown layout");
    }
    if (d.blocks < 1 || d.blocks > max_words / d.words) throw std::invalid_argument("bloom_filter: bad block count");
    words_ = d.blocks * d.words;
    bits_ = bloom_words(words_);
  }

  /// A filter sized for `capacity` items at `fp_rate`.
  static bloom_filter with_capacity(std::uint64_t capacity, double fp_rate, std::uint64_t seed = 0) {
    return bloom_filter(dimensions_for(capacity, fp_rate), seed, capacity, fp_rate);
  }

  bloom_layout layout() const noexcept { return layout_; }
  std::uint64_t blocks() const noexcept { return blocks_; }
  std::uint32_t words_per_block() const noexcept { return words_per_block_; }
  std::uint64_t num_words() const noexcept { return words_; }
  std::uint64_t num_bits() const noexcept { return words_ * word_bits; }
  std::uint32_t num_hashes() const noexcept { return k_; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  double fp_rate() const noexcept { return fp_rate_; }
  std::uint64_t seed() const noexcept { return hasher_.seed(); }
  const item_hasher& hasher() const noexcept { return hasher_; }
  const std::uint64_t* words() const noexcept { return bits_.data(); }
  std::uint64_t* words() noexcept { return bits_.data(); }

  /// Expected false-positive rate of this filter's shape with n distinct items in.
  double expected_fpr_at(double n) const noexcept {
    return layout_ == bloom_layout::split ? expected_fpr(n, blocks_, k_, words_per_block_)
                                          : expected_fpr_classic(n, blocks_, k_);
  }

  std::size_t block_of(std::uint64_t h) const noexcept { return static_cast<std::size_t>(mulhi64(h, blocks_)); }

  /// Adds an item by hash; returns whether it was (probably) new: some of its bits were unset.
  bool add_hash(std::uint64_t h) noexcept {
    std::uint64_t* b = words() + block_of(h) * words_per_block_;
    if (layout_ == bloom_layout::split) {
      return words_per_block_ == 8 ? bloom_detail::split_add<8>(b, h, k_ / 8) : bloom_detail::split_add<4>(b, h, k_ / 4);
    }
    std::uint64_t missing = 0;
    classic_bits(h, [&](unsigned w, std::uint64_t bit) {
      missing |= bit & ~b[w];
      b[w] |= bit;
    });
    return missing != 0;
  }

  bool contains_hash(std::uint64_t h) const noexcept {
    const std::uint64_t* b = words() + block_of(h) * words_per_block_;
    if (layout_ == bloom_layout::split) {
      return words_per_block_ == 8 ? bloom_detail::split_contains<8>(b, h, k_ / 8)
                                   : bloom_detail::split_contains<4>(b, h, k_ / 4);
    }
    std::uint64_t missing = 0;
    classic_bits(h, [&](unsigned w, std::uint64_t bit) { missing |= bit & ~b[w]; });
    return missing == 0;
  }

  /// Items per thread below which a batch call starts no more threads.
  static constexpr std::size_t items_per_thread = std::size_t{1} << 16;

  /// Batch add of hashes; `was_new` (may be null) receives add_hash's results.
  void add_hashes(const std::uint64_t* h, std::size_t n, bool* was_new, int threads = 1) {
    add_items(n, [h](std::size_t i) noexcept { return h[i]; }, was_new, threads);
  }
  void contains_hashes(const std::uint64_t* h, std::size_t n, bool* out, int threads = 1) const {
    contains_items(n, [h](std::size_t i) noexcept { return h[i]; }, out, threads);
  }

  /// Batch add of n items whose hashes hash_at(i) gives (called a few dozen items ahead of the
  /// item's add, so hashing overlaps the memory accesses).
  ///
  /// threads (0: get_num_threads()): a batch of at least 2 * items_per_thread items is split
  /// by *block*: thread t owns the t-th contiguous range of blocks, reads the whole batch and
  /// adds, in batch order, the items whose block it owns. No two threads write one block, and
  /// each block sees its items in the order a one-thread run adds them, so the bits and
  /// `was_new` equal that run's exactly. hash_at is then called by several threads at once (and
  /// once per item by each): it must be a pure function of i.
  template <class HashAt>
  void add_items(std::size_t n, HashAt&& hash_at, bool* was_new, int threads = 1) {
    const std::size_t t = threads_for(n, items_per_thread, threads);
    if (t <= 1) {
      batch(n, hash_at, was_new, true);
      return;
    }
    parallel_for(
        t,
        [&](std::size_t first, std::size_t last) {
          for (std::size_t part = first; part < last; ++part) {
            add_block_range(n, hash_at, was_new, blocks_ * part / t, blocks_ * (part + 1) / t);
          }
        },
        static_cast<int>(t));
  }

  /// Batch membership; with threads (as for add_items) the batch is split in contiguous item
  /// ranges, one per thread.
  template <class HashAt>
  void contains_items(std::size_t n, HashAt&& hash_at, bool* out, int threads = 1) const {
    auto* self = const_cast<bloom_filter*>(this);  // a query never writes the bits
    const std::size_t t = threads_for(n, items_per_thread, threads);
    if (t <= 1) {
      self->batch(n, hash_at, out, false);
      return;
    }
    parallel_for(
        n,
        [&](std::size_t first, std::size_t last) {
          auto at = [&hash_at, first](std::size_t i) noexcept { return hash_at(first + i); };
          self->batch(last - first, at, out + first, false);
        },
        static_cast<int>(t));
  }

  /// Number of bits set.
  std::uint64_t bits_set() const noexcept {
    std::uint64_t c = 0;
    const std::uint64_t* w = words();
    for (std::uint64_t i = 0; i < words_; ++i) c += static_cast<std::uint64_t>(std::popcount(w[i]));
    return c;
  }

  /// Estimated number of distinct items added, from the bits set in each block (Swamidass &
  /// Baldi 2007, per block; in the split layout per word, averaged over the block's words).
  double estimate_count() const noexcept {
    // A unit is one word in the split layout (each item of its block sets r bits in it; the
    // block's estimate is the mean over its words) and one whole block in the classic layout.
    const bool split = layout_ == bloom_layout::split;
    const std::uint32_t unit_words = split ? 1 : words_per_block_;
    const std::uint64_t units = split ? words_ : blocks_;
    const double unit_bits = static_cast<double>(unit_words * word_bits);
    const double lq = std::log1p(-1.0 / unit_bits) * static_cast<double>(k_);  // split: r bits x words
    const std::uint64_t* w = words();
    double total = 0;
    for (std::uint64_t u = 0; u < units; ++u) {
      unsigned x = 0;
      for (std::uint32_t j = 0; j < unit_words; ++j) x += static_cast<unsigned>(std::popcount(w[u * unit_words + j]));
      if (x == 0) continue;
      const double frac_unset = x >= unit_bits ? 0.5 / unit_bits : 1.0 - static_cast<double>(x) / unit_bits;
      total += std::log(frac_unset) / lq;
    }
    return total;
  }

  bool compatible(const bloom_filter& o) const noexcept {
    return layout_ == o.layout_ && blocks_ == o.blocks_ && words_per_block_ == o.words_per_block_ && k_ == o.k_ &&
           seed() == o.seed();
  }

  void check_compatible(const bloom_filter& o, const char* op) const {
    if (!compatible(o)) {
      throw std::invalid_argument(std::string("cannot ") + op +
                                  " Bloom filters of different layout, size, hash count or seed (" + describe() +
                                  " and " + o.describe() + ")");
    }
  }

  void union_with(const bloom_filter& o) {
    check_compatible(o, "union");
    std::uint64_t* a = words();
    const std::uint64_t* b = o.words();
    for (std::uint64_t i = 0; i < words_; ++i) a[i] |= b[i];
  }

  /// Intersection of the bit arrays: contains every item both held (its false-positive rate can
  /// exceed that of a filter built from the common items alone).
  void intersect_with(const bloom_filter& o) {
    check_compatible(o, "intersect");
    std::uint64_t* a = words();
    const std::uint64_t* b = o.words();
    for (std::uint64_t i = 0; i < words_; ++i) a[i] &= b[i];
  }

  void clear() noexcept {
    std::uint64_t* a = words();
    for (std::uint64_t i = 0; i < words_; ++i) a[i] = 0;
  }

  bloom_filter copy() const {
    bloom_filter c(layout_, dims(), seed(), capacity_, fp_rate_);
    std::memcpy(c.bits_.data(), bits_.data(), bits_.size_bytes());
    return c;
  }

  bloom_dims dims() const noexcept { return {blocks_, words_per_block_, k_}; }

  bool operator==(const bloom_filter& o) const noexcept {
    return compatible(o) && std::memcmp(bits_.data(), o.bits_.data(), bits_.size_bytes()) == 0;
  }

  std::string describe() const {
    return std::string(layout_ == bloom_layout::split ? "split" : "classic") + " bits=" + std::to_string(num_bits()) +
           " hashes=" + std::to_string(k_) + " seed=" + std::to_string(seed());
  }

  /// Format 2: u64 blocks, u32 k, u64 seed, u64 capacity, f64 fp_rate, u8 layout, u8 words per
  /// block, then the words (little-endian u64). Format 1 (classic layout, 8 words per block)
  /// had no layout and words fields.
  std::vector<unsigned char> serialize() const {
    frame_writer w(magic, format_version);
    w.put<std::uint64_t>(blocks_).put<std::uint32_t>(k_).put<std::uint64_t>(seed());
    w.put<std::uint64_t>(capacity_).put<double>(fp_rate_);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(layout_)).put<std::uint8_t>(static_cast<std::uint8_t>(words_per_block_));
    w.put_array(words(), static_cast<std::size_t>(words_));
    return w.finish();
  }

  static bloom_filter deserialize(const void* data, std::size_t size) {
    frame_reader r(data, size, magic, 1, format_version, "BloomFilter");
    const auto blocks = r.get_size(1, max_words / 4, "blocks");
    const auto k = r.get<std::uint32_t>();
    if (k < 1 || k > max_hashes) r.fail("hash count " + std::to_string(k) + " out of range");
    const auto seed = r.get<std::uint64_t>();
    const auto capacity = r.get<std::uint64_t>();
    const double fp = r.get<double>();
    if (capacity < 1 || !(fp > 0 && fp < 1)) r.fail("bad capacity or fp_rate");
    auto layout = bloom_layout::classic;
    std::uint32_t wpb = classic_block_bits / word_bits;
    if (r.version() >= 2) {
      const auto l = r.get<std::uint8_t>();
      wpb = r.get<std::uint8_t>();
      if (l == static_cast<std::uint8_t>(bloom_layout::split)) {
        layout = bloom_layout::split;
        if ((wpb != 4 && wpb != 8) || k % wpb != 0) r.fail("bad split-layout shape");
      } else if (l == static_cast<std::uint8_t>(bloom_layout::classic)) {
        if (wpb != classic_block_bits / word_bits) r.fail("bad classic-layout shape");
      } else {
        r.fail("unknown layout " + std::to_string(l));
      }
    }
    if (blocks > max_words / wpb) r.fail("block count out of range");
    const std::uint64_t n_words = blocks * wpb;
    if (r.remaining() / 8 < n_words || r.remaining() != n_words * 8) r.fail("bit array size disagrees with the block count");
    bloom_filter f(layout, bloom_dims{blocks, wpb, k}, seed, capacity, fp);
    const unsigned char* p = r.get_bytes(static_cast<std::size_t>(n_words * 8));
    std::uint64_t* w = f.words();
    for (std::uint64_t i = 0; i < n_words; ++i) w[i] = detail::load_le<std::uint64_t>(p + i * 8);
    r.expect_end();
    return f;
  }

 private:
  static double poisson_fpr(double n, std::uint64_t blocks, double unit_bits, std::uint32_t per_unit,
                            std::uint32_t units) noexcept {
    if (n <= 0) return 0.0;
    const double lambda = n / static_cast<double>(blocks);
    const double q = std::log1p(-1.0 / unit_bits);  // ln(1 - 1/B)
    const double sd = std::sqrt(lambda);
    const auto lo = static_cast<std::int64_t>(std::max(0.0, std::floor(lambda - 12 * sd - 10)));
    const auto hi = static_cast<std::int64_t>(std::ceil(lambda + 12 * sd + 10));
    const double bits = static_cast<double>(per_unit) * static_cast<double>(units);
    double sum = 0;
    for (std::int64_t j = lo; j <= hi; ++j) {
      const double dj = static_cast<double>(j);
      const double logp = -lambda + dj * std::log(lambda) - std::lgamma(dj + 1.0);
      const double unset = std::exp(static_cast<double>(per_unit) * dj * q);
      sum += std::exp(logp) * std::pow(1.0 - unset, bits);
    }
    return sum;
  }

  /// Classic layout: calls fn(word, bit) for the k bits of a hash inside its 512-bit block:
  /// 9-bit fields, from the top, of (h ^ h >> 29) * an odd constant, re-mixed every 7 fields.
  template <class Fn>
  void classic_bits(std::uint64_t h, Fn&& fn) const noexcept {
    std::uint64_t g = (h ^ (h >> 29)) * hashing::mul_c;
    int left = 7;
    for (std::uint32_t i = 0; i < k_; ++i) {
      if (left == 0) {
        g = mix64(g ^ h ^ i);
        left = 7;
      }
      const auto pos = static_cast<unsigned>(g >> 55);
      g <<= 9;
      --left;
      fn(pos >> 6, std::uint64_t{1} << (pos & 63));
    }
  }

  /// One thread's share of a split add: the items of the batch whose block is in [lo, hi),
  /// in batch order, gathered a chunk at a time and run through the batch kernel.
  template <class HashAt>
  void add_block_range(std::size_t n, HashAt& hash_at, bool* was_new, std::uint64_t lo, std::uint64_t hi) noexcept {
    constexpr std::size_t chunk = 4096;
    std::uint64_t hs[chunk];
    std::uint32_t at_index[chunk];
    bool fresh[chunk];
    auto picked = [&hs](std::size_t j) noexcept { return hs[j]; };
    for (std::size_t from = 0; from < n; from += chunk) {
      const std::size_t m = std::min(chunk, n - from);
      std::size_t k = 0;
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint64_t h = hash_at(from + i);
        const std::uint64_t b = mulhi64(h, blocks_);
        hs[k] = h;
        at_index[k] = static_cast<std::uint32_t>(i);
        k += static_cast<std::size_t>((b >= lo) & (b < hi));  // keep it: no branch to mispredict
      }
      batch(k, picked, was_new != nullptr ? fresh : nullptr, true);
      if (was_new != nullptr) {
        for (std::size_t j = 0; j < k; ++j) was_new[from + at_index[j]] = fresh[j];
      }
    }
  }

  template <class HashAt>
  void batch(std::size_t n, HashAt& hash_at, bool* out, bool add) noexcept {
    std::uint64_t* base = words();
    if (layout_ == bloom_layout::classic) {
      bloom_detail::hash_ring<HashAt> ring(hash_at);
      for (std::size_t i = 0; i < n && i < bloom_detail::bloom_ahead; ++i) prefetch(base + block_of(ring.fetch(i)) * 8);
      for (std::size_t i = 0; i < n; ++i) {
        if (i + bloom_detail::bloom_ahead < n) prefetch(base + block_of(ring.fetch(i + bloom_detail::bloom_ahead)) * 8);
        if (add) {
          const bool fresh = add_hash(ring[i]);
          if (out != nullptr) out[i] = fresh;
        } else {
          out[i] = contains_hash(ring[i]);
        }
      }
      return;
    }
    const std::uint32_t r = k_ / words_per_block_;
#if defined(NT_SKETCH_AVX2)
    if (sketch_use_avx2()) {
      if (words_per_block_ == 8) bloom_detail::split_batch_avx2<8>(base, blocks_, r, hash_at, n, out, add);
      else bloom_detail::split_batch_avx2<4>(base, blocks_, r, hash_at, n, out, add);
      return;
    }
#endif
    if (words_per_block_ == 8) bloom_detail::split_batch_scalar<8>(base, blocks_, r, hash_at, n, out, add);
    else bloom_detail::split_batch_scalar<4>(base, blocks_, r, hash_at, n, out, add);
  }

  item_hasher hasher_;
  bloom_layout layout_;
  std::uint64_t blocks_;
  std::uint32_t words_per_block_;
  std::uint32_t k_;
  std::uint64_t capacity_;
  double fp_rate_;
  std::uint64_t words_ = 0;
  bloom_words bits_;
};

}  // namespace neural_trader::sketch
