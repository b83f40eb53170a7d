// The GraphQL over HTTP audit: node audit.mjs <base-url>
//
// Runs graphql-http's auditServer against <base-url>/graphql and prints every
// result. Fails (exit 1) on any MUST failure, and on any SHOULD failure that
// the README does not accept: accepted ones are the audit ids in table rows
// "| `<audit-id>` | …" of the README section whose heading starts with
// "### GraphQL over HTTP" (up to the next heading). MAY failures are printed
// and never fail. Exit 2: bad usage, or the audit could not run at all.

import { readFileSync } from "node:fs";
import { auditServer } from "graphql-http";

const README = new URL("../../README.md", import.meta.url);
const SECTION = /^###\s+GraphQL over HTTP\b/;
const TIMEOUT_MS = 60_000;

/**
 * The audit ids the README accepts as SHOULD failures. A missing README or
 * section accepts none. Headings inside fenced code blocks do not count.
 */
export function acceptedAuditIds(markdown) {
  const ids = new Set();
  let inSection = false;
  let fence = null;
  for (const raw of markdown.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const fenceMatch = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch) {
      if (fence === null) fence = fenceMatch[1][0];
      else if (fenceMatch[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    if (/^\s{0,3}#{1,6}(\s|$)/.test(line)) {
      inSection = SECTION.test(line.trim());
      continue;
    }
    if (!inSection) continue;
    const row = /^\s*\|\s*`([^`]+)`\s*\|/.exec(line);
    if (row) ids.add(row[1].trim());
  }
  return ids;
}

function readAccepted() {
  try {
    return acceptedAuditIds(readFileSync(README, "utf8"));
  } catch (e) {
    if (e.code === "ENOENT") return new Set();
    throw e;
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) {
    console.error("usage: node audit.mjs <base-url>");
    process.exit(2);
  }
  let url;
  try {
    url = new URL("graphql", args[0].endsWith("/") ? args[0] : `${args[0]}/`).href;
  } catch {
    console.error(`audit.mjs: not a URL: ${args[0]}`);
    process.exit(2);
  }
  const accepted = readAccepted();
  const watchdog = setTimeout(() => {
    console.error(`audit.mjs: the audit took longer than ${TIMEOUT_MS / 1000}s`);
    process.exit(2);
  }, TIMEOUT_MS);

  let results;
  try {
    // Every request carries the harness's key (GA_KEY): the audit checks
    // the protocol, not authentication.
    const key = process.env.GA_KEY;
    const fetchFn = (input, init = {}) => {
      const headers = new Headers(init.headers);
      if (key) headers.set("authorization", `Bearer ${key}`);
      return fetch(input, { ...init, headers });
    };
    results = await auditServer({ url, fetchFn });
  } catch (e) {
    console.error(`audit.mjs: the audit could not run against ${url}: ${e?.stack || e}`);
    process.exit(2);
  }
  clearTimeout(watchdog);

  const failing = [];
  const tolerated = [];
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  console.log(`GraphQL over HTTP audit of ${url} (graphql-http auditServer)`);
  for (const result of results) {
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    const level = result.name.split(" ", 1)[0];
    let verdict = "";
    if (result.status !== "ok") {
      if (level === "MUST") {
        verdict = "  <- MUST failure";
        failing.push(result);
      } else if (level === "SHOULD" && !accepted.has(result.id)) {
        verdict = "  <- SHOULD failure not accepted in README.md";
        failing.push(result);
      } else if (level === "SHOULD") {
        verdict = "  (accepted in README.md)";
        tolerated.push(result);
      }
    }
    console.log(`${result.status.padEnd(6)} ${result.id}  ${result.name}${verdict}`);
    if (result.status !== "ok") {
      const body = await result.response
        ?.clone()
        .text()
        .catch(() => "");
      console.log(`         reason: ${result.reason}`);
      if (result.response) {
        const type = result.response.headers.get("content-type");
        console.log(
          `         response: ${result.response.status} ${type ?? "(no content-type)"} ${(body ?? "").slice(0, 300)}`,
        );
      }
    }
  }
  for (const id of accepted) {
    const result = results.find((r) => r.id === id);
    if (!result) console.log(`note: README.md accepts ${id}, which the audit does not have`);
    else if (result.status === "ok") console.log(`note: README.md accepts ${id}, which now passes`);
  }
  console.log(
    `${results.length} audits: ${counts.ok} ok, ${counts.error} MUST failures, ${counts.warn} SHOULD failures (${tolerated.length} accepted), ${counts.notice} MAY notices`,
  );
  if (failing.length) {
    console.error(`FAIL: ${failing.length} audit failures are not accepted:`);
    for (const result of failing) console.error(`  ${result.id}  ${result.name}: ${result.reason}`);
    process.exit(1);
  }
  console.log("ok: no MUST failure, and every SHOULD failure is accepted in README.md");
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
