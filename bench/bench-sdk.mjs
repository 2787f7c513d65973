// SPDX-License-Identifier: LGPL-2.1-or-later
// What a developer would write instead of the plugin: the official @deepgram/sdk live
// client streaming 16 kHz mono PCM as fast as the connection takes it (100 ms chunks,
// at most LIMIT bytes queued), then CloseStream; it parses every Results message.
// With "paced", it sends in real time instead (a live stream), one chunk per 100 ms.
// With "natural", as fast as taken in the chunks a developer's file stream gives
// (fs.createReadStream's default highWaterMark, 64 KiB: 2.048 s of this audio).
// Prints "cpu <seconds> user <s> system <s>" (process.cpuUsage() from before connecting
// to the close).
// Usage: SDK_DIR=... node bench-sdk.mjs ws://127.0.0.1:PORT/v1/listen block.pcm HOURS
//        [fast|paced|natural]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const sdkRequire = createRequire(path.join(process.env.SDK_DIR, 'node_modules', '.noop.js'));
const { DeepgramClient } = sdkRequire('@deepgram/sdk');

const [url, pcmPath, hoursArg, mode] = process.argv.slice(2);
const paced = mode === 'paced';
const block = fs.readFileSync(pcmPath);
const total = Math.round(parseFloat(hoursArg) * 3600 * 16000) * 2;
const CHUNK = mode === 'natural' ? 65536 : 3200;   // 100 ms: the element's live frame
const LIMIT = 1 << 20;            // queued bytes before waiting for the socket
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = setTimeout(() => { console.error('timeout'); process.exit(2); },
  600000 + total / 32000 * (paced ? 1.5 : 0.2) * 1000);

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const client = new DeepgramClient({ apiKey: 'bench', baseUrl: new URL(url).origin });
const socket = await client.listen.v1.connect({
  model: 'nova-3', encoding: 'linear16', sample_rate: 16000, channels: 1,
  interim_results: 'true', punctuate: 'true', tag: 'node-sdk', reconnectAttempts: 0,
});
let results = 0, finals = 0, words = 0;
socket.on('message', (m) => {
  if (m.type !== 'Results') return;
  results++;
  if (m.is_final) finals++;
  words += m.channel.alternatives[0].words.length;
});
const closed = new Promise((resolve) => socket.on('close', resolve));
socket.connect();
await socket.waitForOpen();

let sent = 0;
const start = performance.now();
while (sent < total) {
  if (paced) {
    // Real time: chunk n leaves at n * 100 ms, as a live source would deliver it.
    const due = start + (sent / 32000) * 1000 - performance.now();
    if (due > 0) await sleep(due);
  }
  const off = sent % block.length;
  const n = Math.min(CHUNK, block.length - off, total - sent);
  socket.sendMedia(block.subarray(off, off + n));
  sent += n;
  if (socket.socket.bufferedAmount > LIMIT) {
    while (socket.socket.bufferedAmount > LIMIT / 2) await sleep(1);
  }
}
socket.sendCloseStream({ type: 'CloseStream' });
await closed;
const cpu = process.cpuUsage(cpu0);
clearTimeout(deadline);
console.log(`cpu ${((cpu.user + cpu.system) / 1e6).toFixed(3)} user ${(cpu.user / 1e6).toFixed(3)} ` +
  `system ${(cpu.system / 1e6).toFixed(3)} wall ${((performance.now() - t0) / 1000).toFixed(2)} ` +
  `sent ${sent} results ${results} finals ${finals} words ${words}`);
process.exit(0);
