#!/usr/bin/env bash
# Regenerate the bundled generator's model-card assets with the project's own commands.
#   bash scripts/make_model_card.sh CHECKPOINT DATA.zip [FID_SAMPLES]
# Writes checkpoints/card/{samples.png, style_mixing.png, noise.png, metrics.json, info.txt} and appends this
# checkpoint's FID to card/fid_history.jsonl, from which it draws fid_history.{md,png} (FID per kimg).
# The real images' Inception features are cached in the user cache dir, so a rerun costs only the fake side.
# `explorer showcase` first picks the seeds the model is shown with (card/seeds.json): the app's default pair and
# the sample seeds, by the realism score of their images; the grids below use them.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=$1; DATA=$2; N=${3:-2000}
EXPLORER=${EXPLORER:-explorer}
OUT=checkpoints/card; mkdir -p "$OUT"
TMP=$(mktemp -d)
$EXPLORER info "$CKPT" > "$OUT/info.txt"
SEEDS=$($EXPLORER showcase --checkpoint "$CKPT" --data "$DATA" --out "$OUT/seeds.json" --print samples)
IFS=, read -ra S <<< "$SEEDS"
$EXPLORER generate --checkpoint "$CKPT" --seeds "$SEEDS" --outdir "$TMP/samples" --grid "$OUT/samples.png" --grid-cols 8
$EXPLORER generate --checkpoint "$CKPT" --seeds "$SEEDS" --trunc 0.7 --outdir "$TMP/samples07" --grid "$OUT/samples_psi0.7.png" --grid-cols 8
$EXPLORER mix --checkpoint "$CKPT" --rows "${S[0]},${S[1]},${S[2]},${S[3]}" --cols "${S[4]},${S[5]},${S[6]},${S[7]},${S[8]}" \
    --styles all-levels --out "$OUT/style_mixing.png"
$EXPLORER noise-grid --checkpoint "$CKPT" --seeds "${S[0]},${S[1]},${S[2]}" --out "$OUT/noise.png"
$EXPLORER metrics --checkpoint "$CKPT" --data "$DATA" --fid "$N" --levels 64 --json "$OUT/metrics.json" \
    --record "$OUT/fid_history.jsonl"
$EXPLORER metrics --history "$OUT/fid_history.jsonl" --table "$OUT/fid_history.md" --plot "$OUT/fid_history.png"
rm -rf "$TMP"
