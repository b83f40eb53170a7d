// Starting Debian's headless Chromium the same way for every browser test
// (graphiql.mjs, dashboard.mjs, tracker.mjs), and reading their command
// line the same way.
//
// Never downloads a browser: playwright-core drives /usr/bin/chromium
// (CHROMIUM=… to use another binary). The test machines have no internet,
// so nothing may depend on Playwright fetching a browser or on the network
// features Chromium turns on by default. It runs with a fixed set of flags
// and a fresh profile, so a run does not depend on Playwright's defaults or
// on state left by an earlier run.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/** Every flag Chromium gets, apart from the profile and the pipe. */
export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

/**
 * Starts Chromium for `script` (its file name, as messages show it) with a
 * fresh profile and a watchdog: if the whole test takes longer than
 * `totalTimeoutMs`, it says so (as `what` took too long), closes the browser
 * and exits 1, a test failure. If Chromium does not start within
 * `stepTimeoutMs`, it says so and exits 2: no browser.
 *
 * Returns `{ browser, close }`; `close()` stops the watchdog, closes the
 * browser and removes the profile. Call it in a `finally`.
 */
export async function launch(script, { stepTimeoutMs, totalTimeoutMs, what = "the browser test" }) {
  const profile = mkdtempSync(join(tmpdir(), `ga-${script.replace(/\.mjs$/, "")}-profile-`));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true });
  let browser;
  const watchdog = setTimeout(() => {
    console.error(`FAIL: ${what} took longer than ${totalTimeoutMs / 1000}s`);
    browser?.close().catch(() => {});
    process.exit(1);
  }, totalTimeoutMs);

  try {
    browser = await chromium.launch({
      executablePath,
      // Only our flags, plus the two Playwright cannot work without: the
      // profile directory and the pipe it talks to the browser through.
      ignoreDefaultArgs: true,
      args: [...FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-pipe"],
      timeout: stepTimeoutMs,
    });
  } catch (e) {
    clearTimeout(watchdog);
    removeProfile();
    console.error(`${script}: could not start ${executablePath}: ${e.message}`);
    process.exit(2);
  }

  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    clearTimeout(watchdog);
    try {
      await browser.close();
    } finally {
      removeProfile();
    }
  }
  return { browser, close };
}

/**
 * A script's command line: exactly one URL of the service (anything else
 * exits 2 with `usageLine`), the arguments, and `usage(message)`, which
 * exits 2 the same way for the script's own checks.
 */
export function commandLine(script, usageLine, what = "base URL") {
  const usage = (message) => {
    console.error(`${script}: ${message}`);
    console.error(`usage: ${usageLine}`);
    process.exit(2);
  };
  const args = process.argv.slice(2);
  const positional = args.filter((a) => !a.startsWith("--"));
  if (positional.length !== 1) usage(`expected exactly one ${what}`);
  let base;
  try {
    base = new URL(positional[0]);
  } catch {
    usage(`not a URL: ${positional[0]}`);
  }
  return { base, args, usage };
}
