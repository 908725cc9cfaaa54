// The 3D browser client in headless Chromium (WebGL2 through SwiftShader), against a running
// server that serves the wasm build:
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 SCREENSHOT=/tmp/office.png node client3d.mjs [--walk]
//
// Loads /play, waits for the first rendered frames, checks the picture is not blank, and with
// --walk runs to the children's counter and takes a ticket with the keyboard (E). Prints one JSON
// line: {"bench":"web","compressed_bytes":..,"first_frame_ms":..,"office_frame_ms":..,...}; exits 1
// on failure. first_frame_ms: the first frames out (the loading screen goes); office_frame_ms:
// the first frame showing the office (after Welcome, the room built).
import { axe, checker, launch, MEDIA_ARGS, walker } from './lib.mjs';
import { writeFile } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
if (!base) {
  console.error('set MADOGUCHI_BASE');
  process.exit(2);
}
const walk = process.argv.includes('--walk');
const out = { bench: 'web', checks: [] };
const { check, finish } = checker(out, 230);

const browser = await launch(MEDIA_ARGS);
let failed = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 960, height: 600 } });
  ctx.setDefaultTimeout(60_000);
  const page = await ctx.newPage();
  // Counts the page's WebSockets (a reconnect opens another), and lets the test hide the page
  // as a browser does: while window.__hide is set, animation frames do not come (headless
  // Chromium never hides a page itself, and keeps drawing one in the background).
  await page.addInitScript(() => {
    const native = window.requestAnimationFrame.bind(window);
    window.__hide = false;
    window.__held = [];
    window.requestAnimationFrame = (cb) => native((t) => (window.__hide ? window.__held.push(cb) : cb(t)));
    const Real = window.WebSocket;
    window.__wsOpened = 0;
    window.WebSocket = function (...args) { window.__wsOpened++; return new Real(...args); };
    window.WebSocket.prototype = Real.prototype;
    Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The page's Content-Security-Policy must let the client load and connect: any violation
  // (a blocked script, wasm compile, fetch or WebSocket) is reported on the console.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push('CSP: ' + m.text());
  });
  let compressed = 0;
  const files = [];
  page.on('response', async (r) => {
    if (r.url().includes('/web/')) {
      files.push(r.url());
      out.encoding = r.headers()['content-encoding'] || 'identity';
      const len = Number(r.headers()['content-length'] || 0);
      compressed += len || (await r.body().catch(() => Buffer.alloc(0))).length;
    }
  });
  if (walk) {
    // The join form passes axe-core (the text mode's standard: no violations at all).
    await page.goto(`${base}/play`);
    const a = await axe(page);
    check(a.violations.length === 0, 'the join page passes axe-core', a.violations);
  }
  await page.goto(`${base}/play?name=Alex&lang=en`);
  await page.waitForSelector('body[data-first-frame]', { timeout: 120_000 });
  if (walk) {
    const a = await axe(page);
    check(a.violations.length === 0, 'the running game page passes axe-core', a.violations);
  }
  out.first_frame_ms = Number(await page.evaluate(() => document.body.dataset.firstFrame));
  // The first frame that shows the office: after Welcome, with the room built.
  await page.waitForSelector('body[data-office-frame]', { timeout: 60_000 })
    .catch(() => { throw new Error('the office never appeared'); });
  out.office_frame_ms = Number(await page.evaluate(() => document.body.dataset.officeFrame));
  out.compressed_bytes = compressed;
  // What a browser that takes only gzip (plain HTTP, not localhost) would fetch.
  out.gzip_bytes = 0;
  for (const url of files) {
    // fetch decodes the body; the header says what travelled.
    const r = await fetch(url, { headers: { 'accept-encoding': 'gzip' } });
    out.gzip_bytes += Number(r.headers.get('content-length') || 0);
    await r.arrayBuffer();
  }
  out.decoded_bytes = await page.evaluate(() => window.__madoguchi && window.__madoguchi.bytes);
  check(errors.length === 0, 'no page errors', errors);
  // Let it connect and draw the room.
  await page.waitForTimeout(3000);
  const shot = await page.screenshot({ type: 'png' });
  if (process.env.SCREENSHOT) await writeFile(process.env.SCREENSHOT, shot);
  const colors = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] >> 3) << 10 | (d[i + 1] >> 3) << 5 | (d[i + 2] >> 3));
    return seen.size;
  }, shot.toString('base64'));
  out.distinct_colors = colors;
  check(colors >= 8, 'the screenshot is not blank', colors);
  check(errors.length === 0, 'no page errors or CSP violations after connecting', errors);
  // Frame pacing: software rendering is a weak device. Frames a second now, then the quality
  // level the client settles on (<body data-quality>, absent while at full quality) and the
  // frames a second at that level. Both rates are figures, not checks (a machine's load moves
  // them); the step down is checked in the test (--walk).
  const frames = () => page.evaluate(() => Number(document.body.dataset.frames || 0));
  const fps = async (ms) => {
    const a = await frames();
    await page.waitForTimeout(ms);
    return Math.round((await frames() - a) * 10_000 / ms) / 10;
  };
  out.fps_at_start = await fps(4000);
  await page.waitForFunction(() => Number(document.body.dataset.quality || 0) >= 1, null, { timeout: 30_000 }).catch(() => {});
  out.quality = Number(await page.evaluate(() => document.body.dataset.quality || 0));
  out.fps_paced = await fps(4000);
  // What the canvas draws (its backing store) against what it covers on the page.
  out.canvas = await page.evaluate(() => {
    const c = document.getElementById('madoguchi');
    const r = c.getBoundingClientRect();
    return { drawn: [c.width, c.height], shown: [Math.round(r.width), Math.round(r.height)], page: [innerWidth, innerHeight], dpr: devicePixelRatio };
  });
  if (walk) {
    check(out.quality >= 1, 'slow frames step the quality down (frame pacing)', out);
    const { drawn, shown, page: size, dpr } = out.canvas;
    check(drawn[0] <= 0.8 * size[0] * dpr && drawn[1] <= 0.8 * size[1] * dpr, 'a lower quality draws fewer pixels', out.canvas);
    check(Math.abs(shown[0] - size[0]) <= 1 && Math.abs(shown[1] - size[1]) <= 1, 'and still fills the page', out.canvas);
  }
  if (walk) {
    await page.locator('canvas#madoguchi').focus();
    const { holdUntil } = walker(page);
    // Lobby entrance (12, 2) north through the door to the counters, then up to c1 (20.5, 15).
    let w = await holdUntil(['Shift', 'KeyW'], (w) => w.room === 'counters', 50_000);
    check(w.room === 'counters', 'walked through the door to the counters', w);
    w = await holdUntil(['Shift', 'KeyW'], (w) => w.pos[1] >= 13.8, 40_000);
    w = await holdUntil(['KeyD'], (w) => w.pos[0] >= 20.2, 40_000);
    out.at_counter = w.pos;
    // Near enough to count as arrived when called (2 m), not only to take a ticket (3 m).
    check(Math.hypot(w.pos[0] - 20.5, w.pos[1] - 15) <= 1.5, 'standing at counter C1', w.pos);
    await page.waitForTimeout(300);
    await page.keyboard.press('KeyE');
    const token = await page.evaluate(() => localStorage.getItem('madoguchi.session'));
    let tickets = [];
    for (let i = 0; i < 20 && tickets.length === 0; i++) {
      await page.waitForTimeout(250);
      const r = await fetch(`${base}/api/v1/tickets`, { headers: { authorization: `Bearer ${token}` } });
      tickets = await r.json();
    }
    out.ticket = tickets[0] && tickets[0].label;
    // The client itself shows it (the HUD, mirrored into the page's status region).
    await page.waitForFunction(() => /C-001/.test(document.getElementById('hud-live').textContent), null, { timeout: 10_000 })
      .then(() => out.checks.push('the ticket panel shows C-001'))
      .catch(() => { throw new Error('the ticket panel does not show C-001: ' + JSON.stringify(out)); });
    if (process.env.SCREENSHOT) await writeFile(process.env.SCREENSHOT.replace(/\.png$/, '-counter.png'), await page.screenshot());
    check(out.ticket === 'C-001', 'walked to the counter and took ticket C-001 with E', tickets);
    // The test now has a clerk open c1 and call the next ticket: ours.
    // The resident looks at another tab while waiting: the page says it is hidden
    // (visibilityState, the visibilitychange event) and gets no animation frames, for longer
    // than the office's 10 s of silence; the call comes then.
    const hide = () => page.evaluate(() => {
      window.__hide = true;
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
      return window.__wsOpened;
    });
    const show = () => page.evaluate(() => {
      window.__hide = false;
      delete document.visibilityState;
      delete document.hidden;
      document.dispatchEvent(new Event('visibilitychange'));
      for (const cb of window.__held.splice(0)) cb(performance.now());
    });
    const sockets = await hide();
    // (Waits poll on a timer while hidden: Playwright's default polls on animation frames.)
    await page.waitForFunction(() => document.body.dataset.hidden === 'true', null, { timeout: 10_000, polling: 250 })
      .catch(() => { throw new Error('the client did not see the page hidden'); });
    const f0 = await frames();
    await page.waitForTimeout(15_000);
    out.hidden_updates_15s = (await frames()) - f0;
    check(out.hidden_updates_15s >= 5, 'hidden, the game still updates (about once a second)', out.hidden_updates_15s);
    out.frames_held_hidden = await page.evaluate(() => window.__held.length);
    console.log(JSON.stringify({ step: 'ticket' }));
    const live = () => document.getElementById('hud-live').textContent;
    await page.waitForFunction(() => /please come to counter C1/.test(document.getElementById('hud-live').textContent), null, { timeout: 30_000, polling: 250 })
      .catch(async () => { throw new Error('no called banner: ' + (await page.evaluate(live))); });
    out.banner = (await page.evaluate(live)).split('\n')[0];
    out.chimes = Number(await page.evaluate(() => document.body.dataset.chimes || 0));
    check(out.chimes >= 1, 'the call chimed', out.chimes);
    check(await page.evaluate(() => document.body.dataset.hidden === 'true'), 'called and chimed while the page was hidden');
    out.sockets = [sockets, await page.evaluate(() => window.__wsOpened)];
    check(out.sockets[0] >= 1 && out.sockets[1] === out.sockets[0], 'on the same connection: no reconnect', out.sockets);
    // The resident comes back to the tab: drawing resumes.
    await show();
    await page.waitForFunction(() => document.body.dataset.hidden === 'false', null, { timeout: 10_000, polling: 250 })
      .catch(() => { throw new Error('the client did not see the page shown again'); });
    out.fps_shown_again = await fps(3000);
    check(out.fps_shown_again >= 2, 'shown again, it draws again', out.fps_shown_again);
    if (process.env.SCREENSHOT) await writeFile(process.env.SCREENSHOT.replace(/\.png$/, '-called.png'), await page.screenshot());
    // Chat through the page's chat box: Enter in the game focuses it, Enter sends and returns.
    await page.locator('canvas#madoguchi').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'chat-input', null, { timeout: 5_000 })
      .catch(() => { throw new Error('Enter did not open the chat box'); });
    await page.keyboard.type('こんにちは、窓口です');
    await page.keyboard.press('Enter');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'madoguchi'), 'the game has the keyboard again after sending');
    // The server echoes a chat line to its sender too: wait for it in the page's chat log.
    await page.waitForFunction(() => /Alex: こんにちは、窓口です/.test(document.getElementById('chat-live').textContent), null, { timeout: 15_000 })
      .catch(async () => {
        const state = await page.evaluate(() => ({ hud: document.getElementById('hud-live').textContent, chat: document.getElementById('chat-live').textContent, queued: window.__madoguchiChat }));
        throw new Error('the chat line did not come back: ' + JSON.stringify(state));
      });
    out.chat = 'こんにちは、窓口です';
    // The test has the clerk start the consultation: the client shows the consultation page
    // over the canvas, which connects its media to the office. Standing at the counter, the
    // resident has arrived; the page says so too (as the text mode's "I am at the counter"), in
    // case a slow machine made the client reconnect and put the avatar back in the lobby.
    const mine = await (await fetch(`${base}/api/v1/tickets`, { headers: { authorization: `Bearer ${token}` } })).json();
    const called = mine.find((t) => t.label === 'C-001');
    out.status_before_consultation = called && called.status;
    if (called && called.status === 'called') {
      await fetch(`${base}/api/v1/tickets/${called.id}/arrived`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    }
    console.log(JSON.stringify({ step: 'chatted' }));
    await page.waitForSelector('iframe#consultation', { timeout: 30_000 })
      .catch(() => { throw new Error('no consultation overlay'); });
    const consult = page.frameLocator('iframe#consultation');
    await consult.locator('#media-status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 })
      .catch(async () => { throw new Error('the consultation page did not connect: ' + await consult.locator('main').textContent().catch(() => '?')); });
    check(true, 'the consultation opened over the game and connected its media');
    if (process.env.SCREENSHOT) await writeFile(process.env.SCREENSHOT.replace(/\.png$/, '-consultation.png'), await page.screenshot());
    await consult.getByRole('button', { name: 'Hang up' }).click();
    await page.waitForSelector('iframe#consultation', { state: 'detached', timeout: 15_000 })
      .catch(() => { throw new Error('the overlay stayed after the hang-up'); });
    check(true, 'hanging up closes the overlay');
    check(errors.length === 0, 'no page errors or CSP violations in the whole visit', errors);
  }
} catch (e) {
  failed = e.message;
} finally {
  await browser.close();
}
finish(failed);
