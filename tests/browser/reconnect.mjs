// The browser client survives a server restart: against a running server,
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 node reconnect.mjs
//
// joins, takes a ticket (over REST, with the client's own session), prints {"step":"connected"},
// then waits while the test kills and restarts the server on the same address: the client must
// say the connection is lost, come back by itself (backoff with jitter), and show the ticket
// again. Prints one JSON line; exits 1 on failure.
import { checker, launch } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const out = { checks: [] };
const { check, finish } = checker(out, 230);
const browser = await launch();
let failed = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await ctx.newPage();
  const live = () => page.evaluate(() => document.getElementById('hud-live').textContent);
  const waitLive = (re, ms, what) =>
    page.waitForFunction((src) => new RegExp(src).test(document.getElementById('hud-live').textContent), re.source, { timeout: ms })
      .catch(async () => { throw new Error(`${what}: ${await live()}`); });
  await page.goto(`${base}/play?name=Rei&lang=en`);
  await page.waitForSelector('body[data-first-frame]', { timeout: 60_000 });
  await waitLive(/\|\s+Connected/, 30_000, 'never connected');
  const token = await page.evaluate(() => localStorage.getItem('madoguchi.session'));
  const r = await fetch(`${base}/api/v1/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ department: 'welfare' }),
  });
  check(r.ok, 'took a ticket with the client session', r.status);
  const label = (await r.json()).label;
  await waitLive(new RegExp(label), 10_000, 'the ticket is not shown');
  console.log(JSON.stringify({ step: 'connected' }));
  const t0 = Date.now();
  await waitLive(/Connection lost/, 30_000, 'the loss was not reported');
  out.lost_after_ms = Date.now() - t0;
  await waitLive(/\|\s+Connected/, 60_000, 'did not reconnect');
  out.back_after_ms = Date.now() - t0;
  await waitLive(new RegExp(label), 10_000, 'the ticket did not come back');
  out.ticket = label;
  check(await page.evaluate(() => !!document.body.dataset.room), 'in a room again');
} catch (e) {
  failed = e.message;
} finally {
  await browser.close();
}
finish(failed);
