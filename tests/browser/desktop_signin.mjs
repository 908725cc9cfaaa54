// The desktop client's sign-in, as its system browser: opens the office's start address the app
// asked for (URL), signs in with the provider as LOGIN, and follows the office's redirect to the
// app's loopback address, whose page it reports.
//
//   URL=… LOGIN=verified-user SCREENSHOTS=… node desktop_signin.mjs
import { launch, checker } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const out = { test: 'desktop_signin' };
const { check, finish } = checker(out, 90);
const browser = await launch();
let failed = null;
try {
  const ctx = await browser.newContext({ locale: 'vi-VN' });
  ctx.setDefaultTimeout(20_000);
  const page = await ctx.newPage();
  await page.goto(process.env.URL);
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', process.env.LOGIN);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname === '/signed-in' || /\/interaction\//.test(u.pathname));
  if (/\/interaction\//.test(page.url())) await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname === '/signed-in');
  const u = new URL(page.url());
  check(u.hostname === '127.0.0.1', 'the office sent the browser to the app on loopback', u.host);
  out.page = await page.locator('body').innerText();
  out.code_length = (u.searchParams.get('code') || '').length;
  out.cookies = (await ctx.cookies()).map((c) => c.name);
  if (process.env.SCREENSHOTS) {
    await mkdir(process.env.SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${process.env.SCREENSHOTS}/loopback.png` });
  }
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
