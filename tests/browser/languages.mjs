// The office in Simplified Chinese, Korean, Vietnamese and やさしい日本語, in a real headless
// Chromium whose browser language is each of them (Accept-Language, navigator.language; easy
// Japanese, which no browser asks for, by `query`, added to each address): the text mode on a
// 360×640 phone and the 3D office on a desktop, each with a screenshot, each checked for the
// language's own words.
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 WORDS='{…}' SCREENSHOTS=dir node languages.mjs
//
// WORDS (from the test, which reads them from the Fluent catalogs and the office's files):
// { "<code>": { "locale", "html_lang", "name", "front_enter", "department", "japanese" (the
// departments' Japanese names, none of which may show), "take", "ticket_none", "lobby",
// "play_name", "play_enter", "query" } }. Prints one JSON line; exits 1 on the first failed check.
import { mkdir, writeFile } from 'node:fs/promises';
import { launch, axe, report } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const words = JSON.parse(process.env.WORDS || '{}');
const shots = process.env.SCREENSHOTS;
if (!base || !shots || Object.keys(words).length === 0) {
  console.error('set MADOGUCHI_BASE, WORDS and SCREENSHOTS');
  process.exit(2);
}
await mkdir(shots, { recursive: true });

const out = { bench: 'languages', checks: [], screenshots: [], axe: {} };
function check(ok, what, detail) {
  if (process.env.VERBOSE) console.error('check:', what);
  out.checks.push(what);
  if (!ok) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail).slice(0, 600)}`}`);
}
async function shot(page, name, fullPage = false) {
  const file = `${shots}/${name}.png`;
  await writeFile(file, await page.screenshot({ fullPage }));
  out.screenshots.push(file);
}
const text = (page) => page.evaluate(() => document.body.innerText);

const browser = await launch();
const watchdog = setTimeout(() => {
  report({ ...out, ok: false, error: 'timed out after 240 s' });
  process.exit(1);
}, 240_000);
let failed = null;
try {
  for (const [code, w] of Object.entries(words)) {
    // The text mode on a phone, the browser speaking the language (no ?lang= anywhere).
    const phone = await browser.newContext({
      locale: w.locale,
      viewport: { width: 360, height: 640 },
      hasTouch: true,
      isMobile: true,
    });
    const page = await phone.newPage();
    const q = w.query ? `?${w.query}` : '';
    await page.goto(`${base}/${q}`);
    check(await page.evaluate(() => document.documentElement.lang) === w.html_lang, `${code}: the front page is in ${w.html_lang} by Accept-Language`);
    check((await text(page)).includes(w.front_enter), `${code}: the front page says "${w.front_enter}"`);
    await page.goto(`${base}/text${q}`);
    await page.fill('#name', w.name);
    await page.locator('form[action="/text/start"] button[type=submit]').click();
    await page.waitForURL(/\/text\?lang=/);
    check(page.url().includes(`lang=${encodeURIComponent(code)}`) || page.url().includes(`lang=${code}`), `${code}: joined in the page's language`, page.url());
    await page.locator('form[action="/text/tickets"]:has(input[name=department][value=resident_registration]) button').click();
    await page.waitForSelector('.ticket');
    const body = await text(page);
    check(body.includes(w.department), `${code}: the ticket names the department in the language ("${w.department}")`, body);
    check(body.includes(w.take), `${code}: the page speaks the language ("${w.take}")`, body);
    const japanese = w.japanese.filter((j) => body.includes(j));
    check(japanese.length === 0, `${code}: no department is named in Japanese`, japanese);
    const fit = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      small: [...document.querySelectorAll('.langs a')].map((a) => a.getBoundingClientRect()).filter((r) => r.height < 44 || r.width < 44).length,
      links: document.querySelectorAll('.langs a').length,
    }));
    check(fit.scroll <= fit.width, `${code}: nothing overflows 360 px`, fit);
    check(fit.links === 5 && fit.small === 0, `${code}: five language links, each at least 44 px`, fit);
    const a = await axe(page);
    out.axe[`text-${code}`] = a.violations.length;
    check(a.violations.length === 0, `${code}: the text mode passes axe`, a.violations);
    await shot(page, `text-${code}`, true);
    await phone.close();

    // The 3D office, the browser speaking the language: the join form in it, then the HUD.
    const desk = await browser.newContext({ locale: w.locale, viewport: { width: 960, height: 600 } });
    const game = await desk.newPage();
    const errors = [];
    game.on('pageerror', (e) => errors.push(String(e)));
    await game.goto(`${base}/play${q}`);
    check(await game.evaluate(() => document.documentElement.lang) === w.html_lang, `${code}: the 3D join page is in ${w.html_lang}`);
    check((await game.locator('label[for=name]').innerText()).trim() === w.play_name, `${code}: the join form asks for "${w.play_name}"`);
    // Choosing another language on the form reloads it in that one; and back.
    await game.selectOption('#lang', 'en');
    await game.waitForURL(/[?&]lang=en(&|$)/);
    check((await game.locator('label[for=name]').innerText()).trim() === 'Name', `${code}: choosing English reloads the form in English`);
    await game.selectOption('#lang', code);
    await game.waitForURL((u) => u.searchParams.get('lang') === code);
    check((await game.locator('label[for=name]').innerText()).trim() === w.play_name, `${code}: and choosing it again, back`);
    await game.fill('#name', w.name);
    // The look: a colour swatch (named in the language) and a shape; axe on the whole form.
    const look = { 'zh-Hans': [5, 2], ko: [6, 1], vi: [3, 0], 'ja-easy': [1, 1] }[code] || [0, 0];
    await game.getByRole('radio', { name: w.colors[look[0]], exact: true }).check();
    await game.check(`input[name=shape][value="${look[1]}"]`);
    const swatch = await game.locator('label.sw').first().boundingBox();
    check(swatch && swatch.width >= 44 && swatch.height >= 44, `${code}: a colour is a 44 px tap target`, swatch);
    const j = await axe(game);
    out.axe[`join-${code}`] = j.violations.length;
    check(j.violations.length === 0, `${code}: the 3D join form passes axe`, j.violations);
    await game.getByRole('button', { name: w.play_enter }).click();
    await game.waitForSelector('body[data-office-frame]', { timeout: 120_000 });
    await game.waitForFunction(() => document.body.dataset.look, null, { timeout: 30_000 }).catch(() => {});
    const drawn = await game.evaluate(() => document.body.dataset.look);
    check(drawn === look.join(','), `${code}: we are drawn in the look picked (${look})`, drawn);
    await game.waitForFunction(
      ([none, lobby]) => {
        const t = document.getElementById('hud-live').textContent;
        return t.includes(none) && t.includes(lobby);
      },
      [w.ticket_none, w.lobby],
      { timeout: 30_000 },
    ).catch(async () => {
      const hud = await game.evaluate(() => document.getElementById('hud-live').textContent);
      throw new Error(`${code}: the HUD did not say "${w.ticket_none}" in "${w.lobby}": ${hud}`);
    });
    // Let the HUD text settle on screen before the picture.
    await game.waitForTimeout(1500);
    await shot(game, `3d-${code}`);
    check(errors.length === 0, `${code}: no page errors`, errors);
    await desk.close();
  }
} catch (e) {
  failed = e;
}
clearTimeout(watchdog);
await browser.close();
if (failed) {
  report({ ...out, ok: false, error: String(failed.message || failed) });
  process.exit(1);
}
report({ ...out, ok: true });
