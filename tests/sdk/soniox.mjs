// SPDX-License-Identifier: LGPL-2.1-or-later
// @soniox/node's real-time STT session against our Soniox-protocol server: it must
// connect, send its start request, stream audio, parse non-final and final tokens (with
// the <end> endpoint events) into the words we expect, and end with `finished`.
// Usage: node soniox.mjs ws://127.0.0.1:PORT/transcribe-websocket
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

// The SDK uses the global WebSocket, which Node only has from version 22.
globalThis.WebSocket ??= sdkRequire('ws').WebSocket;
const { SonioxNodeClient } = sdkRequire('@soniox/node');

// realtime.ws_base_url is the SDK's override of wss://stt-rt.soniox.com/transcribe-websocket.
const client = new SonioxNodeClient({ api_key: 'test-key', realtime: { ws_base_url: process.argv[2] } });
const session = client.realtime.stt({
  model: 'stt-rt-v5', audio_format: 'pcm_s16le', sample_rate: 16000, num_channels: 1,
  language_hints: ['en'], enable_endpoint_detection: true,
});
const finalTokens = [], nonFinal = [];
let endpoints = 0;
session.on('result', (r) => {
  for (const t of r.tokens) (t.is_final ? finalTokens : nonFinal).push(t);
});
session.on('endpoint', () => endpoints++);
await session.connect();
await sendPaced((chunk) => session.sendAudio(chunk), tones());
// finish() sends the empty frame and resolves on the `finished` response.
await Promise.race([session.finish(),
  new Promise((_, no) => setTimeout(() => no(new Error('no finished response')), 10000))]);

assert.ok(nonFinal.length > 0, 'no non-final tokens parsed');
const text = finalTokens.map((t) => t.text).join('');
assert.deepEqual(text.trim().split(/\s+/), ['w400', 'w700', 'w1000']);
assert.ok(endpoints >= 2, `${endpoints} endpoints`);
const first = finalTokens[0], last = finalTokens[finalTokens.length - 1];
assert.ok(Math.abs(first.start_ms - 500) <= 30 && Math.abs(last.end_ms - 2600) <= 30,
  `times ${first.start_ms} ${last.end_ms}`);
done(`soniox: ${nonFinal.length} non-final, ${finalTokens.length} final tokens, ${endpoints} endpoints: ${text.trim()}`);
