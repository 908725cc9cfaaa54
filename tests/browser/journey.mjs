// The whole journey in two headless Chromium contexts with fake cameras and microphones: a
// clerk in the staff console and a resident, in the text mode on a 360 px phone (RESIDENT=text,
// the default) or in the 3D office on a desktop screen (RESIDENT=3d).
//
//  1. The clerk logs in and opens desk A1 of 戸籍住民課 (resident_registration).
//  2. The resident takes a ticket there: from the text mode's list, or in 3D by walking to
//     counter A1 and pressing E (then stepping back to wait).
//  3. The clerk calls it (N); the resident is told (the page, or the 3D banner), says they are at
//     the counter (text mode) or walks back to it (3D); the clerk starts the consultation; both
//     see and hear each other (getStats, both ways). In 3D the consultation page opens over the
//     game: the resident's side of every later step is that page, in its frame. With
//     SUPERVISOR_LOGIN (the text-mode run), a supervisor joins from their overview, gets the
//     media, and the resident sees them present.
//  4. The clerk creates a 転入届 (moving_in) and fills it in, a wrong postal code caught as
//     typed; the resident sees it filled and confirms it with one button: that submits it.
//  5. The resident sees its reference and "申請済み"; the clerk moves it to in_review with a note;
//     the resident sees the note; the clerk ends the consultation with a note.
//  6. The clerk finds the application among the department's records, opens it, reads its
//     audit trail and approves it.
//  7. The resident keeps what happens next: the text mode lists the application, its status and
//     the clerk's note; in 3D, the overlay closed when the consultation ended and the client's
//     own "what happens next" panel opened with the same, and, opened again, shows the approval.
// Screenshots of each step go to $SCREENSHOTS. The Rust test then checks the audit trail.
// The last line is the JSON report (with the application's reference).
//
//   MADOGUCHI_BASE=… STAFF_LOGIN=… STAFF_PASSWORD=… SCREENSHOTS=… [RESIDENT=3d] node journey.mjs
import { launch, axe, checker, inbound, MEDIA_ARGS, walker } from './lib.mjs';
import { mkdir } from 'node:fs/promises';

const base = process.env.MADOGUCHI_BASE;
const shots = process.env.SCREENSHOTS;
const mode = process.env.RESIDENT === '3d' ? '3d' : 'text';
const out = { test: 'journey', mode };
const { check, finish } = checker(out, mode === '3d' ? 420 : 300);
let n = 0;
// A whole page for the console and the text mode; the 3D client is one screen (a full-page
// capture of a busy software-rendered canvas can take longer than the test's patience).
const shot = async (page, name) => {
  if (!shots) return;
  const fullPage = !(mode === '3d' && page.url().includes('/play'));
  await page.screenshot({ path: `${shots}/${String(++n).padStart(2, '0')}-${name}.png`, fullPage, timeout: 60_000 })
    .catch((e) => { throw new Error(`screenshot ${name}: ${e.message.split('\n')[0]}`); });
};

// `page`: a page or a frame (the 3D client's consultation overlay).
async function mediaFlows(page, who) {
  // Under the whole suite's load (two software-rendered browsers beside a hundred other tests)
  // connecting can take a while; say where it stood if it never does.
  await page.waitForFunction(() => /接続しました/.test(document.getElementById('media-status').textContent), null, { timeout: 60_000 })
    .catch(async (e) => {
      const status = await page.evaluate(() => document.getElementById('media-status').textContent).catch(() => '?');
      const sent = await page.evaluate(() => JSON.stringify(window.madoguchiConsult.sent())).catch(() => '?');
      throw new Error(`${who}: media not connected (${status}; sent ${sent}): ${e.message.split('\n')[0]}`);
    });
  const a = await inbound(page);
  await page.waitForTimeout(3000);
  const b = await inbound(page);
  out[who] = { a, b };
  check(b.video.bytes > a.video.bytes && b.video.frames > a.video.frames, `${who} receives and decodes video`, { a, b });
  check(b.audio.packets > a.audio.packets, `${who} receives audio`, { a, b });
}

