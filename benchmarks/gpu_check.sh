#!/usr/bin/env bash
# The device check (docs/benchmarks.md, "GPU"): on a machine with a CUDA GPU, in <= 8 minutes,
#   1. a venv on top of that machine's own CUDA build of torch (never the pinned CPU wheel), the
#      repo installed without dependencies, only missing packages added (from --wheels DIR,
#      offline, when given);
#   2. the CUDA tests; 3. the batched benchmark at K = 1, 16, 64, 256; 4. the metrics benchmark
#      with its GPU column; 5. a timed slice of the paper protocol (every Reacher weight decay
#      of Fig. 7 x seeds 0-2, 1 % of Table 2's epochs) and the extrapolated full MuJoCo grid.
#
#   bash benchmarks/gpu_check.sh [--wheels DIR]     # on the GPU machine
#   bash benchmarks/gpu_check.sh --cpu-smoke        # here: every step, tiny, with .venv (<= 30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=gpu wheels=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cpu-smoke) mode=smoke; shift ;;
        --wheels) wheels="$2"; shift 2 ;;
        *) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if [[ $mode == smoke ]]; then
    py=.venv/bin/python
    export OMP_NUM_THREADS=1
    ks=1,4 epochs=1 sizes=1000 fraction=0.000006
else
    base=${PYTHON:-python3}
    "$base" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || {
        echo "gpu_check.sh: $base has no CUDA build of torch that sees a GPU" >&2; exit 1; }
    venv=${GPU_VENV:-/tmp/nrc-gpu-venv}
    "$base" -m venv --system-site-packages "$venv"
    py=$venv/bin/python
    need=()
    for pkg in numpy scipy pandas pyarrow tqdm threadpoolctl pytest hypothesis h5py matplotlib; do
        "$py" -c "import $pkg" 2>/dev/null || need+=("$pkg")
    done
    if [[ ${#need[@]} -gt 0 ]]; then
        if [[ -n $wheels ]]; then
            "$py" -m pip install --quiet --no-index --find-links "$wheels" "${need[@]}"
        else
            "$py" -m pip install --quiet "${need[@]}"
        fi
    fi
    "$py" -m pip install --quiet --no-deps --no-build-isolation -e .
    "$py" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
    ks=1,16,64,256 epochs=5 sizes=1000,20000,100000 fraction=0.01
fi

echo "== CUDA tests"
"$py" -m pytest -q -p no:cacheprovider tests/train/test_batched_cuda.py
echo "== batched training"
"$py" benchmarks/bench_batched.py --ks "$ks" --epochs "$epochs" --repeats 1
echo "== metrics"
"$py" benchmarks/bench_metrics.py --sizes "$sizes" --dims 256
echo "== paper protocol slice"
"$py" benchmarks/paper_slice.py --fraction "$fraction"
