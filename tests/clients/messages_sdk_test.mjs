// The official `@anthropic-ai/sdk` npm package against aigw's /v1/messages,
// the way Claude Code and other Anthropic clients use it:
//   - through the translation, to an OpenAI-dialect provider (the Python
//     upstream of tests/integration/upstreams.py behind the openai plugin):
//     a whole answer, a stream read with the SDK's own helpers, a tool call
//     whose input arrives as input_json_delta, the tool-result turn, errors
//     as the SDK's typed errors, count_tokens, models.list;
//   - natively, to an Anthropic stand-in (aigw-mock replaying the recorded
//     exchanges of tests/fixtures/anthropic behind the anthropic plugin): the
//     recorded stream comes back event for event.
// tests/integration/test_messages_sdk.py starts the upstreams and aigw and
// runs this file through tests/clients/run.sh.
//
// Environment:
//   AIGW_ROOT_URL            required, e.g. http://127.0.0.1:8080 (no /v1:
//                            the SDK appends /v1/messages itself)
//   AIGW_API_KEY             the client key (sent as x-api-key)
//   AIGW_ANTHROPIC_FIXTURES  tests/fixtures/anthropic
//   AIGW_TIMEOUT_MS          per request (default 30000)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';

const baseURL = process.env.AIGW_ROOT_URL;
const fixtures = process.env.AIGW_ANTHROPIC_FIXTURES;
if (!baseURL || !fixtures) {
  console.error('messages_sdk_test: AIGW_ROOT_URL and AIGW_ANTHROPIC_FIXTURES must be set');
  process.exit(2);
}
const apiKey = process.env.AIGW_API_KEY || 'sk-aigw-sdk-test';
const timeout = Number(process.env.AIGW_TIMEOUT_MS || 30000);
const client = new Anthropic({ baseURL, apiKey, timeout, maxRetries: 0 });
const T = { timeout: timeout * 2 };

// What the Python upstream answers: "echo: <prompt> t0 t1 t2 t3".
const echo = (prompt) => ['echo:', prompt, 't0', 't1', 't2', 't3'].join(' ');
const WEATHER = {
  name: 'weather', description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('a whole answer through an OpenAI-dialect provider', T, async () => {
  const msg = await client.messages.create({
    model: 'claude-via-openai', max_tokens: 64, system: 'Be brief.',
    messages: [{ role: 'user', content: 'hello' }],
  });
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.model, 'claude-via-openai');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.deepEqual(msg.content, [{ type: 'text', text: echo('hello') }]);
  assert.equal(msg.usage.input_tokens, 3);
  assert.equal(msg.usage.output_tokens, echo('hello').split(' ').length);
});

test('a stream, read with the SDK helpers', T, async () => {
  const stream = client.messages.stream({
    model: 'claude-via-openai', max_tokens: 64,
    messages: [{ role: 'user', content: 'stream please' }],
  });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const msg = await stream.finalMessage();
  assert.equal(text, echo('stream please'));
  assert.equal(msg.content[0].text, echo('stream please'));
  assert.equal(msg.stop_reason, 'end_turn');
  // message_start had an estimate; message_delta carried the provider's count.
  assert.equal(msg.usage.input_tokens, 3);
  assert.equal(msg.usage.output_tokens, echo('stream please').split(' ').length);
});

test('a streamed tool call, then the tool result turn', T, async () => {
  const prompt = 'Paris [upstream-mode: tool=weather]';
  const stream = client.messages.stream({
    model: 'claude-via-openai', max_tokens: 64, tools: [WEATHER],
    messages: [{ role: 'user', content: prompt }],
  });
  const partials = [];
  stream.on('inputJson', (partial) => { partials.push(partial); });
  const msg = await stream.finalMessage();
  assert.equal(msg.stop_reason, 'tool_use');
  assert.ok(partials.length >= 2, `input arrived in ${partials.length} piece(s)`);
  const use = msg.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'weather');
  assert.deepEqual(use.input, { city: prompt });
  assert.equal(msg.usage.cache_read_input_tokens, 4);

  const next = await client.messages.create({
    model: 'claude-via-openai', max_tokens: 64, tools: [WEATHER],
    messages: [
      { role: 'user', content: prompt },
      { role: 'assistant', content: msg.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }, { type: 'text', text: 'thanks' }] },
    ],
  });
  assert.equal(next.content[0].text, echo('thanks'));
});

test('count_tokens and models.list', T, async () => {
  const count = await client.messages.countTokens({
    model: 'claude-via-openai', messages: [{ role: 'user', content: 'count these words please' }],
  });
  assert.ok(count.input_tokens > 0);
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('claude-via-openai'), ids.join(','));
  assert.ok(ids.includes('claude-haiku-4-5-20251001'), ids.join(','));
});

test('a recorded Anthropic stream passes through natively', T, async () => {
  const it = JSON.parse(readFileSync(`${fixtures}/llm-anthropic_test_stream_events_tool_calls.json`, 'utf8'))
    .interactions[0];
  const { stream: _s, ...params } = it.request.body[0];
  const events = [];
  const stream = client.messages.stream(params);
  stream.on('streamEvent', (e) => { events.push(e); });
  const msg = await stream.finalMessage();
  const recorded = it.response.body_segments;
  // The SDK hands every event but `ping` to streamEvent listeners.
  assert.deepEqual(events.map((e) => e.type), recorded.filter((e) => e.type !== 'ping').map((e) => e.type));
  assert.equal(msg.id, recorded[0].message.id);
  assert.equal(msg.stop_reason, 'tool_use');
  const use = msg.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'pelican_name_generator');
  assert.deepEqual(use.input, {});  // empty input is {}, never ""
  assert.equal(msg.usage.input_tokens, 543);
});

// Last: its 429 cools the provider's only channel for 3 s.
test('errors arrive as the SDK\'s typed errors', T, async () => {
  await assert.rejects(
    client.messages.create({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.status === 404 && e.error?.error?.type === 'not_found_error');
  const wrong = new Anthropic({ baseURL, apiKey: 'sk-not-a-client-key', timeout, maxRetries: 0 });
  await assert.rejects(
    wrong.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
  await assert.rejects(
    client.messages.create({
      model: 'claude-via-openai', max_tokens: 8,
      messages: [{ role: 'user', content: 'x [upstream-mode: status=429 retry-after=3]' }],
    }),
    (e) => e instanceof Anthropic.RateLimitError && e.status === 429 && e.error?.error?.type === 'rate_limit_error');
});
