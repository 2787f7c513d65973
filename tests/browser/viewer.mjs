// SPDX-License-Identifier: LGPL-2.1-or-later
// The caption server's viewer page (/rooms/demo) in headless Chromium, fed by a live
// pipeline: speech made by flite played at real-time pace (identity sync=true, which
// answers the latency query as a live source does), stttranscribe on the local recognizer
// (stt-local-server, vosk protocol) ! sttpublish to stt-caption-server, as in the
// README's demo. Checks, as a viewer would:
// - the finals appear in #transcript, in order;
// - the interim text is in place: #interims never holds more than one <p> (one
//   publisher), and one <p> shows several texts in turn (updated, not appended);
// - the server stopped (SIGTERM) and started again on the same port and store while the
//   pipeline goes on: #status goes to reconnecting, then connected;
// - at the end the page holds exactly the finals the server stored
//   (/rooms/demo/transcript.vtt): none lost, none doubled; and they are the spoken text
//   (word error rate).
// Screenshots go to $OUT_DIR (viewer-interim.png during speech, viewer.png at the end).
// Every wait is bounded; every process started here is stopped on the way out.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const env = process.env;
const puppeteer = createRequire(path.join(env.NODE_DIR, 'node_modules', '.noop.js'))('puppeteer-core');
const ROOM = 'demo';
// Eight sentences with a pause after each (the recognizer ends an utterance after 0.5 s
// of silence: one final each), about 30 s: long enough to restart the server midway.
const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Please turn on the kitchen light.',
  'We will meet at the station at seven.',
  'The weather is cold and the wind is strong today.',
  'Open the window and let the fresh air in.',
  'She sells sea shells by the sea shore.',
  'The train leaves in ten minutes.',
  'Thank you for watching the captions.',
];
const SPEECH = SENTENCES.join(' ');
const PAUSE_S = 1.2;
const OUT = env.OUT_DIR;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-browser-'));
const children = new Set();
let browser = null;

function fail(why) {
  throw new Error(why);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Waits for @cond (async) up to @ms, polling; throws with @what on timeout.
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v)
      return v;
    if (Date.now() > deadline)
      fail(`timed out after ${ms} ms: ${what}`);
    await sleep(100);
  }
}

// Starts @prog; its stderr goes to OUT/@name.log. With @re, waits (bounded) for a stdout
// line matching it and returns [child, match].
async function start(name, prog, args, re, extraEnv = {}) {
  const log = fs.openSync(path.join(OUT, name + '.log'), 'a');
  const child = spawn(prog, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', log] });
  children.add(child);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  const lines = readline.createInterface({ input: child.stdout });
  if (!re) {
    lines.on('line', (l) => fs.appendFileSync(path.join(OUT, name + '.log'), l + '\n'));
    return [child, null];
  }
  const match = await Promise.race([
    new Promise((resolve) => lines.on('line', (l) => {
      const m = l.match(re);
      if (m)
        resolve(m);
    })),
    child.exited.then(({ code }) => fail(`${name} exited (${code}) before it listened`)),
    sleep(15000).then(() => fail(`${name} did not listen within 15 s`)),
  ]);
  return [child, match];
}

async function stop(child, signal, ms) {
  child.kill(signal);
  return Promise.race([child.exited, sleep(ms).then(() => fail(`no exit within ${ms} ms`))]);
}

function startCaptionServer(port, secretFile, store) {
  return start('caption-server', env.STT_CAPTION_SERVER, ['--port', String(port),
    '--secret-file', secretFile, '--store', store], /^listening on http:\/\/127\.0\.0\.1:(\d+)/);
}

// Word error rate of @hyp against @ref (lower case, no punctuation).
function wer(ref, hyp) {
  const words = (s) => s.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);
  const r = words(ref), h = words(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[h.length] / r.length;
}

// The cues' texts of a WebVTT document, in order (a cue's lines joined by a space).
function vttCues(doc) {
  const cues = [];
  for (const block of doc.replace(/\r/g, '').split(/\n\n+/)) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes(' --> '));
    if (at >= 0)
      cues.push(lines.slice(at + 1).join(' ').replace(/<[^>]*>/g, '').trim());
  }
  return cues;
}

const norm = (s) => s.replace(/\s+/g, ' ').trim();

// The format and samples of a PCM WAV file.
function readWav(file) {
  const b = fs.readFileSync(file);
  let fmt = null;
  for (let at = 12; at + 8 <= b.length;) {
    const id = b.toString('ascii', at, at + 4), size = b.readUInt32LE(at + 4);
    if (id === 'fmt ')
      fmt = { channels: b.readUInt16LE(at + 10), rate: b.readUInt32LE(at + 12), bits: b.readUInt16LE(at + 22) };
    if (id === 'data' && fmt)
      return { ...fmt, data: b.subarray(at + 8, at + 8 + size) };
    at += 8 + size + (size & 1);
  }
  fail(`${file}: not a PCM WAV file`);
}

