// SPDX-License-Identifier: LGPL-2.1-or-later
// The openai SDK's realtime client (OpenAIRealtimeWebSocket: the key as the
// `openai-insecure-api-key.` subprotocol) against our OpenAI-protocol server, in a
// transcription session: session.update -> session.updated, base64 PCM at 24 kHz, the
// server VAD's items (speech_started/stopped, committed with previous_item_id), deltas and
// completions per item, the end commit, and an error event (a commit on an empty buffer)
// parsed into the SDK's OpenAIRealtimeError. The SDK's clients always put `model` in the
// URL; a transcription session wants `?intent=transcription` and no model, so the URL
// goes through the client's onURL hook (as for Azure), which also points it at ws://.
// Usage: node openai.mjs ws://127.0.0.1:PORT/v1/realtime
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

const RATE = 24000;
const { OpenAI } = sdkRequire('openai');
const { OpenAIRealtimeWebSocket } = sdkRequire('openai/realtime/websocket');
// Node 20 has no global WebSocket; the SDK's browser client takes the ws package's.
globalThis.WebSocket ??= sdkRequire('ws').WebSocket;

const server = new URL(process.argv[2]);
const client = new OpenAI({ apiKey: 'test-key', baseURL: `http://${server.host}/v1` });
const rt = new OpenAIRealtimeWebSocket({
  model: 'gpt-4o-transcribe',
  onURL: (url) => {
    url.protocol = server.protocol;
    url.searchParams.delete('model');
    url.searchParams.set('intent', 'transcription');
  },
}, client);
assert.equal(rt.url.toString(), `${server.origin}/v1/realtime?intent=transcription`);

const events = [], errors = [];
rt.on('event', (e) => events.push(e));
rt.on('error', (e) => errors.push(e));
const next = (type) => new Promise((resolve, reject) => {
  rt.once(type, resolve);
  setTimeout(() => reject(new Error(`no ${type}`)), 10000);
});
const opened = new Promise((resolve) => rt.socket.addEventListener('open', resolve));
const created = next('session.created');
await opened;
assert.equal(rt.socket.protocol, 'realtime');
const session = (await created).session;
assert.equal(session.type, 'transcription');

const updated = next('session.updated');
rt.send({
  type: 'session.update',
  session: {
    type: 'transcription',
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: RATE },
        transcription: { model: 'gpt-4o-transcribe', language: 'en' },
        turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300,
          silence_duration_ms: 500 },
      },
    },
  },
});
const input = (await updated).session.audio.input;
assert.equal(input.transcription.model, 'gpt-4o-transcribe');
assert.equal(input.turn_detection.silence_duration_ms, 500);

// w400 and w700 (0.1 s apart) are one item, closed by the VAD 500 ms after w700; w1000
// is still open at the end of the audio: the commit closes it.
let completions = 0;
const completed = new Promise((resolve, reject) => {
  rt.on('conversation.item.input_audio_transcription.completed', () => {
    if (++completions === 2) resolve();
  });
  setTimeout(() => reject(new Error(`${completions} completions`)), 15000);
});
await sendPaced((chunk) => rt.send({ type: 'input_audio_buffer.append',
  audio: chunk.toString('base64') }), tones(RATE), 100, RATE);
rt.send({ type: 'input_audio_buffer.commit' });
await completed;
// Nothing left in the buffer: the service's error, through the SDK's error path.
const failed = new Promise((resolve) => rt.once('error', resolve));
rt.send({ type: 'input_audio_buffer.commit', event_id: 'commit_again' });
const err = await failed;
rt.close();

const of = (type) => events.filter((e) => e.type === type);
const started = of('input_audio_buffer.speech_started');
const stopped = of('input_audio_buffer.speech_stopped');
const committed = of('input_audio_buffer.committed');
const done_ = of('conversation.item.input_audio_transcription.completed');
const deltas = of('conversation.item.input_audio_transcription.delta');
assert.deepEqual(started.map((e) => e.audio_start_ms), [200, 1700]);
assert.deepEqual(stopped.map((e) => e.audio_end_ms), [1800]);
assert.equal(stopped[0].item_id, started[0].item_id);
assert.deepEqual(committed.map((e) => e.item_id), started.map((e) => e.item_id));
assert.deepEqual(committed.map((e) => e.previous_item_id ?? null), [null, started[0].item_id]);
assert.deepEqual(done_.map((e) => e.transcript), ['w400 w700', 'w1000']);
assert.deepEqual(done_.map((e) => e.item_id), committed.map((e) => e.item_id));
assert.ok(done_.every((e) => e.usage && e.usage.type === 'tokens'));
assert.equal(deltas.filter((d) => d.item_id === done_[0].item_id).map((d) => d.delta).join(''),
  'w400 w700');
assert.equal(err.error.code, 'input_audio_buffer_commit_empty');
assert.equal(err.error.type, 'invalid_request_error');
assert.equal(err.error.event_id, 'commit_again');
assert.equal(errors.length, 1);
done(`openai: ${deltas.length} deltas, ${done_.length} completions: ${done_.map((e) => e.transcript).join(' | ')}; empty commit: ${err.error.code}`);
