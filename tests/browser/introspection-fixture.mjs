// Writes graphql-js's standard introspection query (what GraphiQL and most
// clients send) to tests/fixtures/introspection/graphql-js-16.graphql, for
// tests/api/introspection.rs, which reads the committed file (no Node needed).
//
//   npm run introspection-fixture
//
// The graphql-core 3.3 counterpart next to it comes from Python; see
// tests/fixtures/introspection/README.md.

import { writeFileSync } from "node:fs";
import { getIntrospectionQuery, version } from "graphql";

if (!version.startsWith("16.")) {
  console.error(`introspection-fixture.mjs: expected graphql 16.x, found ${version}`);
  process.exit(1);
}
const file = new URL("../fixtures/introspection/graphql-js-16.graphql", import.meta.url);
writeFileSync(file, `${getIntrospectionQuery()}\n`);
console.log(`wrote ${file.pathname} (graphql ${version}, getIntrospectionQuery() with default options)`);
