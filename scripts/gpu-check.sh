#!/usr/bin/env bash
# The prepared check for a GPU machine (no network, nothing installed): run from the source tree,
#
#   bash scripts/gpu-check.sh            # results under $OUT (a new /tmp folder when unset)
#
# 1. finds the Python that has CuPy and a GPU it sees (python3, python, ...; or $PYTHON), and
#    says clearly and exits 2 when there is none;
# 2. nvidia-smi and the versions -> $OUT/nvidia-smi.txt, $OUT/env.txt;
# 3. the GPU parity tests, `pytest -m gpu tests/gpu` -> $OUT/gpu-tests.log, $OUT/gpu-tests.xml;
# 4. `python -m benchmarks --device cuda --only gpt2_train --only bert_infer` (zerograd beside
#    PyTorch eager on the same GPU) -> $OUT/gpu-bench.log, $OUT/gpu_bench.json.
#
# Every step has a time cap (`timeout`), so one hang cannot eat the device time, and the whole
# stays under GPU_CHECK_BUDGET seconds (450: under 8 minutes); a step that fails does not stop
# the next ones. Exit status: 0 when every step passed, 1 when one failed, 2 with no usable GPU.
# The summary is printed at the end and written to $OUT/gpu-check-summary.txt.
#
# Without pytest on the machine, the tests use the pure-Python copy that
# `bash scripts/gpu-check.sh --prepare-pylib` makes here beforehand in build/gpu-check-pylib
# (an ignored folder: the run must carry it, e.g. the device tool's carry ["build/gpu-check-pylib"]).
#
# Settings (environment): PYTHON (the interpreter tried first; GPU_CHECK_CANDIDATES the others),
# OUT, GPU_CHECK_BUDGET, GPU_CHECK_TEST_TIMEOUT (default 190), GPU_CHECK_BENCH_TIMEOUT (default
# 230), GPU_CHECK_WORKERS (pytest-xdist workers where it is installed, default 4; 0 = none),
# GPU_CHECK_TESTS (test paths, default tests/gpu), GPU_CHECK_STEPS (default "smi tests bench"),
# GPU_CHECK_BENCH_ARGS (extra benchmark options), GPU_CHECK_DEVICE=cpu (the same steps on the CPU
# at tiny sizes, with the tests' stand-in device: how this script is tested without a GPU).

set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
PYLIB="$ROOT/build/gpu-check-pylib"

if [ "${1:-}" = "--prepare-pylib" ]; then
    # copy pytest and what it needs (pure Python) from a Python that has them, for a machine
    # without them; only read here, nothing is installed on the GPU machine
    SRC_PY="${2:-$ROOT/.venv/bin/python}"
    rm -rf "$PYLIB" && mkdir -p "$PYLIB" || exit 1
    "$SRC_PY" - "$PYLIB" <<'EOF' || exit 1
import importlib, importlib.metadata as md, pathlib, shutil, sys
dest = pathlib.Path(sys.argv[1])
ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pytest-xdist", "execnet"):
    try:
        d = md.distribution(dist)
    except md.PackageNotFoundError:
        print(f"--prepare-pylib: {dist} is not installed for {sys.executable}: left out")
        continue
    # the top-level modules and folders of the distribution (not its scripts in ../bin)
    tops = {pathlib.PurePath(str(f)).parts[0] for f in d.files or ()}
    for top in sorted(t for t in tops if t not in ("..", "__pycache__") and not t.startswith("/")):
        src = pathlib.Path(d.locate_file(top))
        if src.is_dir():
            shutil.copytree(src, dest / top, ignore=ignore, dirs_exist_ok=True)
        elif src.suffix == ".py":
            shutil.copy2(src, dest / top)
print(f"--prepare-pylib: {sorted(p.name for p in dest.iterdir())} in {dest}")
EOF
    exit 0
fi

START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-450}
MODE=${GPU_CHECK_DEVICE:-cuda}
STEPS=${GPU_CHECK_STEPS-smi tests bench}  # set but empty: the probe and env.txt only
if [ -z "${OUT:-}" ]; then
    OUT=$(mktemp -d /tmp/gpu-check.XXXXXX)
fi
export OUT
mkdir -p "$OUT" || { echo "gpu-check: cannot create OUT=$OUT" >&2; exit 2; }

# a bare machine: no HOME, read-only caches; every cache goes under /tmp, nothing goes online
CACHE=/tmp/gpu-check-cache
if [ -z "${HOME:-}" ] || ! [ -w "${HOME:-/nonexistent}" ]; then
    export HOME="$CACHE/home"
fi
mkdir -p "$HOME" "$CACHE"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$CACHE/numba}"
export CUPY_CACHE_DIR="${CUPY_CACHE_DIR:-$CACHE/cupy}"
export MPLCONFIGDIR="${MPLCONFIGDIR:-$CACHE/matplotlib}"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$CACHE/xdg}"
export HF_HOME="${HF_HOME:-$CACHE/huggingface}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export PYTHONUNBUFFERED=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

