#!/usr/bin/env bash
# The GPU check of the performance work, in one script that also runs end to end on a
# CPU at tiny size (`bash benchmarks/perf/gpu_check.sh` on the 2-core CPU: 3 minutes with
# torch.compile's cache warm, longer cold: over 2 minutes compiling CycleGAN alone; its
# earlier version, without the CUDA-graph variants and the profile, took 4.5 minutes on
# an H200).
#
#   1. `bench estimate` on the paper spec (quality scoring is not part of an estimate);
#   2. a short real `bench run` (benchmarks/perf/gpu-short.toml: DG2GAN and CycleGAN
#      300 steps each at 256 px, one ResNet34 epoch, no quality scoring);
#   3. side-by-side step variants of CycleGAN and DG2GAN (fp32, bf16 with separate or
#      joined forward passes, CUDA graphs), alternating timed blocks in one process;
#   4. the same DG2GAN run profiles 5 steps of its bf16 variant (top operators by device
#      time), to show where the step's time goes.
#
# Everything lands as JSON/text in $OUT (default /tmp/gpu-check), 8 files.
# On a CPU the sizes shrink (32 px, a few steps) so that the plumbing is checked fast.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/gpu-check-cache} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

if $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    DEVICE=cuda SIZE=256 STEPS=300 REPEATS=5 ROUNDS=3 BLOCK=5 VARIANTS_TIMEOUT=200
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$OUT/gpu.txt" 2>&1
else
    # torch.compile of the CUDA-graph variants takes minutes on a CPU.
    DEVICE=cpu SIZE=32 STEPS=3 REPEATS=1 ROUNDS=1 BLOCK=1 VARIANTS_TIMEOUT=400
    echo "no CUDA: tiny CPU rehearsal" >"$OUT/gpu.txt"
fi
$PY -c "import torch; print('torch', torch.__version__)" >>"$OUT/gpu.txt"

log "1/4 bench estimate crackforest-paper on $DEVICE"
timeout 150 bench estimate benchmarks/crackforest-paper.toml --device "$DEVICE" --format json \
    --repeats "$REPEATS" --warmup 2 --set image_size="$SIZE" >"$OUT/estimate-paper.json" 2>>"$OUT/log.txt"
log "estimate exit $?"

log "2/4 bench run gpu-short ($STEPS steps per generator, ${SIZE} px)"
SPEC=/tmp/gpu-short.toml
sed -e "s/max_steps = 300/max_steps = $STEPS/" -e "s#\.\./data/crackforest#$PWD/benchmarks/data/crackforest#" \
    benchmarks/perf/gpu-short.toml >"$SPEC"
rm -rf /tmp/gpu-short-results
began=$(date +%s)
timeout 200 bench run "$SPEC" --device "$DEVICE" --results /tmp/gpu-short-results --set image_size="$SIZE" \
    >>"$OUT/log.txt" 2>&1
code=$?
log "run exit $code in $(( $(date +%s) - began )) s"
$PY - "$OUT/run-records.json" <<'PYEOF'
import json, pathlib, sys
records = {}
for path in sorted(pathlib.Path("/tmp/gpu-short-results").rglob("*.json")):
    if path.name in ("record.json", "train.json", "fakes.json", "result.json", "environment.json"):
        data = json.loads(path.read_text())
        data.pop("predictions", None)
        data.pop("sources", None)
        records[str(path.relative_to("/tmp/gpu-short-results"))] = data
pathlib.Path(sys.argv[1]).write_text(json.dumps(records, indent=1, default=str))
PYEOF

log "3/4 step variants: cyclegan (paper batch 4) at ${SIZE} px, with CUDA graphs"
timeout "$VARIANTS_TIMEOUT" $PY benchmarks/perf/step_variants.py --method cyclegan --size "$SIZE" --batch 4 --device "$DEVICE" \
    --variants bf16+separate,bf16,bf16+graphs --rounds "$ROUNDS" --steps "$BLOCK" --warmup 3 \
    --json "$OUT/variants-cyclegan.json" >>"$OUT/log.txt" 2>&1
log "cyclegan variants exit $?"

log "4/4 step variants: dg2gan (paper batch 8) at ${SIZE} px, with CUDA graphs; profile of bf16"
timeout "$VARIANTS_TIMEOUT" $PY benchmarks/perf/step_variants.py --method dg2gan --size "$SIZE" --batch 8 --device "$DEVICE" \
    --variants fp32,bf16+separate,bf16,bf16+graphs --rounds "$ROUNDS" --steps "$BLOCK" --warmup 3 \
    --json "$OUT/variants-dg2gan.json" --profile "$OUT/profile" >>"$OUT/log.txt" 2>&1
log "dg2gan variants exit $?"
# Keep only the bf16 (joined passes) profile: 8 files in all.
mv "$OUT/profile/profile-dg2gan-bf16.json" "$OUT/profile/profile-dg2gan-bf16.txt" "$OUT/" 2>/dev/null
rm -rf "$OUT/profile"
log "done"
