#!/usr/bin/env bash
# Re-vendors uPlot from the npm registry into vendor/.
#
#   bash assets/dashboard/refresh.sh [UPLOT_VERSION]
#
# npm checks the tarball against the registry's integrity hash; the files are
# copied byte for byte (no rebuild), with the licence, and SHA256SUMS is
# rewritten so a review sees exactly what changed. After a version change,
# update the file names in src/web/dashboard.rs and index.html (the unit
# tests there fail until they agree), then run the browser test.
set -euo pipefail
cd "$(dirname "$0")"

UPLOT=${1:-1.6.32}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "uplot@$UPLOT" >/dev/null && tar -xzf "uplot-$UPLOT.tgz")

rm -rf vendor
mkdir vendor
cp "$tmp/package/dist/uPlot.iife.min.js" "vendor/uPlot-$UPLOT.iife.min.js"
cp "$tmp/package/dist/uPlot.min.css" "vendor/uPlot-$UPLOT.min.css"
cp "$tmp/package/LICENSE" vendor/LICENSE.uPlot

(cd vendor && sha256sum -- * | grep -v ' SHA256SUMS$' >SHA256SUMS)
cat vendor/SHA256SUMS
