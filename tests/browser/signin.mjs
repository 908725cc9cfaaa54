// Residents sign in with a real OpenID Connect provider (oidc_provider.mjs, run by the Rust test)
// from the text mode, through the real redirects, in headless Chromium on a 360 px phone:
//
//  1. A guest (山田) takes a ticket, then signs in as `verified-user`: the page says verified,
//     with the provider's name (山田 太郎), and the ticket is still theirs. The session cookie's
//     token goes into the report (the Rust test submits a procedure that needs a verified
//     identity with it).
//  2. The callback URL, visited again (a replayed `state`), is refused with a notice, and the
//     resident stays signed in as before; the same URL from another browser (no state cookie) is
//     refused too.
//  3. Another guest signs in as `plain-user`: signed in, not verified.
//  4. A second device, as a guest, takes a ticket where the resident has one, another where
//     they have none, and starts a draft; then signs in as `verified-user`: the same resident
//     (the ticket of step 1 is there), the guest's other ticket and draft brought along, the
//     clashing ticket cancelled. It signs out: the provider's session ends too (its login is
//     asked for again).
//  6. (below 5) The 3D office's page in Korean: a guest of the page signs in from its join form
//     as `plain-user`, and the page takes the new session over; the guest's ticket came along.
//  5. The provider's answer tampered with (ISSUER's /__test/tamper): an ID token signed with
//     another key, an expired one, one for another client — each refused, the guest still a
//     guest; then a token signed with a key the provider has just rotated to — accepted.
//
//   MADOGUCHI_BASE=… ISSUER=… SCREENSHOTS=… node signin.mjs
import { launch, axe, checker } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
const shots = process.env.SCREENSHOTS;
const out = { test: 'signin' };
const { check, finish } = checker(out, 150);
let n = 0;
const shot = async (page, name) => { if (shots) await page.screenshot({ path: `${shots}/${String(++n).padStart(2, '0')}-${name}.png`, fullPage: true }); };

const browser = await launch();
let failed = null;
const phone = { locale: 'ja-JP', viewport: { width: 360, height: 640 }, hasTouch: true, isMobile: true };
const csp = [];

// A fresh phone; returns its page, and the callback URLs it visits.
async function device() {
  const ctx = await browser.newContext(phone);
  ctx.setDefaultTimeout(20_000);
  const page = await ctx.newPage();
  const callbacks = [];
  page.on('request', (r) => { if (r.url().includes('/auth/oidc/callback')) callbacks.push(r.url()); });
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });
  return { ctx, page, callbacks };
}

async function guest(page, name) {
  await page.goto(base + '/text?lang=ja');
  await page.getByLabel('お名前').fill(name);
  await page.getByLabel('お名前').press('Enter');
  await page.waitForURL(/\/text\?lang=ja$/);
}

