#!/bin/sh
# Builds the C kernels (CDotKernels, CChecksum) as a CPU without x86-64 gets them: LPK_PORTABLE_ONLY turns off every
# x86-64 path, leaving the portable C that arm64 (Apple silicon, Linux on ARM) compiles. Fails on any warning, and when
# a function the public headers declare is defined by none of the objects (a header-only inline function aside).
# `make test` runs it first: this project's machines are x86-64, so nothing else compiles those branches.
set -eu
# The Swift toolchain's clang when no other is on PATH (a Swift install always has one beside swift).
CC="${CC:-$(command -v clang || echo "$(dirname "$(readlink -f "$(command -v swift)")")/clang")}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in CDotKernels CChecksum; do
    for source in "$root/Sources/$target"/*.c; do
        "$CC" -std=c11 -O1 -c -Wall -Wextra -Werror -DLPK_PORTABLE_ONLY -I"$root/Sources/$target/include" -I"$root/Sources/$target" \
            "$source" -o "$work/$target-$(basename "$source" .c).o"
    done
done
grep -ohE '\blpk_[a-z0-9_]+\(' "$root"/Sources/CDotKernels/include/*.h "$root"/Sources/CChecksum/include/*.h | tr -d '(' | sort -u > "$work/declared"
grep -ohE 'static inline [a-z_ *]+\blpk_[a-z0-9_]+\(' "$root"/Sources/CDotKernels/include/*.h "$root"/Sources/CChecksum/include/*.h \
    | grep -oE 'lpk_[a-z0-9_]+' | sort -u > "$work/inline"
nm "$work"/*.o | awk '$2 == "T" { print $3 }' | sort -u > "$work/defined"
missing="$(sort -u "$work/defined" "$work/inline" | comm -23 "$work/declared" -)"
if [ -n "$missing" ]; then
    echo "portable C: declared but not defined without x86-64 paths: $missing" >&2
    exit 1
fi
echo "portable C kernels: $(ls "$work"/*.o | wc -l) files build without x86-64 paths, all $(wc -l < "$work/declared") declared functions defined"
