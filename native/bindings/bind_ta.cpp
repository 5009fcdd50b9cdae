// Python bindings of the indicators' batch side: one generic batch entry point over the
// registry (1-D and 2-D float64 arrays, any strides, GIL released, rows in parallel), look-backs,
// and the feature extractor's fused pass. The streaming classes are Cython (native/cython/ta.pxi)
// over the same C++ states.
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <neural_trader/common/huge_page_allocator.hpp>
#include <neural_trader/common/threads.hpp>
#include <neural_trader/indicators/stream.hpp>

#include "common.hpp"

namespace ta = neural_trader::ta;

namespace {


/// A new float64 array of this shape. From 4 MiB on its memory is a huge-page block of this
/// module's block_cache (common/huge_page_allocator.hpp), given back when the array and its views
/// are gone: a loop over indicators then writes into pages that are already mapped instead of
/// faulting in fresh ones for every result (on some hosts that costs more than the indicator).
py::array_t<double> output_array(const std::vector<py::ssize_t>& shape) {
  std::size_t count = 1;
  for (py::ssize_t d : shape) count *= static_cast<std::size_t>(d);
  const std::size_t bytes = count * sizeof(double);
  if (bytes < neural_trader::huge_pages::threshold) return py::array_t<double>(shape);
  struct block {
    void* p;
    std::size_t bytes;
  };
  // The array starts 2,112 bytes into its block (half a page and a cache line): a block starts
  // on a 2 MiB boundary, and an output at the same offset within a 4 KiB page as an input it is
  // computed from measured up to 15 % slower (loads and stores whose addresses agree in their
  // low 12 bits stall each other); NumPy's own arrays start 16 bytes into a page.
  constexpr std::size_t offset = 2112;
  const std::size_t rounded = neural_trader::huge_pages::rounded(bytes + offset);
  auto* b = new block{nullptr, rounded};
  try {
    b->p = neural_trader::block_cache::instance().take(rounded);
  } catch (...) {
    delete b;
    throw;
  }
  py::capsule owner;
  try {
    owner = py::capsule(b, [](void* q) {
      auto* blk = static_cast<block*>(q);
      neural_trader::block_cache::instance().give(blk->p, blk->bytes);
      delete blk;
    });
  } catch (...) {
    neural_trader::block_cache::instance().give(b->p, b->bytes);
    delete b;
    throw;
  }
  return py::array_t<double>(shape, reinterpret_cast<double*>(static_cast<char*>(b->p) + offset), owner);
}

/// Batches of fewer steps (rows x columns) run without releasing the GIL.
constexpr std::size_t gil_release_steps = 4096;

struct view2d {
  const double* data;
  std::ptrdiff_t row_stride;  // in elements
  std::ptrdiff_t col_stride;  // in elements
};

view2d check_input(const py::array& a, std::size_t k, py::ssize_t rows, py::ssize_t cols, int ndim) {
  if (!py::isinstance<py::array_t<double>>(a) || a.dtype().kind() != 'f' || a.itemsize() != 8) {
    throw nt_bind::dtype_error("input " + std::to_string(k) + ": expected a float64 array");
  }
  if (a.ndim() != ndim) throw std::invalid_argument("inputs must all have the same number of dimensions");
  const py::ssize_t r = ndim == 2 ? a.shape(0) : 1;
  const py::ssize_t c = ndim == 2 ? a.shape(1) : a.shape(0);
  if (r != rows || c != cols) throw std::invalid_argument("inputs must all have the same shape");
  for (int d = 0; d < ndim; ++d) {
    if (a.strides(d) % 8 != 0) throw std::invalid_argument("input strides must be multiples of 8 bytes");
  }
  view2d v;
  v.data = static_cast<const double*>(a.data());
  v.col_stride = a.strides(ndim - 1) / 8;
  v.row_stride = ndim == 2 ? a.strides(0) / 8 : 0;
  return v;
}

/// Runs a fresh copy of `proto` over every row: rows in parallel, or one long row in parts
/// where the indicator allows it (ta::run_parts).
py::tuple run_batch(ta::indicator& proto, const std::vector<py::array>& inputs, int num_threads) {
  const int n_in = proto.n_in();
  const int n_out = proto.n_out();
  if (static_cast<int>(inputs.size()) != n_in) {
    throw std::invalid_argument(proto.name() + " takes " + std::to_string(n_in) + " input arrays, got " +
                                std::to_string(inputs.size()));
  }
  const int ndim = inputs[0].ndim();
  if (ndim != 1 && ndim != 2) throw std::invalid_argument("inputs must be 1-D or 2-D (symbols x time)");
  const py::ssize_t rows = ndim == 2 ? inputs[0].shape(0) : 1;
  const py::ssize_t cols = ndim == 2 ? inputs[0].shape(1) : inputs[0].shape(0);
  std::vector<view2d> in;
  for (std::size_t k = 0; k < inputs.size(); ++k) in.push_back(check_input(inputs[k], k, rows, cols, ndim));
  std::vector<py::array_t<double>> outs;
  std::vector<double*> out_ptr;
  for (int j = 0; j < n_out; ++j) {
    outs.push_back(ndim == 2 ? output_array({rows, cols}) : output_array({cols}));
    out_ptr.push_back(outs.back().mutable_data());
  }
  {
    // Short work keeps the GIL: releasing and taking it back costs more than a few thousand
    // steps of the cheapest indicator.
    std::optional<py::gil_scoped_release> nogil;
    if (static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) >= gil_release_steps) nogil.emplace();
    // Row r of every input and output, as the pointer lists indicator::run takes.
    struct row_pointers {
      std::vector<const double*> in;
      std::vector<std::ptrdiff_t> stride;
      std::vector<double*> out;
    };
    auto pointers = [&] {
      return row_pointers{std::vector<const double*>(static_cast<std::size_t>(n_in)),
                          std::vector<std::ptrdiff_t>(static_cast<std::size_t>(n_in)),
                          std::vector<double*>(static_cast<std::size_t>(n_out))};
    };
    auto point_at = [&](std::size_t r, row_pointers& p) {
      for (int k = 0; k < n_in; ++k) {
        p.in[k] = in[k].data + static_cast<std::ptrdiff_t>(r) * in[k].row_stride;
        p.stride[k] = in[k].col_stride;
      }
      for (int j = 0; j < n_out; ++j) p.out[j] = out_ptr[j] + static_cast<std::ptrdiff_t>(r) * cols;
    };
    if (rows == 1) {  // one long series: split across the threads where the indicator allows
      row_pointers p = pointers();
      point_at(0, p);
      ta::run_parts(proto, p.in.data(), p.stride.data(), p.out.data(), static_cast<std::size_t>(cols), num_threads);
    } else {
      // Rows handed out one at a time to whichever thread is free (a copy of the fresh
      // prototype per thread, reset between rows): a thread that starts late or is held up
      // does fewer rows instead of holding the others at the join.
      std::atomic<std::size_t> next{0};
      const auto n_rows = static_cast<std::size_t>(rows);
      auto work = [&](std::size_t, std::size_t) {
        std::unique_ptr<ta::indicator> ind = proto.clone();
        row_pointers p = pointers();
        bool fresh = true;
        for (std::size_t r = next.fetch_add(1, std::memory_order_relaxed); r < n_rows;
             r = next.fetch_add(1, std::memory_order_relaxed)) {
          if (!fresh) ind->reset();
          fresh = false;
          point_at(r, p);
          ind->run(p.in.data(), p.stride.data(), p.out.data(), static_cast<std::size_t>(cols));
        }
      };
      const auto threads = neural_trader::threads_for(n_rows, 1, num_threads);
      neural_trader::parallel_for(threads, work, static_cast<int>(threads));
    }
  }
  py::tuple t(n_out);
  for (int j = 0; j < n_out; ++j) t[j] = outs[j];
  return t;
}

}  // namespace