// Through the provider's own login and consent pages, back to the text mode (`ends`: the
// notice the office ends with).
async function signIn(page, login, ends = /\/text\?lang=ja&notice=signed_in/) {
  await page.getByRole('link', { name: 'テスト IdP でサインイン' }).click();
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  // The consent page, the first time this browser signs in to the office.
  await page.waitForURL((u) => u.pathname.startsWith('/text') || /\/interaction\//.test(u.pathname));
  if (/\/interaction\//.test(page.url())) {
    await page.click('button[type=submit]');
  }
  await page.waitForURL(ends);
}

const session = async (ctx) => (await ctx.cookies()).find((c) => c.name === 'madoguchi_session')?.value;

try {
  if (shots) await mkdir(shots, { recursive: true });
  // 1. A guest with a ticket signs in, verified.
  const a = await device();
  await guest(a.page, '山田');
  await a.page.getByRole('button', { name: /番号札を取る.*子ども家庭課/ }).click();
  await a.page.waitForURL(/notice=taken/);
  const label = (await a.page.locator('#my-tickets .num').first().textContent()).trim();
  out.ticket = label;
  check((await a.page.locator('#identity-level').textContent()).includes('なし'), 'a guest is not verified');
  const first = await a.page.locator('#procedures li[data-sign-in-first]').allTextContents();
  const all = await a.page.locator('#procedures li').count();
  check(first.length >= 1 && first.length < all && first.some((t) => t.includes('児童手当') && /サインインしてから申請/.test(t)),
    'the procedure that needs a verified identity says: sign in to apply', first);
  const links = a.page.locator('#signin a');
  check((await links.count()) === 1, 'the office offers its provider');
  const box = await links.first().boundingBox();
  check(box.height >= 44, 'the sign-in link is a 44 px tap target', box);
  const axe1 = await axe(a.page);
  check(axe1.violations.length === 0, 'axe: the text mode with sign-in', axe1.violations);
  await shot(a.page, 'guest-with-sign-in');
  const guestToken = await session(a.ctx);
  await signIn(a.page, 'verified-user');
  const level = await a.page.locator('#identity-level').textContent();
  check(/済み/.test(level) && level.includes('山田 太郎'), 'signed in, verified, with the provider\'s name', level);
  check(await a.page.locator('[role=status]').first().textContent().then((t) => /本人確認済み/.test(t)), 'the notice says so');
  check((await a.page.locator('#my-tickets').textContent()).includes(label), 'the guest\'s ticket stayed theirs', label);
  check((await a.page.locator('#signin').count()) === 0, 'no sign-in offered once verified');
  check((await a.page.locator('#procedures li[data-sign-in-first]').count()) === 0, 'and no procedure asks them to sign in first');
  out.verified_token = await session(a.ctx);
  check(out.verified_token && out.verified_token !== guestToken, 'a new session replaced the guest\'s');
  out.guest_token = guestToken;
  await shot(a.page, 'signed-in-verified');

  // 2. The callback again: a replayed state.
  const callback = a.callbacks[a.callbacks.length - 1];
  check(!!callback && callback.includes('state='), 'the provider came back with a state', callback);
  await a.page.goto(callback);
  await a.page.waitForURL(/notice=signin_state/);
  check(/無効|使用済み|期限切れ/.test(await a.page.locator('[role=alert]').textContent()), 'a replayed state is refused, with a notice');
  check((await session(a.ctx)) === out.verified_token, 'and the resident is still signed in as before');
  const other = await device();
  await other.page.goto(callback);
  await other.page.waitForURL(/notice=signin_state/);
  check((await session(other.ctx)) === undefined, 'a callback without the browser\'s state cookie signs nobody in');
  await other.ctx.close();

  // 3. Another guest signs in as a user the provider does not vouch for.
  const b = await device();
  await guest(b.page, 'Alex');
  await signIn(b.page, 'plain-user');
  check(/なし/.test(await b.page.locator('#identity-level').textContent()), 'a plain sign-in is not verified');
  check((await b.page.locator('#signin a').count()) === 1, 'and may still sign in verified');
  out.plain_token = await session(b.ctx);
  await shot(b.page, 'signed-in-plain');
  await b.ctx.close();

  // 4. A second device, a guest first (鈴木): a ticket where the resident already has one
  // (子ども家庭課), one where they have none (保険年金課) and a draft; then verified-user again:
  // the same resident, with the guest's ticket and draft brought along and the clashing ticket
  // cancelled.
  const c = await device();
  await guest(c.page, '鈴木');
  const take = async (dept) => {
    await c.page.getByRole('button', { name: new RegExp(`番号札を取る.*${dept}`) }).click();
    await c.page.waitForURL(/notice=taken/);
    const all = await c.page.locator('#my-tickets .num').allTextContents();
    return all.map((t) => t.trim());
  };
  const [clash] = await take('子ども家庭課');
  const moved = (await take('保険年金課')).find((t) => t !== clash);
  const guestToken2 = await session(c.ctx);
  const draft = await c.page.request.post(base + '/api/v1/applications', {
    headers: { authorization: `Bearer ${guestToken2}` },
    data: { procedure_id: 'residence_certificate', form_data: {} },
  });
  check(draft.status() === 201, 'the guest starts a draft', draft.status());
  out.merge = { clash, moved, draft: (await draft.json()).reference, guest_token: guestToken2 };
  await signIn(c.page, 'verified-user');
  const mine = await c.page.locator('#my-tickets').textContent();
  check(mine.includes(label), 'the second device is the same resident (same ticket)', mine);
  check(mine.includes(moved), 'the guest\'s ticket came along', { mine, moved });
  await shot(c.page, 'merged');
  out.second_device_token = await session(c.ctx);
  await shot(c.page, 'second-device');
  // Signing out there ends the provider's session too (RP-initiated logout): the provider asks,
  // then sends the resident back to the text mode, signed out.
  await c.page.getByRole('button', { name: /終了する/ }).click();
  await c.page.waitForURL((u) => u.pathname.startsWith('/session/end'));
  await c.page.click('button[name=logout][value=yes]');
  await c.page.waitForURL((u) => u.pathname === '/text');
  check((await session(c.ctx)) === undefined, 'signed out: no session cookie');
  out.signed_out_token = out.second_device_token;
  // Signing in again needs the provider's login again: its session ended.
  await c.page.goto(base + '/text?lang=ja');
  await c.page.getByRole('link', { name: 'テスト IdP でサインイン' }).click();
  await c.page.waitForSelector('input[name=login]');
  check(true, 'the provider asks for the login again after signing out');
  await c.ctx.close();
  await a.ctx.close();

  // 5. Tampered tokens are refused; a rotated key is followed.
  const tamper = (mode) => fetch(`${process.env.ISSUER}/__test/tamper?mode=${mode}`, { method: 'POST' });
  for (const mode of ['forged', 'expired', 'audience']) {
    const d = await device();
    await guest(d.page, `Guest ${mode}`);
    const before = await session(d.ctx);
    await tamper(mode);
    await signIn(d.page, 'verified-user', /notice=signin_failed/);
    check(/サインインできません/.test(await d.page.locator('[role=alert]').textContent()), `a ${mode} ID token is refused, with a notice`);
    check((await session(d.ctx)) === before && /なし/.test(await d.page.locator('#identity-level').textContent()),
      `after a ${mode} token the guest is still the same guest`);
    await d.ctx.close();
  }
  const r = await device();
  await tamper('rotate');
  await r.page.goto(base + '/text?lang=ja');
  await signIn(r.page, 'verified-user');
  check(/済み/.test(await r.page.locator('#identity-level').textContent()), 'a token signed with a newly rotated key is accepted');
  await r.ctx.close();

  // 6. From the 3D office's page, in Korean: a guest of the page (its session in local storage,
  // a ticket taken) signs in from the join form as `plain-user`; the page takes the new session
  // over (a one-time code, traded once) and enters under the resident's name; the ticket came
  // along.
  const p = await device();
  await p.page.goto(base + '/play?lang=ko');
  const guest3d = await p.page.evaluate(async () => {
    const g = await fetch('/api/v1/sessions/guest', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ display_name: '박지훈', locale: 'ko' }) }).then((r) => r.json());
    const t = await fetch('/api/v1/tickets', { method: 'POST', headers: { authorization: `Bearer ${g.session_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ department: 'welfare' }) }).then((r) => r.json());
    localStorage.setItem('madoguchi.session', g.session_token);
    return { token: g.session_token, label: t.label };
  });
  check(!!guest3d.label, 'the 3D guest has a ticket', guest3d);
  const link = p.page.locator('#signin a');
  check((await link.count()) === 1 && (await link.boundingBox()).height >= 44, 'the join form offers the provider, 44 px tall');
  check((await link.textContent()).includes('로그인'), 'in Korean (the provider named in Japanese with English beside it: its config gives no Korean name)', await link.textContent());
  await link.click();
  await p.page.waitForSelector('input[name=login]');
  await p.page.fill('input[name=login]', 'plain-user');
  await p.page.fill('input[name=password]', 'any password');
  await p.page.click('button[type=submit]');
  await p.page.waitForURL((u) => u.pathname === '/play' || /\/interaction\//.test(u.pathname));
  if (/\/interaction\//.test(p.page.url())) await p.page.click('button[type=submit]');
  await p.page.waitForURL((u) => u.pathname === '/play' && u.searchParams.get('name') !== null, { timeout: 20_000 });
  const after = await p.page.evaluate(() => localStorage.getItem('madoguchi.session'));
  check(after && after !== guest3d.token, 'the page keeps the new session, not the guest\'s');
  check(p.page.url().includes('lang=ko') && !p.page.url().includes('signed-in'), 'back in Korean, the code gone from the address', p.page.url());
  out.play = { guest_token: guest3d.token, token: after, label: guest3d.label, handoff_used: p.callbacks.length };
  await p.ctx.close();
  check(csp.length === 0, 'no Content-Security-Policy violation', csp);
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
} finally {
  await browser.close();
}
finish(failed);
