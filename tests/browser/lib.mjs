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
import { createInterface } from 'node:readline';

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

// How many times launch() starts Chromium when it dies by a signal before it is up.
const LAUNCH_ATTEMPTS = 3;

// The signal a failed chromium.launch() says Chromium died by while it started (Playwright's
// browser log ends in "process did exit: exitCode=null, signal=SIGSEGV"), or null. A CI run saw
// this once (SIGSEGV, before any page was opened); a missing executable or a bad flag fails otherwise.
function signalWhileStarting(error) {
  const m = /process did exit: exitCode=null, signal=(SIG[A-Z]+)/.exec(String(error && error.message));
  return m && m[1];
}

// `extraArgs`: more Chromium flags (e.g. a fake camera for the consultation tests).
// A Chromium that dies by a signal while it starts is started again, up to LAUNCH_ATTEMPTS times
// in all, each retry said on stderr; any other failure, and any crash after launch, fails the test.
export async function launch(extraArgs = []) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(extraArgs);
    } catch (e) {
      const signal = signalWhileStarting(e);
      if (attempt >= LAUNCH_ATTEMPTS || !signal) throw e;
      console.error(`Chromium died (${signal}) while starting, attempt ${attempt} of ${LAUNCH_ATTEMPTS}: starting it again`);
    }
  }
}

function launchOnce(extraArgs) {
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

// A script's conversation with its Rust test over stdin/stdout: say(word) prints a line the
// test acts on; expect(word) waits for the test's answer and fails on any other.
export function conversation() {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const expect = async (word) => {
    const { value } = await lines.next();
    if (value !== word) throw new Error(`expected "${word}" from the test, got ${JSON.stringify(value)}`);
  };
  const say = (word) => process.stdout.write(word + '\n');
  return { expect, say };
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

// Walking the 3D client with the keyboard. The client writes where the server last put us into
// <body data-room="…" data-pos="x,y">; holdUntil(keys, done, ms) holds keys until done(where)
// says we are there, or ms pass, and returns where we are. A software-rendered frame can take
// most of a second, so a key is seen late and the avatar runs on after it is released: for a
// spot, goTo(x, y, tol) walks in timed steps, each shorter than the way left, and looks again
// once the avatar has stopped.
export function walker(page) {
  // `frames`: frames drawn so far, to tell a slow machine from a blocked walk when one fails.
  const where = () => page.evaluate(() => ({
    room: document.body.dataset.room,
    pos: (document.body.dataset.pos || '0,0').split(',').map(Number),
    frames: Number(document.body.dataset.frames || 0),
  }));
  const holdUntil = async (keys, done, ms) => {
    for (const k of keys) await page.keyboard.down(k);
    const start = Date.now();
    const end = start + ms;
    const first = await where();
    let w = first;
    while (!done(w) && Date.now() < end) {
      await page.waitForTimeout(50);
      w = await where();
    }
    for (const k of [...keys].reverse()) await page.keyboard.up(k);
    // How long it took and how many frames were drawn meanwhile (a failure says if it was slow).
    return { ...w, ms: Date.now() - start, frames: w.frames - first.frames };
  };
  // Where the avatar is once it has not moved for 600 ms (at most 6 s).
  const settle = async () => {
    let w = await where();
    let still = Date.now();
    const end = Date.now() + 6_000;
    while (Date.now() - still < 600 && Date.now() < end) {
      await page.waitForTimeout(100);
      const n = await where();
      if (n.pos[0] !== w.pos[0] || n.pos[1] !== w.pos[1]) still = Date.now();
      w = n;
    }
    return w;
  };
  const WALK = 1.6; // m/s, the server's cap without running
  const goTo = async (x, y, tol, tries = 14) => {
    let w = await settle();
    for (let i = 0; i < tries; i++) {
      const dx = x - w.pos[0];
      const dy = y - w.pos[1];
      if (Math.hypot(dx, dy) <= tol) return w;
      const [key, d] = Math.abs(dx) >= Math.abs(dy) ? [dx > 0 ? 'KeyD' : 'KeyA', Math.abs(dx)] : [dy > 0 ? 'KeyW' : 'KeyS', Math.abs(dy)];
      await page.keyboard.down(key);
      await page.waitForTimeout(Math.max(150, Math.min(4_000, (d / WALK) * 1000 * 0.7)));
      await page.keyboard.up(key);
      w = await settle();
    }
    return w;
  };
  return { where, holdUntil, settle, goTo };
}