SUMMARY=()
FAILED=0
note() { echo "gpu-check: $*"; }
record() {  # step, status, seconds, detail
    SUMMARY+=("$(printf '%-8s %-8s %5ss  %s' "$1" "$2" "$3" "$4")")
    case "$2" in passed|skipped) ;; *) FAILED=1 ;; esac
}
cap() {  # a step's time limit: its own cap, within what is left of the budget (at least 5 s:
    # `timeout 0` would mean no limit at all)
    local left=$((BUDGET - ($(date +%s) - START)))
    [ "$left" -lt 5 ] && left=5
    [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

# --- 1. the Python with CuPy and a GPU ---------------------------------------------------------
PROBE_CUDA='
import sys
try:
    import cupy
except Exception as e:
    print(f"cannot import cupy: {type(e).__name__}: {e}"); sys.exit(3)
try:
    n = cupy.cuda.runtime.getDeviceCount()
except Exception as e:
    print(f"CuPy {cupy.__version__} is installed but sees no GPU: {type(e).__name__}: {e}"); sys.exit(4)
if n < 1:
    print(f"CuPy {cupy.__version__} is installed but sees no GPU (device count 0)"); sys.exit(4)
try:  # one kernel compiled and run: CuPy needs NVRTC and the CUDA libraries for every op
    assert int((cupy.arange(4) * 2).sum()) == 12
except Exception as e:
    print(f"CuPy {cupy.__version__} sees {n} GPU(s) but cannot run a kernel: {type(e).__name__}: {e}"); sys.exit(5)
name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
print(f"CuPy {cupy.__version__}, {n} device(s), device 0: {name.decode() if isinstance(name, bytes) else name}")
'
PROBE_CPU='import numpy; print("numpy", numpy.__version__, "(GPU_CHECK_DEVICE=cpu: no GPU needed)")'
[ "$MODE" = cpu ] && PROBE=$PROBE_CPU || PROBE=$PROBE_CUDA
PY=""
REASONS=()
for cand in ${PYTHON:-} ${GPU_CHECK_CANDIDATES-python3 python /usr/bin/python3 /usr/local/bin/python3}; do
    command -v "$cand" >/dev/null 2>&1 || continue
    path=$(command -v "$cand")  # not resolved further: a venv's python links to the base one
    [[ " ${SEEN:-} " == *" $path "* ]] && continue  # already tried under another name
    SEEN="${SEEN:-} $path"
    msg=$(timeout -k 5 60 "$cand" -c "$PROBE" 2>&1)
    rc=$?
    msg=$(printf '%s\n' "$msg" | tail -n 1)
    if [ $rc = 0 ]; then
        PY=$path
        note "using $PY: $msg"
        break
    fi
    REASONS+=("$cand: $msg")
done
if [ -z "$PY" ]; then
    echo "gpu-check: no usable GPU: no Python here has CuPy seeing a CUDA device." >&2
    for r in "${REASONS[@]}"; do echo "  $r" >&2; done
    echo "  (CuPy must be installed for the machine's CUDA, e.g. cupy-cuda12x or cupy-cuda13x; set PYTHON=... to pick the interpreter.)" >&2
    exit 2
fi

# what this Python has: the steps below say what they cannot do without it
"$PY" - "$MODE" >"$OUT/env.txt" 2>&1 <<'EOF'
import importlib.metadata as md, importlib.util, sys
print("python", sys.version.replace("\n", " "), sys.executable)
# versions from the package metadata (importing transformers alone takes seconds)
for name, dist in (("numpy", "numpy"), ("cupy", None), ("torch", "torch"), ("numba", "numba"),
                   ("pytest", "pytest"), ("xdist", "pytest-xdist"), ("transformers", "transformers"),
                   ("hypothesis", "hypothesis"), ("zerograd", None)):
    spec = importlib.util.find_spec(name)
    if spec is None:
        print(f"{name:<13}MISSING")
        continue
    try:
        version = md.version(dist) if dist else ""
    except md.PackageNotFoundError:
        version = "?"
    print(f"{name:<13}{version}  {spec.origin}")
if sys.argv[1] == "cuda":
    try:
        import torch
        print("torch.cuda   ", torch.version.cuda, "available:", torch.cuda.is_available())
    except Exception as e:
        print("torch.cuda    cannot import torch:", type(e).__name__, e)
EOF
cat "$OUT/env.txt"
if [ "$MODE" = cuda ]; then
    timeout -k 5 30 "$PY" -c "import cupy; cupy.show_config()" >"$OUT/cupy-config.txt" 2>&1
fi
has() { grep -q "^$1 .*MISSING" "$OUT/env.txt" && return 1 || return 0; }

# --- 2. nvidia-smi ------------------------------------------------------------------------------
if [[ " $STEPS " == *" smi "* ]]; then
    t0=$(date +%s)
    if command -v nvidia-smi >/dev/null 2>&1; then
        {
            timeout -k 5 20 nvidia-smi
            timeout -k 5 20 nvidia-smi --format=csv \
                --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm,power.limit
        } >"$OUT/nvidia-smi.txt" 2>&1
        rc=$?
        head -n 12 "$OUT/nvidia-smi.txt"
        [ $rc = 0 ] && record smi passed $(($(date +%s) - t0)) "nvidia-smi.txt" \
            || record smi failed $(($(date +%s) - t0)) "nvidia-smi exit $rc"
    else
        echo "nvidia-smi not found on PATH" >"$OUT/nvidia-smi.txt"
        record smi skipped 0 "nvidia-smi not found"
    fi
fi

# --- 3. the GPU parity tests ------------------------------------------------------------------
if [[ " $STEPS " == *" tests "* ]]; then
    t0=$(date +%s)
    TEST_PYTHONPATH=$PYTHONPATH
    if ! has pytest; then
        if [ -f "$PYLIB/pytest/__init__.py" ]; then
            note "pytest is not installed for $PY: using the copy in $PYLIB"
            TEST_PYTHONPATH="$PYTHONPATH:$PYLIB"
        else
            note "pytest is not installed for $PY and $PYLIB is absent: the GPU parity tests were NOT run"
            note "(make it beforehand with: bash scripts/gpu-check.sh --prepare-pylib, and carry build/gpu-check-pylib)"
            record tests missing 0 "pytest missing: tests not run"
        fi
    fi
    if has pytest || [ "$TEST_PYTHONPATH" != "$PYTHONPATH" ]; then
        has torch || note "torch is missing for $PY: the parity tests need it as their reference"
        WORKERS=()
        if [ "${GPU_CHECK_WORKERS:-4}" != 0 ] && PYTHONPATH=$TEST_PYTHONPATH "$PY" -c "import xdist" 2>/dev/null; then
            WORKERS=(-n "${GPU_CHECK_WORKERS:-4}")
        fi
        limit=$(cap "${GPU_CHECK_TEST_TIMEOUT:-190}")
        note "tests: ${GPU_CHECK_TESTS:-tests/gpu} (cap ${limit}s) ${WORKERS[*]}"
        # shellcheck disable=SC2086 - GPU_CHECK_TESTS is a list of paths
        PYTHONPATH=$TEST_PYTHONPATH timeout -k 10 "$limit" "$PY" -m pytest -q -m gpu \
            ${GPU_CHECK_TESTS:-tests/gpu} "${WORKERS[@]}" -p no:cacheprovider -rfE \
            --durations=10 --junitxml="$OUT/gpu-tests.xml" >"$OUT/gpu-tests.log" 2>&1
        rc=$?
        if [ $rc = 0 ]; then
            tail -n 14 "$OUT/gpu-tests.log"  # the slowest tests and the count
        else  # every failure on one line (the tracebacks are in gpu-tests.log), then the count
            grep -E "^(FAILED|ERROR) " "$OUT/gpu-tests.log" | cut -c 1-300 | head -n 80
            tail -n 3 "$OUT/gpu-tests.log"
        fi
        last=$(grep -E "passed|failed|error|no tests ran" "$OUT/gpu-tests.log" | tail -n 1)
        case $rc in
            0) record tests passed $(($(date +%s) - t0)) "$last" ;;
            124|137) record tests timeout $(($(date +%s) - t0)) "cut at ${limit}s; see gpu-tests.log" ;;
            5) record tests failed $(($(date +%s) - t0)) "no gpu tests collected" ;;
            *) record tests failed $(($(date +%s) - t0)) "pytest exit $rc: $last" ;;
        esac
    fi
