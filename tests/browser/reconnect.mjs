// The browser client survives a server restart: against a running server,
//
//   MADOGUCHI_BASE=http://127.0.0.1:8080 node reconnect.mjs
//
// joins, takes a ticket (over REST, with the client's own session), prints {"step":"connected"},
// then waits while the test kills and restarts the server on the same address: the client must
// say the connection is lost, come back by itself (backoff with jitter), and show the ticket
// again; then, after {"step":"stall"}, the test stops the server's process for a while (a link
// that goes silent without closing), and the client must give that link up, close its socket
// and come back — with no JavaScript error on the way, and no WebSocket left open but the
// live one.
// Then the session is signed out from outside: the client must say so, forget the session,
// and not start a new guest session by itself. Prints one JSON line; exits 1 on failure.
import { checker, launch } from './lib.mjs';

const base = process.env.MADOGUCHI_BASE;
const out = { checks: [] };
const { check, finish } = checker(out, 230);
const browser = await launch();
let failed = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const sockets = { opened: 0, closed: 0 };
  page.on('websocket', (ws) => {
    sockets.opened += 1;
    ws.on('close', () => { sockets.closed += 1; });
  });
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

  // The server stalls (the test stops its process for 13 s) without closing anything: the
  // client gives the silent link up after 10 s and must close its socket itself.
  console.log(JSON.stringify({ step: 'stall' }));
  const t1 = Date.now();
  await waitLive(/Connection lost/, 30_000, 'the stall was not noticed');
  out.stall_noticed_after_ms = Date.now() - t1;
  await waitLive(/\|\s+Connected/, 60_000, 'did not reconnect after the stall');
  await waitLive(new RegExp(label), 10_000, 'the ticket did not come back after the stall');
  // The sockets of the lost links are all closed: only the live one is open.
  await page.waitForTimeout(1000);
  out.sockets = { ...sockets };
  check(sockets.opened - sockets.closed === 1, 'only the live WebSocket is open', sockets);
  check(pageErrors.length === 0, 'no JavaScript error through the reconnects', pageErrors);

  // Signed out from elsewhere: told, the session forgotten, no new guest made behind our back.
  const bye = await fetch(`${base}/api/v1/sessions/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  check(bye.status === 204, 'signed out', bye.status);
  await waitLive(/session has ended/, 15_000, 'the end of the session was not said');
  await page.waitForTimeout(3000);
  check(/session has ended/.test(await live()), 'still saying so, not connected as someone else', await live());
  check(await page.evaluate(() => localStorage.getItem('madoguchi.session')) === null, 'the ended session is forgotten');
  check(pageErrors.length === 0, 'no JavaScript error after the session ended', pageErrors);
} catch (e) {
  failed = e.message;
} finally {
  await browser.close();
}
finish(failed);
