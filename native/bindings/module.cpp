// The compiled core's Python module, neural_trader._core: one bind_<component> call each.
#include <neural_trader/version.hpp>

#include "common.hpp"

void bind_common(py::module_& m);
void bind_ring(py::module_& m);
void bind_ta(py::module_& m);
void bind_sketch(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "neural-trader compiled core (private; use the neural_trader package).";
  m.attr("__version__") = NEURAL_TRADER_VERSION;
  bind_common(m);
  bind_ring(m);
  bind_ta(m);
  bind_sketch(m);
}