const browser = await launch(MEDIA_ARGS);
let failed = null;
// The clerk's page, to say where it was when the run fails.
let clerkPage = null;
let residentPage = null;
try {
  if (shots) await mkdir(shots, { recursive: true });
  const staffCtx = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
  const residentCtx = mode === '3d'
    ? await browser.newContext({ locale: 'ja-JP', viewport: { width: 960, height: 600 } })
    : await browser.newContext({ locale: 'ja-JP', viewport: { width: 360, height: 640 }, hasTouch: true, isMobile: true });
  for (const c of [staffCtx, residentCtx]) c.setDefaultTimeout(45_000);
  const clerk = await staffCtx.newPage();
  clerkPage = clerk;
  const resident = await residentCtx.newPage();
  residentPage = resident;
  const csp = [];
  const pageErrors = [];
  for (const p of [clerk, resident]) {
    p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });
    p.on('pageerror', (e) => pageErrors.push(String(e)));
  }
  const hud = () => resident.evaluate(() => document.getElementById('hud-live').textContent);
  const { holdUntil, goTo } = walker(resident);

  // 1. The clerk opens desk A1.
  await clerk.goto(base + '/staff');
  await clerk.getByLabel('ログイン名').fill(process.env.STAFF_LOGIN);
  await clerk.getByLabel('パスワード').fill(process.env.STAFF_PASSWORD);
  await clerk.keyboard.press('Enter');
  await clerk.getByRole('button', { name: '窓口 A1 を開く' }).click();
  await clerk.waitForSelector('#call-next');
  await shot(clerk, 'clerk-desk-open');

  // 2. The resident takes a ticket at 戸籍住民課.
  if (mode === '3d') {
    await resident.goto(base + '/play?name=' + encodeURIComponent('山田 花子') + '&lang=ja');
    await resident.waitForSelector('body[data-office-frame]', { timeout: 120_000 });
    await resident.waitForFunction(() => /接続中/.test(document.getElementById('hud-live').textContent), null, { timeout: 60_000 });
    await resident.locator('canvas#madoguchi').focus();
    // Lobby entrance (12, 2) north through the door to the counter floor (20, 2.5), north to
    // the waiting line, west to counter A1 (resident spot 4, 15).
    let w = await holdUntil(['Shift', 'KeyW'], (w) => w.room === 'counters', 50_000);
    check(w.room === 'counters', 'walked through the door to the counters', w);
    w = await holdUntil(['Shift', 'KeyW'], (w) => w.pos[1] >= 10, 40_000);
    w = await holdUntil(['Shift', 'KeyA'], (w) => w.pos[0] <= 9, 50_000);
    w = await goTo(4, 14.6, 0.8);
    out.at_counter = w.pos;
    check(Math.hypot(w.pos[0] - 4, w.pos[1] - 15) <= 1.5, 'standing at counter A1', w.pos);
    await resident.waitForTimeout(300);
    await resident.keyboard.press('KeyE');
    await resident.waitForFunction(() => /A-\d{3}/.test(document.getElementById('hud-live').textContent), null, { timeout: 30_000 })
      .catch(async () => { throw new Error('no ticket on the HUD: ' + await hud()); });
    out.ticket = (await hud()).match(/A-\d{3}/)[0];
    // Step back to wait, out of the counter's reach.
    w = await goTo(4, 11, 1.0);
    check(Math.hypot(w.pos[0] - 4, w.pos[1] - 15) > 2.5, 'waiting away from the counter', w.pos);
  } else {
    await resident.goto(base + '/text?lang=ja');
    await resident.getByLabel('お名前').fill('山田 花子');
    await resident.getByLabel('お名前').press('Enter');
    await resident.waitForURL(/\/text\?lang=ja$/);
    await resident.getByRole('button', { name: /番号札を取る.*戸籍住民課/ }).click();
    await resident.waitForURL(/notice=taken/);
  }
  await shot(resident, 'resident-ticket');

  // 3. The clerk calls it; the resident comes; the consultation starts.
  await clerk.waitForSelector('tr[data-ticket]', { timeout: 30_000 });
  await clerk.evaluate(() => document.activeElement && document.activeElement.blur());
  await clerk.keyboard.press('n');
  await clerk.waitForFunction(() => /呼び出し中/.test((document.getElementById('at-desk-status') || {}).textContent || ''));
  if (mode === '3d') {
    await resident.waitForFunction((t) => new RegExp(`番号札 ${t} の方`).test(document.getElementById('hud-live').textContent), out.ticket, { timeout: 30_000 })
      .catch(async () => { throw new Error('no called banner: ' + await hud()); });
    check(true, 'the resident is told their number is called (the banner)');
    await shot(resident, 'resident-called');
    // Walking back to the counter is arriving.
    await resident.locator('canvas#madoguchi').focus();
    const w = await goTo(4, 14.6, 0.8);
    out.arrived_at = w.pos;
    check(Math.hypot(w.pos[0] - 4, w.pos[1] - 15) <= 1.8, 'back at counter A1', w.pos);
  } else {
    await resident.waitForSelector('[data-called]', { timeout: 30_000 });
    check(true, 'the resident is told their number is called');
    await shot(resident, 'resident-called');
    await resident.getByRole('button', { name: '窓口に来ました' }).click();
    await resident.waitForURL(/\/text\/consultation/);
  }
  await clerk.waitForFunction(() => (document.getElementById('at-desk-status') || {}).textContent === '窓口にいます', null, { timeout: 30_000 });
  check(true, 'the clerk sees the resident at the counter');
  await clerk.getByRole('button', { name: '相談を始める' }).click();
  await clerk.getByRole('link', { name: '相談を開く' }).click();
  await clerk.waitForSelector('#consult');
  // The resident's side: the text mode's page, or the 3D client's overlay (the same page).
  let rv = resident;
  if (mode === '3d') {
    const overlay = await resident.waitForSelector('iframe#consultation', { timeout: 30_000 })
      .catch(() => { throw new Error('no consultation overlay over the 3D office'); });
    rv = await overlay.contentFrame();
  }
  await rv.waitForSelector('#consult', { timeout: 45_000 });
  await mediaFlows(clerk, 'clerk');
  await mediaFlows(rv, 'resident');
  await shot(clerk, 'clerk-consultation');
  await shot(resident, 'resident-consultation');

  // A supervisor of the department (SUPERVISOR_LOGIN, text-mode run) sees the consultation on
  // their overview and joins it from there: they get the media, the resident sees them present,
  // and they cannot fill the form (that is the clerk's).
  if (process.env.SUPERVISOR_LOGIN) {
    const superCtx = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 900 } });
    superCtx.setDefaultTimeout(45_000);
    const sup = await superCtx.newPage();
    sup.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });
    await sup.goto(base + '/staff');
    await sup.getByLabel('ログイン名').fill(process.env.SUPERVISOR_LOGIN);
    await sup.getByLabel('パスワード').fill(process.env.SUPERVISOR_PASSWORD);
    await sup.keyboard.press('Enter');
    await sup.getByRole('button', { name: 'ログアウト' }).waitFor();
    await sup.goto(base + '/staff/supervisor?lang=ja');
    const running = sup.locator('li[data-consultation]');
    await running.first().waitFor()
      .catch(async () => { throw new Error('no running consultation on the overview: ' + await sup.locator('main').textContent()); });
    check((await running.count()) === 1, 'the supervisor\'s overview lists the running consultation', await running.allTextContents());
    await shot(sup, 'supervisor-overview');
    await running.first().getByRole('link', { name: '参加する' }).click();
    await sup.waitForSelector('#consult');
    await mediaFlows(sup, 'supervisor');
    check((await sup.locator('#form-editor').count()) === 0 && (await sup.getByRole('button', { name: '住民の申請を作成' }).count()) === 0,
      'a supervisor watches: no form editor');
    await rv.waitForFunction(() => /責任者/.test(document.getElementById('people').textContent), null, { timeout: 30_000 })
      .catch(async () => { throw new Error('the resident does not see the supervisor: ' + await rv.locator('#people').textContent()); });
    check(true, 'the resident sees the supervisor present');
    const as = await axe(sup);
    check(as.violations.length === 0, 'axe: the supervisor\'s consultation page', as.violations);
    await shot(sup, 'supervisor-consultation');
    await shot(resident, 'resident-sees-supervisor');
    await superCtx.close();
  }
  const a1 = await axe(clerk);
  check(a1.violations.length === 0, 'axe: the console\'s consultation page', a1.violations);

  // 4. 書かない窓口: the clerk fills in a 転入届; a wrong postal code is caught as typed.
  await clerk.getByLabel('手続き').selectOption('moving_in');
  await clerk.getByRole('button', { name: '住民の申請を作成' }).click();
  await clerk.waitForSelector('#form-editor');
  await clerk.getByLabel('新住所の郵便番号 *').fill('1500-01');
  await clerk.waitForFunction(() => document.getElementById('problem-postal_code').textContent.length > 0);
  check((await clerk.locator('#problem-postal_code').textContent()).includes('形式'), 'a wrong postal code is caught while typing');
  check((await clerk.getByLabel('新住所の郵便番号 *').getAttribute('aria-invalid')) === 'true', 'the field is marked invalid for assistive technology');
  await shot(clerk, 'clerk-field-problem');
  const fill = async (label, value) => { const f = clerk.getByLabel(label); await f.fill(value); await f.blur(); };
  await fill('新住所の郵便番号 *', '150-0001');
  await fill('氏名 *', '山田 花子');
  await fill('フリガナ *', 'ヤマダ ハナコ');
  await fill('生年月日 *', '1990-04-01');
  await fill('転入日 *', '2026-11-20');
  await fill('前住所 *', '大阪府大阪市北区1-1-1');
  await fill('新住所 *', '東京都まどぐち区1-2-3');
  await clerk.getByLabel('世帯主との続柄 *').selectOption('head');
  await clerk.waitForFunction(() => /保存しました/.test(document.getElementById('editor-status').textContent));
  check((await clerk.locator('#problem-postal_code').textContent()) === '', 'the corrected field has no problem');
  const a2 = await axe(clerk);
  check(a2.violations.length === 0, 'axe: the console with the form editor', a2.violations);
  await shot(clerk, 'clerk-form-filled');

  // The resident sees the form filled in, and confirms it.
  const confirm = rv.getByRole('button', { name: 'この内容で申請する' });
  await confirm.waitFor({ timeout: 30_000 });
  if (mode === '3d') await rv.locator('#apps').scrollIntoViewIfNeeded();
  const shown = await rv.locator('#apps').textContent();
  check(shown.includes('東京都まどぐち区1-2-3') && shown.includes('転入届'), 'the resident sees the form as filled', shown);
  check(shown.includes('世帯主（本人）') && !/\bhead\b/.test(shown), 'a choice reads as words, not its code', shown);
  await shot(resident, 'resident-form-to-confirm');
  const a3 = await axe(rv);
  check(a3.violations.length === 0, 'axe: the resident\'s page with the form', a3.violations);
  await confirm.click();
  await rv.waitForFunction(() => /申請済み/.test(document.getElementById('apps').textContent));
  const reference = await rv.locator('#apps li[data-reference]').first().getAttribute('data-reference');
  out.reference = reference;
  check(/^[A-Z]/.test(reference || ''), 'the resident sees the reference number', reference);
  await clerk.waitForFunction(() => /申請しました/.test(document.getElementById('editor-status').textContent));
  check(true, 'the clerk sees that the resident confirmed it');
  await shot(resident, 'resident-submitted');

  // 5. The clerk moves it to in_review with a note; the resident sees the note.
  await clerk.waitForSelector('#review:not([hidden])');
  await clerk.getByLabel('新しい状態').selectOption('in_review');
  await clerk.getByLabel('住民への連絡（任意）').fill('転出証明書の原本をお持ちください');
  await clerk.getByRole('button', { name: '状態を変更' }).click();
  await rv.waitForFunction(() => /転出証明書の原本をお持ちください/.test(document.getElementById('apps').textContent));
  check(/審査中/.test(await rv.locator('#apps').textContent()), 'the resident sees the new status and the note');
  await shot(resident, 'resident-note');
  await shot(clerk, 'clerk-reviewed');

  // The clerk ends the consultation with a note; back at the desk.
  await clerk.getByLabel('メモ（行ったこと、住民が次にすること）').fill('転入届を受付');
  await clerk.getByRole('button', { name: '相談を終了する' }).click();
  await clerk.waitForURL(/notice=consultation-ended/);
  if (mode === '3d') {
    await resident.waitForSelector('iframe#consultation', { state: 'detached', timeout: 30_000 })
      .catch(() => { throw new Error('the overlay stayed after the consultation ended'); });
    check(true, 'ending it closes the overlay over the 3D office');
    // What happens next: the client's own panel opens by itself with the application.
    await resident.waitForFunction((r) => {
      const el = document.getElementById('apps-live');
      return el.dataset.open === 'true' && el.textContent.includes(r) && /審査中/.test(el.textContent);
    }, reference, { timeout: 45_000 })
      .catch(async () => { throw new Error('no what-happens-next panel: ' + await resident.evaluate(() => document.getElementById('apps-live').outerHTML)); });
    const panel = await resident.evaluate(() => document.getElementById('apps-live').textContent);
    check(panel.includes('転入届') && panel.includes('転出証明書の原本をお持ちください'), 'the 3D panel shows the procedure and the clerk\'s note', panel);
    await shot(resident, 'resident-3d-what-next');
  } else {
    await rv.waitForFunction(() => /終了しました/.test(document.getElementById('media-status').textContent));
    check(true, 'ending it ends it for the resident');
  }

  // 6. Later, the clerk finds it among the department's applications, opens it (an audited
  //    read), reads its trail, and approves it.
  await clerk.getByRole('link', { name: '申請', exact: true }).click();
  await clerk.getByLabel('受付番号').fill(reference);
  await clerk.getByRole('button', { name: '検索' }).click();
  await clerk.waitForSelector(`tr[data-reference="${reference}"]`);
  const a6 = await axe(clerk);
  check(a6.violations.length === 0, 'axe: the records list', a6.violations);
  await clerk.getByRole('link', { name: reference }).click();
  check((await clerk.locator('#record-status').textContent()) === '審査中', 'the record shows its status');
  check((await clerk.locator('#record-note').textContent()).includes('転出証明書'), 'and the note');
  const trail = await clerk.locator('table').last().textContent();
  check(trail.includes('resident') && trail.includes('clerk.journey'), 'its audit trail names the resident and the clerk', trail);
  const a4 = await axe(clerk);
  check(a4.violations.length === 0, 'axe: the record page', a4.violations);
  await clerk.getByLabel('新しい状態').selectOption('approved');
  await clerk.getByLabel('住民への連絡（任意）').fill('住民票に記載しました');
  await clerk.getByRole('button', { name: '状態を変更' }).click();
  await clerk.waitForSelector('#notice');
  check((await clerk.locator('#record-status').textContent()) === '承認', 'the clerk approves it from the record page');
  await shot(clerk, 'clerk-record');

  // 7. After the consultation the resident keeps "what happens next": their application, its
  //    status and the clerk's note, in the text mode.
  if (mode === '3d') {
    // The panel's button (top right): close, open again; opening asks the office again.
    const box = await resident.locator('canvas#madoguchi').boundingBox();
    const tap = async () => {
      // Held for a few frames: a software-rendered frame is slow, and a press and release in
      // one frame may be missed.
      await resident.mouse.move(box.x + box.width - 40, box.y + 30);
      await resident.waitForTimeout(150);
      await resident.mouse.down();
      await resident.waitForTimeout(250);
      await resident.mouse.up();
    };
    await tap();
    await resident.waitForFunction(() => document.getElementById('apps-live').dataset.open === 'false', null, { timeout: 30_000 })
      .catch(() => { throw new Error('the button did not close the panel'); });
    await tap();
    await resident.waitForFunction(() => /承認/.test(document.getElementById('apps-live').textContent), null, { timeout: 30_000 })
      .catch(async () => { throw new Error('the panel did not show the approval: ' + await resident.evaluate(() => document.getElementById('apps-live').textContent)); });
    const mine = await resident.evaluate(() => document.getElementById('apps-live').textContent);
    check(mine.includes(reference) && mine.includes('住民票に記載しました'), 'the resident sees what happens next in 3D', mine);
    await shot(resident, 'resident-what-next');
    check(pageErrors.length === 0, 'no page errors', pageErrors);
  } else {
    await resident.goto(base + '/text?lang=ja');
    const mine = await resident.locator(`#my-applications li[data-reference="${reference}"]`).textContent();
    check(mine.includes('転入届') && mine.includes('承認') && mine.includes('住民票に記載しました'), 'the resident sees what happens next', mine);
    const a5 = await axe(resident);
    check(a5.violations.length === 0, 'axe: the text mode with applications', a5.violations);
    await shot(resident, 'resident-what-next');
  }
  check(csp.length === 0, 'no Content-Security-Policy violation', csp);
} catch (e) {
  failed = String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
  if (clerkPage) {
    out.clerk_url = clerkPage.url();
    out.clerk_page = await clerkPage.locator('body').innerText({ timeout: 2_000 }).then((t) => t.slice(0, 600)).catch(() => '?');
  }
  // The resident's frames (in 3D, the consultation overlay is one): where each was, and what its
  // application list and media status said.
  if (residentPage) {
    out.resident_frames = [];
    for (const f of residentPage.frames()) {
      out.resident_frames.push(await f.evaluate(() => ({
        url: location.href,
        ended: (document.getElementById('consult') || { dataset: {} }).dataset.ended || null,
        status: (document.getElementById('media-status') || {}).textContent || null,
        apps: ((document.getElementById('apps') || {}).innerHTML || '').slice(0, 800),
        body: Object.fromEntries(['room', 'pos', 'frames', 'paused'].map((k) => [k, document.body.dataset[k] || null])),
      })).catch((e) => ({ url: f.url(), error: String(e).slice(0, 200) })));
    }
  }
} finally {
  await browser.close();
}
finish(failed);
