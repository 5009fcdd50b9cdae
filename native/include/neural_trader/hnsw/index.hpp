/// @file index.hpp
/// @brief A hierarchical navigable small world (HNSW) graph index over float32 vectors, after
/// Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
/// Hierarchical Navigable Small World graphs" (IEEE TPAMI 2018).
///
/// Algorithm: every point draws a level l = floor(-ln(U) * mL) with mL = 1/ln(M); on each level
/// up to its own it is linked to neighbours chosen by the paper's heuristic (Algorithm 4 without
/// candidate extension: a candidate is kept only when it is closer to the new point than to any
/// neighbour already kept), at most M links per point on the upper levels and 2M on level 0; a
/// neighbour whose list overflows is pruned with the same heuristic. A search descends greedily
/// from the entry point to level 1 and runs a best-first search with a dynamic list of `ef`
/// candidates on level 0 (Algorithm 2).
///
/// Storage: per slot, a level-0 record [seqlock u32 | link count u32 | 2M links u32 | vector],
/// a label, a level, flags, the upper-level link lists and the int64 label columns. Slots live in
/// chunks whose sizes double (base, base, 2 base, 4 base, ...); a chunk, once published, never
/// moves and is freed only by the destructor, so a reader holding a slot's address can never see
/// it freed by growth. Slots of deleted points are reused by later adds.
///
/// Thread safety (the contract the Python class documents):
/// - Any number of threads may search at once; searches take no exclusive lock and never write
///   shared memory except the per-thread scratch they borrow.
/// - Searches may run while ONE add() call inserts (add() is itself multi-threaded): link lists
///   are guarded by per-slot seqlocks (writers take the slot's lock by making its sequence number
///   odd and store links with release; readers copy the list with acquire loads and retry when
///   the sequence number moved), new slots become reachable only after their data is
///   written (release/acquire through the link lists, the entry point and the ready flag), and
///   growth publishes new chunks without moving old ones.
/// - Overwriting a deleted slot's vector (slot reuse) takes a reader-writer lock exclusively for
///   the few microseconds of the overwrite; each search call holds it shared, so a reuse waits
///   for the search calls in flight and searches are never blocked by appends.
/// - add(), mark_deleted(), unmark_deleted(), reserve() and serialize() exclude one another
///   (one writer lock); concurrent calls queue up.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../common/backoff.hpp"
#include "../common/checked.hpp"
#include "../common/config.hpp"
#include "../common/huge_page_allocator.hpp"
#include "../common/errors.hpp"
#include "../common/serialize.hpp"
#include "../common/threads.hpp"
#include "distance.hpp"
#include "filter.hpp"

namespace neural_trader::hnsw {

/// Construction parameters.
struct params {
  std::size_t dim = 0;                 ///< vector length, >= 1
  hnsw::metric metric = metric::l2;    ///< distance
  std::size_t M = 16;                  ///< links per point on the upper levels (2M on level 0)
  std::size_t ef_construction = 200;   ///< candidate list size while inserting
  std::size_t ef = 64;                 ///< default candidate list size of searches (saved with the index)
  std::size_t capacity = 1024;         ///< initial slots (the index grows past it on its own)
  std::uint64_t seed = 100;            ///< seeds the level draws
  std::vector<std::string> label_names;  ///< names of the int64 label columns (may be empty)
};

/// What one search call did.
struct search_stats {
  bool filtered = false;       ///< a filter was given
  bool exact = false;          ///< the allowed points were scanned exactly (no graph walk)
  bool subgraph = false;       ///< the walk used the allowed points' links, collected once for the call
  std::size_t exact_fallbacks = 0;  ///< filtered walks that came up short, answered by an exact scan
  std::size_t subgraph_walks = 0;   ///< queries whose walk used the collected links (no entry point among them: 0)
  std::size_t allowed = 0;     ///< points the filter allowed (live points when unfiltered)
  std::uint64_t distances = 0; ///< distance evaluations, all queries together
};

/// Filter to build inside the search call (under the same read lock as the search, so a slot
/// reused meanwhile can never pass a filter built for its previous point).
struct filter_spec {
  enum class kind { none, ids, mask, where } type = kind::none;
  const std::int64_t* ids = nullptr;
  const std::uint8_t* mask = nullptr;
  std::size_t n = 0;
  const std::vector<condition>* conds = nullptr;
};

/// How a search call chooses between the graph walk and an exact scan of the allowed points.
struct exact_policy {
  int force = -1;                   ///< -1: automatic, 0: always the graph, 1: always exact
  double below_fraction = 0.02;     ///< exact when allowed < fraction * live points ...
  std::size_t below_count = 0;      ///< ... or allowed <= max(this, ef)
};

namespace detail {

using cand = std::pair<float, std::uint32_t>;
struct far_first {  // max-heap on distance (worst on top)
  bool operator()(const cand& a, const cand& b) const noexcept { return a.first < b.first; }
};
struct near_first {  // min-heap on distance (best on top)
  bool operator()(const cand& a, const cand& b) const noexcept { return a.first > b.first; }
};

inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Epoch-tagged visited set: clearing is one increment.
class visited_list {
 public:
  void reset(std::size_t n) {
    if (tags_.size() < n) {
      tags_.assign(n, 0);
      epoch_ = 0;
    }
    if (++epoch_ == 0) {
      std::fill(tags_.begin(), tags_.end(), 0);
      epoch_ = 1;
    }
  }
  std::size_t size() const noexcept { return tags_.size(); }
  /// Marks i; true when it was marked already.
  bool test_and_set(std::uint32_t i) noexcept {
    if (tags_[i] == epoch_) return true;
    tags_[i] = epoch_;
    return false;
  }

 private:
  std::vector<std::uint16_t> tags_;
  std::uint16_t epoch_ = 0;
};

/// A shared mutex that lets a waiting writer in: a reader arriving while a writer waits steps
/// aside until the writer is done. (glibc's rwlock prefers readers, so overlapping searches from
/// several threads could otherwise keep an add that reuses a deleted slot waiting for ever.) Not
/// recursive for readers: a thread holding the shared lock must not take it again.
class writer_first_mutex {
 public:
  void lock() {
    waiting_.fetch_add(1, std::memory_order_acq_rel);
    m_.lock();
    waiting_.fetch_sub(1, std::memory_order_acq_rel);
  }
  void unlock() { m_.unlock(); }
  void lock_shared() {
    backoff wait;
    while (waiting_.load(std::memory_order_acquire) != 0) wait.wait();
    m_.lock_shared();
  }
  void unlock_shared() { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
  std::atomic<int> waiting_{0};
};

/// Per-thread scratch of one search or insertion.
struct scratch {
  visited_list visited;
  std::vector<cand> top, candidates, sorted;
  std::vector<std::uint32_t> links, links2, evaluate;
  std::vector<const float*> ptrs;
  std::uint64_t distances = 0;
};

/// Adds (d, id) to a walk's candidates and to its result heap, trimmed to the ef nearest; returns
/// the farthest distance kept (the walk's new bound).
inline float push_candidate(std::vector<cand>& candidates, std::vector<cand>& top, std::size_t ef, float d,
                            std::uint32_t id) {
  candidates.emplace_back(d, id);
  std::push_heap(candidates.begin(), candidates.end(), near_first{});
  top.emplace_back(d, id);
  std::push_heap(top.begin(), top.end(), far_first{});
  if (top.size() > ef) {
    std::pop_heap(top.begin(), top.end(), far_first{});
    top.pop_back();
  }
  return top.front().first;
}

/// Set bits of x. Inline bit arithmetic: std::popcount is a library call in a baseline x86-64
/// build (no POPCNT), which showed in the collection of the allowed points' links.
inline std::uint32_t popcount64(std::uint64_t x) noexcept {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<std::uint32_t>((x * 0x0101010101010101ull) >> 56);
}

/// The allowed points of one filtered search call and their links, collected once for all the
/// call's queries (index::build_allowed_graph). Points are numbered 0..n-1 in slot order;
/// row i of `adj` holds up to `width` neighbours of point i, `deg[i]` of them used.
struct allowed_graph {
  std::vector<std::uint32_t> slot;  ///< point -> slot
  std::vector<std::uint32_t> rank;  ///< allowed slots before each 64-bit word of the filter
  std::vector<std::uint32_t> adj;   ///< n * width
  std::vector<std::uint32_t> deg;   ///< n
  std::size_t width = 0;

  /// The point number of an allowed slot s.
  std::uint32_t point_of(const slot_filter& f, std::uint32_t s) const noexcept {
    const std::size_t w = s >> 6;
    const std::uint64_t below = f.bits[w] & ((std::uint64_t{1} << (s & 63)) - 1);
    return rank[w] + popcount64(below);
  }
};

}  // namespace detail

class index {
 public:
  static constexpr std::uint32_t format_magic = make_magic('N', 'T', 'H', 'N');
  static constexpr std::uint16_t format_version = 1;
  static constexpr std::size_t max_dim = 1u << 16;
  static constexpr std::size_t max_M = 1024;
  static constexpr std::size_t max_label_columns = 64;
  static constexpr int max_level = 63;

  explicit index(params p, const kernel_table& k = scalar_kernels()) : p_(std::move(p)), k_(&k) {
    if (p_.dim < 1 || p_.dim > max_dim) {
      throw std::invalid_argument("dim must be in [1, " + std::to_string(max_dim) + "], got " + std::to_string(p_.dim));
    }
    if (p_.M < 2 || p_.M > max_M) {
      throw std::invalid_argument("M must be in [2, " + std::to_string(max_M) + "], got " + std::to_string(p_.M));
    }
    if (p_.ef_construction < 1) throw std::invalid_argument("ef_construction must be >= 1");
    if (p_.ef < 1) throw std::invalid_argument("ef must be >= 1");
    ef_.store(p_.ef, std::memory_order_relaxed);
    if (p_.label_names.size() > max_label_columns) {
      throw std::invalid_argument("at most " + std::to_string(max_label_columns) + " label columns");
    }
    l2_ = p_.metric == metric::l2;
    dfn_ = l2_ ? k_->l2sq : k_->dot;
    M0_ = 2 * p_.M;
    two_hop_lists_.store(M0_, std::memory_order_relaxed);
    two_hop_eval_.store(M0_, std::memory_order_relaxed);
    mult_ = 1.0 / std::log(static_cast<double>(p_.M));
    rec_bytes_ = (2 + M0_) * sizeof(std::uint32_t) + p_.dim * sizeof(float);
    upper_words_ = 1 + p_.M;
    vec_bytes_ = p_.dim * sizeof(float);
    link0_bytes_ = (2 + M0_) * sizeof(std::uint32_t);
    std::size_t base = 64;
    while (base < p_.capacity && base < (std::size_t{1} << 30)) base <<= 1;
    base_shift_ = static_cast<unsigned>(std::countr_zero(base));
    for (auto& c : chunks_) c.store(nullptr, std::memory_order_relaxed);
  }

