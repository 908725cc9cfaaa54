// The 3D office on phones in portrait (390×844 and 360×640, touch), a phone in landscape
// (844×390, touch) and on a desktop (1280×720), in Japanese. On each, a resident enters, opens "窓口へ行く" (go to a counter), taps a counter in
// the other room, and the avatar walks there by the server's routes (through the door) and takes
// a ticket on arrival; the Rust test (the clerk) calls it; the called banner shows. Checked on
// each: no on-screen control reaches past the viewport (the client reports its own UI nodes on
// <body data-hud-overflow>), buttons and the page's controls are at least 44 px, and on touch no
// hint names a key (on the desktop the hints name keys). On the 390 px phone the clerk then
// starts the consultation: its page covers the whole screen, fits it (no sideways scrolling,
// controls at least 44 px), and the game behind it stops drawing (about a frame a second instead
// of many). Screenshots go to SCREENSHOTS. The four screens run at once, each in its own browser
// context (as four residents would): their walks overlap instead of adding up.
//
//   this script prints "ticket <label>" -> the test calls that ticket and answers "called"
//   this script prints "consult <label>" -> the test starts that desk's consultation and
//                                           answers "started"
// (one exchange at a time: a screen waits for the answer before another one asks)
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 SCREENSHOTS=… node phone.mjs
import { launch, checker, conversation, MEDIA_ARGS } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
const shots = process.env.SCREENSHOTS;
const out = { test: 'phone', runs: [] };
const { check, finish } = checker(out, 420);
const { expect, say } = conversation();

const RUNS = [
  { name: 'phone-390', viewport: { width: 390, height: 844 }, touch: true, counter: 'A1', who: '山田 花子', consult: true },
  { name: 'phone-360', viewport: { width: 360, height: 640 }, touch: true, counter: 'C1', who: '佐藤 次郎' },
  { name: 'landscape', viewport: { width: 844, height: 390 }, touch: true, counter: 'B1', who: '高橋 三郎' },
  { name: 'desktop', viewport: { width: 1280, height: 720 }, touch: false, counter: 'E1', who: '鈴木 一郎' },
];
// Words that name a key: none may appear on a touch screen.
const KEYS = /Enter|Esc|Tab\b|Shift|WASD|キー|\bE\b/;

// The page's own controls (chat box, counters list) within the viewport and at least 44 px.
const pageLayout = (page) =>
  page.evaluate(() => {
    const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
    const controls = [...document.querySelectorAll('#chat input, #chat button, #go summary, #go button')].filter(shown);
    const out = (r) => r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1;
    return {
      wide: controls.filter((e) => out(e.getBoundingClientRect())).map((e) => e.outerHTML.slice(0, 60)),
      small: controls.filter((e) => { const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44; }).map((e) => e.outerHTML.slice(0, 60)),
      hudOverflow: document.body.dataset.hudOverflow,
      hudSmall: document.body.dataset.hudSmall,
    };
  });

// One exchange with the test at a time: the answers carry no label.
let talking = Promise.resolve();
const ask = (line, answer) => {
  const done = talking.then(async () => { say(line); await expect(answer); });
  talking = done.catch(() => {});
  return done;
};

const browser = await launch(MEDIA_ARGS);
let failed = null;
const HUD = () => ({ hud: document.getElementById('hud-live').textContent, room: document.body.dataset.room, pos: document.body.dataset.pos, over: document.body.dataset.hudOverflow, small: document.body.dataset.hudSmall });

