// SPDX-License-Identifier: LGPL-2.1-or-later
// The assemblyai SDK's StreamingTranscriber (Universal Streaming v3) against our
// AssemblyAI-protocol server: it must connect (Begin), stream audio, parse partial and
// final Turns with the words we expect, and end with Terminate -> Termination.
// Usage: node assemblyai.mjs ws://127.0.0.1:PORT/v3/ws
import { strict as assert } from 'node:assert';
import { tones, sendPaced, done, sdkRequire } from './common.mjs';

const { StreamingTranscriber } = sdkRequire('assemblyai');

// websocketBaseUrl is the SDK's URL override, but it insists on wss://. Our server is
// plain ws:// on 127.0.0.1: let the SDK build its URL (query and all), then drop the TLS.
const connectionUrl = StreamingTranscriber.prototype.connectionUrl;
StreamingTranscriber.prototype.connectionUrl = function () {
  const url = connectionUrl.call(this);
  url.protocol = 'ws:';
  return url;
};

const transcriber = new StreamingTranscriber({
  websocketBaseUrl: process.argv[2].replace(/^ws:/, 'wss:'),
  apiKey: 'test-key',
  sampleRate: 16000,
  encoding: 'pcm_s16le',
  speechModel: 'universal-streaming-english',
  formatTurns: true,
  maxConnectionRetries: 0,
});
const partials = [], finals = [];
let closeCode = null, error = null;
transcriber.on('turn', (t) => (t.end_of_turn && t.turn_is_formatted ? finals : partials).push(t));
transcriber.on('close', (code) => { closeCode = code; });
transcriber.on('error', (e) => { error = e; });

const begin = await transcriber.connect();
assert.ok(begin.id && begin.expires_at > Date.now() / 1000, 'no Begin parsed');
await sendPaced((chunk) => transcriber.sendAudio(chunk), tones());
await transcriber.close(true, 5000); // Terminate, then wait for Termination

assert.equal(error, null, `error: ${error}`);
assert.ok(partials.some((t) => !t.end_of_turn && t.words.length > 0), 'no partial Turn parsed');
// Formatted turns: "W400 w700." -- compare the words without case and punctuation.
const words = finals.flatMap((t) => t.words);
const norm = (w) => w.text.toLowerCase().replace(/[^a-z0-9]/g, '');
assert.deepEqual(words.map(norm), ['w400', 'w700', 'w1000']);
assert.ok(words.every((w) => w.word_is_final));
assert.ok(Math.abs(words[0].start - 500) <= 30 && Math.abs(words[2].end - 2600) <= 30,
  `word times (ms): ${JSON.stringify(words.map((w) => [w.start, w.end]))}`);
done(`assemblyai: Begin ${begin.id}, ${partials.length} partial Turns, ${finals.length} ` +
  `formatted final Turns: ${finals.map((t) => t.transcript).join(' | ')}` +
  (closeCode === null ? '' : `, close ${closeCode}`));