  index(const index&) = delete;
  index& operator=(const index&) = delete;

  ~index() {
    const std::size_t n = n_slots_.load(std::memory_order_relaxed);
    for (std::size_t s = 0; s < n; ++s) delete[] slot_ref(static_cast<std::uint32_t>(s)).ch->upper[offset(static_cast<std::uint32_t>(s))];
    for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
  }

  // ------------------------------------------------------------------------------------------
  // properties

  std::size_t dim() const noexcept { return p_.dim; }
  hnsw::metric metric() const noexcept { return p_.metric; }
  std::size_t M() const noexcept { return p_.M; }
  std::size_t ef_construction() const noexcept { return p_.ef_construction; }
  /// Whether a selective filter's search collects the allowed points' links once for all
  /// its queries: -1 when enough queries pay for it (the default), 0 never, 1 always (testing).
  void set_subgraph(int mode) {
    if (mode < -1 || mode > 1) throw std::invalid_argument("subgraph mode must be -1, 0 or 1");
    subgraph_mode_.store(mode, std::memory_order_relaxed);
  }
  /// Tuning of the two-hop filtered walk: rejected neighbours whose lists are read per step, and
  /// the most allowed points evaluated per step.
  void set_two_hop(std::size_t lists, std::size_t evaluations) {
    two_hop_lists_.store(std::clamp<std::size_t>(lists, 1, M0_), std::memory_order_relaxed);
    two_hop_eval_.store(std::clamp<std::size_t>(evaluations, 1, M0_ * (M0_ + 1)), std::memory_order_relaxed);
  }

  /// Default ef of searches (stored with the index).
  std::size_t ef() const noexcept { return ef_.load(std::memory_order_relaxed); }
  void set_ef(std::size_t ef) {
    if (ef < 1) throw std::invalid_argument("ef must be >= 1");
    ef_.store(ef, std::memory_order_relaxed);
  }
  std::uint64_t seed() const noexcept { return p_.seed; }
  const std::vector<std::string>& label_names() const noexcept { return p_.label_names; }
  std::size_t n_label_columns() const noexcept { return p_.label_names.size(); }
  const kernel_table& kernels() const noexcept { return *k_; }
  /// Live (not deleted) points.
  std::size_t size() const noexcept { return live_.load(std::memory_order_acquire); }
  /// Slots in use, deleted ones included.
  std::size_t slots() const noexcept { return n_slots_.load(std::memory_order_acquire); }
  /// Slots allocated (the index grows past this on its own).
  std::size_t capacity() const noexcept { return allocated_.load(std::memory_order_acquire); }
  /// Deleted slots waiting for reuse.
  std::size_t deleted_count() const {
    std::lock_guard<std::mutex> lock(map_mutex_);
    return n_deleted_;
  }
  /// Highest level of the graph (-1 when empty).
  int top_level() const noexcept {
    const auto e = entry_.load(std::memory_order_acquire);
    return e == 0 ? -1 : static_cast<int>(e >> 32) - 1;
  }
  /// Bytes held by the graph and the vectors (chunks, upper links, label map estimate).
  std::size_t memory_bytes() const {
    std::size_t total = 0;
    for (std::size_t k = 0; k < max_chunks; ++k) {
      if (auto* c = chunks_[k].load(std::memory_order_acquire)) total += c->bytes;
    }
    const std::size_t n = slots();
    for (std::size_t s = 0; s < n; ++s) {
      total += level_of(static_cast<std::uint32_t>(s)) * upper_words_ * sizeof(std::uint32_t);
    }
    std::lock_guard<std::mutex> lock(map_mutex_);
    total += map_.size() * (sizeof(std::int64_t) + sizeof(std::uint32_t) + 2 * sizeof(void*)) +
             map_.bucket_count() * sizeof(void*);
    return total;
  }

  // ------------------------------------------------------------------------------------------
  // writing

  /// Makes room for `n` slots in total (the index also grows on its own).
  void reserve(std::size_t n) {
    std::lock_guard<std::mutex> w(write_mutex_);
    ensure_allocated(n);
  }

  /// Adds n points: vectors [n, dim], labels [n] (unique, not live in the index), label columns
  /// [n, n_label_columns] (or nullptr when the index has none). Checks everything first and
  /// leaves the index unchanged when anything is wrong. Slots of deleted points are reused when
  /// `reuse_deleted`. Runs on up to `threads` threads (0: the process-wide cap).
  void add(const float* vectors, const std::int64_t* labels, const std::int64_t* columns, std::size_t n,
           int threads = 0, bool reuse_deleted = true) {
    if (n == 0) return;
    if (vectors == nullptr || labels == nullptr) throw std::invalid_argument("add: null input");
    if (n_label_columns() > 0 && columns == nullptr) {
      throw std::invalid_argument("add: this index needs " + std::to_string(n_label_columns()) + " label columns per point");
    }
    std::lock_guard<std::mutex> w(write_mutex_);
    check_add(vectors, labels, n);
    add_checked(vectors, labels, columns, n, threads, reuse_deleted);
  }

  /// The checks add() makes before it changes anything: finite vectors, ids unique within the
  /// batch and not live in the index. Throws std::invalid_argument naming the first problem.
  void check_add(const float* vectors, const std::int64_t* labels, std::size_t n) const {
    for (std::size_t i = 0; i < n * p_.dim; ++i) {
      if (!std::isfinite(vectors[i])) {
        throw std::invalid_argument("add: vector " + std::to_string(i / p_.dim) + " holds a NaN or infinity");
      }
    }
    {
      std::vector<std::int64_t> sorted(labels, labels + n);
      std::sort(sorted.begin(), sorted.end());
      const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
      if (dup != sorted.end()) throw std::invalid_argument("add: id " + std::to_string(*dup) + " appears twice in the batch");
      std::lock_guard<std::mutex> lock(map_mutex_);
      for (std::size_t i = 0; i < n; ++i) {
        auto it = map_.find(labels[i]);
        if (it != map_.end() && !is_deleted(it->second)) {
          throw std::invalid_argument("add: id " + std::to_string(labels[i]) + " is already in the index");
        }
      }
    }
  }

 private:
  void add_checked(const float* vectors, const std::int64_t* labels, const std::int64_t* columns, std::size_t n,
                   int threads, bool reuse_deleted) {
    // plan the slots: reused ones first, then new ones; allocate and initialise new slots
    std::vector<std::uint32_t> slot(n);
    std::vector<std::uint8_t> reused(n, 0);
    std::size_t next = n_slots_.load(std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(map_mutex_);
      const std::uint32_t entry_slot = entry_node();
      std::size_t i = 0;
      std::uint32_t kept_entry = std::numeric_limits<std::uint32_t>::max();
      while (i < n && reuse_deleted && !free_.empty()) {
        const std::uint32_t s = free_.back();
        free_.pop_back();
        flags(s).fetch_and(static_cast<std::uint8_t>(~flag_free), std::memory_order_relaxed);
        if (!is_deleted(s)) continue;  // undeleted meanwhile
        if (s == entry_slot) {         // the entry point keeps its slot (reused later, if ever)
          kept_entry = s;
          continue;
        }
        slot[i] = s;
        reused[i] = 1;
        ++i;
      }
      if (kept_entry != std::numeric_limits<std::uint32_t>::max()) push_free(kept_entry);
      const std::size_t need = next + (n - i);
      if (need > std::numeric_limits<std::uint32_t>::max() - 1) throw std::length_error("add: index full (2^32 - 2 slots)");
      try {
        ensure_allocated(need);
      } catch (...) {
        for (std::size_t j = 0; j < i; ++j) push_free(slot[j]);
        throw;
      }
      for (; i < n; ++i) slot[i] = static_cast<std::uint32_t>(next++);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!reused[i]) init_slot(slot[i], draw_level());
    }
    // 3. map the labels (a reused slot's old label goes; a re-added deleted label moves)
    {
      std::lock_guard<std::mutex> lock(map_mutex_);
      for (std::size_t i = 0; i < n; ++i) {
        if (reused[i]) {
          const std::int64_t old = label_at(slot[i]);
          auto it = map_.find(old);
          if (it != map_.end() && it->second == slot[i]) map_.erase(it);
          --n_deleted_;
        }
        auto it = map_.find(labels[i]);
        if (it != map_.end()) {  // a deleted point with this label: it stays deleted, unlabelled
          it->second = slot[i];
        } else {
          map_.emplace(labels[i], slot[i]);
        }
      }
    }
    n_slots_.store(next, std::memory_order_release);
    // 4. write and link, in parallel
    const std::size_t nc = n_label_columns();
    parallel_for(
        n,
        [&](std::size_t b, std::size_t e) {
          detail::scratch sc;
          for (std::size_t i = b; i < e; ++i) {
            insert(slot[i], vectors + i * p_.dim, labels[i], nc ? columns + i * nc : nullptr, reused[i] != 0, sc);
          }
        },
        threads);
    std::lock_guard<std::mutex> lock(map_mutex_);
    if (n_deleted_ == 0) ever_deleted_.store(false, std::memory_order_release);  // every deleted slot was reused
  }