void bind_ta(py::module_& m) {
  m.def(
      "_ta_batch",
      [](const std::string& name, const std::vector<double>& params, const std::vector<py::array>& inputs,
         int num_threads) {
        auto proto = ta::make_indicator(name, params);
        if (inputs.empty()) throw std::invalid_argument("no input arrays");
        return run_batch(*proto, inputs, num_threads);
      },
      py::arg("name"), py::arg("params"), py::arg("inputs"), py::arg("num_threads") = 0,
      "Runs indicator `name` with `params` over float64 arrays (1-D, in parts on several threads where "
      "the indicator allows, or 2-D rows in parallel); returns a tuple of output arrays.");

  // The same C++ streaming state behind a pybind11 method: kept (private) so that the per-call
  // cost of the two bindings can be compared side by side (benchmarks/compare_ta.py); the public
  // streaming classes are the Cython ones.
  py::class_<ta::indicator>(m, "_TaPyStream")
      .def(py::init([](const std::string& name, const std::vector<double>& params) {
             return ta::make_indicator(name, params).release();
           }),
           py::arg("name"), py::arg("params"))
      .def(
          "update",
          [](ta::indicator& self, double x, bool replace) {
            double out[3];
            self.update(&x, out, replace);
            return out[0];
          },
          py::arg("x"), py::arg("replace") = false, "One update of a one-input indicator; returns the first output.");

  m.def(
      "_block_cache_set_limit",
      [](std::size_t nbytes) { return neural_trader::block_cache::instance().set_limit(nbytes); },
      py::arg("nbytes"), "Sets this module's output block cache limit; returns the old one.");
  m.def(
      "_block_cache_info",
      [] {
        const auto s = neural_trader::block_cache::instance().get_stats();
        py::dict d;
        d["limit"] = s.limit;
        d["held_bytes"] = s.held_bytes;
        d["held_blocks"] = s.held_blocks;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        return d;
      },
      "This module's output block cache: limit, held bytes and blocks, hits and misses.");

  m.def(
      "_ta_lookback",
      [](const std::string& name, const std::vector<double>& params) {
        return ta::make_indicator(name, params)->lookback();
      },
      py::arg("name"), py::arg("params"), "Number of leading NaNs of indicator `name` on finite input.");

  m.def(
      "_ta_registry",
      [] {
        py::list out;
        for (const auto& s : ta::registry()) out.append(py::make_tuple(s.name, s.n_in, s.n_out, s.n_params));
        return out;
      },
      "The compiled indicators: (name, inputs, outputs, parameters) each.");

  m.def(
      "_ta_features",
      [](const std::vector<py::array>& columns, const std::vector<std::string>& names,
         const std::vector<std::vector<double>>& params, const std::vector<std::vector<int>>& input_cols,
         int num_threads) {
        // One task per feature; each runs its indicator over its columns in one pass.
        const std::size_t nf = names.size();
        if (params.size() != nf || input_cols.size() != nf) throw std::invalid_argument("feature lists differ in length");
        if (columns.empty()) throw std::invalid_argument("no input columns");
        const py::ssize_t n = columns[0].ndim() == 1 ? columns[0].shape(0) : -1;
        std::vector<view2d> cols;
        for (std::size_t k = 0; k < columns.size(); ++k) cols.push_back(check_input(columns[k], k, 1, n, 1));
        std::vector<std::unique_ptr<ta::indicator>> inds;
        std::vector<std::size_t> first_out;
        std::size_t total_out = 0;
        for (std::size_t f = 0; f < nf; ++f) {
          inds.push_back(ta::make_indicator(names[f], params[f]));
          if (static_cast<int>(input_cols[f].size()) != inds.back()->n_in()) {
            throw std::invalid_argument(names[f] + ": wrong number of input columns");
          }
          for (int c : input_cols[f]) {
            if (c < 0 || static_cast<std::size_t>(c) >= cols.size()) throw std::invalid_argument("input column out of range");
          }
          first_out.push_back(total_out);
          total_out += static_cast<std::size_t>(inds.back()->n_out());
        }
        std::vector<py::array_t<double>> outs;
        std::vector<double*> out_ptr;
        for (std::size_t j = 0; j < total_out; ++j) {
          outs.push_back(output_array({n}));
          out_ptr.push_back(outs.back().mutable_data());
        }
        {
          py::gil_scoped_release nogil;
          // One pass over the columns: blocks small enough to stay in cache, every feature of
          // this thread's share run over each block in turn (a feature's state carries over
          // from block to block, so the values equal whole-array runs).
          constexpr std::size_t block = 4096;
          const auto total = static_cast<std::size_t>(n);
          neural_trader::parallel_for(
              nf,
              [&](std::size_t b, std::size_t e) {
                std::vector<std::vector<const double*>> ip(e - b);
                std::vector<std::vector<std::ptrdiff_t>> st(e - b);
                std::vector<std::vector<double*>> op(e - b);
                for (std::size_t f = b; f < e; ++f) {
                  for (int c : input_cols[f]) st[f - b].push_back(cols[static_cast<std::size_t>(c)].col_stride);
                  ip[f - b].resize(input_cols[f].size());
                  op[f - b].resize(static_cast<std::size_t>(inds[f]->n_out()));
                }
                for (std::size_t at = 0; at < total; at += block) {
                  const std::size_t len = std::min(block, total - at);
                  for (std::size_t f = b; f < e; ++f) {
                    auto& fi = ip[f - b];
                    for (std::size_t k = 0; k < fi.size(); ++k) {
                      const auto& col = cols[static_cast<std::size_t>(input_cols[f][k])];
                      fi[k] = col.data + static_cast<std::ptrdiff_t>(at) * col.col_stride;
                    }
                    auto& fo = op[f - b];
                    for (std::size_t j = 0; j < fo.size(); ++j) fo[j] = out_ptr[first_out[f] + j] + at;
                    inds[f]->run(fi.data(), st[f - b].data(), fo.data(), len);
                  }
                }
              },
              num_threads);
        }
        py::list result;
        for (auto& o : outs) result.append(o);
        return result;
      },
      py::arg("columns"), py::arg("names"), py::arg("params"), py::arg("input_cols"), py::arg("num_threads") = 0,
      "Runs several indicators over shared float64 columns, features in parallel; returns the "
      "outputs in order.");
}
