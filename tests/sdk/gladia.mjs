// SPDX-License-Identifier: LGPL-2.1-or-later
// @gladiaio/sdk's live v2 session against our Gladia-protocol server: it must create the
// session (POST /v2/live), connect to the WebSocket URL it got, stream audio (every chunk
// acknowledged), parse partial and final transcripts with the words we expect, and end with
// stop_recording -> end_session and a close 1000.
// Usage: node gladia.mjs ws://127.0.0.1:PORT/v2/live
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

const { GladiaClient } = sdkRequire('@gladiaio/sdk');

// apiUrl is the SDK's override of https://api.gladia.io (ws:// is read as http:// there).
const gladia = new GladiaClient({ apiKey: 'test-key', apiUrl: new URL(process.argv[2]).origin });
const session = gladia.liveV2().startSession({
  encoding: 'wav/pcm', bit_depth: 16, sample_rate: 16000, channels: 1,
  language_config: { languages: ['en'], code_switching: false },
  messages_config: { receive_partial_transcripts: true, receive_final_transcripts: true,
    receive_lifecycle_events: true, receive_acknowledgments: true },
});
const partials = [], finals = [], types = new Set();
let acked = 0;
session.on('message', (m) => {
  types.add(m.type);
  if (m.type === 'transcript') (m.data.is_final ? finals : partials).push(m.data);
  if (m.type === 'audio_chunk' && m.acknowledged) acked = m.data.byte_range[1];
});
const ended = new Promise((resolve) => session.on('ended', resolve));
session.on('error', (e) => { console.error(e); process.exit(1); });
await new Promise((resolve) => session.once('connected', resolve));
const audio = tones();
await sendPaced((chunk) => session.sendAudio(chunk), audio);
session.stopRecording();
const end = await Promise.race([ended,
  new Promise((_, no) => setTimeout(() => no(new Error('session did not end')), 10000))]);

assert.equal(end.code, 1000);
assert.ok(partials.length > 0, 'no partial transcripts parsed');
const words = finals.flatMap((f) => f.utterance.words);
assert.deepEqual(words.map((w) => w.word), ['w400', 'w700', 'w1000']);
assert.ok(Math.abs(words[0].start - 0.5) < 0.03 && Math.abs(words[2].end - 2.6) < 0.03);
// Each final shares its utterance id with partials before it.
assert.ok(finals.every((f) => partials.some((p) => p.id === f.id)));
assert.equal(acked, audio.length, 'not every byte acknowledged');
for (const t of ['start_session', 'start_recording', 'stop_recording', 'end_recording', 'end_session'])
  assert.ok(types.has(t), `no ${t}`);
done(`gladia: ${partials.length} partial, ${finals.length} final transcripts, ${acked} bytes acknowledged: ${words.map((w) => w.word).join(' ')}`);
