// A resident signs in from the text mode with the test provider as `plain-user`, through its
// login and consent pages, in headless Chromium; reports the page it ends on.
//
//   MADOGUCHI_BASE=… node signin_plain.mjs
import { launch, checker } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const out = { test: 'signin_plain' };
const { check, finish } = checker(out, 60);
const browser = await launch();
let failed = null;
try {
  const ctx = await browser.newContext({ locale: 'ja-JP' });
  ctx.setDefaultTimeout(20_000);
  const page = await ctx.newPage();
  await page.goto(base + '/text?lang=ja');
  await page.getByLabel('お名前').fill('別の町の人');
  await page.getByLabel('お名前').press('Enter');
  await page.waitForURL(/\/text\?lang=ja$/);
  await page.getByRole('link', { name: 'テスト IdP でサインイン' }).click();
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', 'plain-user');
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname.startsWith('/text') || /\/interaction\//.test(u.pathname));
  if (/\/interaction\//.test(page.url())) await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname.startsWith('/text'));
  out.url = page.url();
  check(/notice=signed_in/.test(out.url), 'signed in', out.url);
  out.session = (await ctx.cookies()).some((c) => c.name === 'madoguchi_session');
  check(out.session, 'with a session');
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
