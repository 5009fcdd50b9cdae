#!/usr/bin/env bash
# Builds and runs the C++ tests (tests/cpp) in three configurations through the top-level
# CMakeLists.txt, then prints the throughput benchmark of the plain build:
#
#   plain   Release, no instrumentation; stress_ring at full size, then stress_ring --bench
#   asan    RelWithDebInfo, -fsanitize=address,undefined; stress_ring --quick
#   tsan    RelWithDebInfo, -fsanitize=thread;            stress_ring --quick
#
# Usage: tests/cpp/run_sanitizers.sh [plain|asan|tsan ...]   (default: all three)
# Environment: CXX (default g++), JOBS (default 2), NT_BUILD_ROOT (default <repo>/build).
# Needs only cmake, a C++20 g++ (Debian's g++ 12 works) and its sanitizer runtimes
# (libasan8, libubsan1, libtsan2 on Debian 12; installed with apt-get when missing and run as
# root). Uses Ninja when it is installed, else Unix Makefiles. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
build_root="${NT_BUILD_ROOT:-${root}/build}"
jobs="${JOBS:-2}"
export CXX="${CXX:-g++}"

configs=("$@")
[[ ${#configs[@]} -eq 0 ]] && configs=(plain asan tsan)
for c in "${configs[@]}"; do
  case "$c" in plain | asan | tsan) ;; *) echo "unknown configuration '$c' (plain, asan, tsan)" >&2; exit 2 ;; esac
done

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

log() { printf '\n=== %s\n' "$*"; }
die() { printf 'run_sanitizers.sh: %s\n' "$*" >&2; exit 1; }

command -v cmake >/dev/null || die "cmake not found"
command -v "$CXX" >/dev/null || die "C++ compiler '$CXX' not found"
if command -v ninja >/dev/null; then generator="Ninja"; else generator="Unix Makefiles"; fi

# --- sanitizer runtimes ------------------------------------------------------------------------
# A sanitizer is usable when a trivial threaded program links and runs with it.
probe_dir="$(mktemp -d)"
trap 'rm -rf "${probe_dir}"' EXIT
cat >"${probe_dir}/probe.cpp" <<'EOF'
#include <thread>
int main() { int x = 0; std::thread t([&] { x = 1; }); t.join(); return x == 1 ? 0 : 1; }
EOF
sanitizer_works() {  # $1: -fsanitize value
  "$CXX" -std=c++20 -fsanitize="$1" "${probe_dir}/probe.cpp" -o "${probe_dir}/probe" -pthread >/dev/null 2>&1 &&
    ASAN_OPTIONS=detect_leaks=0 "${probe_dir}/probe" >/dev/null 2>&1
}
# Debian packages of the runtimes for the compiler's major version (g++ 12: libasan8, libubsan1, libtsan2).
runtime_packages() {  # $@: asan | ubsan | tsan
  local major r
  major="$("$CXX" -dumpversion | cut -d. -f1)"
  for r in "$@"; do
    case "$r:$major" in
      asan:1[2-9]) echo libasan8 ;; asan:1[01]) echo libasan6 ;;
      tsan:1[2-9]) echo libtsan2 ;; tsan:1[01]) echo libtsan0 ;;
      ubsan:*) echo libubsan1 ;;
      *) echo "lib$r" ;;
    esac
  done
}
ensure_sanitizer() {  # $1: -fsanitize value, rest: runtimes (asan ubsan tsan)
  local flag="$1"; shift
  sanitizer_works "$flag" && return 0
  local pkgs missing=() p
  mapfile -t pkgs < <(runtime_packages "$@")
  if command -v dpkg-query >/dev/null; then
    echo "installed sanitizer runtimes:"; dpkg -l | grep -E "libtsan|libasan|libubsan" || true
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] &&
      die "-fsanitize=${flag} does not work with $CXX although ${pkgs[*]} are installed (wrong compiler version?)"
    pkgs=("${missing[@]}")
  fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "-fsanitize=${flag} does not link/run: installing ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" ||
      { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"; } ||
      die "could not install ${pkgs[*]}"
    sanitizer_works "$flag" || die "-fsanitize=${flag} still fails after installing ${pkgs[*]}"
  else
    die "-fsanitize=${flag} does not work with $CXX: install the runtime(s) ${pkgs[*]} (as root: apt-get install -y ${pkgs[*]})"
  fi
}

# --- one configuration -------------------------------------------------------------------------
summary=()
run_config() {  # $1: name, $2: build type, $3: NT_SANITIZE
  local name="$1" type="$2" sanitize="$3" dir="${build_root}/cpp-$1" start end
  start=$(date +%s)
  log "[$name] configure (${type}, NT_SANITIZE='${sanitize}', ${generator}) in ${dir}"
  cmake -S "$root" -B "$dir" -G "$generator" -DCMAKE_BUILD_TYPE="$type" -DNT_SANITIZE="$sanitize" \
    -DNT_WERROR=ON -DNT_BUILD_TESTS=ON -DCMAKE_CXX_COMPILER="$CXX" >/dev/null
  log "[$name] build (-j${jobs})"
  cmake --build "$dir" -j"$jobs"
  log "[$name] ctest"
  (cd "$dir" && ctest --output-on-failure)
  end=$(date +%s)
  summary+=("$(printf '%-6s passed in %4d s' "$name" $((end - start)))")
}

t0=$(date +%s)
for c in "${configs[@]}"; do
  case "$c" in
    plain) run_config plain Release "" ;;
    asan)
      ensure_sanitizer address,undefined asan ubsan
      run_config asan RelWithDebInfo "address,undefined"
      ;;
    tsan)
      ensure_sanitizer thread tsan
      run_config tsan RelWithDebInfo "thread"
      ;;
  esac
done

if [[ " ${configs[*]} " == *" plain "* ]]; then
  log "[plain] stress_ring --bench"
  "${build_root}/cpp-plain/tests/cpp/stress_ring" --bench
fi

log "summary"
printf '%s\n' "${summary[@]}"
printf 'all passed in %d s\n' $(($(date +%s) - t0))
