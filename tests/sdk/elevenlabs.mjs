// SPDX-License-Identifier: LGPL-2.1-or-later
// @elevenlabs/elevenlabs-js's Scribe realtime client against our ElevenLabs-protocol
// server: it must connect (session_started), stream base64 audio chunks, commit, and
// parse partial and committed transcripts (with timestamps) with the words we expect.
// Usage: node elevenlabs.mjs ws://127.0.0.1:PORT/v1/speech-to-text/realtime
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire, RATE } from './common.mjs';

const { ElevenLabsClient, RealtimeEvents, AudioFormat, CommitStrategy } =
  sdkRequire('@elevenlabs/elevenlabs-js');

// baseUrl is the SDK's override: http:// becomes ws://, and it appends the path itself.
const baseUrl = new URL(process.argv[2]).origin.replace(/^ws:/, 'http:');
const client = new ElevenLabsClient({ apiKey: 'test-key', baseUrl });
const connection = await client.speechToText.realtime.connect({
  modelId: 'scribe_v2_realtime',
  audioFormat: AudioFormat.PCM_16000,
  sampleRate: RATE,
  commitStrategy: CommitStrategy.VAD,
  vadSilenceThresholdSecs: 0.5,
  includeTimestamps: true,
});
const partials = [], committed = [], withTimestamps = [];
let session = null, error = null;
connection.on(RealtimeEvents.SESSION_STARTED, (m) => { session = m; });
connection.on(RealtimeEvents.PARTIAL_TRANSCRIPT, (m) => partials.push(m));
connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT, (m) => committed.push(m));
connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT_WITH_TIMESTAMPS, (m) => withTimestamps.push(m));
connection.on(RealtimeEvents.ERROR, (e) => { error = e; });
const opened = new Promise((resolve) => connection.on(RealtimeEvents.OPEN, resolve));
const within = (ms, what) => new Promise((_, no) => setTimeout(() => no(new Error(what)), ms));

await Promise.race([opened, within(5000, 'no open')]);
await sendPaced((chunk) => connection.send({ audioBase64: chunk.toString('base64') }), tones());
// The last segment is still open (0.4 s of silence < 0.5 s): the commit ends it.
const answered = new Promise((resolve) => connection.on(
  RealtimeEvents.COMMITTED_TRANSCRIPT_WITH_TIMESTAMPS, (m) => { if (m.text.includes('w1000')) resolve(); }));
connection.commit();
await Promise.race([answered, within(5000, 'no answer to the commit')]);
connection.close();

assert.equal(error, null, `error: ${JSON.stringify(error)}`);
assert.equal(session?.config?.model_id, 'scribe_v2_realtime', 'no session_started parsed');
assert.ok(partials.some((m) => m.text.length > 0), 'no partial_transcript parsed');
assert.deepEqual(committed.map((m) => m.text), ['w400 w700', 'w1000']);
const words = withTimestamps.flatMap((m) => m.words ?? []).filter((w) => w.type === 'word');
assert.deepEqual(words.map((w) => w.text), ['w400', 'w700', 'w1000']);
assert.ok(Math.abs(words[0].start - 0.5) < 0.03 && Math.abs(words[2].end - 2.6) < 0.03,
  `word times: ${JSON.stringify(words.map((w) => [w.start, w.end]))}`);
done(`elevenlabs: session ${session.session_id}, ${partials.length} partial, ` +
  `${committed.length} committed transcripts (+${withTimestamps.length} with timestamps): ` +
  `${committed.map((m) => m.text).join(' | ')}`);