fi

# --- 4. the benchmarks beside PyTorch ---------------------------------------------------------
if [[ " $STEPS " == *" bench "* ]]; then
    t0=$(date +%s)
    if ! has torch; then
        note "torch is missing for $PY: the benchmark runs zerograd's side only"
    elif ! has transformers; then
        note "transformers is missing: the PyTorch side is the hand-written twin (benchmarks/gpu_twins.py)"
    fi
    limit=$(cap "${GPU_CHECK_BENCH_TIMEOUT:-230}")
    # a slow side stops after 60 s of steps: two cases x two sides stay inside the cap
    # shellcheck disable=SC2086 - GPU_CHECK_BENCH_ARGS is a list of options
    timeout -k 10 "$limit" "$PY" -m benchmarks --device "$MODE" --only gpt2_train \
        --only bert_infer --gpu-time-limit 60 --gpu-json "$OUT/gpu_bench.json" \
        ${GPU_CHECK_BENCH_ARGS:-} >"$OUT/gpu-bench.log" 2>&1
    rc=$?
    grep -v "^\[transformers\]" "$OUT/gpu-bench.log" | tail -n 40
    case $rc in
        0) record bench passed $(($(date +%s) - t0)) "gpu_bench.json" ;;
        124|137) record bench timeout $(($(date +%s) - t0)) "cut at ${limit}s; partial gpu_bench.json" ;;
        *) record bench failed $(($(date +%s) - t0)) "exit $rc (errors or disagreement: gpu_bench.json)" ;;
    esac
fi

{
    echo "gpu-check summary ($MODE, $PY, $(($(date +%s) - START)) s, results in $OUT):"
    for line in "${SUMMARY[@]}"; do echo "  $line"; done
    [ $FAILED = 0 ] && echo "ALL PASSED" || echo "SOME STEPS FAILED"
} | tee "$OUT/gpu-check-summary.txt"
exit $FAILED
