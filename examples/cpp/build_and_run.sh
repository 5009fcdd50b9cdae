#!/usr/bin/env bash
# Proves that the core installs and is usable from a plain CMake project:
#   1. configures the top-level project (no tests, no Python) and installs the component
#      core_headers (headers, CMake targets and package config) into a temporary prefix;
#   2. configures examples/cpp against that prefix with find_package(neural_trader CONFIG);
#   3. builds it and runs it (exit status 0 only when every tick arrived in order).
#
# Usage: examples/cpp/build_and_run.sh        Environment: CXX, JOBS (default 2),
#        KEEP_TMP=1 keeps the temporary directory and prints where it is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
jobs="${JOBS:-2}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nt-example.XXXXXX")"
if [[ "${KEEP_TMP:-0}" == 1 ]]; then
  echo "temporary directory kept: ${tmp}"
else
  trap 'rm -rf "${tmp}"' EXIT
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
compiler=()
[[ -n "${CXX:-}" ]] && compiler=(-DCMAKE_CXX_COMPILER="${CXX}")

echo "=== install the core headers into ${tmp}/prefix"
cmake -S "${root}" -B "${tmp}/core-build" "${generator[@]}" "${compiler[@]}" \
  -DNT_BUILD_TESTS=OFF >/dev/null
cmake --install "${tmp}/core-build" --prefix "${tmp}/prefix" --component core_headers
# Only the component: headers and the CMake package, nothing of the Python extension.
test -f "${tmp}/prefix/include/neural_trader/core.hpp"
find "${tmp}/prefix" -name neural_traderConfig.cmake | grep -q . ||
  { echo "neural_traderConfig.cmake was not installed" >&2; exit 1; }

echo "=== configure and build examples/cpp against the installed package"
cmake -S "${here}" -B "${tmp}/example-build" "${generator[@]}" "${compiler[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="${tmp}/prefix"
cmake --build "${tmp}/example-build" -j"${jobs}"

echo "=== run"
"${tmp}/example-build/nt_ring_example"
