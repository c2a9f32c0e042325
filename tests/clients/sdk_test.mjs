// The official `openai` npm package, used the way an application uses it,
// against a running aigw. tests/clients/run.sh installs the package and runs
// this file; tests/integration/test_sdk.py starts aigw and calls run.sh.
//
// Environment:
//   AIGW_BASE_URL           required, e.g. http://127.0.0.1:8080/v1
//   AIGW_MODEL              chat model (default aigw-demo)
//   AIGW_COMPLETIONS_MODEL  model for /v1/completions (default AIGW_MODEL)
//   AIGW_EMBEDDINGS_MODEL   model for /v1/embeddings (default AIGW_MODEL)
//   AIGW_MISSING_MODEL      a model aigw does not serve (default below)
//   AIGW_API_KEY            bearer token to send (default: a dummy; the SDK needs one)
//   AIGW_TIMEOUT_MS         per-request timeout (default 30000)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.AIGW_BASE_URL;
if (!baseURL) {
  console.error('sdk_test: AIGW_BASE_URL is not set (e.g. http://127.0.0.1:8080/v1)');
  process.exit(2);
}
const model = process.env.AIGW_MODEL || 'aigw-demo';
const completionsModel = process.env.AIGW_COMPLETIONS_MODEL || model;
const embeddingsModel = process.env.AIGW_EMBEDDINGS_MODEL || model;
const missingModel = process.env.AIGW_MISSING_MODEL || 'aigw-sdk-test-no-such-model';
const apiKey = process.env.AIGW_API_KEY || 'sk-aigw-sdk-test';
const timeout = Number(process.env.AIGW_TIMEOUT_MS || 30000);

// Retries would hide a flaky server; the error tests need them off anyway.
const client = new OpenAI({ baseURL, apiKey, timeout, maxRetries: 0 });
const T = { timeout: timeout * 2 };

const messages = [
  { role: 'system', content: 'You are a test.' },
  { role: 'user', content: 'Say something about gateways.' },
];

function assertUsage(usage, what) {
  assert.ok(usage, `${what}: usage missing`);
  assert.equal(typeof usage.prompt_tokens, 'number', `${what}: prompt_tokens`);
  assert.ok(usage.total_tokens > 0, `${what}: total_tokens = ${usage.total_tokens}`);
  assert.ok(usage.total_tokens >= usage.prompt_tokens, `${what}: total < prompt`);
}

