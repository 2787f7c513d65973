// SPDX-License-Identifier: LGPL-2.1-or-later
// @deepgram/sdk's live client against our Deepgram-protocol server: it must connect,
// stream audio, and parse interim and final Results with the words we expect.
// Usage: node deepgram.mjs ws://127.0.0.1:PORT/v1/listen
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

const { DeepgramClient } = sdkRequire('@deepgram/sdk');
const baseUrl = new URL(process.argv[2]).origin;

const client = new DeepgramClient({ apiKey: 'test-key', baseUrl });
const socket = await client.listen.v1.connect({
  model: 'nova-3', encoding: 'linear16', sample_rate: 16000, channels: 1,
  interim_results: 'true', reconnectAttempts: 0,
});
const interim = [], finals = [];
socket.on('message', (m) => {
  if (m.type !== 'Results') return;
  const alt = m.channel.alternatives[0];
  (m.is_final ? finals : interim).push({ text: alt.transcript, words: alt.words });
});
const closed = new Promise((resolve) => socket.on('close', resolve));
socket.connect();
await socket.waitForOpen();
await sendPaced((chunk) => socket.sendMedia(chunk), tones());
socket.sendCloseStream({ type: 'CloseStream' });
await Promise.race([closed, new Promise((_, no) => setTimeout(() => no(new Error('no close')), 10000))]);

assert.ok(interim.length > 0, 'no interim Results parsed');
const words = finals.flatMap((f) => f.words);
assert.deepEqual(words.map((w) => w.word), ['w400', 'w700', 'w1000']);
assert.ok(Math.abs(words[0].start - 0.5) < 0.03 && Math.abs(words[2].end - 2.6) < 0.03);
done(`deepgram: ${interim.length} interim, ${finals.length} final Results: ${words.map((w) => w.word).join(' ')}`);