 public:
  /// Marks points deleted: they are never returned again and their slots are reused by later
  /// adds. All ids must be live; otherwise nothing changes.
  void mark_deleted(const std::int64_t* labels, std::size_t n) {
    std::lock_guard<std::mutex> w(write_mutex_);
    std::lock_guard<std::mutex> lock(map_mutex_);
    std::vector<std::uint32_t> s(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto it = map_.find(labels[i]);
      if (it == map_.end() || is_deleted(it->second)) {
        throw std::invalid_argument("mark_deleted: id " + std::to_string(labels[i]) + " is not in the index");
      }
      s[i] = it->second;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (is_deleted(s[i])) continue;  // the same id twice in the batch
      ever_deleted_.store(true, std::memory_order_release);
      flags(s[i]).fetch_or(flag_deleted, std::memory_order_release);
      push_free(s[i]);
      ++n_deleted_;
      live_.fetch_sub(1, std::memory_order_release);
    }
  }

  /// Brings deleted points back, if their slots were not reused. Otherwise nothing changes.
  void unmark_deleted(const std::int64_t* labels, std::size_t n) {
    std::lock_guard<std::mutex> w(write_mutex_);
    std::lock_guard<std::mutex> lock(map_mutex_);
    std::vector<std::uint32_t> s(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto it = map_.find(labels[i]);
      if (it == map_.end() || !is_deleted(it->second) || label_at(it->second) != labels[i]) {
        throw std::invalid_argument("unmark_deleted: id " + std::to_string(labels[i]) +
                                    " is not a deleted point of the index (or its slot was reused)");
      }
      s[i] = it->second;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!is_deleted(s[i])) continue;
      flags(s[i]).fetch_and(static_cast<std::uint8_t>(~flag_deleted), std::memory_order_release);
      --n_deleted_;  // its entry in free_ is skipped when popped
      live_.fetch_add(1, std::memory_order_release);
    }
  }

  // ------------------------------------------------------------------------------------------
  // reading

  /// Whether `label` is a live point.
  bool contains(std::int64_t label) const {
    std::lock_guard<std::mutex> lock(map_mutex_);
    auto it = map_.find(label);
    return it != map_.end() && !is_deleted(it->second);
  }

  /// Copies the stored vectors of live points (normalised ones for cosine) into out [n, dim].
  void get_vectors(const std::int64_t* labels, std::size_t n, float* out) const {
    std::shared_lock<detail::writer_first_mutex> read(data_mutex_);
    std::vector<std::uint32_t> s(n);
    {
      std::lock_guard<std::mutex> lock(map_mutex_);
      for (std::size_t i = 0; i < n; ++i) {
        auto it = map_.find(labels[i]);
        if (it == map_.end() || is_deleted(it->second)) {
          throw std::invalid_argument("get_vectors: id " + std::to_string(labels[i]) + " is not in the index");
        }
        s[i] = it->second;
      }
    }
    for (std::size_t i = 0; i < n; ++i) std::memcpy(out + i * p_.dim, vec(s[i]), p_.dim * sizeof(float));
  }

