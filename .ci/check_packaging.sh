#!/usr/bin/env bash
# Static packaging checks, called by .ci/run. Needs no container engine; the network only to
# install the tools from PyPI into a throw-away venv.
#
#   1. cibuildwheel -- the exact version .github/workflows/wheels.yml pins -- lists the build
#      identifiers of pyproject.toml's [tool.cibuildwheel] for linux, macos and windows; they must
#      be exactly CPython 3.10-3.14 + 3.13t/3.14t on manylinux x86_64/aarch64, musllinux x86_64,
#      macOS x86_64/arm64 and win_amd64 (so no i686, no win32, nothing else);
#   2. [tool.cibuildwheel] validates against the JSON schema cibuildwheel ships;
#   3. both workflow files parse as YAML (PyYAML), validate against the GitHub workflow schema
#      vendored in check-jsonschema (run without network, to prove it needs none), give every job
#      a timeout, set no arch-specific compiler flag (-march, -mavx, ...) nor CMAKE_ARGS/CFLAGS/
#      CXXFLAGS, and only call local scripts that exist.
#
# Usage: bash .ci/check_packaging.sh        (PYTHON=python3.x to choose the interpreter)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PYTHON="${PYTHON:-python3}"
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
export PIP_DISABLE_PIP_VERSION_CHECK=1
started=$SECONDS
step() { printf '\n---- [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

workflows=(.github/workflows/ci.yml .github/workflows/wheels.yml)
for f in "${workflows[@]}" pyproject.toml; do [[ -f "$f" ]] || fail "missing $f"; done

# CIBW_* variables in the caller's environment would change what cibuildwheel reports.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^CIBW_' || true)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------------------------------------
step "tools: the cibuildwheel version wheels.yml uses, PyYAML, check-jsonschema"
mapfile -t pins < <(grep -oE 'pypa/cibuildwheel@v[0-9]+\.[0-9]+\.[0-9]+' .github/workflows/wheels.yml | sort -u)
((${#pins[@]} == 1)) || fail "wheels.yml must pin exactly one pypa/cibuildwheel@vX.Y.Z (found: ${pins[*]:-none})"
cibw_version=${pins[0]#pypa/cibuildwheel@v}
"$PYTHON" -m venv "$work/venv"
vpy="$work/venv/bin/python"
"$vpy" -m pip install -q --upgrade pip
"$vpy" -m pip install -q "cibuildwheel==$cibw_version" pyyaml check-jsonschema 'tomli; python_version < "3.11"'
"$vpy" -m pip list 2>/dev/null | grep -iE '^(cibuildwheel|pyyaml|check-jsonschema) '

# ---------------------------------------------------------------------------------------------
step "cibuildwheel $cibw_version --print-build-identifiers"
for platform in linux macos windows; do
  "$work/venv/bin/cibuildwheel" --print-build-identifiers --platform "$platform" >"$work/ids-$platform.txt" ||
    fail "cibuildwheel --print-build-identifiers --platform $platform"
  echo "$platform: $(tr '\n' ' ' <"$work/ids-$platform.txt")"
done
"$vpy" - "$work" <<'EOF'
import pathlib, sys

work = pathlib.Path(sys.argv[1])
pythons = ["cp310", "cp311", "cp312", "cp313", "cp314", "cp313t", "cp314t"]
platforms = {
    "linux": ["manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64"],
    "macos": ["macosx_x86_64", "macosx_arm64"],
    "windows": ["win_amd64"],
}
ok = True
for platform, tags in platforms.items():
    got = set((work / f"ids-{platform}.txt").read_text().split())
    want = {f"{py}-{tag}" for py in pythons for tag in tags}
    forbidden = sorted(i for i in got if "i686" in i or "win32" in i)
    if forbidden:
        ok = False
        print(f"{platform}: 32-bit identifiers must not be built: {forbidden}")
    if want - got:
        ok = False
        print(f"{platform}: missing {sorted(want - got)}")
    if got - want - set(forbidden):
        ok = False
        print(f"{platform}: unexpected {sorted(got - want - set(forbidden))}")
    if got == want:
        print(f"{platform}: ok, {len(got)} identifiers")
if not ok:
    sys.exit("build identifiers differ from the expected set (pyproject.toml [tool.cibuildwheel])")
EOF

# ---------------------------------------------------------------------------------------------
step "[tool.cibuildwheel] against cibuildwheel's own schema"
schema=$("$vpy" -c 'import cibuildwheel, pathlib; print(pathlib.Path(cibuildwheel.__file__).parent / "resources" / "cibuildwheel.schema.json")')
[[ -f "$schema" ]] || fail "cibuildwheel $cibw_version ships no resources/cibuildwheel.schema.json"
"$vpy" - "$work/tool-cibuildwheel.json" <<'EOF'
import json, sys
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    table = tomllib.load(f)["tool"]["cibuildwheel"]
json.dump(table, open(sys.argv[1], "w"), indent=2)
EOF
"$work/venv/bin/check-jsonschema" --schemafile "$schema" "$work/tool-cibuildwheel.json"

# ---------------------------------------------------------------------------------------------
step "workflows: YAML, no arch flags, timeouts, local scripts"
"$vpy" - "${workflows[@]}" <<'EOF'
import pathlib, re, sys
import yaml

ARCH_FLAG = re.compile(r"-march\b|-mtune=native|-mcpu=native|-mavx|-mfma\b|-msse4|-mbmi|/arch:")
FLAG_VARS = {"CMAKE_ARGS", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "SKBUILD_CMAKE_ARGS", "CIBW_ENVIRONMENT"}
SCRIPT = re.compile(r"(?:^|[\s;&|(])(?:bash|sh)\s+((?:\./)?[\w./-]+)")
problems = []

def strings(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node

def envs(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "env" and isinstance(v, dict):
                yield f"{path}.env", v
            yield from envs(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from envs(v, f"{path}[{i}]")

for name in sys.argv[1:]:
    doc = yaml.safe_load(pathlib.Path(name).read_text())
    if not isinstance(doc, dict):
        problems.append(f"{name}: not a YAML mapping")
        continue
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    if "on" not in doc and True not in doc:
        problems.append(f"{name}: no `on:` triggers")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        problems.append(f"{name}: no jobs")
        continue
    for job_id, job in jobs.items():
        if "runs-on" not in job:
            problems.append(f"{name}: job {job_id} has no runs-on")
        if "timeout-minutes" not in job:
            problems.append(f"{name}: job {job_id} has no timeout-minutes")
    for path, text in strings(doc, "$"):
        if ARCH_FLAG.search(text):
            problems.append(f"{name}: arch-specific compiler flag at {path}: {text.strip()[:120]!r}")
        if path.endswith(".run"):
            for script in SCRIPT.findall(text):
                if "/" in script and not pathlib.Path(script).is_file():
                    problems.append(f"{name}: {path} runs {script}, which does not exist")
    for path, env in envs(doc, "$"):
        for var in sorted(FLAG_VARS & set(env)):
            problems.append(f"{name}: {path} sets {var} (wheels take their flags from CMake alone)")
    print(f"{name}: parsed, {len(jobs)} jobs: {', '.join(jobs)}")

if problems:
    print("\n".join(problems))
    sys.exit("workflow checks failed")
EOF

step "workflows against the GitHub workflow schema vendored in check-jsonschema (no network)"
# Run without network, to prove the vendored schema is all it needs: a private network namespace
# where the kernel allows one, else proxies that point nowhere.
offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)
else
  offline=(env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 NO_PROXY= no_proxy=)
fi
echo "offline via: ${offline[0]} ${offline[1]%%=*}"
"${offline[@]}" "$work/venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"${offline[@]}" "$work/venv/bin/check-jsonschema" --builtin-schema custom.github-workflows-require-timeout "${workflows[@]}"

step "packaging checks passed"
