// The first admin and staff accounts in the console, in headless Chromium: the first start's
// one-time setup link makes the first administrator and logs them in; they add a clerk, disable
// and enable the account, reset its password; the account's history names them; the clerk logs
// in with the new password and sees the desk. The first admin also supervises their department:
// its overview page. axe-core on every page.
//
//   MADOGUCHI_BASE=… SETUP_PATH=/staff/setup?code=… node admin.mjs
import { launch, axe, checker } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const out = { test: 'admin' };
const { check, finish } = checker(out, 120);
const clean = async (page, what) => {
  const { violations } = await axe(page);
  check(violations.length === 0, `axe: ${what}`, violations);
};
const browser = await launch();
let failed = null;
try {
  const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(base + process.env.SETUP_PATH);
  await clean(page, 'setup page');
  await page.getByLabel('ログイン名').fill('chief');
  await page.getByLabel('表示名').fill('区役所 管理者');
  await page.getByLabel('パスワード').fill('the-first-admin-password');
  await page.getByRole('button', { name: '管理者を作成してログイン' }).click();
  await page.waitForURL(/\/staff\/admin/);
  check((await page.locator('#notice').textContent()).includes('最初の管理者'), 'the first admin is made and logged in');
  await clean(page, 'accounts page');

  // Add a clerk.
  await page.getByLabel('ログイン名').fill('tanaka');
  await page.getByLabel('表示名').fill('田中 職員');
  await page.getByLabel('課').selectOption('resident_registration');
  await page.getByLabel('初期パスワード').fill('tanaka-first-password');
  await page.getByRole('button', { name: '追加する' }).click();
  await page.waitForSelector('tr[data-login="tanaka"]');
  check((await page.locator('tr[data-login="tanaka"]').textContent()).includes('窓口職員'), 'the clerk is listed with their role');

  // Disable, enable, reset the password.
  await page.getByRole('link', { name: 'tanaka' }).click();
  await page.getByRole('button', { name: /アカウントを無効にする/ }).click();
  await page.waitForSelector('text=保存しました。');
  check((await page.locator('main').textContent()).includes('無効'), 'the account shows as disabled');
  await clean(page, 'account page');
  await page.getByRole('button', { name: 'アカウントを有効にする' }).click();
  await page.waitForSelector('text=保存しました。');
  await page.getByLabel('新しいパスワード').fill('tanaka-second-password');
  await page.getByRole('button', { name: 'パスワードを再設定' }).click();
  await page.waitForSelector('text=パスワードを再設定しました。');
  const history = await page.locator('table').last().textContent();
  check(history.includes('password_reset') && history.includes('chief'), 'the history names the admin and each change', history);

  // The admin cannot disable themselves.
  await page.goto(base + '/staff/admin/account/chief');
  await page.getByRole('button', { name: /アカウントを無効にする/ }).click();
  await page.waitForSelector('text=できません');
  check(true, 'an admin cannot disable themselves');

  // The first admin also supervises their department: its overview.
  await page.getByRole('link', { name: '課の状況' }).click();
  await page.waitForSelector('#waiting-count');
  check((await page.locator('#waiting-count').textContent()) === '0', 'the overview counts the waiting tickets');
  check(await page.locator('tr[data-counter="a1"]').count() === 1, 'the overview lists the department\'s desks');
  await clean(page, 'supervisor page');

  // The setup link is spent.
  const again = await page.goto(base + process.env.SETUP_PATH);
  check(again.status() === 404, 'the setup link works once', again.status());

  // The clerk logs in with the new password and gets the desk, not the admin pages.
  await page.goto(base + '/staff');
  await page.getByRole('button', { name: 'ログアウト' }).click();
  await page.getByLabel('ログイン名').fill('tanaka');
  await page.getByLabel('パスワード').fill('tanaka-second-password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('text=開く窓口を選んでください');
  check(!(await page.locator('header nav').textContent()).includes('職員アカウント'), 'a clerk has no admin link');
  const denied = await page.goto(base + '/staff/admin');
  check(denied.url().includes('notice=role-required'), 'a clerk is sent away from the admin pages', denied.url());
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