async function screen(run) {
  const r = { name: run.name };
  out.runs.push(r);
  const ctx = await browser.newContext({ locale: 'ja-JP', viewport: run.viewport, hasTouch: run.touch, isMobile: run.touch });
  ctx.setDefaultTimeout(60_000);
  const page = await ctx.newPage();
  try {
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push('CSP: ' + m.text()); });
    const hud = () => page.evaluate(() => document.getElementById('hud-live').textContent);
    await page.goto(base + '/play?lang=ja&name=' + encodeURIComponent(run.who));
    await page.waitForSelector('body[data-office-frame]', { timeout: 120_000 });
    await page.waitForFunction(() => /接続中/.test(document.getElementById('hud-live').textContent), null, { timeout: 60_000 });
    // The layout report comes once a second.
    await page.waitForFunction(() => document.body.dataset.hudOverflow !== undefined, null, { timeout: 10_000 });
    r.hud = await hud();
    if (run.touch) check(!KEYS.test(r.hud), `${run.name}: no key named on a touch screen`, r.hud);
    else check(KEYS.test(r.hud), `${run.name}: on a desktop the hints name the keys`, r.hud);
    let layout = await pageLayout(page);
    r.layout = layout;
    check(layout.wide.length === 0 && layout.small.length === 0, `${run.name}: the page's controls fit and are 44 px`, layout);
    check(layout.hudOverflow === '', `${run.name}: nothing on screen reaches past the viewport`, layout.hudOverflow);
    check(layout.hudSmall === '', `${run.name}: on-screen buttons are at least 44 px`, layout.hudSmall);
    if (shots) await page.screenshot({ path: `${shots}/${run.name}-lobby.png` });
    {
      const f0 = await page.evaluate(() => Number(document.body.dataset.frames || 0));
      await page.waitForTimeout(3000);
      r.lobby_frames_3s = (await page.evaluate(() => Number(document.body.dataset.frames || 0))) - f0;
    }
    // Go to a counter without steering.
    const go = page.locator('#go summary');
    if (run.touch) await go.tap(); else await go.click();
    const pick = page.getByRole('button', { name: new RegExp('^' + run.counter + ' ') });
    await pick.waitFor({ state: 'visible' });
    layout = await pageLayout(page);
    check(layout.wide.length === 0 && layout.small.length === 0, `${run.name}: the counters list fits and its buttons are 44 px`, layout);
    if (shots) await page.screenshot({ path: `${shots}/${run.name}-counters.png` });
    if (run.touch) await pick.tap(); else await pick.click();
    const prefix = run.counter[0];
    await page.waitForFunction((p) => new RegExp(p + '-\\d{3}').test(document.getElementById('hud-live').textContent), prefix, { timeout: 120_000 });
    r.hud_ticket = await hud();
    const label = new RegExp(prefix + '-\\d{3}').exec(r.hud_ticket)[0];
    r.ticket = label;
    r.room = await page.evaluate(() => document.body.dataset.room);
    check(r.room === 'counters', `${run.name}: walked through the door to the counters`, r.room);
    if (run.touch) check(!KEYS.test(r.hud_ticket), `${run.name}: no key named with a ticket`, r.hud_ticket);
    await ask('ticket ' + label, 'called');
    await page.waitForFunction((l) => new RegExp(`番号札 ${l} の方`).test(document.getElementById('hud-live').textContent), label, { timeout: 20_000 });
    // Wait for a fresh layout report with the banner shown.
    await page.waitForTimeout(1200);
    layout = await pageLayout(page);
    r.called_layout = layout;
    // By now a software-rendered game has lowered its resolution (frame pacing): the layout
    // holds there too (the UI is scaled with it).
    r.quality = Number(await page.evaluate(() => document.body.dataset.quality || 0));
    check(r.quality >= 1, `${run.name}: slow frames lowered the quality`, r.quality);
    check(layout.hudOverflow === '', `${run.name}: called, nothing reaches past the viewport`, layout.hudOverflow);
    check(layout.hudSmall === '', `${run.name}: called, on-screen buttons are at least 44 px`, layout.hudSmall);
    if (shots) await page.screenshot({ path: `${shots}/${run.name}-called.png` });
    if (run.consult) {
      // Frames drawn in 3 s, from the client's own count.
      const frames = () => page.evaluate(() => Number(document.body.dataset.frames || 0));
      const drawn = async () => { const a = await frames(); await page.waitForTimeout(3000); return (await frames()) - a; };
      r.frames_before = await drawn();
      await ask('consult ' + label, 'started');
      const overlay = await page.waitForSelector('iframe#consultation', { timeout: 30_000 });
      const box = await overlay.boundingBox();
      check(box && box.x <= 0 && box.y <= 0 && box.width >= run.viewport.width && box.height >= run.viewport.height, `${run.name}: the consultation covers the whole screen`, box);
      const frame = await overlay.contentFrame();
      await frame.waitForSelector('#consult', { timeout: 30_000 });
      await page.waitForTimeout(1500);
      r.consult_fit = await frame.evaluate(() => {
        const d = document.documentElement;
        const shown = (e) => { const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
        return {
          sideways: d.scrollWidth - d.clientWidth,
          small: [...document.querySelectorAll('button, a, input')].filter(shown).filter((e) => { const b = e.getBoundingClientRect(); return b.height < 44 || b.width < 44; }).map((e) => e.outerHTML.slice(0, 60)),
        };
      });
      check(r.consult_fit.sideways <= 1, `${run.name}: the consultation page does not scroll sideways`, r.consult_fit);
      check(r.consult_fit.small.length === 0, `${run.name}: the consultation page's controls are 44 px`, r.consult_fit);
      // Paused, the game updates once a second; a software-rendered game draws only a few frames
      // a second anyway, so the count is checked against that rate, not against the count before.
      // The client writes its count at most once a second, so the first count written after the
      // pause still adds the frames drawn in the last second before it (14 at once, measured):
      // count from the first change on.
      const settled = await frames();
      await page.waitForFunction((f) => Number(document.body.dataset.frames || 0) !== f, settled, { timeout: 10_000 });
      r.frames_during = await drawn();
      r.paused = await page.evaluate(() => document.body.dataset.paused);
      check(r.paused === 'true' && r.frames_during <= 5, `${run.name}: the game stops drawing behind the consultation`, { before: r.frames_before, during: r.frames_during, paused: r.paused });
      if (shots) await page.screenshot({ path: `${shots}/${run.name}-consultation.png` });
    }
    check(errors.length === 0, `${run.name}: no page errors`, errors);
  } catch (e) {
    r.hud_at_failure = await page.evaluate(HUD).catch(() => null);
    throw new Error(`${run.name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  } finally {
    await ctx.close().catch(() => {});
  }
}

try {
  if (shots) await mkdir(shots, { recursive: true });
  const results = await Promise.allSettled(RUNS.map(screen));
  const errors = results.filter((x) => x.status === 'rejected').map((x) => String(x.reason && x.reason.message ? x.reason.message : x.reason));
  if (errors.length) failed = errors.join(' || ');
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
