// The accessible text mode in a real headless Chromium, against a running server.
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 CLERK_TOKEN=<staff session> node text_mode.mjs
//
// The server must run with --always-open; the clerk must belong to resident_registration and
// hold no desk. Prints one JSON line; exits 1 on the first failed check.
import { launch, axe, report } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const clerk = process.env.CLERK_TOKEN;
if (!base || !clerk) {
  console.error('set MADOGUCHI_BASE and CLERK_TOKEN');
  process.exit(2);
}

const out = { bench: 'text_mode', axe: {}, page_bytes: {}, checks: [] };
function check(ok, what, detail) {
  if (process.env.VERBOSE) console.error('check:', what);
  out.checks.push(what);
  if (!ok) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
}

async function staff(path) {
  const r = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${clerk}` } });
  const body = await r.json();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

// axe needs JavaScript: a page of a context without it is audited as a copy, with the same
// cookies, in a context with it.
async function audit(page, name) {
  let target = page;
  let scratch = null;
  if (page.context() === plainContext) {
    scratch = await browser.newContext({ storageState: await plainContext.storageState(), locale: 'ja-JP' });
    target = await scratch.newPage();
    await target.goto(page.url());
  }
  const { violations, serious } = await axe(target);
  if (scratch) await scratch.close();
  out.axe[name] = { violations: violations.length, serious: serious.length };
  check(violations.length === 0, `axe ${name}: no violations at all`, violations);
}

async function bytes(page, path, name) {
  const r = await page.request.get(base + path);
  const n = (await r.body()).length;
  out.page_bytes[name] = n;
  check(n <= 50 * 1024, `${name} page is at most 50 KB`, n);
}

const browser = await launch();
let plainContext = null;
let failed = null;
// Nothing here should take long; a hang must fail the test, not stall CI.
const watchdog = setTimeout(() => {
  report({ ...out, ok: false, error: 'timed out after 90 s' });
  process.exit(1);
}, 90_000);
try {
  // A resident without JavaScript, in Japanese: everything works with plain forms.
  const plain = await browser.newContext({ javaScriptEnabled: false, locale: 'ja-JP' });
  plainContext = plain;
  plain.setDefaultTimeout(10_000);
  const a = await plain.newPage();
  await a.goto(base + '/');
  await a.getByRole('link', { name: 'テキスト版 / Text mode' }).click();
  check((await a.locator('h1').textContent()) === 'テキスト版 窓口', 'front page links to the text mode');
  await audit(a, 'start_ja');
  await bytes(a, '/text?lang=ja', 'start_ja');
  await a.getByLabel('お名前').fill('山田 花子');
  await a.getByLabel('お名前').press('Enter');
  await a.waitForURL(/\/text\?lang=ja$/);
  await a.getByRole('button', { name: /番号札を取る.*戸籍住民課/ }).click();
  await a.waitForURL(/notice=taken/);
  const mineA = await a.locator('#my-tickets').textContent();
  check(/A-001/.test(mineA) && /あなたの前に 0 人/.test(mineA) && /不明/.test(mineA), 'no-JS ticket A-001, first, wait unknown', mineA);
  check((await a.locator('.notice[role=status]').textContent()).includes('番号札を取りました'), 'a status message confirms it');
  await audit(a, 'ticket_ja');
  // A second ticket for the same department is refused in words.
  await a.getByRole('button', { name: /番号札を取る.*戸籍住民課/ }).click();
  check((await a.getByRole('alert').first().textContent()).includes('すでにお持ちです'), 'a duplicate ticket is refused');

  // A resident with JavaScript, in English, using only the keyboard.
  const live = await browser.newContext({ locale: 'en-US' });
  live.setDefaultTimeout(10_000);
  const b = await live.newPage();
  await b.goto(base + '/text?lang=en');
  // Every control can be reached with Tab.
  const controls = await b.locator('a[href], button, input:not([type=hidden])').count();
  const reached = new Set();
  for (let i = 0; i < controls + 3; i++) {
    await b.keyboard.press('Tab');
    reached.add(await b.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 80)));
  }
  check(reached.size >= controls, 'every control is reachable with Tab', { controls, reached: reached.size });
  await b.getByLabel('Name').focus();
  await b.keyboard.type('Alex');
  await b.keyboard.press('Enter');
  await b.waitForURL(/\/text\?lang=en$/);
  await b.getByRole('button', { name: /Take a ticket.*Resident Registration/ }).focus();
  await b.keyboard.press('Enter');
  await b.waitForURL(/notice=taken/);
  const mineB = await b.locator('#my-tickets').textContent();
  check(/A-002/.test(mineB) && /Position 2/.test(mineB), 'keyboard ticket A-002 at position 2', mineB);
  await b.waitForFunction(() => document.documentElement.dataset.live === '1');
  await audit(b, 'ticket_en');
  await bytes(b, '/text?lang=en', 'ticket_en');

  // The clerk opens a desk and calls: the live page moves up, then shows the call, with no reload.
  await staff('/api/v1/staff/desks/a1/take');
  const called1 = await staff('/api/v1/staff/desk/call-next');
  check(called1.called && called1.called.label === 'A-001', 'the clerk calls A-001 first', called1);
  await b.waitForFunction(() => /Position 1/.test(document.getElementById('my-tickets').textContent), null, { timeout: 5000 });
  out.checks.push('live page moved up to position 1');
  const t0 = Date.now();
  const called2 = await staff('/api/v1/staff/desk/call-next');
  check(called2.called && called2.called.label === 'A-002', 'then A-002', called2);
  await b.locator('#my-tickets [role=alert][data-called]').waitFor({ timeout: 5000 });
  out.live_called_ms = Date.now() - t0;
  const alertB = await b.locator('#my-tickets [role=alert]').textContent();
  check(/A-002/.test(alertB) && /counter A1/.test(alertB), 'live page says: go to counter A1', alertB);
  await audit(b, 'called_en');

  // The no-JS page shows A-001's outcome on reload (the clerk moved on: a no-show).
  await a.goto(base + '/text?lang=ja');
  check(/A-001/.test(await a.locator('#my-tickets').textContent()), 'the no-JS page shows A-001 after reload');

  // Arrive, then finish with the keyboard.
  await b.getByRole('button', { name: 'I am at the counter' }).focus();
  await b.keyboard.press('Enter');
  // At the counter, the consultation page says the clerk will start it (and looks again).
  await b.waitForURL(/\/text\/consultation\?lang=en$/);
  check(/clerk will start/.test(await b.locator('#waiting').textContent()), 'arrived: waiting for the clerk to start');
  await audit(b, 'consult_waiting_en');
  await b.goto(base + '/text?lang=en');
  check(/being served/.test(await b.locator('#my-tickets').textContent()), 'arrived: being served');
  check(await b.getByRole('link', { name: 'Go to the consultation' }).isVisible(), 'the ticket links to the consultation page');
  await b.getByRole('button', { name: /Cancel.*A-002/ }).focus();
  await b.keyboard.press('Enter');
  await b.waitForURL(/notice=cancelled/);
  check(/cancelled/.test(await b.locator('#my-tickets').textContent()), 'cancelled with the keyboard');

  // Forms from another site cannot act for the resident (no valid token): nothing is taken.
  const forged = await live.request.post(base + '/text/tickets', {
    form: { department: 'welfare', csrf: '0'.repeat(32), lang: 'en' },
    maxRedirects: 0,
  });
  check(forged.status() === 303 && /notice=session/.test(forged.headers()['location']), 'a forged form is refused', forged.headers());
  await b.goto(base + '/text?lang=en');
  check(!/D-001/.test(await b.locator('#my-tickets').textContent()), 'and took nothing');
} catch (e) {
  failed = e.message;
} finally {
  await browser.close();
}
clearTimeout(watchdog);
out.ok = failed === null;
if (failed) out.error = failed;
report(out);
process.exit(failed ? 1 : 0);