test('chat.completions.create returns a ChatCompletion', T, async () => {
  const { data: c, response } = await client.chat.completions
    .create({ model, messages, max_tokens: 32 })
    .withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') || '', /^application\/json/);
  assert.equal(c.object, 'chat.completion');
  assert.equal(typeof c.id, 'string');
  assert.ok(c.id.length > 0);
  assert.equal(typeof c.created, 'number');
  assert.equal(typeof c.model, 'string');
  assert.equal(c.choices.length, 1);
  const choice = c.choices[0];
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'empty message content');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish_reason ${choice.finish_reason}`);
  assertUsage(c.usage, 'chat');
  assert.ok(c.usage.completion_tokens > 0);
});

test('chat.completions.create with stream: true yields deltas and a usage chunk', T, async () => {
  const stream = await client.chat.completions.create({
    model,
    messages,
    max_tokens: 32,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  let usage = null;
  let id = null;
  let afterUsage = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (id === null) id = chunk.id;
    assert.equal(chunk.id, id, 'every chunk carries the same id');
    if (usage) afterUsage++;
    if (chunk.usage) {
      // The usage chunk: no choices, and it comes last.
      assert.deepEqual(chunk.choices, []);
      usage = chunk.usage;
      continue;
    }
    assert.equal(chunk.choices.length, 1);
    const c = chunk.choices[0];
    if (typeof c.delta.content === 'string') text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(chunks >= 2, `only ${chunks} chunks`);
  assert.ok(text.length > 0, 'no delta content');
  assert.ok(['stop', 'length'].includes(finish), `finish_reason ${finish}`);
  assertUsage(usage, 'stream usage chunk');
  assert.ok(usage.completion_tokens > 0);
  assert.equal(afterUsage, 0, 'chunks after the usage chunk');
});

test('a stream the client abandons early does not disturb the next request', T, async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }],
    stream: true,
  });
  let got = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) got++;
    if (got >= 1) break; // aborts the underlying request
  }
  assert.equal(got, 1);
  const c = await client.chat.completions.create({ model, messages, max_tokens: 8 });
  assert.ok(c.choices[0].message.content.length > 0);
});

test('completions.create returns a Completion', T, async () => {
  const c = await client.completions.create({
    model: completionsModel,
    prompt: 'Once upon a time',
    max_tokens: 16,
  });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.choices.length, 1);
  assert.equal(typeof c.choices[0].text, 'string');
  assert.ok(c.choices[0].text.length > 0, 'empty completion text');
  assertUsage(c.usage, 'completions');
});

test('completions.create with stream: true yields text', T, async () => {
  const stream = await client.completions.create({
    model: completionsModel,
    prompt: 'Once upon a time',
    max_tokens: 16,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) text += c.text || '';
  }
  assert.ok(text.length > 0, 'no streamed text');
  assertUsage(usage, 'completions stream usage');
});

test('embeddings.create returns number vectors (SDK default: base64 on the wire)', T, async () => {
  const e = await client.embeddings.create({ model: embeddingsModel, input: 'hello gateway' });
  assert.equal(e.object, 'list');
  assert.equal(e.data.length, 1);
  const v = e.data[0].embedding;
  assert.ok(Array.isArray(v), 'embedding is not an array');
  assert.ok(v.length > 0, 'empty embedding');
  for (const x of v) assert.ok(typeof x === 'number' && Number.isFinite(x), `bad component ${x}`);
  assert.ok(e.usage.prompt_tokens > 0);
});

test('embeddings.create with encoding_format float, several inputs', T, async () => {
  const e = await client.embeddings.create({
    model: embeddingsModel,
    input: ['one', 'two words', 'and three words'],
    encoding_format: 'float',
  });
  assert.equal(e.data.length, 3);
  const dim = e.data[0].embedding.length;
  assert.ok(dim > 0);
  e.data.forEach((d, i) => {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, dim, 'all vectors share one dimension');
    for (const x of d.embedding) assert.ok(Number.isFinite(x));
  });
  // Same input, same vector, whichever way it travelled.
  const b = await client.embeddings.create({ model: embeddingsModel, input: 'one' });
  assert.equal(b.data[0].embedding.length, dim);
  b.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - e.data[0].embedding[i]) < 1e-6));
});

test('an unknown model raises OpenAI.NotFoundError (404) with a code', T, async () => {
  await assert.rejects(
    client.chat.completions.create({ model: missingModel, messages }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 404);
      assert.equal(typeof err.code, 'string');
      assert.ok(err.code.length > 0);
      assert.equal(err.code, 'model_not_found');
      assert.equal(typeof err.error?.message, 'string');
      assert.ok(err.error.message.length > 0);
      return true;
    },
  );
});

test('a request without messages raises OpenAI.BadRequestError (400)', T, async () => {
  await assert.rejects(
    client.chat.completions.create({ model }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(typeof err.error?.message, 'string');
      return true;
    },
  );
});

test('a streaming request for an unknown model raises before any chunk', T, async () => {
  await assert.rejects(
    (async () => {
      const s = await client.chat.completions.create({ model: missingModel, messages, stream: true });
      for await (const _ of s) { /* must not get here */ }
    })(),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404,
  );
});

test('models.list() contains the configured models', T, async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(typeof m.owned_by, 'string');
    ids.push(m.id);
  }
  for (const want of new Set([model, completionsModel, embeddingsModel])) {
    assert.ok(ids.includes(want), `${want} not in ${JSON.stringify(ids)}`);
  }
  assert.ok(!ids.includes(missingModel));
});
