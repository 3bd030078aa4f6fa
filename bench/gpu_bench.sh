#!/usr/bin/env bash
# Puppet's whole benchmark on a machine with an NVIDIA GPU, in one command:
#
#     bench/gpu_bench.sh [OUTPUT_FOLDER]
#
# Writes into OUTPUT_FOLDER (default bench/results/<host>-<date>):
#   doctor.txt              nvidia-smi and 'puppet doctor' (what loads, what is missing)
#   bench-builtin.*         'puppet bench' on the CPU and CUDA, built-in material
#   bench-s10-d3.*          the same on ../shared/data (1280 px painting, 512 px clip), if there
#   bench-s10-d6.*          a longer clip (1008 frames), for steady-state fps, if there
#   bench-s10-d6-onetracker.*  the same with one tracker (--track-threads 1; by default a
#                           machine of 16 cores tracks the clip's chunks with 4 at once)
#   bench-cuda-nograph.*    CUDA with CUDA graphs off (PUPPET_CUDA_GRAPH=0), for comparison
#   bench-s10-d3-switch5ms.*  CUDA with Python's own 5 ms GIL switch interval
#                           (PUPPET_SWITCH_INTERVAL=0.005; Puppet sets 0.5 ms), for comparison
#   gil-convoy.txt          tracking and the generator alone and beside a thread running
#                           Python, at several switch intervals (bench/gil_convoy.py)
#   render-cuda.txt         'puppet render --device cuda' through the command line
#   generator-variants.*    the model run plain / I/O binding / static shapes / CUDA graph,
#                           and scratch variants (zeros padding, fp16): speed and error
#   summary.txt             the lines that matter from all of the above
# Every step runs even when an earlier one fails; failures are in the *.log files.
# Environment: PYTHON (default python), PUPPET_DATA (default ../shared/data),
# BENCH_ARGS (added to every 'puppet bench', e.g. "--frames 30 --live-seconds 1" for a quick
# dry run), VARIANT_ARGS (added to generator_variants.py, e.g. "--runs 20").
set -u
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/$(hostname)-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
PY=${PYTHON:-python}
DATA=${PUPPET_DATA:-../shared/data}
read -r -a XB <<< "${BENCH_ARGS:-}"
read -r -a XV <<< "${VARIANT_ARGS:-}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

step() {  # step NAME COMMAND...: stdout to NAME.txt, stderr to NAME.log
    local name=$1; shift
    echo "== $name: $*" >&2
    "$@" > "$OUT/$name.txt" 2> "$OUT/$name.log" || echo "(exit $?)" >> "$OUT/$name.txt"
}

{ nvidia-smi || echo "nvidia-smi not found"; echo; $PY -m puppet doctor; } \
    > "$OUT/doctor.txt" 2>&1
step bench-builtin $PY -m puppet bench --device all --repeat 3 --json "$OUT/bench-builtin.json" "${XB[@]}"
if [ -f "$DATA/portraits/s10.jpg" ] && [ -f "$DATA/driving/d3.mp4" ]; then
    step bench-s10-d3 $PY -m puppet bench --portrait "$DATA/portraits/s10.jpg" \
        --driving "$DATA/driving/d3.mp4" --device all --repeat 3 \
        --json "$OUT/bench-s10-d3.json" "${XB[@]}"
    step render-cuda $PY -m puppet render --portrait "$DATA/portraits/s10.jpg" \
        --driving "$DATA/driving/d3.mp4" --output "$OUT/render-cuda.mp4" --device cuda
    cat "$OUT/render-cuda.log" >> "$OUT/render-cuda.txt"
    rm -f "$OUT/render-cuda.mp4"
    PUPPET_SWITCH_INTERVAL=0.005 step bench-s10-d3-switch5ms $PY -m puppet bench \
        --portrait "$DATA/portraits/s10.jpg" --driving "$DATA/driving/d3.mp4" --device cuda \
        --repeat 3 --live-seconds 0 --json "$OUT/bench-s10-d3-switch5ms.json" "${XB[@]}"
    step gil-convoy $PY bench/gil_convoy.py --portrait "$DATA/portraits/s10.jpg" \
        --driving "$DATA/driving/d3.mp4" --device cuda
fi
if [ -f "$DATA/portraits/s10.jpg" ] && [ -f "$DATA/driving/d6.mp4" ]; then
    step bench-s10-d6 $PY -m puppet bench --portrait "$DATA/portraits/s10.jpg" \
        --driving "$DATA/driving/d6.mp4" --device cuda --repeat 2 --live-seconds 0 \
        --json "$OUT/bench-s10-d6.json" "${XB[@]}"
    step bench-s10-d6-onetracker $PY -m puppet bench --portrait "$DATA/portraits/s10.jpg" \
        --driving "$DATA/driving/d6.mp4" --device cuda --repeat 2 --live-seconds 0 \
        --track-threads 1 --json "$OUT/bench-s10-d6-onetracker.json" "${XB[@]}"
fi
PUPPET_CUDA_GRAPH=0 step bench-cuda-nograph $PY -m puppet bench --device cuda --repeat 3 \
    --live-seconds 0 --json "$OUT/bench-cuda-nograph.json" "${XB[@]}"
step generator-variants $PY bench/generator_variants.py --device all \
    --json "$OUT/generator-variants.json" "${XV[@]}"

{
    echo "Puppet GPU benchmark, $(date), $(hostname)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    echo
    grep -E "FAIL|warn|CUDA provider|GPU:" "$OUT/doctor.txt"
    for f in "$OUT"/bench-*.txt; do
        echo; echo "## $(basename "$f")"
        grep -E "^==|render:|threads busy|decode \+ track alone|generator alone|peak memory|live-like|not measured|exit" "$f"
    done
    echo; echo "## render-cuda.txt"; grep -E "Rendered|runs on|error|exit" "$OUT/render-cuda.txt" 2>/dev/null
    echo; echo "## gil-convoy.txt"; cat "$OUT/gil-convoy.txt" 2>/dev/null
    echo; echo "## generator-variants.txt"; cat "$OUT/generator-variants.txt"
} > "$OUT/summary.txt" 2>&1
cat "$OUT/summary.txt"
echo "Results in $OUT" >&2
