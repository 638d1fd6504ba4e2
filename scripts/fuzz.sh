#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer under AddressSanitizer, each target for a bounded time.
#
#     scripts/fuzz.sh                  # every target, 60 s each
#     scripts/fuzz.sh npy 300          # one target, 5 minutes
#     scripts/fuzz.sh all 0            # only replay the seed and working corpora (no mutation)
#
# Targets: idx (plain and gzip IDX, MNIST data sets), npy, safetensors (with the ImplicitModel
# and ImplicitRNN state_dict loaders), cifar, png. The harnesses live in Fuzz/<target>/, a
# separate SwiftPM package built into Fuzz/.build, so the library's own build never sees them.
# The committed seeds in Fuzz/corpus/<target>/ are only read; inputs libFuzzer finds go to
# Fuzz/work/<target>/ and crash, timeout and out-of-memory inputs to Fuzz/artifacts/<target>/
# (both git-ignored). Exits non-zero if any target failed; the log of each run is
# Fuzz/work/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no   # else a crash waits for the Swift backtracer

all_targets=(idx npy safetensors cifar png)
target=${1:-all}
seconds=${2:-60}
if [ "$target" = all ]; then targets=("${all_targets[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
    [ -d "Fuzz/$t" ] || { echo "unknown fuzz target '$t'; known: ${all_targets[*]}" >&2; exit 2; }
done

# SwiftPM's --sanitize=fuzzer makes the products libFuzzer programs (libFuzzer's main); the
# compiler flag then asks for fuzzer coverage and AddressSanitizer together (giving both as two
# --sanitize options passes two -sanitize flags, and the second silently drops the coverage).
build=(swift build --package-path Fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
mkdir -p Fuzz/work
for t in "${targets[@]}"; do
    echo "== building fuzz-$t"
    # (ld.gold's "Cannot export local symbol" warnings about ASan's helpers are harmless.)
    if ! "${build[@]}" --product "fuzz-$t" >"Fuzz/work/build-$t.log" 2>&1; then
        grep -v "Cannot export local symbol" "Fuzz/work/build-$t.log" >&2
        echo "build of fuzz-$t failed" >&2
        exit 1
    fi
done
bin=$("${build[@]}" --show-bin-path)

failed=()
for t in "${targets[@]}"; do
    mkdir -p "Fuzz/work/$t" "Fuzz/artifacts/$t"
    max_len=4096
    [ "$t" = cifar ] && max_len=10000   # room for three 3073-byte records
    if [ "$seconds" -gt 0 ]; then limit=(-max_total_time="$seconds"); else limit=(-runs=0); fi
    echo "== fuzz-$t (${seconds} s)"
    status=0
    "$bin/fuzz-$t" "${limit[@]}" -max_len=$max_len -timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="Fuzz/artifacts/$t/" "Fuzz/work/$t" "Fuzz/corpus/$t" \
        >"Fuzz/work/$t.log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "Fuzz/work/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "Fuzz/work/$t.log")
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "   FAILED (exit $status); the input is in Fuzz/artifacts/$t/, the report:"
        grep -E "ERROR|SUMMARY|Fatal error|#[0-9]+ .* in .*(IDL|IDLPlot|fuzz)" "Fuzz/work/$t.log" | head -20 | sed 's/^/   /'
    else
        echo "   ok: ${runs:-?} executions, ${rate:-?} per second"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
echo "no crashes, hangs or excessive allocations"