  /// The ids of all live points, in slot order; with `columns` also their label columns.
  std::vector<std::int64_t> ids(std::vector<std::int64_t>* columns = nullptr) const {
    std::shared_lock<detail::writer_first_mutex> read(data_mutex_);
    std::vector<std::int64_t> out;
    const std::size_t n = slots();
    const std::size_t nc = n_label_columns();
    for (std::size_t s = 0; s < n; ++s) {
      const auto u = static_cast<std::uint32_t>(s);
      if (!is_ready(u) || is_deleted(u)) continue;
      out.push_back(label_at(u));
      if (columns) columns->insert(columns->end(), meta_at(u), meta_at(u) + nc);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // filters

  /// Allowed: live points whose id is in labels[0, n).
  slot_filter filter_ids(const std::int64_t* labels, std::size_t n) const {
    slot_filter f(slots());
    std::lock_guard<std::mutex> lock(map_mutex_);
    for (std::size_t i = 0; i < n; ++i) {
      auto it = map_.find(labels[i]);
      if (it != map_.end() && it->second < f.bits.size() * 64 && is_ready(it->second) && !is_deleted(it->second)) {
        f.set(it->second);
      }
    }
    return f;
  }

  /// Allowed: live points with id in [0, n) and mask[id] != 0.
  slot_filter filter_mask(const std::uint8_t* mask, std::size_t n) const {
    const std::size_t ns = slots();
    slot_filter f(ns);
    for (std::size_t s = 0; s < ns; ++s) {
      const auto u = static_cast<std::uint32_t>(s);
      if (!is_ready(u) || is_deleted(u)) continue;
      const std::int64_t l = label_at(u);
      if (l >= 0 && static_cast<std::uint64_t>(l) < n && mask[l]) f.set(u);
    }
    return f;
  }

  /// Allowed: live points whose label columns satisfy every condition.
  slot_filter filter_where(const std::vector<condition>& conds) const {
    for (const auto& c : conds) {
      if (c.column >= n_label_columns()) throw std::invalid_argument("filter: label column out of range");
    }
    const std::size_t ns = slots();
    slot_filter f(ns);
    for (std::size_t s = 0; s < ns; ++s) {
      const auto u = static_cast<std::uint32_t>(s);
      if (!is_ready(u) || is_deleted(u)) continue;
      if (all_hold(conds, meta_at(u))) f.set(u);
    }
    return f;
  }

  // ------------------------------------------------------------------------------------------
  // search

  /// k nearest live (and allowed) neighbours of each of nq queries [nq, dim]; writes ids [nq, k]
  /// and distances [nq, k], nearest first, padded with -1 / +inf. ef < k is raised to k.
  search_stats search(const float* queries, std::size_t nq, std::size_t k, std::size_t ef, std::int64_t* out_ids,
                      float* out_dist, const filter_spec& fs = {}, int threads = 0, exact_policy policy = {}) const {
    if (k == 0) throw std::invalid_argument("search: k must be >= 1");
    search_stats st;
    std::shared_lock<detail::writer_first_mutex> read(data_mutex_);  // no slot is overwritten meanwhile
    slot_filter f;
    const slot_filter* fp = nullptr;
    st.allowed = size();
    switch (fs.type) {
      case filter_spec::kind::ids: f = filter_ids(fs.ids, fs.n); fp = &f; break;
      case filter_spec::kind::mask: f = filter_mask(fs.mask, fs.n); fp = &f; break;
      case filter_spec::kind::where: f = filter_where(*fs.conds); fp = &f; break;
      default: break;
    }
    const std::size_t efk = std::max(ef, k);
    if (fp) {
      st.filtered = true;
      st.allowed = fp->count;
      const double live = static_cast<double>(size());
      st.exact = policy.force == 1 ||
                 (policy.force == -1 && (static_cast<double>(fp->count) < policy.below_fraction * live ||
                                         fp->count <= std::max(policy.below_count, efk)));
    } else {
      st.exact = policy.force == 1;
    }
    std::vector<std::uint32_t> scan;  // the exact path's points, listed once for all queries
    const auto list_allowed = [&] { scan = fp->slots(); };
    if (st.exact) {
      const std::size_t n = slots();
      if (fp) {
        list_allowed();
      } else {
        for (std::size_t si = 0; si < n; ++si) {
          if (is_ready(static_cast<std::uint32_t>(si)) && !is_deleted(static_cast<std::uint32_t>(si))) {
            scan.push_back(static_cast<std::uint32_t>(si));
          }
        }
      }
    }
    // Selective filter, enough queries: collect the allowed points' links once for all of them
    // (about 1 us per allowed point, measured on 100,000 x 128, plus a few ns per slot; it saves
    // each query's walk its reads of the rejected points' lists, about 2.5 us per unit of ef).
    detail::allowed_graph graph;
    const detail::allowed_graph* gp = nullptr;
    if (fp && !st.exact && two_hop(*fp)) {
      const int mode = subgraph_mode_.load(std::memory_order_relaxed);
      if (mode == 1 || (mode == -1 && static_cast<double>(nq) * static_cast<double>(efk) * 64.0 >=
                                          static_cast<double>(slots()) / 8.0 + 26.0 * static_cast<double>(fp->count))) {
        graph = build_allowed_graph(*fp, M0_ + M0_ / 4, threads);
        gp = &graph;
        st.subgraph = true;
      }
    }
    // A filtered walk that comes up short (it found fewer than k allowed points while the filter
    // allows more: the allowed points it could reach form a small island) is answered by an
    // exact scan of the allowed points instead.
    const std::size_t want = fp ? std::min(k, fp->count) : 0;
    std::once_flag listed;
    std::atomic<std::size_t> fallbacks{0}, collected_walks{0};
    std::atomic<std::uint64_t> dist_count{0};
    parallel_for(
        nq,
        [&](std::size_t b, std::size_t e) {
          auto sc = borrow_scratch();
          for (std::size_t i = b; i < e; ++i) {
            std::vector<float> qbuf;
            const float* q = prepare_query(queries + i * p_.dim, qbuf);
            if (st.exact) {
              exact_one(q, k, scan, out_ids + i * k, out_dist + i * k, *sc);
            } else {
              if (search_one(q, k, efk, fp, out_ids + i * k, out_dist + i * k, *sc, gp)) {
                collected_walks.fetch_add(1, std::memory_order_relaxed);
              }
              if (want > 0 && out_ids[i * k + want - 1] == -1) {
                std::call_once(listed, list_allowed);
                exact_one(q, k, scan, out_ids + i * k, out_dist + i * k, *sc);
                fallbacks.fetch_add(1, std::memory_order_relaxed);
              }
            }
          }
          dist_count.fetch_add(sc->distances, std::memory_order_relaxed);
          sc->distances = 0;
          return_scratch(std::move(sc));
        },
        threads);
    st.distances = dist_count.load();
    st.exact_fallbacks = fallbacks.load();
    st.subgraph_walks = collected_walks.load();
    return st;
  }

  // ------------------------------------------------------------------------------------------
  // persistence

  /// The index as one checksummed frame (see common/serialize.hpp). Waits for a running add.
  std::vector<unsigned char> serialize() const {
    std::lock_guard<std::mutex> w(write_mutex_);
    std::shared_lock<detail::writer_first_mutex> read(data_mutex_);
    frame_writer fw(format_magic, format_version);
    fw.put<std::uint32_t>(static_cast<std::uint32_t>(p_.dim));
    fw.put<std::uint8_t>(static_cast<std::uint8_t>(p_.metric));
    fw.put<std::uint32_t>(static_cast<std::uint32_t>(p_.M));
    fw.put<std::uint32_t>(static_cast<std::uint32_t>(std::min<std::size_t>(p_.ef_construction, 0xFFFFFFFFu)));
    fw.put<std::uint32_t>(static_cast<std::uint32_t>(std::min<std::size_t>(ef(), 0xFFFFFFFFu)));
    fw.put<std::uint64_t>(p_.seed);
    fw.put<std::uint64_t>(level_draws_);
    fw.put<std::uint32_t>(static_cast<std::uint32_t>(p_.label_names.size()));
    for (const auto& s : p_.label_names) fw.put_string(s);
    const std::size_t n = slots();
    fw.put<std::uint64_t>(n);
    const auto e = entry_.load(std::memory_order_acquire);
    fw.put<std::int64_t>(e == 0 ? -1 : static_cast<std::int64_t>(e & 0xFFFFFFFFu));
    fw.put<std::int32_t>(top_level());
    const std::size_t nc = n_label_columns();
    std::vector<std::uint32_t> buf;
    for (std::size_t si = 0; si < n; ++si) {
      const auto s = static_cast<std::uint32_t>(si);
      const int lvl = level_of(s);
      fw.put<std::int64_t>(label_at(s));
      fw.put<std::uint8_t>(static_cast<std::uint8_t>(lvl));
      fw.put<std::uint8_t>(is_deleted(s) ? 1 : 0);
      fw.put_array(vec(s), p_.dim);
      fw.put_array(meta_at(s), nc);
      for (int l = 0; l <= lvl; ++l) {
        buf.resize(l == 0 ? M0_ : p_.M);
        const std::size_t c = read_links(s, l, buf.data());
        fw.put<std::uint32_t>(static_cast<std::uint32_t>(c));
        fw.put_array(buf.data(), c);
      }
    }
    return fw.finish();
  }

  /// Rebuilds an index from serialize()'s bytes; every field and link is validated first
  /// (corrupt_data_error otherwise) and nothing larger than the input allows is allocated.
  static std::unique_ptr<index> deserialize(const void* data, std::size_t size, const kernel_table& k = scalar_kernels()) {
    frame_reader r(data, size, format_magic, 1, format_version, "HNSW index");
    params p;
    p.dim = r.get<std::uint32_t>();
    if (p.dim < 1 || p.dim > max_dim) r.fail("dim " + std::to_string(p.dim) + " out of range");
    const auto m = r.get<std::uint8_t>();
    if (m > 2) r.fail("unknown metric code " + std::to_string(m));
    p.metric = static_cast<hnsw::metric>(m);
    p.M = r.get<std::uint32_t>();
    if (p.M < 2 || p.M > max_M) r.fail("M " + std::to_string(p.M) + " out of range");
    p.ef_construction = r.get<std::uint32_t>();
    if (p.ef_construction < 1) r.fail("ef_construction 0");
    p.ef = r.get<std::uint32_t>();
    if (p.ef < 1) r.fail("ef 0");
    p.seed = r.get<std::uint64_t>();
    const auto draws = r.get<std::uint64_t>();
    const auto ncols = r.get<std::uint32_t>();
    if (ncols > max_label_columns) r.fail("too many label columns");
    for (std::uint32_t i = 0; i < ncols; ++i) p.label_names.push_back(r.get_string(1024));
    const std::size_t nc = ncols;
    // every slot takes at least label + level + flags + vector + columns + one link count
    const std::uint64_t min_slot = 8 + 1 + 1 + 4 * p.dim + 8 * nc + 4;
    const auto n = r.get_size(0, std::min<std::uint64_t>(r.remaining() / min_slot, 0xFFFFFFFEull), "slot count");
    const auto entry = r.get<std::int64_t>();
    const auto top = r.get<std::int32_t>();
    if (n == 0 ? (entry != -1 || top != -1) : (entry < 0 || static_cast<std::uint64_t>(entry) >= n || top < 0 || top > max_level)) {
      r.fail("entry point " + std::to_string(entry) + " / top level " + std::to_string(top) + " inconsistent with " +
             std::to_string(n) + " slots");
    }
    p.capacity = static_cast<std::size_t>(n);
    // Memory budget: in-memory records hold room for 2M links per slot, which a file stores only
    // when it uses them, so the memory may exceed the file's size -- but never by more than this.
    const std::uint64_t budget = 256 * static_cast<std::uint64_t>(size) + (std::uint64_t{1} << 20);
    const std::uint64_t rec = (2 + 2 * p.M) * 4 + 4 * p.dim;
    const auto need = checked_mul(std::max<std::uint64_t>(n, 64) * 2, rec);
    if (!need || *need > budget) r.fail("slot count " + std::to_string(n) + " implausible for " + std::to_string(size) + " bytes");
    std::uint64_t upper_bytes = 0;
    auto idx = std::make_unique<index>(std::move(p), k);
    idx->ensure_allocated(static_cast<std::size_t>(n));
    idx->level_draws_ = draws;
    std::int32_t seen_top = -1;
    std::vector<std::uint32_t> links;
    for (std::uint64_t si = 0; si < n; ++si) {
      const auto s = static_cast<std::uint32_t>(si);
      const auto label = r.get<std::int64_t>();
      const int lvl = r.get<std::uint8_t>();
      if (lvl > max_level) r.fail("slot " + std::to_string(si) + ": level " + std::to_string(lvl) + " > " + std::to_string(max_level));
      const auto del = r.get<std::uint8_t>();
      if (del > 1) r.fail("slot " + std::to_string(si) + ": bad deleted flag");
      // Upper-level lists: check the bytes before allocating them.
      if (static_cast<std::uint64_t>(lvl) * 4 > r.remaining()) r.fail("truncated payload in slot " + std::to_string(si));
      upper_bytes += static_cast<std::uint64_t>(lvl) * idx->upper_words_ * 4;
      if (upper_bytes > budget) r.fail("upper levels implausible for the input size");
      idx->init_slot(s, lvl);
      idx->n_slots_.store(static_cast<std::size_t>(si + 1), std::memory_order_relaxed);
      const auto v = r.get_array<float>(idx->p_.dim);
      for (float x : v) {
        if (!std::isfinite(x)) r.fail("slot " + std::to_string(si) + ": vector holds a NaN or infinity");
      }
      std::memcpy(idx->vec_mut(s), v.data(), v.size() * sizeof(float));
      const auto cols = r.get_array<std::int64_t>(nc);
      if (nc) std::memcpy(idx->meta_mut(s), cols.data(), nc * sizeof(std::int64_t));
      idx->slot_ref(s).ch->labels[idx->offset(s)] = label;
      for (int l = 0; l <= lvl; ++l) {
        const std::size_t cap = l == 0 ? idx->M0_ : idx->p_.M;
        const auto c = r.get<std::uint32_t>();
        if (c > cap) r.fail("slot " + std::to_string(si) + ": " + std::to_string(c) + " links on level " + std::to_string(l));
        links = r.get_array<std::uint32_t>(c);
        for (auto x : links) {
          if (x >= n || x == s) r.fail("slot " + std::to_string(si) + ": bad link " + std::to_string(x));
        }
        auto* blk = idx->link_block(s, l);
        for (std::size_t j = 0; j < c; ++j) blk[1 + j].store(links[j], std::memory_order_relaxed);
        blk[0].store(c, std::memory_order_relaxed);
      }
      seen_top = std::max(seen_top, lvl);
      std::uint8_t fl = flag_ready;
      if (del) fl |= flag_deleted;
      idx->flags(s).store(fl, std::memory_order_relaxed);
      auto it = idx->map_.find(label);
      if (it == idx->map_.end()) {
        idx->map_.emplace(label, s);
      } else if (!del) {
        if (!idx->is_deleted(it->second)) r.fail("id " + std::to_string(label) + " stored twice");
        it->second = s;
      }
      if (del) {
        idx->ever_deleted_.store(true, std::memory_order_relaxed);
        idx->push_free(s);
        ++idx->n_deleted_;
      } else {
        idx->live_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    r.expect_end();
    // links point at slots of a high enough level
    for (std::uint64_t si = 0; si < n; ++si) {
      const auto s = static_cast<std::uint32_t>(si);
      for (int l = 1; l <= idx->level_of(s); ++l) {
        auto* blk = idx->link_block(s, l);
        const auto c = blk[0].load(std::memory_order_relaxed);
        for (std::uint32_t j = 0; j < c; ++j) {
          if (idx->level_of(blk[1 + j].load(std::memory_order_relaxed)) < l) {
            r.fail("slot " + std::to_string(si) + ": link on level " + std::to_string(l) + " to a lower slot");
          }
        }
      }
    }
    if (n > 0) {
      if (seen_top != top || idx->level_of(static_cast<std::uint32_t>(entry)) != top) {
        r.fail("the entry point is not on the top level");
      }
      idx->entry_.store((static_cast<std::uint64_t>(top + 1) << 32) | static_cast<std::uint64_t>(entry),
                        std::memory_order_release);
    }
    idx->n_slots_.store(static_cast<std::size_t>(n), std::memory_order_release);
    std::reverse(idx->free_.begin(), idx->free_.end());
    return idx;
  }

  // ------------------------------------------------------------------------------------------
  // checks (tests)

  /// Validates the graph: link counts, targets in range and not self, levels consistent. Returns
  /// an empty string when fine, else the first problem. Not for use during an add.
  std::string check_integrity() const {
    const std::size_t n = slots();
    std::vector<std::uint32_t> buf(M0_);
    for (std::size_t si = 0; si < n; ++si) {
      const auto s = static_cast<std::uint32_t>(si);
      for (int l = 0; l <= level_of(s); ++l) {
        const std::size_t c = read_links(s, l, buf.data());
        for (std::size_t j = 0; j < c; ++j) {
          if (buf[j] >= n || buf[j] == s) return "slot " + std::to_string(s) + ": bad link";
          if (level_of(buf[j]) < l) return "slot " + std::to_string(s) + ": link to a lower slot";
          for (std::size_t i = 0; i < j; ++i) {
            if (buf[i] == buf[j]) return "slot " + std::to_string(s) + ": duplicate link";
          }
        }
      }
    }
    return {};
  }

 private:
  static constexpr std::size_t max_chunks = 40;
  static constexpr std::uint8_t flag_ready = 1;
  static constexpr std::uint8_t flag_deleted = 2;
  static constexpr std::uint8_t flag_free = 4;  // listed in free_ (map_mutex_)

  void push_free(std::uint32_t s) {
    if ((flags(s).fetch_or(flag_free, std::memory_order_relaxed) & flag_free) == 0) free_.push_back(s);
  }

  // A block of records: cache-line aligned, and once it is large 2 MiB-aligned and advised to use
  // transparent huge pages (common/huge_page_allocator.hpp), since searches read records at
  // random across the index and with 4 KiB pages nearly every one of those reads also misses the
  // TLB.
  class record_block {
   public:
    record_block() = default;
    record_block(const record_block&) = delete;
    record_block& operator=(const record_block&) = delete;
    ~record_block() {
      if (p_ == nullptr) return;
      if (n_ >= huge_page_allocator<std::byte>::threshold) {
        huge_page_allocator<std::byte>{}.deallocate(p_, n_);
      } else {
        ::operator delete(p_, std::align_val_t{64});
      }
    }
    std::byte* get() const noexcept { return p_; }
    void allocate(std::size_t bytes) {  // once, on an empty block
      p_ = bytes >= huge_page_allocator<std::byte>::threshold
               ? huge_page_allocator<std::byte>{}.allocate(bytes)
               : static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}));
      n_ = bytes;
    }

   private:
    std::byte* p_ = nullptr;
    std::size_t n_ = 0;
  };
  struct chunk {
    std::size_t nodes = 0;
    std::size_t bytes = 0;
    record_block records;  // nodes * link0_bytes link records, then nodes * vec_bytes vectors (uninitialised until init_slot)
    std::unique_ptr<std::int64_t[]> labels;
    std::unique_ptr<std::int64_t[]> meta;
    std::unique_ptr<std::atomic<std::uint32_t>*[]> upper;
    std::unique_ptr<std::uint8_t[]> levels;
    std::unique_ptr<std::atomic<std::uint8_t>[]> flags;
  };
  struct slot_loc {
    chunk* ch;
    std::size_t off;
  };

  // --- slot addressing ---
  unsigned chunk_of(std::uint32_t s) const noexcept {
    const std::size_t q = static_cast<std::size_t>(s) >> base_shift_;
    return q == 0 ? 0u : static_cast<unsigned>(std::bit_width(q));
  }
  std::size_t offset(std::uint32_t s) const noexcept {
    const unsigned c = chunk_of(s);
    return c == 0 ? s : s - (std::size_t{1} << (base_shift_ + c - 1));
  }
  slot_loc slot_ref(std::uint32_t s) const noexcept {
    const unsigned c = chunk_of(s);
    const std::size_t off = c == 0 ? s : s - (std::size_t{1} << (base_shift_ + c - 1));
    return {chunks_[c].load(std::memory_order_acquire), off};
  }
  // A chunk keeps its level-0 link records (sequence word, count, links) together and its
  // vectors together after them: the walk reads one point's links and other points' vectors, so
  // interleaving them buys no locality, while separate regions keep every vector of a dim
  // multiple of 16 on whole cache lines and let a pass over all the links read them densely.
  std::byte* record(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return l.ch->records.get() + l.off * link0_bytes_;
  }
  std::atomic<std::uint32_t>* seq(std::uint32_t s) const noexcept {
    return std::launder(reinterpret_cast<std::atomic<std::uint32_t>*>(record(s)));
  }
  std::atomic<std::uint32_t>* link_block(std::uint32_t s, int level) const noexcept {
    if (level == 0) return seq(s) + 1;
    const auto l = slot_ref(s);
    return l.ch->upper[l.off] + static_cast<std::size_t>(level - 1) * upper_words_;
  }
  float* vec_at(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return reinterpret_cast<float*>(l.ch->records.get() + l.ch->nodes * link0_bytes_ + l.off * vec_bytes_);
  }
  const float* vec(std::uint32_t s) const noexcept { return vec_at(s); }
  float* vec_mut(std::uint32_t s) noexcept { return vec_at(s); }
  const std::int64_t* meta_at(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return l.ch->meta.get() + l.off * n_label_columns();
  }
  std::int64_t* meta_mut(std::uint32_t s) noexcept {
    const auto l = slot_ref(s);
    return l.ch->meta.get() + l.off * n_label_columns();
  }
  std::int64_t label_at(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return l.ch->labels[l.off];
  }
  int level_of(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return l.ch->levels[l.off];
  }
  std::atomic<std::uint8_t>& flags(std::uint32_t s) const noexcept {
    const auto l = slot_ref(s);
    return l.ch->flags[l.off];
  }
  bool is_deleted(std::uint32_t s) const noexcept { return (flags(s).load(std::memory_order_acquire) & flag_deleted) != 0; }
  bool is_ready(std::uint32_t s) const noexcept { return (flags(s).load(std::memory_order_acquire) & flag_ready) != 0; }
  std::uint32_t entry_node() const noexcept {
    const auto e = entry_.load(std::memory_order_acquire);
    return e == 0 ? std::numeric_limits<std::uint32_t>::max() : static_cast<std::uint32_t>(e & 0xFFFFFFFFu);
  }

  // --- growth (writer lock held) ---
  void ensure_allocated(std::size_t n) {
    while (allocated_.load(std::memory_order_relaxed) < n) {
      const std::size_t have = allocated_.load(std::memory_order_relaxed);
      const unsigned c = have == 0 ? 0u : chunk_of(static_cast<std::uint32_t>(std::min<std::size_t>(have, 0xFFFFFFFFu)));
      if (c >= max_chunks) throw std::length_error("HNSW index: too many points");
      const std::size_t nodes = c == 0 ? (std::size_t{1} << base_shift_) : (std::size_t{1} << (base_shift_ + c - 1));
      auto ch = std::make_unique<chunk>();
      ch->nodes = nodes;
      const auto rb = checked_mul(nodes, rec_bytes_);
      if (!rb) throw std::length_error("HNSW index: too many points");
      ch->records.allocate(*rb);  // left untouched: pages are committed as slots fill
      ch->labels.reset(new std::int64_t[nodes]);
      ch->meta.reset(new std::int64_t[std::max<std::size_t>(1, nodes * n_label_columns())]);
      ch->upper.reset(new std::atomic<std::uint32_t>*[nodes]);
      ch->levels.reset(new std::uint8_t[nodes]);
      ch->flags.reset(new std::atomic<std::uint8_t>[nodes]);
      ch->bytes = *rb + nodes * (8 + 8 * n_label_columns() + sizeof(void*) + 2);
      chunks_[c].store(ch.release(), std::memory_order_release);
      allocated_.store(have + nodes, std::memory_order_release);
    }
  }

  // Constructs the record of a new slot: zero links, level, upper lists, flags 0.
  void init_slot(std::uint32_t s, int level) {
    auto* r = record(s);
    auto* words = reinterpret_cast<std::atomic<std::uint32_t>*>(r);
    for (std::size_t i = 0; i < 2 + M0_; ++i) new (words + i) std::atomic<std::uint32_t>(0);
    const auto l = slot_ref(s);
    l.ch->levels[l.off] = static_cast<std::uint8_t>(level);
    l.ch->upper[l.off] = level > 0 ? new std::atomic<std::uint32_t>[static_cast<std::size_t>(level) * upper_words_]() : nullptr;
    l.ch->flags[l.off].store(0, std::memory_order_relaxed);
  }

  int draw_level() {
    const std::uint64_t x = detail::splitmix64(p_.seed ^ detail::splitmix64(level_draws_++));
    const double u = (static_cast<double>(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);  // (0, 1)
    const double l = std::floor(-std::log(u) * mult_);
    return static_cast<int>(std::min<double>(l, max_level));
  }

  // --- seqlocked link lists ---
  void lock_slot(std::uint32_t s) const noexcept {
    auto* q = seq(s);
    for (;;) {
      std::uint32_t v = q->load(std::memory_order_relaxed);
      if ((v & 1u) == 0 && q->compare_exchange_weak(v, v + 1, std::memory_order_acquire, std::memory_order_relaxed)) break;
      cpu_relax();
    }
  }
  void unlock_slot(std::uint32_t s) const noexcept { seq(s)->fetch_add(1, std::memory_order_release); }

  // Copies the links of s on `level` into out; consistent even while a writer updates them.
  // The vectors a walk step is about to compare: the first few whole and the first cache line of
  // the others as soon as they are known, the rest of each `prefetch_ahead` vectors before its
  // distance. Prefetching every line of every neighbour at once filled the line-fill buffers and
  // stalled the walk (100k x 128 clustered, one thread, ef 64 and 128: this takes 0.81x the time).
  static constexpr std::size_t prefetch_ahead = 4;
  // The i-th vector of a step as soon as it is known: whole for the first few, else its first line.
  void prefetch_early(const float* v, std::size_t i) const noexcept {
    detail::prefetch(v);
    if (i < prefetch_ahead) prefetch_rest(v);
  }
  void prefetch_rest(const float* v) const noexcept {
    const auto* b = reinterpret_cast<const char*>(v);
    for (std::size_t off = 64; off < vec_bytes_; off += 64) detail::prefetch(b + off);
  }

  std::size_t read_links(std::uint32_t s, int level, std::uint32_t* out) const noexcept {
    return read_links_at(seq(s), link_block(s, level), level == 0 ? M0_ : p_.M, out);
  }
  // The same, given the slot's sequence word and list (count, then the links).
  static std::size_t read_links_at(const std::atomic<std::uint32_t>* q, const std::atomic<std::uint32_t>* blk,
                                   std::size_t cap, std::uint32_t* out) noexcept {
    for (;;) {
      const std::uint32_t v1 = q->load(std::memory_order_acquire);
      if (v1 & 1u) {
        cpu_relax();
        continue;
      }
      // acquire loads: the second sequence read cannot move above them, and a value written
      // inside a critical section (release stores, after the odd sequence number) makes it see
      // that number or a later one (no fences needed: ThreadSanitizer models this exactly)
      std::size_t c = blk[0].load(std::memory_order_acquire);
      if (c > cap) c = cap;
      for (std::size_t i = 0; i < c; ++i) out[i] = blk[1 + i].load(std::memory_order_acquire);
      if (q->load(std::memory_order_relaxed) == v1) return c;
    }
  }
  // Writes the links of s (caller holds the slot's lock).
  void write_links(std::uint32_t s, int level, const detail::cand* c, std::size_t n) const noexcept {
    auto* blk = link_block(s, level);
    for (std::size_t i = 0; i < n; ++i) blk[1 + i].store(c[i].second, std::memory_order_release);
    blk[0].store(static_cast<std::uint32_t>(n), std::memory_order_release);
  }

  float dist(const float* a, const float* b, detail::scratch& sc) const noexcept {
    ++sc.distances;
    const float r = dfn_(a, b, p_.dim);
    return l2_ ? r : 1.0f - r;
  }

  const float* prepare_query(const float* q, std::vector<float>& buf) const {
    if (p_.metric != metric::cosine) return q;
    buf.assign(q, q + p_.dim);
    normalize(buf.data(), p_.dim);
    return buf.data();
  }

  // --- scratch pool ---
  std::unique_ptr<detail::scratch> borrow_scratch() const {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        auto s = std::move(pool_.back());
        pool_.pop_back();
        return s;
      }
    }
    return std::make_unique<detail::scratch>();
  }
  void return_scratch(std::unique_ptr<detail::scratch> s) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.size() < 64) pool_.push_back(std::move(s));
  }

  // --- search primitives ---

  // Greedy walk on one level: moves to the closest neighbour until none is closer.
  void greedy(const float* q, std::uint32_t& cur, float& dcur, int level, detail::scratch& sc) const {
    sc.links.resize(p_.M);
    bool changed = true;
    while (changed) {
      changed = false;
      const std::size_t c = read_links(cur, level, sc.links.data());
      for (std::size_t i = 0; i < c; ++i) {
        const std::uint32_t nb = sc.links[i];
        const float d = dist(q, vec(nb), sc);
        if (d < dcur) {
          dcur = d;
          cur = nb;
          changed = true;
        }
      }
    }
  }

  // Best-first search of one level (Algorithm 2). sc.top holds the result as a max-heap of at
  // most ef points for which accept(slot) holds; points that fail accept are still walked.
  template <class Accept>
  void search_level(const float* q, std::uint32_t ep, float dep, std::size_t ef, int level, detail::scratch& sc,
                    Accept&& accept, bool may_reject) const {
    auto& top = sc.top;
    auto& cand = sc.candidates;
    top.clear();
    cand.clear();
    const std::size_t vsize = allocated_.load(std::memory_order_acquire);
    sc.visited.reset(vsize);
    const std::size_t vs = sc.visited.size();
    sc.visited.test_and_set(ep);
    float lower = std::numeric_limits<float>::infinity();
    if (accept(ep)) {
      top.emplace_back(dep, ep);
      lower = dep;
    }
    cand.emplace_back(dep, ep);
    sc.links.resize(M0_);
    sc.ptrs.resize(M0_);
    std::uint32_t* links = sc.links.data();
    const float** ptrs = sc.ptrs.data();
    while (!cand.empty()) {
      const detail::cand cur = cand.front();
      if (cur.first > lower && (top.size() >= ef || !may_reject)) break;
      std::pop_heap(cand.begin(), cand.end(), detail::near_first{});
      cand.pop_back();
      const std::size_t c = read_links(cur.second, level, links);
      // Keep the unvisited neighbours and start loading their vectors before computing any
      // distance, so the memory loads overlap (see prefetch_ahead).
      std::size_t m = 0;
      for (std::size_t i = 0; i < c; ++i) {
        const std::uint32_t nb = links[i];
        if (nb >= vs || sc.visited.test_and_set(nb)) continue;
        links[m] = nb;
        ptrs[m] = vec(nb);
        prefetch_early(ptrs[m], m);
        ++m;
      }
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint32_t nb = links[i];
        if (i + prefetch_ahead < m) prefetch_rest(ptrs[i + prefetch_ahead]);
        const float d = dist(q, ptrs[i], sc);
        if (top.size() < ef || d < lower) {
          cand.emplace_back(d, nb);
          std::push_heap(cand.begin(), cand.end(), detail::near_first{});
          if (accept(nb)) {
            top.emplace_back(d, nb);
            std::push_heap(top.begin(), top.end(), detail::far_first{});
            if (top.size() > ef) {
              std::pop_heap(top.begin(), top.end(), detail::far_first{});
              top.pop_back();
            }
          }
          if (!top.empty()) lower = top.front().first;
        }
      }
      if (!cand.empty()) detail::prefetch(record(cand.front().second));  // the next list to read
    }
  }

  // Level-0 search for selective filters: distances are computed only for points the filter
  // allows; a rejected neighbour is not evaluated but its own neighbours are (once per rejected
  // point), so the walk crosses regions the filter excludes. The result holds allowed points only.
  void search_level_two_hop(const float* q, std::uint32_t ep, float dep, std::size_t ef, detail::scratch& sc,
                            const slot_filter& f) const {
    auto& top = sc.top;
    auto& cand = sc.candidates;
    top.clear();
    cand.clear();
    const std::size_t vs = allocated_.load(std::memory_order_acquire);
    sc.visited.reset(vs);
    sc.visited.test_and_set(ep);
    float lower = std::numeric_limits<float>::infinity();
    if (f.test(ep)) {
      top.emplace_back(dep, ep);
      lower = dep;
    }
    cand.emplace_back(dep, ep);
    sc.links.resize(M0_);
    sc.links2.resize(M0_);
    sc.evaluate.resize(M0_ * (M0_ + 1));
    std::uint32_t* links = sc.links.data();
    std::uint32_t* links2 = sc.links2.data();
    std::uint32_t* todo = sc.evaluate.data();
    while (!cand.empty()) {
      const detail::cand cur = cand.front();
      if (cur.first > lower && top.size() >= ef) break;
      std::pop_heap(cand.begin(), cand.end(), detail::near_first{});
      cand.pop_back();
      const std::size_t c = read_links(cur.second, 0, links);
      // pass 1: neighbours that pass go to `todo`; the rejected ones stay in `links` (their
      // lists are prefetched, to be read in pass 2)
      // Rejected neighbours are expanded up to `two_hop_lists` per step (default: all of them;
      // fewer is faster and loses recall); one not expanded now stays unvisited, so a later
      // step can still expand it.
      const std::size_t two_hop_lists = two_hop_lists_.load(std::memory_order_relaxed);
      const std::size_t max_eval = two_hop_eval_.load(std::memory_order_relaxed);
      std::size_t m = 0, r = 0;
      for (std::size_t i = 0; i < c; ++i) {
        const std::uint32_t nb = links[i];
        if (nb >= vs) continue;
        if (f.test(nb)) {
          if (sc.visited.test_and_set(nb)) continue;
          todo[m++] = nb;
          detail::prefetch(vec(nb));
        } else if (r < two_hop_lists && !sc.visited.test_and_set(nb)) {
          links[r++] = nb;
          const auto* rec = reinterpret_cast<const char*>(record(nb));
          for (std::size_t off = 0; off < link0_bytes_; off += 64) detail::prefetch(rec + off);
        }
      }
      // pass 2: the passing neighbours of rejected ones, at most 2M evaluations per expansion
      for (std::size_t i = 0; i < r && m < max_eval; ++i) {
        const std::size_t c2 = read_links(links[i], 0, links2);
        for (std::size_t j = 0; j < c2 && m < max_eval; ++j) {
          const std::uint32_t x = links2[j];
          if (x < vs && f.test(x) && !sc.visited.test_and_set(x)) {
            todo[m++] = x;
            detail::prefetch(vec(x));
          }
        }
      }
      for (std::size_t i = 0; i < std::min(m, prefetch_ahead); ++i) prefetch_rest(vec(todo[i]));
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint32_t nb = todo[i];
        if (i + prefetch_ahead < m) prefetch_rest(vec(todo[i + prefetch_ahead]));
        const float d = dist(q, vec(nb), sc);
        if (top.size() < ef || d < lower) lower = detail::push_candidate(cand, top, ef, d, nb);
      }
      if (!cand.empty()) detail::prefetch(record(cand.front().second));
    }
  }

  // The allowed points' links for a walk among them alone, collected once so that every query
  // of the call walks them without reading the rejected points' lists. Up to `width` links per
  // point: its allowed neighbours first, then, for each rejected neighbour r in list order, the
  // other allowed points that list r too (points that chose the same neighbour lie near each
  // other; in a graph whose links are mostly mutual these are r's own allowed neighbours, the
  // second hop search_level_two_hop takes).
  //
  // Only the allowed points' lists are read (at random, prefetched ahead): the rejected points'
  // lists are not needed, because the second hop is found by inverting the allowed points' lists
  // (a counting sort by rejected neighbour). Transient memory: 4 bytes per slot plus
  // 4 * (width + 2 * M0) per allowed point.
  detail::allowed_graph build_allowed_graph(const slot_filter& f, std::size_t width, int threads) const {
    detail::allowed_graph g;
    g.width = width;
    g.slot = f.slots();
    g.rank.resize(f.bits.size());
    std::uint32_t before = 0;
    for (std::size_t w = 0; w < f.bits.size(); ++w) {
      g.rank[w] = before;
      before += detail::popcount64(f.bits[w]);
    }
    const std::size_t n = g.slot.size();
    // slots the filter has bits for (an add running meanwhile may have made more)
    const std::size_t vs = std::min({allocated_.load(std::memory_order_acquire), slots(), f.bits.size() * 64});
    g.adj.resize(n * width);
    g.deg.resize(n);
    std::vector<std::uint32_t> own(n * M0_), own_n(n);  // each allowed point's list

    // pass 1: the allowed points' own lists
    parallel_for(
        n,
        [&](std::size_t b, std::size_t e) {
          constexpr std::size_t ahead = 8;
          for (std::size_t i = b; i < e; ++i) {
            if (i + ahead < e && g.slot[i + ahead] < vs) {
              const auto* nx = reinterpret_cast<const char*>(seq(g.slot[i + ahead]));
              for (std::size_t o = 0; o < link0_bytes_; o += 64) detail::prefetch(nx + o);
            }
            const std::uint32_t s = g.slot[i];
            own_n[i] = s < vs && is_ready(s) ? static_cast<std::uint32_t>(read_links(s, 0, own.data() + i * M0_)) : 0;
          }
        },
        threads);

    // the inversion: for every rejected slot r, the allowed points whose lists hold r
    const std::uint64_t* bits = f.bits.data();
    const auto rejected = [bits, vs](std::uint32_t x) noexcept {
      return x < vs && ((bits[x >> 6] >> (x & 63)) & 1u) == 0;
    };
    std::vector<std::uint32_t> start(vs + 2, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t* nb = own.data() + i * M0_;
      for (std::size_t j = 0; j < own_n[i]; ++j) {
        if (rejected(nb[j])) ++start[nb[j] + 2];
      }
    }
    for (std::size_t x = 2; x < start.size(); ++x) start[x] += start[x - 1];
    std::vector<std::uint32_t> rev(start.back());
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t* nb = own.data() + i * M0_;
      for (std::size_t j = 0; j < own_n[i]; ++j) {
        if (rejected(nb[j])) rev[start[nb[j] + 1]++] = static_cast<std::uint32_t>(i);
      }
    }
    // now r's allowed points are rev[start[r] .. start[r + 1])

    // pass 2, over allowed points: their allowed neighbours, then those sharing a rejected one
    parallel_for(
        n,
        [&](std::size_t b, std::size_t e) {
          std::vector<std::uint32_t> seen(n, 0);  // point -> last row (+1) that took it
          std::vector<std::uint32_t> rej(M0_);    // this point's rejected neighbours, in list order
          for (std::size_t i = b; i < e; ++i) {
            const auto tag = static_cast<std::uint32_t>(i + 1);
            seen[i] = tag;
            const std::uint32_t* nb = own.data() + i * M0_;
            const std::size_t c = own_n[i];
            std::uint32_t* row = g.adj.data() + i * width;
            std::size_t d = 0, nr = 0;
            for (std::size_t j = 0; j < c; ++j) {
              if (rejected(nb[j])) {
                rej[nr++] = nb[j];
                detail::prefetch(rev.data() + start[nb[j]]);
              } else if (nb[j] < vs && d < width) {
                const std::uint32_t pt = g.point_of(f, nb[j]);
                if (seen[pt] != tag) {
                  seen[pt] = tag;
                  row[d++] = pt;
                }
              }
            }
            for (std::size_t j = 0; j < nr && d < width; ++j) {
              for (std::uint32_t u = start[rej[j]]; u < start[rej[j] + 1] && d < width; ++u) {
                const std::uint32_t pt = rev[u];
                if (seen[pt] != tag) {
                  seen[pt] = tag;
                  row[d++] = pt;
                }
              }
            }
            g.deg[i] = static_cast<std::uint32_t>(d);
          }
        },
        threads);
    return g;
  }

  // Level-0 search over an allowed_graph. The walk enters at the allowed point reached from the
  // upper levels' result `ep` (itself when allowed, else its allowed neighbours at one or two
  // hops); false when there is none, so the caller walks the full graph instead.
  bool search_allowed_graph(const float* q, std::uint32_t ep, float dep, std::size_t ef, detail::scratch& sc,
                            const slot_filter& f, const detail::allowed_graph& g) const {
    auto& top = sc.top;
    auto& cand = sc.candidates;
    top.clear();
    cand.clear();
    const std::size_t vs = allocated_.load(std::memory_order_acquire);
    sc.visited.reset(g.slot.size());
    sc.links.resize(std::max(M0_, g.width));
    sc.links2.resize(M0_);
    sc.ptrs.resize(std::max(M0_, g.width));
    const float** ptrs = sc.ptrs.data();
    std::uint32_t* links = sc.links.data();
    std::uint32_t* links2 = sc.links2.data();
    float lower = std::numeric_limits<float>::infinity();
    const auto push = [&](float d, std::uint32_t p) { lower = detail::push_candidate(cand, top, ef, d, p); };
    const auto seed = [&](std::uint32_t s) {
      const std::uint32_t p = g.point_of(f, s);
      if (!sc.visited.test_and_set(p)) push(dist(q, vec(s), sc), p);
    };
    if (f.test(ep)) {
      const std::uint32_t p = g.point_of(f, ep);
      sc.visited.test_and_set(p);
      push(dep, p);
    } else {
      const std::size_t c = read_links(ep, 0, links);
      std::size_t rej = 0;
      for (std::size_t i = 0; i < c; ++i) {
        if (links[i] >= vs) continue;
        if (f.test(links[i])) {
          seed(links[i]);
        } else {
          links[rej++] = links[i];
        }
      }
      for (std::size_t i = 0; i < rej && cand.size() < M0_; ++i) {
        const std::size_t c2 = read_links(links[i], 0, links2);
        for (std::size_t j = 0; j < c2; ++j) {
          if (links2[j] < vs && f.test(links2[j])) seed(links2[j]);
        }
      }
      if (cand.empty()) return false;
    }
    while (!cand.empty()) {
      const detail::cand cur = cand.front();
      if (cur.first > lower && top.size() >= ef) break;
      std::pop_heap(cand.begin(), cand.end(), detail::near_first{});
      cand.pop_back();
      const std::uint32_t* row = g.adj.data() + static_cast<std::size_t>(cur.second) * g.width;
      const std::size_t c = g.deg[cur.second];
      std::size_t m = 0;
      for (std::size_t i = 0; i < c; ++i) {
        const std::uint32_t p = row[i];
        if (sc.visited.test_and_set(p)) continue;
        links[m] = p;
        ptrs[m] = vec(g.slot[p]);
        prefetch_early(ptrs[m], m);
        ++m;
      }
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint32_t p = links[i];
        if (i + prefetch_ahead < m) prefetch_rest(ptrs[i + prefetch_ahead]);
        const float d = dist(q, ptrs[i], sc);
        if (top.size() < ef || d < lower) push(d, p);
      }
      if (!cand.empty()) {  // the next row to read
        const auto* nr = reinterpret_cast<const char*>(g.adj.data() + static_cast<std::size_t>(cand.front().second) * g.width);
        detail::prefetch(nr);
        detail::prefetch(nr + 64);
        detail::prefetch(g.deg.data() + cand.front().second);
      }
    }
    for (auto& t : top) t.second = g.slot[t.second];
    return true;
  }

  // Returns whether the walk used the collected links g (false also when g had no entry for q).
  bool search_one(const float* q, std::size_t k, std::size_t ef, const slot_filter* f, std::int64_t* ids, float* dists,
                  detail::scratch& sc, const detail::allowed_graph* g = nullptr) const {
    std::size_t got = 0;
    bool collected = false;
    const auto e = entry_.load(std::memory_order_acquire);
    if (e != 0) {
      std::uint32_t cur = static_cast<std::uint32_t>(e & 0xFFFFFFFFu);
      const int top_lvl = static_cast<int>(e >> 32) - 1;
      float dcur = dist(q, vec(cur), sc);
      for (int l = top_lvl; l > 0; --l) greedy(q, cur, dcur, l, sc);
      if (g && search_allowed_graph(q, cur, dcur, ef, sc, *f, *g)) {
        collected = true;
      } else if (f && two_hop(*f)) {
        // Selective filter: walk through the points the filter rejects without computing their
        // distances (their neighbours that pass are evaluated instead: two hops).
        search_level_two_hop(q, cur, dcur, ef, sc, *f);
      } else if (f) {  // the filter bitmap holds live points only (a point deleted since may still pass: check)
        search_level(q, cur, dcur, ef, 0, sc, [&](std::uint32_t s) { return f->test(s) && !is_deleted(s); }, true);
      } else if (any_deleted()) {
        search_level(q, cur, dcur, ef, 0, sc, [&](std::uint32_t s) { return !is_deleted(s); }, true);
      } else {
        search_level(q, cur, dcur, ef, 0, sc, [](std::uint32_t) { return true; }, false);
      }
      if (any_deleted()) {  // deleted while this search ran (or before, in the two-hop walk): drop them
        auto& t = sc.top;
        t.erase(std::remove_if(t.begin(), t.end(), [&](const detail::cand& c) { return is_deleted(c.second); }), t.end());
      }
      auto& top = sc.top;
      std::sort(top.begin(), top.end());
      got = std::min(k, top.size());
      for (std::size_t i = 0; i < got; ++i) {
        ids[i] = label_at(top[i].second);
        dists[i] = top[i].first;
      }
    }
    for (std::size_t i = got; i < k; ++i) {
      ids[i] = -1;
      dists[i] = std::numeric_limits<float>::infinity();
    }
    return collected;
  }

  // Whether a filter is selective enough for the two-hop walk (fewer than a quarter of the slots).
  bool two_hop(const slot_filter& f) const noexcept { return f.count * 4 < slots(); }

  // Whether some slot may hold a deleted point (a cheap over-estimate while an add runs).
  bool any_deleted() const noexcept { return ever_deleted_.load(std::memory_order_acquire); }

  void exact_one(const float* q, std::size_t k, const std::vector<std::uint32_t>& scan, std::int64_t* ids, float* dists,
                 detail::scratch& sc) const {
    auto& top = sc.top;
    top.clear();
    constexpr std::size_t ahead = 4;
    for (std::size_t i = 0; i < std::min(ahead, scan.size()); ++i) detail::prefetch(vec(scan[i]));
    for (std::size_t i = 0; i < scan.size(); ++i) {
      if (i + ahead < scan.size()) {
        const auto* v = reinterpret_cast<const char*>(vec(scan[i + ahead]));
        for (std::size_t off = 0; off < vec_bytes_; off += 64) detail::prefetch(v + off);
      }
      const std::uint32_t s = scan[i];
      const float d = dist(q, vec(s), sc);
      if (top.size() < k) {
        top.emplace_back(d, s);
        std::push_heap(top.begin(), top.end(), detail::far_first{});
      } else if (d < top.front().first) {
        std::pop_heap(top.begin(), top.end(), detail::far_first{});
        top.back() = {d, s};
        std::push_heap(top.begin(), top.end(), detail::far_first{});
      }
    }
    if (any_deleted()) {  // deleted after the list was made
      top.erase(std::remove_if(top.begin(), top.end(), [&](const detail::cand& c) { return is_deleted(c.second); }),
                top.end());
    }
    std::sort(top.begin(), top.end());
    const std::size_t got = std::min(k, top.size());
    for (std::size_t i = 0; i < got; ++i) {
      ids[i] = label_at(top[i].second);
      dists[i] = top[i].first;
    }
    for (std::size_t i = got; i < k; ++i) {
      ids[i] = -1;
      dists[i] = std::numeric_limits<float>::infinity();
    }
  }

  // Neighbour-selection heuristic (Algorithm 4): keeps a candidate only when it is closer to the
  // base point than to every candidate kept so far. `c` sorted nearest first; keeps at most m.
  void select_neighbors(std::vector<detail::cand>& c, std::size_t m, detail::scratch& sc) const {
    if (c.size() <= m) return;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < c.size() && kept < m; ++i) {
      bool good = true;
      const float* v = vec(c[i].second);
      for (std::size_t j = 0; j < kept; ++j) {
        if (dist(v, vec(c[j].second), sc) < c[i].first) {
          good = false;
          break;
        }
      }
      if (good) c[kept++] = c[i];
    }
    c.resize(kept);
  }

  // Adds s to the list of e on `level`, pruning with the heuristic when the list is full.
  void add_link(std::uint32_t e, std::uint32_t s, int level, detail::scratch& sc) const {
    const std::size_t cap = level == 0 ? M0_ : p_.M;
    lock_slot(e);
    auto* blk = link_block(e, level);
    const std::size_t c = blk[0].load(std::memory_order_relaxed);
    bool present = false;
    for (std::size_t i = 0; i < c; ++i) present |= blk[1 + i].load(std::memory_order_relaxed) == s;
    if (!present) {
      if (c < cap) {
        blk[1 + c].store(s, std::memory_order_release);
        blk[0].store(static_cast<std::uint32_t>(c + 1), std::memory_order_release);
      } else {
        std::vector<detail::cand> all;
        all.reserve(c + 1);
        const float* ve = vec(e);
        all.emplace_back(dist(ve, vec(s), sc), s);
        for (std::size_t i = 0; i < c; ++i) {
          const std::uint32_t x = blk[1 + i].load(std::memory_order_relaxed);
          all.emplace_back(dist(ve, vec(x), sc), x);
        }
        std::sort(all.begin(), all.end());
        select_neighbors(all, cap, sc);
        write_links(e, level, all.data(), all.size());
      }
    }
    unlock_slot(e);
  }

  // Writes the data of slot s and links it into the graph.
  void insert(std::uint32_t s, const float* v, std::int64_t label, const std::int64_t* cols, bool reuse, detail::scratch& sc) {
    const std::size_t nc = n_label_columns();
    auto write_data = [&] {
      float* dst = vec_mut(s);
      std::memcpy(dst, v, p_.dim * sizeof(float));
      if (p_.metric == metric::cosine) normalize(dst, p_.dim);
      if (nc) std::memcpy(meta_mut(s), cols, nc * sizeof(std::int64_t));
      const auto l = slot_ref(s);
      l.ch->labels[l.off] = label;
    };
    const int level = level_of(s);
    if (reuse) {
      // The old lists stay until link() replaces them: they point at real points, so a search
      // passing through this slot meanwhile still has a way on.
      std::unique_lock<detail::writer_first_mutex> excl(data_mutex_);
      write_data();
    } else {
      write_data();
      flags(s).store(flag_ready, std::memory_order_release);
    }
    {
      std::shared_lock<detail::writer_first_mutex> read(data_mutex_);
      link(s, level, sc);
    }
    if (reuse) flags(s).fetch_and(static_cast<std::uint8_t>(~flag_deleted), std::memory_order_release);
    live_.fetch_add(1, std::memory_order_release);
  }

  void link(std::uint32_t s, int level, detail::scratch& sc) {
    std::unique_lock<std::mutex> ep_lock(entry_mutex_, std::defer_lock);
    auto e = entry_.load(std::memory_order_acquire);
    if (e == 0 || level > static_cast<int>(e >> 32) - 1) {
      ep_lock.lock();  // may become the entry point: one such insertion at a time
      e = entry_.load(std::memory_order_acquire);
      if (e == 0) {
        entry_.store((static_cast<std::uint64_t>(level + 1) << 32) | s, std::memory_order_release);
        return;
      }
      if (level <= static_cast<int>(e >> 32) - 1) ep_lock.unlock();
    }
    const int top_lvl = static_cast<int>(e >> 32) - 1;
    std::uint32_t cur = static_cast<std::uint32_t>(e & 0xFFFFFFFFu);
    const float* q = vec(s);
    float dcur = dist(q, vec(cur), sc);
    std::vector<std::vector<detail::cand>> chosen(static_cast<std::size_t>(std::min(level, top_lvl) + 1));
    for (int l = top_lvl; l > level; --l) greedy(q, cur, dcur, l, sc);
    for (int l = std::min(level, top_lvl); l >= 0; --l) {
      if (any_deleted()) {
        search_level(q, cur, dcur, p_.ef_construction, l, sc,
                     [&](std::uint32_t x) { return x != s && !is_deleted(x); }, true);
      } else {
        search_level(q, cur, dcur, p_.ef_construction, l, sc, [&](std::uint32_t x) { return x != s; }, false);
      }
      auto& sel = sc.sorted;
      sel.assign(sc.top.begin(), sc.top.end());
      std::sort(sel.begin(), sel.end());
      if (!sel.empty()) {
        cur = sel.front().second;
        dcur = sel.front().first;
      }
      select_neighbors(sel, p_.M, sc);
      lock_slot(s);
      write_links(s, l, sel.data(), sel.size());
      unlock_slot(s);
      chosen[static_cast<std::size_t>(l)].assign(sel.begin(), sel.end());
    }
    // Only now, with the new point's own lists complete on every level, link it in (bottom-up):
    // a search that reaches it on any level finds its lists on all lower levels.
    for (int l = 0; l <= std::min(level, top_lvl); ++l) {
      for (const auto& nb : chosen[static_cast<std::size_t>(l)]) add_link(nb.second, s, l, sc);
    }
    if (ep_lock.owns_lock() && level > top_lvl) {
      entry_.store((static_cast<std::uint64_t>(level + 1) << 32) | s, std::memory_order_release);
    }
  }

  params p_;
  const kernel_table* k_;
  distance_fn dfn_ = nullptr;  // l2sq for l2, dot for ip and cosine
  bool l2_ = true;
  std::size_t M0_ = 0;
  double mult_ = 0;
  std::size_t rec_bytes_ = 0;
  std::size_t upper_words_ = 0;
  std::size_t vec_bytes_ = 0;
  std::size_t link0_bytes_ = 0;
  unsigned base_shift_ = 6;

  std::atomic<chunk*> chunks_[max_chunks];
  std::atomic<std::size_t> allocated_{0};
  std::atomic<std::size_t> n_slots_{0};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::size_t> ef_{64};
  std::atomic<std::size_t> two_hop_lists_{32};  // rejected neighbours expanded per step
  std::atomic<std::size_t> two_hop_eval_{32};  // allowed points evaluated per step
  std::atomic<int> subgraph_mode_{-1};          // collect the allowed points' links: -1 auto, 0 never, 1 always
  std::atomic<std::uint64_t> entry_{0};  // (top level + 1) << 32 | slot; 0 = empty
  std::uint64_t level_draws_ = 0;        // writer lock
  std::atomic<bool> ever_deleted_{false}; // some point was deleted once (stays set)

  mutable std::mutex write_mutex_;            // one writer call at a time
  mutable detail::writer_first_mutex data_mutex_;  // exclusive only while a reused slot is overwritten
  std::mutex entry_mutex_;                    // insertions that may raise the top level
  mutable std::mutex map_mutex_;              // map_, free_, n_deleted_
  std::unordered_map<std::int64_t, std::uint32_t> map_;
  std::vector<std::uint32_t> free_;
  std::size_t n_deleted_ = 0;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<detail::scratch>> pool_;
};

