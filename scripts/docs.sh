#!/usr/bin/env bash
# Builds the DocC documentation of the two libraries (IDL and IDLPlot) with the swift-docc
# plugin and fails on any warning: a broken ``symbol link``, an undocumented parameter in a
# `- Parameters:` list, an article that does not resolve. The archives land in
# .build/plugins/Swift-DocC/outputs/{IDL,IDLPlot}.doccarchive.
#
#     scripts/docs.sh                     # both catalogues, warnings are errors
#     scripts/docs.sh --output-path DIR   # extra arguments go to the plugin (and docc)
#
# To browse: `swift package --disable-sandbox preview-documentation --target IDL`.
#
# Time on two cores: about 35 s when the debug build is current, under 2 minutes from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# --warnings-as-errors is forwarded to `docc convert`, which then exits non-zero on a warning;
# the grep below also catches warnings printed by the plugin itself.
swift package --disable-sandbox generate-documentation --target IDL --target IDLPlot \
    --warnings-as-errors "$@" 2>&1 | tee "$log" || status=$?
warnings=$(grep -cE '^(warning|error):' "$log" || true)
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
    echo "docs: FAILED ($warnings warnings or errors, exit status $status)" >&2
    exit 1
fi
echo "docs: IDL and IDLPlot built without warnings"
