// SPDX-License-Identifier: LGPL-2.1-or-later
// Shared by the SDK checks: the test audio, its pacing, and loading the SDKs that
// run.sh installed into $SDK_DIR.
import { createRequire } from 'node:module';
import path from 'node:path';

export const RATE = 16000;
export const sdkRequire = createRequire(path.join(process.env.SDK_DIR, 'node_modules', '.noop.js'));

// 3 s of S16LE mono at @rate: 440 Hz at 0.5-0.9 s, 700 Hz at 1.0-1.3 s, 1000 Hz at
// 2.0-2.6 s. The local servers hear them as the words w400, w700, w1000.
export function tones(rate = RATE) {
  const list = [[440, 0.5, 0.9], [700, 1.0, 1.3], [1000, 2.0, 2.6]];
  const n = 3 * rate, b = Buffer.alloc(n * 2);
  for (const [f, s, e] of list) {
    for (let i = Math.round(s * rate); i < Math.round(e * rate); i++)
      b.writeInt16LE(Math.trunc(16383 * Math.sin(2 * Math.PI * f * (i / rate - s))), i * 2);
  }
  return b;
}

// Sends @audio (S16LE at @rate) in 100 ms chunks at real-time pace (as the services
// require).
export async function sendPaced(send, audio, chunkMs = 100, rate = RATE) {
  const step = (rate * 2 * chunkMs) / 1000;
  for (let off = 0; off < audio.length; off += step) {
    await send(audio.subarray(off, off + step));
    await new Promise((r) => setTimeout(r, chunkMs));
  }
}

export function done(summary) {
  console.log(summary);
  process.exit(0);
}