/// Brute-force k nearest neighbours of queries [nq, dim] among data [n, dim] (row numbers as ids),
/// nearest first, ties by row number; padded with -1 / +inf when n < k.
inline void knn_exact(const float* data, std::size_t n, const float* queries, std::size_t nq, std::size_t dim,
                      std::size_t k, metric m, std::int64_t* ids, float* dists, int threads = 0,
                      const kernel_table& kt = scalar_kernels()) {
  if (k == 0) throw std::invalid_argument("knn_exact: k must be >= 1");
  std::vector<float> normed;
  const float* base = data;
  if (m == metric::cosine) {
    normed.assign(data, data + n * dim);
    parallel_for(n, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) normalize(normed.data() + i * dim, dim);
    }, threads);
    base = normed.data();
  }
  parallel_for(nq, [&](std::size_t b, std::size_t e) {
    std::vector<std::pair<float, std::int64_t>> top;
    std::vector<float> q(dim);
    for (std::size_t qi = b; qi < e; ++qi) {
      std::memcpy(q.data(), queries + qi * dim, dim * sizeof(float));
      if (m == metric::cosine) normalize(q.data(), dim);
      top.clear();
      for (std::size_t i = 0; i < n; ++i) {
        const float d = distance(kt, m, q.data(), base + i * dim, dim);
        const std::pair<float, std::int64_t> c{d, static_cast<std::int64_t>(i)};
        if (top.size() < k) {
          top.push_back(c);
          std::push_heap(top.begin(), top.end());
        } else if (c < top.front()) {
          std::pop_heap(top.begin(), top.end());
          top.back() = c;
          std::push_heap(top.begin(), top.end());
        }
      }
      std::sort(top.begin(), top.end());
      for (std::size_t j = 0; j < k; ++j) {
        ids[qi * k + j] = j < top.size() ? top[j].second : -1;
        dists[qi * k + j] = j < top.size() ? top[j].first : std::numeric_limits<float>::infinity();
      }
    }
  }, threads);
}

}  // namespace neural_trader::hnsw
