#!/usr/bin/env bash
# The confirmatory run of runs/effects/registration.yaml: the three arms, one sweep of the 10
# registered seeds each, one after the other (selection, drift, static), from a snapshot of the
# code at COMMIT (so editing the checkout meanwhile cannot change a run), into RUNS_DIR (outside
# the repository). Re-running it resumes what is unfinished (`arena resume`) and skips what is done.
#
#   runs/effects/run_protocol.sh [COMMIT] [RUNS_DIR] [ARMS]  (default: HEAD, /work/effects-runs,
#                                                            runs/effects)
#   then: arena effects RUNS_DIR/selection RUNS_DIR/drift RUNS_DIR/static \
#           --registration ARMS/registration.yaml --out benchmarks/effects-confirmatory
# ARMS: the folder of the arms' spec files (issue 28's: runs/effects/field, into /work/effects-runs-28).
set -euo pipefail
COMMIT=${1:-HEAD}
RUNS_DIR=${2:-/work/effects-runs}
ARMS=${3:-runs/effects}
PY=${PY:-/work/main/.venv/bin/python}
REPO=$(git rev-parse --show-toplevel)
SHA=$(git -C "$REPO" rev-parse "$COMMIT")
CODE="$RUNS_DIR/code-${SHA:0:12}"
mkdir -p "$RUNS_DIR"
if [ ! -d "$CODE" ]; then
  mkdir -p "$CODE.tmp" && git -C "$REPO" archive "$SHA" | tar -x -C "$CODE.tmp"
  # The import root deepfake_arena exists only once installed: install the snapshot into its own
  # folder, which PYTHONPATH puts before the environment's (editable) install of the checkout.
  "$PY" -m pip install -q --no-deps --no-build-isolation --target "$CODE.tmp/site" "$CODE.tmp"
  mv "$CODE.tmp" "$CODE"
fi
export PYTHONPATH="$CODE/site"
# Snapshots before the import root (older than 790cd30) install as `arena`.
CLI=deepfake_arena.cli
grep -q '"deepfake_arena" = "arena"' "$CODE/pyproject.toml" || CLI=deepfake_arena.cli
cd "$CODE"
for arm in selection drift static; do
  start=$(date -u +%s)
  if [ -f "$RUNS_DIR/$arm/sweep.json" ]; then
    echo "$(date -u +%FT%TZ) resume $arm"
    "$PY" -m "$CLI" resume "$RUNS_DIR/$arm" --num-cpus 2
  else
    echo "$(date -u +%FT%TZ) run $arm"
    "$PY" -m "$CLI" run "$ARMS/$arm.yaml" --name "$arm" --runs-dir "$RUNS_DIR" --num-cpus 2
  fi
  echo "$(date -u +%FT%TZ) done $arm in $(( $(date -u +%s) - start )) s"
done
