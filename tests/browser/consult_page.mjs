// The text mode's consultation page in headless Chromium with a fake camera and microphone, as
// the resident; the clerk is the Rust test's own webrtc-crate peer, which sends the resident's
// media back (so the page decodes real frames). The Rust test drives the clerk's side and this
// script over stdin/stdout:
//
//   this script prints "ticket" (a ticket taken)   -> the test calls it and answers "called"
//   this script prints "arrived" (at the counter)  -> the test starts the consultation, joins
//                                                     its peer and answers "started"
//   this script checks media both ways (getStats), the page's words, axe and the phone layout,
//   hangs up, and prints its JSON report as the last line.
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 node consult_page.mjs
import { launch, axe, report, checker, conversation, inbound, MEDIA_ARGS } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
if (!base) {
  console.error('set MADOGUCHI_BASE');
  process.exit(2);
}
const out = { test: 'consult_page' };
const { check, finish } = checker(out, 150);
const { expect, say } = conversation();

// What does not fit a phone: elements past the right edge, controls under 44 px.
const layoutOf = (page) =>
  page.evaluate(() => {
    const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > 0; };
    const wide = [...document.querySelectorAll('body *')].filter((e) => shown(e) && e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.tagName + '#' + e.id);
    const small = [...document.querySelectorAll('button, a, input')].filter((e) => { const r = e.getBoundingClientRect(); return shown(e) && (r.height < 44 || r.width < 44); }).map((e) => e.outerHTML.slice(0, 60));
    return { wide, small };
  });

const browser = await launch(MEDIA_ARGS);
let failed = null;
try {
  const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 360, height: 640 }, hasTouch: true, isMobile: true });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const csp = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });
  await page.goto(base + '/text?lang=ja');
  await page.getByLabel('お名前').fill('山田 花子');
  await page.getByLabel('お名前').press('Enter');
  await page.waitForURL(/\/text\?lang=ja$/);
  await page.getByRole('button', { name: /番号札を取る.*戸籍住民課/ }).click();
  await page.waitForURL(/notice=taken/);
  say('ticket');
  await expect('called');
  await page.goto(base + '/text?lang=ja');
  await page.getByRole('button', { name: '窓口に来ました' }).click();
  await page.waitForURL(/\/text\/consultation\?lang=ja$/);
  check((await page.locator('#waiting').textContent()).includes('まもなく'), 'at the counter, the page says the clerk will start');
  say('arrived');
  await expect('started');
  // The waiting page looks again by itself and joins.
  await page.waitForSelector('#consult', { timeout: 20_000 });
  await page.waitForFunction(() => document.getElementById('media-status').textContent.includes('接続しました'), null, { timeout: 20_000 });
  check(true, 'the page connected its media');
  const first = await inbound(page);
  await page.waitForTimeout(2500);
  const second = await inbound(page);
  out.stats = { first, second };
  check(second.video.bytes > first.video.bytes && second.video.frames > first.video.frames, 'video arrives and is decoded', out.stats);
  check(second.audio.packets > first.audio.packets, 'audio arrives', out.stats);
  const caption = await page.locator('#slot-0 figcaption').textContent();
  check(caption.includes('担当者'), 'the clerk is named under their video', caption);
  // Chat both ways: the test's clerk says something when it starts.
  await page.getByLabel('メッセージ').fill('よろしくお願いします');
  await page.getByRole('button', { name: '送信' }).click();
  await page.waitForFunction(() => document.getElementById('chat').textContent.includes('よろしくお願いします'));
  check(true, 'the resident\'s chat line comes back from the office');
  // On a 360 px phone: nothing overflows, every control is at least 44 px each way, and axe
  // finds nothing.
  const layout = await layoutOf(page);
  out.layout = layout;
  check(layout.wide.length === 0, 'nothing overflows a 360 px screen', layout.wide);
  check(layout.small.length === 0, 'tap targets are at least 44 px', layout.small);
  const { violations } = await axe(page);
  out.axe = violations.length;
  check(violations.length === 0, 'axe: no violations', violations);
  // Mute says what it does.
  await page.getByRole('button', { name: 'マイクを切る' }).click();
  check((await page.locator('#mute').getAttribute('aria-pressed')) === 'true', 'mute is a pressed toggle');
  await page.getByRole('button', { name: '終了する' }).click();
  await page.waitForFunction(() => document.getElementById('media-status').textContent.includes('終了しました'));
  check(true, 'hang-up ends it');
  // The interpreter's page (no account: a one-time code and a name) fits a phone, passes axe,
  // and says what was wrong with a code.
  const join = await context.newPage();
  await join.goto(base + '/consult/join?lang=ja');
  await join.getByLabel('ワンタイムコード（12桁）').fill('0000-0000-0000');
  await join.getByLabel('お名前', { exact: true }).fill('通訳 李');
  await join.getByRole('button', { name: '参加する' }).click();
  await join.waitForSelector('#join-error');
  const said = await join.locator('#join-error').textContent();
  check(said.includes('このコードは使えません'), 'a wrong code is explained on the page', said);
  check((await join.getByLabel('お名前', { exact: true }).inputValue()) === '通訳 李', 'the name typed is kept');
  const joinLayout = await layoutOf(join);
  out.joinLayout = joinLayout;
  check(joinLayout.wide.length === 0 && joinLayout.small.length === 0, 'the interpreter page fits a 360 px phone', joinLayout);
  const joinAxe = await axe(join);
  check(joinAxe.violations.length === 0, 'axe: the interpreter page has no violations', joinAxe.violations);
  check(csp.length === 0, 'no Content-Security-Policy violation', csp);
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
