#!/usr/bin/env bash
# make fuzz: libFuzzer (+AddressSanitizer) on every parser, and on building and running a model from a fuzzed
# config.json, GGUF or pack, for FUZZ_SECONDS each (default 120; FUZZ_TARGETS picks some).
# Seeds come from Fixtures/; crashes are copied to Fixtures/fuzz/TARGET/ (replayed by make test) and fail the run.
# Inputs are capped at 64 KiB (256 KiB for whole GGUF and pack models) and any single malloc above FUZZ_MALLOC_MB (default 16 MiB) counts as a crash,
# so a clean run shows that no claim inside a file makes a reader allocate far beyond the file's own size.
# The one stated exception is .lpkz: a segment decompresses into one buffer of its size, at most 64 MiB
# (Formats/lpk.md §12), so that target runs with a 65 MiB limit.
set -uo pipefail
seconds="${FUZZ_SECONDS:-120}"
malloc_mb="${FUZZ_MALLOC_MB:-16}"
work="${LPK_FUZZ_DIR:-$HOME/.cache/layerpack/fuzz}"
bin=.build-fuzz/release/lpk-fuzz
swift build -c release --product lpk-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >/dev/null || exit 1
status=0
printf '| target | seconds | executions | crashes | largest malloc allowed (MiB) | peak RSS (MB) | slowest input (s) |\n|---|---|---|---|---|---|---|\n'
for target in ${FUZZ_TARGETS:-gguf safetensors index pack json recipe lpkz tokenizer config-model gguf-model pack-model}; do
  corpus="$work/$target"
  mkdir -p "$corpus" "$work/artifacts"
  case "$target" in
    gguf) cp Fixtures/gguf/*.gguf "$corpus"/ ;;
    safetensors) cp Fixtures/safetensors/*.safetensors Fixtures/models/tiny-gemma3-f32/model.safetensors "$corpus"/ ;;
    index) cp Fixtures/models/tiny-gemma3-bf16-sharded/model.safetensors.index.json "$corpus"/ ;;
    tokenizer) cp Fixtures/tokenizers/tiny-bpe/tokenizer.json "$corpus"/ ;;
    json|recipe) cp Fixtures/models/*/config.json "$corpus"/ 2>/dev/null; echo '{"core":"int4","ple":"int4","group":64,"keep":["norm"]}' > "$corpus/recipe.json" ;;
    config-model) cp Fixtures/models/tiny-gemma3-f32/config.json "$corpus/gemma3.json"
                  cp Fixtures/models/tiny-gemma3n-f32/config.json "$corpus/gemma3n.json"
                  cp Fixtures/models/tiny-gemma4-f32/config.json "$corpus/gemma4.json" ;;
    gguf-model) for m in Fixtures/conformance/*/model.gguf; do cp "$m" "$corpus/$(basename "$(dirname "$m")").gguf"; done ;;
    pack-model) for m in gemma3-hd8-mha-window3-tied gemma3n-nokvshare-dense-ple8-nocorrectscale-untied gemma4-ghd32-prop-kvshare-dwmlp-ple8-window3; do
                  [ -f "$work/$m.lpk" ] || .build/release/lpk-quantize "Fixtures/conformance/$m" -o "$work/$m.lpk" --preset int4 --quiet >/dev/null
                  cp "$work/$m.lpk" "$corpus"/
                done ;;
    pack|lpkz) [ -f "$work/seed.lpk" ] || .build/release/lpk-pack Fixtures/gguf/llama-quantized.gguf -o "$work/seed.lpk" --quiet >/dev/null
               [ -f "$work/seed.lpkz" ] || .build/release/lpk-pack "$work/seed.lpk" -o "$work/seed.lpkz" --compress zstd --quiet >/dev/null
               cp "$work/seed.lpk" "$work/seed.lpkz" "$corpus"/ ;;
  esac
  limit="$malloc_mb"
  [ "$target" = lpkz ] && limit=65
  max_len=65536
  case "$target" in gguf-model|pack-model) max_len=262144 ;; esac
  log="$work/$target.log"
  LPK_FUZZ_TARGET=$target "$bin" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb="$limit" \
    -report_slow_units=1 -max_len=$max_len -artifact_prefix="$work/artifacts/$target-" -print_final_stats=1 >"$log" 2>&1
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  slowest=$(grep -o 'Slowest unit: [0-9.]* s' "$log" | tail -1 | grep -o '[0-9.]* ' | tr -d ' ')
  crashes=$(ls "$work/artifacts" 2>/dev/null | grep -c "^$target-" || true)
  if [ "$crashes" != "0" ]; then
    status=1
    mkdir -p "Fixtures/fuzz/$target"
    for f in "$work/artifacts/$target-"*; do cp "$f" "Fixtures/fuzz/$target/"; done
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$seconds" "${runs:-?}" "$crashes" "$limit" "${rss:-?}" "${slowest:-<1}"
done
exit $status
