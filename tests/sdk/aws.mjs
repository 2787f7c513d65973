// SPDX-License-Identifier: LGPL-2.1-or-later
// @aws-sdk/client-transcribe-streaming over WebSocket (its browser path: requestHandler
// WebSocketFetchHandler from @aws-sdk/middleware-websocket) against our AWS-protocol
// server. The SDK presigns wss://transcribestreaming.us-west-2.amazonaws.com:8443/
// stream-transcription-websocket (only host signed, the parameters in the query), wraps
// every AudioEvent in a signed envelope (:date, :chunk-signature chained from the URL's
// X-Amz-Signature), ends with an empty signed envelope and parses the TranscriptEvents
// with its own TranscriptResultStream deserializer. The server runs with
// --signed-host transcribestreaming.us-west-2.amazonaws.com:8443 (run.sh's extra
// arguments) and checks the URL's and every event's signature with the key test-key.
// The global WebSocket is wrapped so that the socket goes to the local server.
// Then a wrong secret: the server refuses the handshake (403) and the SDK fails.
// Usage: node aws.mjs ws://127.0.0.1:PORT/stream-transcription-websocket
import { strict as assert } from 'node:assert';
import { tones, RATE, done, sdkRequire } from './common.mjs';

const { TranscribeStreamingClient, StartStreamTranscriptionCommand } =
  sdkRequire('@aws-sdk/client-transcribe-streaming');
const { WebSocketFetchHandler } = sdkRequire('@aws-sdk/middleware-websocket');

const SIGNED_HOST = 'transcribestreaming.us-west-2.amazonaws.com:8443';
const server = new URL(process.argv[2]);
// Node 20 has no global WebSocket without --experimental-websocket; the SDK's handler
// then takes the ws package's.
const Native = globalThis.WebSocket ?? sdkRequire('ws').WebSocket;
const urls = [];
globalThis.WebSocket = class extends Native {
  constructor(url, protocols) {
    const u = new URL(url);
    urls.push(u);
    super(`${server.protocol}//${server.host}${u.pathname}${u.search}`, protocols);
    // The SDK listens for errors only once open; ws throws an error nobody listens to
    // (the refused handshake below).
    this.on?.('error', () => {});
  }
};

function client(secretAccessKey) {
  return new TranscribeStreamingClient({
    region: 'us-west-2',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey },
    requestHandler: new WebSocketFetchHandler({ connectionTimeout: 3000 }),
  });
}

// The tones in 100 ms AudioEvents at real-time pace.
async function* audioStream(audio) {
  const step = (RATE * 2) / 10;
  for (let off = 0; off < audio.length; off += step) {
    yield { AudioEvent: { AudioChunk: audio.subarray(off, off + step) } };
    await new Promise((r) => setTimeout(r, 100));
  }
}

const response = await client('test-key').send(new StartStreamTranscriptionCommand({
  LanguageCode: 'en-US',
  MediaEncoding: 'pcm',
  MediaSampleRateHertz: RATE,
  EnablePartialResultsStabilization: true,
  PartialResultsStability: 'high',
  ShowSpeakerLabel: true,
  AudioStream: audioStream(tones()),
}));
const events = [];
for await (const event of response.TranscriptResultStream)
  events.push(event);

// What the SDK asked for.
const url = urls[0];
assert.equal(`${url.protocol}//${url.host}${url.pathname}`, `wss://${SIGNED_HOST}/stream-transcription-websocket`);
for (const [k, v] of [['language-code', 'en-US'], ['media-encoding', 'pcm'], ['sample-rate', `${RATE}`],
  ['X-Amz-SignedHeaders', 'host'], ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256']])
  assert.equal(url.searchParams.get(k), v, k);
assert.match(url.searchParams.get('X-Amz-Credential'), /^AKIDTEST\/\d{8}\/us-west-2\/transcribe\/aws4_request$/);

// Every event went through the SDK's parser: TranscriptEvent only, empty ones included.
assert.ok(events.length > 0 && events.every((e) => e.TranscriptEvent), 'not only TranscriptEvents');
const results = events.flatMap((e) => e.TranscriptEvent.Transcript.Results);
assert.ok(events.some((e) => e.TranscriptEvent.Transcript.Results.length === 0), 'no empty Results');
const partials = results.filter((r) => r.IsPartial);
const finals = results.filter((r) => !r.IsPartial);
assert.ok(partials.length > 0, 'no partial results');
assert.deepEqual(finals.map((r) => r.Alternatives[0].Transcript), ['w400 w700.', 'w1000.']);
const items = finals.flatMap((r) => r.Alternatives[0].Items);
const words = items.filter((i) => i.Type === 'pronunciation');
assert.deepEqual(words.map((w) => w.Content), ['w400', 'w700', 'w1000']);
assert.ok(Math.abs(words[0].StartTime - 0.5) < 0.03 && Math.abs(words[2].EndTime - 2.6) < 0.03,
  `times ${words[0].StartTime} ${words[2].EndTime}`);
assert.ok(words.every((w) => w.Speaker === '0' && w.Stable === true && w.Confidence > 0));
// A segment's partials and its final share its ResultId.
for (const f of finals)
  assert.ok(partials.some((p) => p.ResultId === f.ResultId), `no partial for ${f.ResultId}`);
assert.ok(partials.some((p) => p.Alternatives[0].Items.some((i) => i.Stable === false)), 'no unstable word');

// A wrong secret: 403 at the handshake, the SDK gives up.
await assert.rejects(client('wrong-key').send(new StartStreamTranscriptionCommand({
  LanguageCode: 'en-US', MediaEncoding: 'pcm', MediaSampleRateHertz: RATE,
  AudioStream: audioStream(Buffer.alloc(3200)),
})));

done(`aws: ${events.length} TranscriptEvents, ${partials.length} partial and ${finals.length} final results: ${words.map((w) => w.Content).join(' ')}`);
