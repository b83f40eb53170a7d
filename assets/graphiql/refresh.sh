#!/usr/bin/env bash
# Re-vendors GraphiQL and React from the npm registry into vendor/.
#
#   bash assets/graphiql/refresh.sh [GRAPHIQL_VERSION [REACT_VERSION]]
#
# npm checks each tarball against the registry's integrity hash; the files are
# copied byte for byte (no rebuild), with their licences (and, for the
# packages bundled into GraphiQL, THIRD-PARTY-NOTICES.md), and SHA256SUMS is
# rewritten so a review sees exactly what changed. After a version change,
# update the file names in src/graphiql.rs and index.html (the unit tests in
# src/graphiql.rs fail until they agree), then run the browser test.
set -euo pipefail
cd "$(dirname "$0")"

GRAPHIQL=${1:-4.1.2}
REACT=${2:-18.3.1}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in graphiql react react-dom; do
    version=$REACT
    [ "$pkg" = graphiql ] && version=$GRAPHIQL
    mkdir -p "$tmp/$pkg"
    tar -xzf "$tmp/$pkg-$version.tgz" -C "$tmp/$pkg"
done

rm -rf vendor
mkdir vendor
cp "$tmp/graphiql/package/graphiql.min.js" "vendor/graphiql-$GRAPHIQL.min.js"
cp "$tmp/graphiql/package/graphiql.min.css" "vendor/graphiql-$GRAPHIQL.min.css"
cp "$tmp/graphiql/package/LICENSE" vendor/LICENSE.graphiql
cp "$tmp/react/package/umd/react.production.min.js" "vendor/react-$REACT.production.min.js"
cp "$tmp/react/package/LICENSE" vendor/LICENSE.react
cp "$tmp/react-dom/package/umd/react-dom.production.min.js" "vendor/react-dom-$REACT.production.min.js"
cp "$tmp/react-dom/package/LICENSE" vendor/LICENSE.react-dom

# The bundle's own dependencies, for their licence texts.
mkdir "$tmp/deps"
(cd "$tmp/deps" && npm init -y >/dev/null &&
    npm install --silent --ignore-scripts --no-audit --no-fund "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" graphql@16 >/dev/null)
map="$tmp/graphiql/package/graphiql.min.js.map"
missing=$(node third-party-notices.mjs --missing "$map" "$tmp/deps/node_modules")
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086 # one package name a word
    (cd "$tmp/deps" && npm install --silent --ignore-scripts --no-audit --no-fund --no-save $missing >/dev/null)
fi
node third-party-notices.mjs "$map" "$tmp/deps/node_modules"

(cd vendor && sha256sum -- * | grep -v ' SHA256SUMS$' >SHA256SUMS)
cat vendor/SHA256SUMS
