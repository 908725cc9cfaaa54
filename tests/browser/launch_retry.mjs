// launch() of lib.mjs against stand-ins for Chromium: a Chromium that dies by a signal while it
// starts is started again (up to three times in all), and nothing else is retried.
//
// Each stand-in is a shell script put in $CHROMIUM; it counts its starts in a file beside it.
//   - dies by SIGSEGV twice, then runs the real Chromium: launch() gives a browser that opens a
//     page, after three starts;
//   - always dies by SIGSEGV: launch() fails after three starts, with Playwright's error;
//   - exits with status 1 (as a missing library or a bad flag would): launch() fails after one.
//
//   node launch_retry.mjs
import { launch, checker } from './lib.mjs';
import { mkdtemp, writeFile, readFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const real = process.env.CHROMIUM || '/usr/bin/chromium';
const out = { test: 'launch_retry' };
const { check, finish } = checker(out, 120);
const dir = await mkdtemp(join(tmpdir(), 'madoguchi-launch-'));

// A stand-in whose n-th start (from 1) runs `then(n)`, a line of shell.
async function standIn(name, then) {
  const path = join(dir, name);
  const count = join(dir, `${name}.starts`);
  await writeFile(count, '0');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      'ulimit -c 0',
      `n=$(( $(cat '${count}') + 1 ))`,
      `echo $n > '${count}'`,
      then,
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return { path, starts: async () => Number((await readFile(count, 'utf8')).trim()) };
}

async function launchWith(stand) {
  process.env.CHROMIUM = stand.path;
  try {
    return { browser: await launch() };
  } catch (e) {
    return { error: String(e.message) };
  } finally {
    process.env.CHROMIUM = real;
  }
}

let failed = null;
try {
  const flaky = await standIn('flaky', `if [ $n -le 2 ]; then kill -SEGV $$; fi\nexec '${real}' "$@"`);
  const { browser, error } = await launchWith(flaky);
  check(browser !== undefined, 'a Chromium that died twice while starting is up at the third start', error);
  out.flakyStarts = await flaky.starts();
  check(out.flakyStarts === 3, 'three starts', out.flakyStarts);
  const page = await browser.newPage();
  await page.setContent('<p id="p">窓口</p>');
  check((await page.textContent('#p')) === '窓口', 'the browser it gave opens a page');
  await browser.close();

  const dead = await standIn('dead', 'kill -SEGV $$');
  const d = await launchWith(dead);
  check(d.browser === undefined, 'a Chromium that always dies while starting fails the launch');
  check(/signal=SIGSEGV/.test(d.error), "the failure is Playwright's, naming the signal", d.error.slice(0, 200));
  out.deadStarts = await dead.starts();
  check(out.deadStarts === 3, 'after three starts', out.deadStarts);

  const broken = await standIn('broken', 'echo "no such library" >&2; exit 1');
  const b = await launchWith(broken);
  check(b.browser === undefined, 'a Chromium that exits with an error fails the launch');
  out.brokenStarts = await broken.starts();
  check(out.brokenStarts === 1, 'at once, without a retry', out.brokenStarts);
} catch (e) {
  failed = String(e && e.stack ? e.stack : e);
} finally {
  await rm(dir, { recursive: true, force: true });
}
finish(failed);
