// SPDX-License-Identifier: LGPL-2.1-or-later
// @speechmatics/real-time-client against our Speechmatics-protocol server: it must connect
// (its key in the `jwt` query parameter), get RecognitionStarted for its StartRecognition,
// stream audio (every frame acknowledged with its seq_no), parse partial and final
// transcripts with the words we expect, and end with EndOfStream -> EndOfTranscript.
// Usage: node speechmatics.mjs ws://127.0.0.1:PORT/v2
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

const { RealtimeClient } = sdkRequire('@speechmatics/real-time-client');

// url is the SDK's override of wss://eu2.rt.speechmatics.com/v2.
const client = new RealtimeClient({ url: process.argv[2], connectionTimeout: 10000 });
const partials = [], finals = [], types = new Set();
let lastSeqNo = 0;
client.addEventListener('receiveMessage', ({ data }) => {
  types.add(data.message);
  if (data.message === 'AddPartialTranscript') partials.push(data);
  if (data.message === 'AddTranscript') finals.push(data);
  if (data.message === 'AudioAdded') lastSeqNo = data.seq_no;
  if (data.message === 'Error') { console.error(data); process.exit(1); }
});
const started = await client.start('test-key', {
  audio_format: { type: 'raw', encoding: 'pcm_s16le', sample_rate: 16000 },
  transcription_config: { language: 'en', enable_partials: true, max_delay: 1, model: 'enhanced' },
});
assert.equal(started.message, 'RecognitionStarted');
assert.ok(started.id, 'RecognitionStarted without an id');
const audio = tones();
let sent = 0;
await sendPaced((chunk) => { client.sendAudio(chunk); sent++; }, audio);
// Resolves on EndOfTranscript (rejects after connectionTimeout).
await client.stopRecognition();

assert.ok(partials.length > 0, 'no partial transcripts parsed');
const words = finals.flatMap((f) => f.results.filter((r) => r.type === 'word'));
assert.deepEqual(words.map((w) => w.alternatives[0].content.toLowerCase()), ['w400', 'w700', 'w1000']);
assert.ok(Math.abs(words[0].start_time - 0.5) < 0.03 && Math.abs(words[2].end_time - 2.6) < 0.03,
  `times ${words[0].start_time} ${words[2].end_time}`);
// The finals' transcripts concatenate into the text, punctuated.
assert.equal(finals.map((f) => f.metadata.transcript).join('').trim(), 'W400 w700. W1000.');
// Final windows follow each other.
for (let i = 1; i < finals.length; i++)
  assert.ok(Math.abs(finals[i].metadata.start_time - finals[i - 1].metadata.end_time) < 1e-6);
assert.equal(lastSeqNo, sent, 'not every frame acknowledged');
for (const t of ['Info', 'AudioAdded', 'EndOfTranscript'])
  assert.ok(types.has(t), `no ${t}`);
done(`speechmatics: ${partials.length} partial, ${finals.length} final transcripts, ${lastSeqNo} frames acknowledged: ${words.map((w) => w.alternatives[0].content).join(' ')}`);
