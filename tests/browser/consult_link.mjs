// A one-time link to the consultation page (POST /api/v1/consultations/page-link), opened the
// ways a real Chromium opens it. URL is the link (absolute, on 127.0.0.1); MODE says how:
//
// - MODE=frame: first from another site's page (http://localhost:<port> is another site than
//   http://127.0.0.1:<port>), as an attacker's page sending a victim to the attacker's link:
//   the office refuses it and sets no session; then, as the browser client does, in a frame of
//   the office's own page: the consultation page opens there with the link's session.
// - MODE=system: as the desktop client's system browser does, by going to the address itself
//   (xdg-open hands it over): the office asks first (a navigation that says nothing of where it
//   came from may be someone else's doing), the resident confirms, the consultation page opens.
//   The question fits a 360 px phone in portrait and a desktop (by the rectangles of its
//   elements: nothing past the right edge, nothing overlapping, controls of 44 px or more, no
//   control's words wrapped); a link in a mail may well be opened on a phone.
//
//   URL=… MODE=frame|system SCREENSHOTS=… node consult_link.mjs
import { launch, checker, MEDIA_ARGS } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const out = { test: 'consult_link', mode: process.env.MODE };
const { check, finish } = checker(out, 90);
const link = new URL(process.env.URL);
const shots = process.env.SCREENSHOTS;
// What does not fit: elements past the right edge, visible blocks overlapping one another,
// controls under 44 px, a control's label over more than one line.
const layoutOf = (page) =>
  page.evaluate(() => {
    const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const name = (e) => e.tagName + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim().slice(0, 20);
    const all = [...document.querySelectorAll('body *')].filter(shown);
    const wide = all.filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map(name);
    const controls = all.filter((e) => e.matches('button, a, input:not([type=hidden])'));
    const small = controls.filter((e) => { const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44; }).map(name);
    const wrapped = controls.filter((e) => {
      const range = document.createRange();
      range.selectNodeContents(e);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      return lines.size > 1;
    }).map(name);
    const blocks = all.filter((e) => e.matches('h1, h2, p, button, a, li'));
    const overlapping = [];
    for (let i = 0; i < blocks.length; i++) {
      for (let j = i + 1; j < blocks.length; j++) {
        const [a, b] = [blocks[i], blocks[j]];
        if (a.contains(b) || b.contains(a)) continue;
        const [r, q] = [a.getBoundingClientRect(), b.getBoundingClientRect()];
        const x = Math.min(r.right, q.right) - Math.max(r.left, q.left);
        const y = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
        if (x > 1 && y > 1) overlapping.push(name(a) + ' / ' + name(b));
      }
    }
    return { width: window.innerWidth, wide, small, wrapped, overlapping };
  });
const fits = (l) => l.wide.length + l.small.length + l.wrapped.length + l.overlapping.length === 0;

const browser = await launch(MEDIA_ARGS);
let failed = null;
try {
  const ctx = await browser.newContext({ locale: 'ja-JP' });
  ctx.setDefaultTimeout(20_000);
  const page = await ctx.newPage();
  const sessionCookies = async () =>
    (await ctx.cookies(link.origin)).filter((c) => c.name === 'madoguchi_session').length;
  // The consultation page as it comes up in `frame` (a page or a frame): the running
  // consultation, joined (the people present list the resident).
  const consultation = async (frame) => {
    await frame.waitForSelector('#consult');
    await frame.waitForFunction(() => document.querySelectorAll('#people li').length >= 1);
    return (await frame.locator('#people').innerText()).trim();
  };
  if (process.env.MODE === 'frame') {
    const elsewhere = `http://localhost:${link.port}/text`;
    await page.goto(elsewhere);
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.evaluate((u) => { window.location.href = u; }, link.href),
    ]);
    out.cross_site_status = response.status();
    out.cross_site_page = (await page.locator('body').innerText()).trim();
    check(response.status() === 403, 'a link opened from another site is refused', out.cross_site_status);
    check((await sessionCookies()) === 0, 'and the office set no session in this browser');
    if (shots) {
      await mkdir(shots, { recursive: true });
      await page.screenshot({ path: `${shots}/cross-site.png` });
    }
    // The browser client's way: a frame over its own page, on the office's origin.
    await page.goto(`${link.origin}/text`);
    await page.evaluate((u) => {
      const f = document.createElement('iframe');
      f.id = 'consultation';
      f.src = u;
      f.allow = 'camera; microphone; autoplay';
      f.style = 'position:fixed;inset:0;width:100%;height:100%;border:0;background:#fff';
      document.body.appendChild(f);
    }, link.href);
    const frame = await (await page.waitForSelector('iframe#consultation')).contentFrame();
    out.people = await consultation(frame);
    out.path = new URL(frame.url()).pathname;
  } else {
    // Not until `load`: the page's videos keep it from firing.
    await page.goto(link.href, { waitUntil: 'domcontentloaded' });
    out.asked = (await page.locator('#switch-question').textContent()).trim();
    check((await sessionCookies()) === 0, 'nothing is set before the resident says yes');
    out.question_layout = [];
    for (const viewport of [{ width: 360, height: 640 }, { width: 1280, height: 800 }]) {
      await page.setViewportSize(viewport);
      const layout = await layoutOf(page);
      out.question_layout.push(layout);
      check(fits(layout), `the question fits ${viewport.width} px`, JSON.stringify(layout));
      if (shots) {
        await mkdir(shots, { recursive: true });
        await page.screenshot({ path: `${shots}/question-${viewport.width}.png`, fullPage: true });
      }
    }
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/text/consultation', { waitUntil: 'domcontentloaded' }),
      page.locator('form[action="/text/consultation/open"] button').click(),
    ]);
    out.people = await consultation(page);
    out.path = new URL(page.url()).pathname;
  }
  check(out.path === '/text/consultation', 'the link leads to the consultation page', out.path);
  check((await sessionCookies()) === 1, 'with the session the link was made for');
  if (shots) {
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/${process.env.MODE}.png` });
  }
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
