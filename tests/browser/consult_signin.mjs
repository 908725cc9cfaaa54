// A guest in a consultation on the text mode's consultation page (a 360 px phone) signs in from
// it: the clerk filled a procedure that needs a verified identity; the guest's confirmation is
// refused and the page shows its sign-in links; through the provider's real login the guest
// comes back to the same consultation as a verified resident, and confirms. The Rust test plays
// the clerk over stdin/stdout:
//
//   this script prints "ticket"  -> the test calls it and answers "called"
//   this script prints "arrived" -> the test starts the consultation, adds a child allowance
//                                   claim, fills it, and answers "filled"
//   this script confirms, signs in, confirms again, and prints its JSON report last.
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 LOGIN=verified-user SCREENSHOTS=… node consult_signin.mjs
import { launch, axe, checker, conversation, MEDIA_ARGS } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
const shots = process.env.SCREENSHOTS;
const out = { test: 'consult_signin' };
const { check, finish } = checker(out, 150);
const { expect, say } = conversation();

const browser = await launch(MEDIA_ARGS);
let failed = null;
let page = null;
try {
  if (shots) await mkdir(shots, { recursive: true });
  const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 360, height: 640 }, hasTouch: true, isMobile: true });
  context.setDefaultTimeout(20_000);
  page = await context.newPage();
  await page.goto(base + '/text?lang=ja');
  await page.getByLabel('お名前').fill('ゲスト 花子');
  await page.getByLabel('お名前').press('Enter');
  await page.waitForURL(/\/text\?lang=ja$/);
  await page.getByRole('button', { name: /番号札を取る.*子ども家庭課/ }).click();
  await page.waitForURL(/notice=taken/);
  out.guest_session = (await context.cookies()).find((c) => c.name === 'madoguchi_session')?.value;
  say('ticket');
  await expect('called');
  await page.goto(base + '/text?lang=ja');
  await page.getByRole('button', { name: '窓口に来ました' }).click();
  await page.waitForURL(/\/text\/consultation\?lang=ja$/);
  say('arrived');
  await expect('filled');
  await page.waitForSelector('#consult', { timeout: 20_000 });
  const confirm = page.locator('[data-confirm]');
  await confirm.click();
  // Refused: the page says why and shows how to sign in.
  const links = page.locator('#signin-first a');
  await links.first().waitFor({ state: 'visible' });
  const said = await page.locator('#signin-first').innerText();
  out.refusal = said;
  check(said.includes('テスト IdP でサインイン'), 'the refusal offers the sign-in', said);
  const box = await links.first().boundingBox();
  check(box && box.height >= 44 && box.width >= 44 && box.x + box.width <= 361, 'the sign-in link is a 44 px tap target on the phone', box);
  const { violations } = await axe(page);
  check(violations.length === 0, 'axe: no violations with the sign-in shown', violations);
  if (shots) await page.screenshot({ path: `${shots}/refused.png`, fullPage: true });
  await links.first().click();
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', process.env.LOGIN || 'verified-user');
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname.startsWith('/text') || /\/interaction\//.test(u.pathname));
  if (/\/interaction\//.test(page.url())) await page.click('button[type=submit]');
  await page.waitForURL(/\/text\/consultation\?lang=ja$/, { waitUntil: 'domcontentloaded' });
  check(true, 'the provider sent the resident back to the consultation page');
  out.resident_session = (await context.cookies()).find((c) => c.name === 'madoguchi_session')?.value;
  await page.waitForSelector('#consult', { timeout: 20_000 });
  check((await page.locator('#signin-first').count()) === 0, 'a verified resident is not asked to sign in');
  await page.locator('[data-confirm]').click();
  await page.waitForSelector('[data-status="submitted"]');
  check(true, 'the verified resident\'s confirmation submitted the claim');
  if (shots) await page.screenshot({ path: `${shots}/submitted.png`, fullPage: true });
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
  if (page) {
    out.url = page.url();
    // What the page said when it failed (its first lines).
    out.page = await page.locator('body').innerText({ timeout: 2_000 }).then((t) => t.slice(0, 600)).catch(() => '?');
    if (shots) await page.screenshot({ path: `${shots}/failed.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
finish(failed);
