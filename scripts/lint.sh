#!/usr/bin/env bash
# Checks that every Swift file follows .swift-format (swift-format ships with the toolchain);
# with --fix, rewrites the files in place first.
#
#     scripts/lint.sh          # check only: lists each finding, exits 1 if there is any
#     scripts/lint.sh --fix    # format in place, then check what formatting cannot fix
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests Tutorials Experiments Fuzz)
if [ "${1:-}" = "--fix" ]; then
    swift format format --in-place --recursive --configuration .swift-format "${paths[@]}"
fi
if ! swift format lint --strict --recursive --configuration .swift-format "${paths[@]}"; then
    echo "lint: FAILED; scripts/lint.sh --fix formats the files (then review the diff)" >&2
    exit 1
fi
echo "lint: every Swift file follows .swift-format"
