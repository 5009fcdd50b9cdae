// Python bindings of the HNSW index: neural_trader._core._HNSWIndex (wrapped by
// neural_trader.hnsw.HNSWIndex), _knn_exact and the kernel dispatch helpers.
//
// Kernel dispatch: the distance kernels are chosen once, at first use, from choose_simd_level()
// (NT_SIMD forces a lower level): AVX2+FMA when the CPU runs it and this build has the AVX2
// translation unit (x86-64), else the portable kernels. AVX-512 CPUs use the AVX2 kernels (no
// AVX-512 kernel ships: no machine of ours can test one). _hnsw_simd() names the path in use.
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <neural_trader/common/cpu.hpp>
#include <neural_trader/hnsw/index.hpp>

#include "common.hpp"

namespace nth = neural_trader::hnsw;

namespace nt_bind {
#if defined(NT_HNSW_HAVE_AVX2)
const nth::kernel_table& hnsw_avx2_kernels() noexcept;
#endif
}  // namespace nt_bind

namespace {

/// The kernels a level runs on this build, or nullptr when it cannot run here.
const nth::kernel_table* kernels_for(neural_trader::simd_level level) {
  switch (level) {
    case neural_trader::simd_level::scalar:
    case neural_trader::simd_level::neon:  // arm64: the portable kernels, vectorised by the compiler
      return &nth::scalar_kernels();
    case neural_trader::simd_level::avx2:
    case neural_trader::simd_level::avx512:
#if defined(NT_HNSW_HAVE_AVX2)
      if (neural_trader::cpu().avx2 && neural_trader::cpu().fma) return &nt_bind::hnsw_avx2_kernels();
#endif
      return nullptr;
  }
  return nullptr;
}

const nth::kernel_table& active_kernels() {
  static const nth::kernel_table* k = [] {
    const auto* t = kernels_for(neural_trader::choose_simd_level().level);
    return t ? t : &nth::scalar_kernels();
  }();
  return *k;
}

using f32_array = py::array_t<float, py::array::c_style>;
using i64_array = py::array_t<std::int64_t, py::array::c_style>;

void check_matrix(const py::array& a, std::size_t dim, const char* what) {
  if (a.ndim() != 2 || static_cast<std::size_t>(a.shape(1)) != dim) {
    throw std::invalid_argument(std::string(what) + " must have shape (n, " + std::to_string(dim) + ")");
  }
}

/// Rows per GIL-released step of a long call; Ctrl-C is checked between steps.
constexpr std::size_t add_step = 8192;
constexpr std::size_t search_step = 16384;

void check_signals() {
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

struct py_index {
  std::unique_ptr<nth::index> idx;
  mutable std::mutex stats_mutex;
  mutable nth::search_stats last;  // of the last search call that finished

  py_index() = default;
  explicit py_index(std::unique_ptr<nth::index> i) : idx(std::move(i)) {}
  py_index(py_index&& o) noexcept : idx(std::move(o.idx)), last(o.last) {}
};

enum filter_kind_code { fk_none = 0, fk_ids = 1, fk_mask = 2, fk_where = 3 };

py::dict stats_dict(const nth::search_stats& s) {
  py::dict d;
  d["path"] = s.exact ? "exact" : "graph";
  d["filtered"] = s.filtered;
  d["subgraph"] = s.subgraph;
  d["exact_fallbacks"] = s.exact_fallbacks;
  d["subgraph_walks"] = s.subgraph_walks;
  d["allowed"] = s.allowed;
  d["distances"] = s.distances;
  return d;
}

void add(py_index& self, const f32_array& vectors, const i64_array& ids, const py::object& labels, int threads,
         bool reuse_deleted) {
  auto& idx = *self.idx;
  check_matrix(vectors, idx.dim(), "vectors");
  const auto n = static_cast<std::size_t>(vectors.shape(0));
  if (ids.ndim() != 1 || static_cast<std::size_t>(ids.shape(0)) != n) {
    throw std::invalid_argument("ids must have shape (" + std::to_string(n) + ",)");
  }
  const std::size_t nc = idx.n_label_columns();
  i64_array cols;
  if (nc > 0) {
    if (labels.is_none()) {
      throw std::invalid_argument("this index has label columns; add() needs labels of shape (n, " + std::to_string(nc) + ")");
    }
    cols = labels.cast<i64_array>();
    check_matrix(cols, nc, "labels");
    if (static_cast<std::size_t>(cols.shape(0)) != n) throw std::invalid_argument("labels must have one row per vector");
  } else if (!labels.is_none()) {
    throw std::invalid_argument("this index has no label columns (give label_names when making it)");
  }
  if (threads < 0) throw std::invalid_argument("num_threads must be >= 0");
  const float* v = vectors.data();
  const std::int64_t* l = ids.data();
  const std::int64_t* c = nc ? cols.data() : nullptr;
  {
    py::gil_scoped_release nogil;
    idx.check_add(v, l, n);
  }
  for (std::size_t b = 0; b < n; b += add_step) {
    const std::size_t m = std::min(add_step, n - b);
    {
      py::gil_scoped_release nogil;
      idx.add(v + b * idx.dim(), l + b, c ? c + b * nc : nullptr, m, threads, reuse_deleted);
    }
    if (b + m < n) check_signals();
  }
}

py::tuple search(const py_index& self, const f32_array& queries, std::size_t k, std::size_t ef,
                 int filter_kind, const py::object& filter, int threads, int exact, double exact_below) {
  const auto& idx = *self.idx;
  check_matrix(queries, idx.dim(), "queries");
  if (k < 1) throw std::invalid_argument("k must be >= 1");
  if (threads < 0) throw std::invalid_argument("num_threads must be >= 0");
  const auto nq = static_cast<std::size_t>(queries.shape(0));
  if (ef == 0) ef = idx.ef();  // 0: the index's default
  nth::filter_spec fs;
  i64_array ids_arr;
  py::array_t<std::uint8_t, py::array::c_style> mask_arr;
  std::vector<nth::condition> conds;
  if (filter_kind == fk_ids) {
    ids_arr = filter.cast<i64_array>();
    fs.type = nth::filter_spec::kind::ids;
    fs.ids = ids_arr.data();
    fs.n = static_cast<std::size_t>(ids_arr.size());
  } else if (filter_kind == fk_mask) {
    mask_arr = filter.cast<py::array_t<std::uint8_t, py::array::c_style>>();
    fs.type = nth::filter_spec::kind::mask;
    fs.mask = mask_arr.data();
    fs.n = static_cast<std::size_t>(mask_arr.size());
  } else if (filter_kind == fk_where) {
    // a list of (column, op, lo, hi, values): op 0 range [lo, hi], 1 in values, 2 not in values
    for (const auto& item : filter.cast<py::list>()) {
      auto t = item.cast<py::tuple>();
      nth::condition c;
      c.column = t[0].cast<std::size_t>();
      const int op = t[1].cast<int>();
      if (op < 0 || op > 2) throw std::invalid_argument("bad condition");
      c.op = static_cast<nth::condition::kind>(op);
      c.lo = t[2].cast<std::int64_t>();
      c.hi = t[3].cast<std::int64_t>();
      auto vals = t[4].cast<i64_array>();
      c.values.assign(vals.data(), vals.data() + vals.size());
      c.normalise();
      conds.push_back(std::move(c));
    }
    fs.type = nth::filter_spec::kind::where;
    fs.conds = &conds;
  } else if (filter_kind != fk_none) {
    throw std::invalid_argument("unknown filter kind " + std::to_string(filter_kind));
  }
  nth::exact_policy pol;
  pol.force = exact;
  pol.below_fraction = exact_below;
  i64_array out_ids({nq, k});
  py::array_t<float> out_d({nq, k});
  nth::search_stats total;
  std::int64_t* oi = out_ids.mutable_data();
  float* od = out_d.mutable_data();
  const float* q = queries.data();
  if (nq == 0) {  // still report what the filter allows
    py::gil_scoped_release nogil;
    total = idx.search(q, 0, k, ef, oi, od, fs, threads, pol);
  }
  for (std::size_t b = 0; b < nq; b += search_step) {
    const std::size_t m = std::min(search_step, nq - b);
    nth::search_stats st;
    if (m * ef < 4096 && fs.type == nth::filter_spec::kind::none) {  // tiny: not worth a GIL round trip
      st = idx.search(q + b * idx.dim(), m, k, ef, oi + b * k, od + b * k, fs, threads, pol);
    } else {
      py::gil_scoped_release nogil;
      st = idx.search(q + b * idx.dim(), m, k, ef, oi + b * k, od + b * k, fs, threads, pol);
    }
    total.filtered = st.filtered;
    total.exact = st.exact;
    total.subgraph = st.subgraph;
    total.exact_fallbacks += st.exact_fallbacks;
    total.subgraph_walks += st.subgraph_walks;
    total.allowed = st.allowed;
    total.distances += st.distances;
    if (b + m < nq) check_signals();
  }
  {
    std::lock_guard<std::mutex> lock(self.stats_mutex);
    self.last = total;
  }
  return py::make_tuple(out_ids, out_d);
}

py::bytes to_bytes(const py_index& self) {
  std::vector<unsigned char> b;
  {
    py::gil_scoped_release nogil;
    b = self.idx->serialize();
  }
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

py_index from_bytes(const py::buffer& data) {
  py::buffer_info info = data.request();
  if (info.ndim != 1 || info.itemsize != 1) {
    throw nt_bind::dtype_error("expected bytes or a 1-D buffer of bytes");
  }
  py_index out;
  const auto* p = info.ptr;
  const auto n = static_cast<std::size_t>(info.size);
  {
    py::gil_scoped_release nogil;
    out.idx = nth::index::deserialize(p, n, active_kernels());
  }
  return out;
}

}  // namespace

void bind_hnsw(py::module_& m) {
  py::class_<py_index> cls(m, "_HNSWIndex", "Compiled HNSW index (private; use neural_trader.HNSWIndex).");
  cls.def(py::init([](std::size_t dim, const std::string& metric, std::size_t M, std::size_t ef_construction,
                      std::size_t ef, std::size_t capacity, std::uint64_t seed,
                      const std::vector<std::string>& label_names) {
            nth::params p;
            p.dim = dim;
            p.metric = nth::parse_metric(metric);
            p.M = M;
            p.ef_construction = ef_construction;
            p.ef = ef;
            p.capacity = capacity;
            p.seed = seed;
            p.label_names = label_names;
            return py_index(std::make_unique<nth::index>(std::move(p), active_kernels()));
          }),
          py::arg("dim"), py::arg("metric"), py::arg("M"), py::arg("ef_construction"), py::arg("ef"), py::arg("capacity"),
          py::arg("seed"), py::arg("label_names"))
      .def("add", &add, py::arg("vectors"), py::arg("ids"), py::arg("labels"), py::arg("num_threads"),
           py::arg("reuse_deleted"), "Add float32 vectors [n, dim] with int64 ids (GIL released, threaded).")
      .def("search", &search, py::arg("queries"), py::arg("k"), py::arg("ef"), py::arg("filter_kind"),
           py::arg("filter"), py::arg("num_threads"), py::arg("exact"), py::arg("exact_below"),
           "(ids [n, k], distances [n, k]) of the k nearest neighbours (GIL released, threaded).")
      .def_property_readonly("last_stats", [](const py_index& self) {
             std::lock_guard<std::mutex> lock(self.stats_mutex);
             return stats_dict(self.last);
           }, "What the last search call that finished did (path, filtered, allowed, distances).")
      .def("mark_deleted", [](py_index& self, const i64_array& ids) {
             self.idx->mark_deleted(ids.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"), "Mark live ids deleted (all or nothing).")
      .def("unmark_deleted", [](py_index& self, const i64_array& ids) {
             self.idx->unmark_deleted(ids.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"), "Bring deleted ids back (all or nothing).")
      .def("get_vectors", [](const py_index& self, const i64_array& ids) {
             const auto n = static_cast<std::size_t>(ids.size());
             py::array_t<float> out({n, self.idx->dim()});
             self.idx->get_vectors(ids.data(), n, out.mutable_data());
             return out;
           }, py::arg("ids"), "Stored vectors of live ids, [n, dim] float32.")
      .def("contains", [](const py_index& self, std::int64_t id) { return self.idx->contains(id); }, py::arg("id"),
           "Whether id is a live point.")
      .def("ids", [](const py_index& self) {
             std::vector<std::int64_t> cols;
             auto ids = self.idx->ids(&cols);
             const std::size_t nc = self.idx->n_label_columns();
             i64_array a(static_cast<py::ssize_t>(ids.size()));
             std::copy(ids.begin(), ids.end(), a.mutable_data());
             i64_array c({ids.size(), nc});
             std::copy(cols.begin(), cols.end(), c.mutable_data());
             return py::make_tuple(a, c);
           }, "(ids, label columns) of the live points, in slot order.")
      .def("__len__", [](const py_index& self) { return self.idx->size(); }, "Live points.")
      .def("_set_two_hop", [](py_index& self, std::size_t lists, std::size_t evaluations) {
             self.idx->set_two_hop(lists, evaluations);
           }, py::arg("lists"), py::arg("evaluations"), "Tuning of the two-hop filtered walk (testing).")
      .def("_set_subgraph", [](py_index& self, int mode) { self.idx->set_subgraph(mode); }, py::arg("mode"),
           "Whether filtered searches collect the allowed points' two-hop links: -1 auto, 0 never, 1 always (testing).")
      .def("reserve", [](py_index& self, std::size_t n) { self.idx->reserve(n); }, py::arg("n"),
           "Make room for n slots.")
      .def("to_bytes", &to_bytes, "The index as one checksummed frame.")
      .def_static("from_bytes", &from_bytes, py::arg("data"), "An index from to_bytes(); CorruptDataError when invalid.")
      .def("check_integrity", [](const py_index& self) { return self.idx->check_integrity(); },
           "Empty string when the graph is consistent, else the first problem found.")
      .def_property_readonly("dim", [](const py_index& self) { return self.idx->dim(); }, "Vector length.")
      .def_property_readonly("metric", [](const py_index& self) { return std::string(nth::to_string(self.idx->metric())); },
                             "Distance: l2, ip or cosine.")
      .def_property_readonly("M", [](const py_index& self) { return self.idx->M(); }, "Links per point (2M on level 0).")
      .def_property_readonly("ef_construction", [](const py_index& self) { return self.idx->ef_construction(); },
                             "Candidate list size while inserting.")
      .def_property("ef", [](const py_index& self) { return self.idx->ef(); },
                    [](py_index& self, std::size_t ef) { self.idx->set_ef(ef); }, "Default ef of searches.")
      .def_property_readonly("seed", [](const py_index& self) { return self.idx->seed(); }, "Seed of the level draws.")
      .def_property_readonly("label_names", [](const py_index& self) { return self.idx->label_names(); },
                             "Names of the int64 label columns.")
      .def_property_readonly("capacity", [](const py_index& self) { return self.idx->capacity(); },
                             "Slots allocated (grows on its own).")
      .def_property_readonly("slots", [](const py_index& self) { return self.idx->slots(); },
                             "Slots in use, deleted ones included.")
      .def_property_readonly("deleted_count", [](const py_index& self) { return self.idx->deleted_count(); },
                             "Deleted points whose slots wait for reuse.")
      .def_property_readonly("top_level", [](const py_index& self) { return self.idx->top_level(); },
                             "Highest level of the graph (-1 when empty).")
      .def_property_readonly("memory_bytes", [](const py_index& self) { return self.idx->memory_bytes(); },
                             "Bytes held by vectors, graph and id map (estimate).")
      .def_property_readonly("simd", [](const py_index& self) { return std::string(self.idx->kernels().name); },
                             "Distance kernels this index runs.");

  m.def("_knn_exact", [](const f32_array& data, const f32_array& queries, std::size_t k, const std::string& metric,
                         int threads) {
        if (data.ndim() != 2) throw std::invalid_argument("data must have shape (n, dim)");
        const auto dim = static_cast<std::size_t>(data.shape(1));
        if (dim == 0) throw std::invalid_argument("dim must be >= 1");
        check_matrix(queries, dim, "queries");
        if (k < 1) throw std::invalid_argument("k must be >= 1");
        const auto n = static_cast<std::size_t>(data.shape(0));
        const auto nq = static_cast<std::size_t>(queries.shape(0));
        const auto mt = nth::parse_metric(metric);
        i64_array ids({nq, k});
        py::array_t<float> d({nq, k});
        auto* pi = ids.mutable_data();
        auto* pd = d.mutable_data();
        {
          py::gil_scoped_release nogil;
          nth::knn_exact(data.data(), n, queries.data(), nq, dim, k, mt, pi, pd, threads, active_kernels());
        }
        return py::make_tuple(ids, d);
      }, py::arg("data"), py::arg("queries"), py::arg("k"), py::arg("metric"), py::arg("num_threads"),
      "Brute-force k nearest neighbours (row numbers as ids).");
  m.def("_hnsw_simd", [] { return std::string(active_kernels().name); }, "The HNSW distance kernels in use.");
  m.def("_hnsw_simd_levels", [] {
        std::vector<std::string> out;
        for (auto l : {neural_trader::simd_level::scalar, neural_trader::simd_level::avx2}) {
          if (const auto* k = kernels_for(l)) out.emplace_back(k->name);
        }
        return out;
      }, "The HNSW kernel sets this machine and build can run.");
  m.def("_hnsw_distance", [](const std::string& kernels, const std::string& metric, const f32_array& a,
                             const f32_array& b) {
        const nth::kernel_table* k = nullptr;
        if (kernels == "scalar") k = kernels_for(neural_trader::simd_level::scalar);
        else if (kernels == "avx2") k = kernels_for(neural_trader::simd_level::avx2);
        if (k == nullptr) throw std::invalid_argument("kernels '" + kernels + "' cannot run here");
        if (a.ndim() != 2 || b.ndim() != 2 || a.shape(0) != b.shape(0) || a.shape(1) != b.shape(1)) {
          throw std::invalid_argument("a and b must be matrices of one shape");
        }
        const auto mt = nth::parse_metric(metric);
        const auto n = static_cast<std::size_t>(a.shape(0)), dim = static_cast<std::size_t>(a.shape(1));
        py::array_t<float> out(static_cast<py::ssize_t>(n));
        for (std::size_t i = 0; i < n; ++i) {
          out.mutable_data()[i] = nth::distance(*k, mt, a.data() + i * dim, b.data() + i * dim, dim);
        }
        return out;
      }, py::arg("kernels"), py::arg("metric"), py::arg("a"), py::arg("b"),
      "Row-wise distances with one kernel set (for testing every path against scalar).");
}
