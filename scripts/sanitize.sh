#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer, and the concurrent parts (the parallel SIM row
# solvers, state extraction) under ThreadSanitizer. Each sanitizer builds into its own scratch
# folder (.build-asan, .build-tsan), so the normal build is left alone. Both build in release
# mode, as the suite itself does: its experiments and training tests are many times slower unoptimised.
#
#     scripts/sanitize.sh            # both
#     scripts/sanitize.sh address    # or: thread
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
which=${1:-both}
if [ "$which" = both ] || [ "$which" = address ]; then
    echo "== AddressSanitizer: the whole suite"
    # Leak checking is off: on Linux, Foundation's Process and String(contentsOf:) and XCTest's
    # runner keep a few allocations that LeakSanitizer reports (24 KB, none in this package).
    ASAN_OPTIONS=detect_leaks=0 swift test -c release --scratch-path .build-asan --sanitize=address
fi
if [ "$which" = both ] || [ "$which" = thread ]; then
    echo "== ThreadSanitizer: the concurrent SIM solvers"
    mkdir -p .build-tsan
    swift test -c release --scratch-path .build-tsan --sanitize=thread --filter "SIMSolverTests|StateExtractionTests|SIMModelTests|tiledProductsDoNotDependOnTheWorkerCount" 2>&1 | tee .build-tsan/tsan.log
    if grep -q "WARNING: ThreadSanitizer" .build-tsan/tsan.log; then
        echo "ThreadSanitizer reported a data race (see above)" >&2
        exit 1
    fi
fi
