// The staff console in headless Chromium, as a clerk with only a keyboard: log in (a wrong
// password first), open a desk, see a resident's ticket arrive live (server-sent events) and be
// announced, call it with the N key, see the resident arrive, start the consultation, finish
// with the D key, Q to the queue; mark a second resident as not come, transfer a third to
// another department with a note, close the desk, log out. axe-core on every page, no Content-Security-Policy violation, nothing
// wider than the window. The Rust test plays the resident over the API, coordinated over
// stdin/stdout:
//
//   this script prints "desk-open"  -> the test takes a ticket, answers "ticket <label>"
//   this script prints "called"     -> the test says the resident arrived, answers "arrived"
//   this script prints "another"    -> the test takes one more ticket, answers "ticket <label>"
//   this script prints "transferred"-> the test checks the ticket moved, answers "checked"
//   the last line is the JSON report.
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 STAFF_LOGIN=… STAFF_PASSWORD=… node console.mjs
import { launch, axe, checker } from './lib.mjs';
import { createInterface } from 'node:readline';
import { mkdir } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
const shots = process.env.SCREENSHOTS;
const out = { test: 'console' };
const { check, finish } = checker(out, 120);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expect(prefix) {
  const { value } = await lines.next();
  if (!value || !value.startsWith(prefix)) throw new Error(`expected "${prefix}" from the test, got ${JSON.stringify(value)}`);
  return value.slice(prefix.length).trim();
}
const say = (word) => process.stdout.write(word + '\n');
const shot = async (page, name) => { if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true }); };

async function clean(page, what) {
  const { violations } = await axe(page);
  check(violations.length === 0, `axe: ${what}`, violations);
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.tagName + '#' + e.id));
  check(wide.length === 0, `nothing wider than the window: ${what}`, wide);
}

const browser = await launch();
let failed = null;
try {
  if (shots) await mkdir(shots, { recursive: true });
  const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const csp = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });

  await page.goto(base + '/staff?lang=en');
  check((await page.locator('h1').textContent()) === 'Staff login', 'the console speaks English when asked');
  await page.goto(base + '/staff');
  check((await page.locator('h1').textContent()) === '職員ログイン', 'and Japanese by default');
  await clean(page, 'login page');
  // A wrong password: the form again, saying so, the login name kept.
  await page.getByLabel('ログイン名').fill(process.env.STAFF_LOGIN);
  await page.getByLabel('パスワード').fill('not-the-password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#login-error');
  check((await page.locator('#login-error').textContent()).includes('違います'), 'a wrong password is explained');
  check((await page.getByLabel('ログイン名').inputValue()) === process.env.STAFF_LOGIN, 'the login name is kept');
  await page.getByLabel('パスワード').fill(process.env.STAFF_PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForSelector('text=開く窓口を選んでください');
  const cookie = (await context.cookies()).find((c) => c.name === 'madoguchi_staff');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict', cookie);
  await shot(page, '1-choose-desk');
  await clean(page, 'desk choice');

  // Open desk A1 with the keyboard: focus the button, press Enter.
  await page.getByRole('button', { name: '窓口 A1 を開く' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#call-next');
  // The page's script moves the focus once the page has loaded, which may be a moment after the
  // button is there.
  const focused = await page
    .waitForFunction(() => document.activeElement && document.activeElement.id === 'notice', null, { timeout: 5_000 })
    .then(() => true, () => false);
  check(focused, 'the outcome of an action gets the focus');
  check((await page.locator('#notice').textContent()).includes('窓口を開きました'), 'the desk is open');
  const beat = await page.evaluate(async () => (await fetch('/staff/heartbeat', { method: 'POST', headers: { 'x-csrf-token': document.getElementById('live').dataset.csrf } })).status);
  check(beat === 204, 'the presence heartbeat is accepted', beat);
  const forged = await page.evaluate(async () => (await fetch('/staff/heartbeat', { method: 'POST', headers: { 'x-csrf-token': 'forged' } })).status);
  check(forged === 403, 'a heartbeat without the page token is refused', forged);

  say('desk-open');
  const label = await expect('ticket');
  // The ticket appears by itself, and is announced.
  await page.waitForSelector(`tr[data-ticket="${label}"]`, { timeout: 10_000 });
  check(true, 'a new ticket appears in the queue without reloading');
  await page.waitForFunction((l) => document.getElementById('announce').textContent.includes(l), label);
  check(true, 'the new ticket is announced in a live region');
  await shot(page, '2-queue');
  await clean(page, 'desk with a queue');

  // N calls it.
  await page.locator('body').focus();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('n');
  await page.waitForFunction((l) => (document.getElementById('at-desk') || {}).textContent === l, label);
  check((await page.locator('#at-desk-status').textContent()).includes('呼び出し中'), 'N called the ticket to the desk');
  say('called');
  await expect('arrived');
  await page.waitForFunction(() => (document.getElementById('at-desk-status') || {}).textContent === '窓口にいます');
  check(true, 'the resident\'s arrival shows by itself');
  await page.getByRole('button', { name: '相談を始める' }).click();
  await page.waitForSelector('#open-consultation');
  check((await page.locator('#notice').textContent()).includes('相談を始めました'), 'the consultation starts from the desk');
  await shot(page, '3-serving');
  await clean(page, 'desk with a resident');

  // D finishes it.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('d');
  await page.waitForFunction(() => (document.getElementById('notice') || {}).textContent === '完了しました。');
  check((await page.locator('#at-desk').textContent()).includes('人はいません'), 'D finished the ticket');
  // Q moves the focus to the queue.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('q');
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'queue'), 'Q moves the focus to the queue');

  // A second resident does not come.
  say('another');
  const second = await expect('ticket');
  await page.waitForSelector(`tr[data-ticket="${second}"]`, { timeout: 10_000 });
  await page.getByRole('button', { name: '次の番号を呼ぶ' }).click();
  await page.waitForFunction((l) => (document.getElementById('at-desk') || {}).textContent === l, second);
  await page.getByRole('button', { name: '来なかった' }).click();
  await page.waitForFunction(() => /来なかったとして記録/.test((document.getElementById('notice') || {}).textContent || ''));
  check(true, 'a resident who does not come is marked so');

  // A third is sent to another department, with a note.
  say('another');
  const third = await expect('ticket');
  await page.waitForSelector(`tr[data-ticket="${third}"]`, { timeout: 10_000 });
  await page.getByRole('button', { name: '次の番号を呼ぶ' }).click();
  await page.waitForFunction((l) => (document.getElementById('at-desk') || {}).textContent === l, third);
  await page.getByLabel('回付先', { exact: true }).selectOption('insurance_pension');
  await page.getByLabel('回付先へのメモ（任意）').fill('国民健康保険の加入も');
  await page.getByRole('button', { name: '回付する' }).click();
  await page.waitForFunction(() => /回付しました/.test((document.getElementById('notice') || {}).textContent || ''));
  check(true, 'a ticket is transferred with a note');
  say('transferred');
  await expect('checked');

  // Closing the desk: the desk choice again.
  await page.getByRole('button', { name: '窓口を閉じる' }).click();
  await page.waitForSelector('text=開く窓口を選んでください');
  check(true, 'closing the desk');
  // Log out: the console asks for a login again.
  await page.getByRole('button', { name: 'ログアウト' }).click();
  await page.waitForSelector('text=職員ログイン');
  check(!(await context.cookies()).some((c) => c.name === 'madoguchi_staff' && c.value), 'logging out removes the cookie');
  check(csp.length === 0, 'no Content-Security-Policy violation', csp);
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
