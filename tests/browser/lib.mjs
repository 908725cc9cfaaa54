// Shared helpers for the browser tests: launch Debian's headless Chromium through playwright-core,
// run axe-core in a page, and print one-line JSON reports.
//
// Chromium is the machine's (/usr/bin/chromium from Debian, or $CHROMIUM); playwright-core never
// downloads a browser. Each launch() gets a fresh, throw-away profile: Playwright passes its own
// temporary --user-data-dir (playwright_chromiumdev_profile-*) and removes it on browser.close().
// Use browser.newContext() per test for isolated cookies and storage.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const AXE_PATH = fileURLToPath(new URL('./node_modules/axe-core/axe.min.js', import.meta.url));

export const DEFAULT_AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

// Chromium flags for the consultation tests: a fake camera and microphone, allowed without asking,
// playing without a gesture, WebRTC on loopback with real addresses (no mDNS names).
export const MEDIA_ARGS = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

// `extraArgs`: more Chromium flags (e.g. a fake camera for the consultation tests).
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      // Required when running as root (Chromium refuses to start otherwise) and in containers
      // without user namespaces.
      '--no-sandbox',
      // Software WebGL/compositing; there is no GPU.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      // Keep the browser off the network except for what the test loads.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  });
}

function summarise(v) {
  return {
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, html: n.html })),
  };
}

const hasAxe = (page) => page.evaluate(() => typeof window.axe !== 'undefined');

// Runs axe-core on the page's document. Returns { violations, serious } where serious holds the
// violations with impact "serious" or "critical".
export async function axe(page, { tags } = {}) {
  if (!(await hasAxe(page))) {
    // Evaluated by the test driver, not injected as a <script>: the pages' Content-Security-Policy
    // (rightly) blocks inline scripts, and the tests count every CSP violation as a failure.
    await page.evaluate(await readFile(AXE_PATH, 'utf8'));
  }
  const values = tags || DEFAULT_AXE_TAGS;
  const result = await page.evaluate(
    (values) => window.axe.run(document, { runOnly: { type: 'tag', values } }),
    values,
  );
  const violations = result.violations.map(summarise);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  return { violations, serious };
}

// Prints obj as one JSON line on stdout.
export function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// The common frame of a browser run: `out` collects what passed in `out.checks`; check() throws
// with its detail when a check fails; after `seconds` the run reports a timeout and exits 1.
// finish(failed) stops the timer, reports `out` (with `ok`, and `error` when `failed` is a
// message) and exits 0 or 1.
export function checker(out, seconds) {
  out.checks = out.checks || [];
  const check = (ok, what, detail) => {
    out.checks.push(what);
    if (!ok) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  };
  const timer = setTimeout(() => {
    report({ ...out, ok: false, error: `timed out after ${seconds} s` });
    process.exit(1);
  }, seconds * 1000);
  const finish = (failed) => {
    clearTimeout(timer);
    out.ok = !failed;
    if (failed) out.error = failed;
    report(out);
    process.exit(failed ? 1 : 0);
  };
  return { check, finish };
}

// Inbound RTP of a consultation page's connection (window.madoguchiConsult), by kind: bytes,
// packets and, for video, decoded frames.
export const inbound = (page) =>
  page.evaluate(async () => {
    const pc = window.madoguchiConsult && window.madoguchiConsult.pc();
    const totals = { audio: { bytes: 0, packets: 0 }, video: { bytes: 0, packets: 0, frames: 0 } };
    if (!pc) return totals;
    for (const s of (await pc.getStats()).values()) {
      if (s.type !== 'inbound-rtp') continue;
      const t = totals[s.kind];
      t.bytes += s.bytesReceived || 0;
      t.packets += s.packetsReceived || 0;
      if (s.kind === 'video') t.frames += s.framesDecoded || 0;
    }
    return totals;
  });