// @sentences spoken by flite, PAUSE_S of silence after each, as one WAV file (S16 mono):
// returns its duration in ms.
function speak(sentences, file) {
  const parts = [];
  let rate = 0;
  sentences.forEach((text, i) => {
    const one = path.join(work, `s${i}.wav`);
    execFileSync('flite', ['-voice', 'slt', '-t', text, '-o', one], { timeout: 30000 });
    const w = readWav(one);
    if (w.channels !== 1 || w.bits !== 16 || (rate && w.rate !== rate))
      fail(`flite wrote ${w.channels} channel(s), ${w.bits} bits, ${w.rate} Hz`);
    rate = w.rate;
    parts.push(w.data, Buffer.alloc(2 * Math.round(PAUSE_S * rate)));
  });
  const data = Buffer.concat(parts), head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8, 'ascii');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36, 'ascii');
  head.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([head, data]));
  return (data.length / 2 / rate) * 1000;
}

// In the page: follows #status and the interim lines on every change (and every 50 ms).
function watchPage() {
  const t = { statuses: [], maxInterimLines: 0, texts: {}, nextId: 0 };
  const status = document.getElementById('status');
  const interims = document.getElementById('interims');
  const look = () => {
    if (t.statuses[t.statuses.length - 1] !== status.className)
      t.statuses.push(status.className);
    const ps = interims.querySelectorAll('p');
    t.maxInterimLines = Math.max(t.maxInterimLines, ps.length);
    for (const p of ps) {
      if (!p.sttId)
        p.sttId = ++t.nextId;
      const seen = t.texts[p.sttId] || (t.texts[p.sttId] = []);
      if (seen[seen.length - 1] !== p.textContent)
        seen.push(p.textContent);
    }
  };
  new MutationObserver(look).observe(document.body,
    { subtree: true, childList: true, characterData: true, attributes: true });
  setInterval(look, 50);
  window.sttWatch = t;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const name of ['caption-server', 'local-server', 'pipeline'])
    fs.rmSync(path.join(OUT, name + '.log'), { force: true });
  const secretFile = path.join(work, 'secret');
  const store = path.join(work, 'store');
  const wav = path.join(work, 'talk.wav');
  fs.writeFileSync(secretFile, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  const speechMs = speak(SENTENCES, wav);

  const [, local] = await start('local-server', env.STT_LOCAL_SERVER, ['--port', '0', '--quiet'],
    /^listening on ws:\/\/127\.0\.0\.1:(\d+)/);
  let [caption, m] = await startCaptionServer(0, secretFile, store);
  const port = Number(m[1]);
  const base = `http://127.0.0.1:${port}`;
  const token = execFileSync(env.STT_CAPTION_SERVER, ['--secret-file', secretFile,
    '--print-token', ROOM], { timeout: 10000 }).toString().trim();

  browser = await puppeteer.launch({
    executablePath: env.CHROMIUM, headless: true, timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 640 });
  await page.goto(`${base}/rooms/${ROOM}?token=${token}`, { timeout: 15000 });
  await page.evaluate(watchPage);
  await page.waitForSelector('#status.connected', { timeout: 10000 });
  const lines = () => page.$$eval('#transcript p:not(.gap)', (ps) => ps.map((p) => p.textContent));

  // The live pipeline (a caption cue per line on the page: segments; a sentence may take
  // up to 10 s to be final).
  const [pipeline] = await start('pipeline', 'gst-launch-1.0', ['filesrc', `location=${wav}`,
    '!', 'wavparse', '!', 'audioconvert', '!', 'audioresample', '!', 'identity', 'sync=true', '!',
    'stttranscribe', `url=ws://127.0.0.1:${local[1]}`, 'output-mode=segments', 'latency=10000', '!',
    'sttpublish', `url=ws://127.0.0.1:${port}/publish/${ROOM}`, `token-secret-file=${secretFile}`,
    'reconnect-max-delay=2000000000'], null);
  const started = Date.now();

  // Sampled while the speech goes on: at most one interim line, and text in it.
  const samples = [];
  const sampler = setInterval(async () => {
    try {
      samples.push(await page.$$eval('#interims p', (ps) => ps.map((p) => p.textContent)));
    } catch (e) { /* the page is closing */ }
  }, 200);

  // Two finals on screen, then the server goes away and comes back on its port and store.
  await until(async () => (await lines()).length >= 2, 40000, 'two finals on the page');
  const before = (await lines()).length;
  const stopped = await stop(caption, 'SIGTERM', 10000);
  if (stopped.code !== 0)
    fail(`the caption server exited with ${stopped.code} ${stopped.signal} on SIGTERM`);
  await page.waitForSelector('#status.reconnecting', { timeout: 10000 });
  [caption, m] = await startCaptionServer(port, secretFile, store);
  await page.waitForSelector('#status.connected', { timeout: 30000 });
  console.log(`server restarted after ${before} final(s), ${((Date.now() - started) / 1000).toFixed(1)} s in; the page is connected again`);

  // An interim of a few words on screen after the restart: the first screenshot.
  await until(async () => (await page.$$eval('#interims p', (ps) => ps.map((p) => p.textContent)))
    .some((text) => text.trim().split(/\s+/).length >= 3), 20000,
  'interim text on the page after the restart');
  await page.screenshot({ path: path.join(OUT, 'viewer-interim.png') });

  // The end of the speech ends the stream (EOS: the last final, then every ack).
  const ended = await Promise.race([pipeline.exited,
    sleep(speechMs + 30000).then(() => fail('the pipeline did not end'))]);
  clearInterval(sampler);
  if (ended.code !== 0)
    fail(`gst-launch-1.0 exited with ${ended.code} ${ended.signal} (see ${OUT}/pipeline.log)`);
  const plog = fs.readFileSync(path.join(OUT, 'pipeline.log'), 'utf8');
  if (/^(WARNING|ERROR)/m.test(plog))
    fail(`the pipeline warned or failed:\n${plog}`);

  // What the server stored, and what the page shows: the same finals, in order.
  const res = await fetch(`${base}/rooms/${ROOM}/transcript.vtt?token=${token}`);
  if (res.status !== 200)
    fail(`transcript.vtt: HTTP ${res.status}`);
  const stored = vttCues(await res.text()).map(norm);
  await until(async () => (await lines()).length >= stored.length, 10000, 'every stored final on the page');
  const shown = (await lines()).map(norm);
  await page.screenshot({ path: path.join(OUT, 'viewer.png') });
  console.log(`stored ${stored.length} final(s):\n  ${stored.join('\n  ')}`);
  if (stored.length < 4)
    fail(`only ${stored.length} finals stored`);
  if (JSON.stringify(shown) !== JSON.stringify(stored))
    fail(`the page shows\n  ${shown.join('\n  ')}\nthe server stored\n  ${stored.join('\n  ')}`);
  if ((await page.$$('#transcript p.gap')).length > 0)
    fail('the page says captions were missed');
  const rate = wer(SPEECH, stored.join(' '));
  console.log(`word error rate against the spoken text: ${(rate * 100).toFixed(0)} %`);
  if (rate > 0.35)
    fail('the finals are not the spoken text');

  // The interim text: in place, one line, updated.
  const t = await page.evaluate(() => window.sttWatch);
  const withText = samples.filter((s) => s.length > 0);
  const updated = Object.values(t.texts).filter((texts) => texts.length >= 3).length;
  console.log(`status: ${t.statuses.join(' -> ')}; ${withText.length} of ${samples.length} samples ` +
    `showed interim text; ${Object.keys(t.texts).length} interim line(s), ${updated} updated in place ` +
    `3 times or more; at most ${t.maxInterimLines} at once`);
  if (t.maxInterimLines > 1 || samples.some((s) => s.length > 1))
    fail('more than one interim line for one publisher');
  if (withText.length < 5 || updated < 2)
    fail('the interim text was not shown and updated in place');
  const st = t.statuses.join(' ');
  if (!/connected.*reconnecting.*connected$/.test(st))
    fail(`status went ${st}`);
  // The publisher came back too (the server's log: one JSON object a line).
  const opens = fs.readFileSync(path.join(OUT, 'caption-server.log'), 'utf8').split('\n')
    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    .filter((e) => e.event === 'open' && e.role === 'publisher').length;
  if (opens < 2)
    fail(`the publisher connected ${opens} time(s)`);
  console.log(`screenshots: ${path.join(OUT, 'viewer-interim.png')} ${path.join(OUT, 'viewer.png')}`);
}

let status = 0;
const watchdog = setTimeout(() => {
  console.error('viewer.mjs: over 240 s');
  for (const c of children)
    c.kill('SIGKILL');
  process.exit(1);
}, 240000);
try {
  await main();
  console.log('browser: OK');
} catch (e) {
  console.error(`browser: FAILED: ${e.message}`);
  status = 1;
} finally {
  clearTimeout(watchdog);
  if (browser)
    await Promise.race([browser.close(), sleep(5000)]);
  for (const c of children)
    c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(status);
