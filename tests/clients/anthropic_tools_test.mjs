// The official `openai` npm package through aigw's anthropic plugin to an
// Anthropic stand-in (aigw-mock replaying the Messages API's recordings and
// the handwritten exchanges of tests/integration/test_anthropic.py). The
// mock answers a request only if its body equals the expected one, so the
// second turn of the thinking tool loop is answered only if aigw put the
// thinking block back, with its signature, where Claude wrote it.
// tests/integration/test_anthropic_sdk.py starts the mock and aigw and runs
// this file through tests/clients/run.sh.
//
// Environment:
//   AIGW_BASE_URL               required, e.g. http://127.0.0.1:8080/v1
//   AIGW_ANTHROPIC_FIXTURES     required: tests/fixtures/anthropic (expected values)
//   AIGW_API_KEY, AIGW_TIMEOUT_MS  as for sdk_test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const baseURL = process.env.AIGW_BASE_URL;
const fixtures = process.env.AIGW_ANTHROPIC_FIXTURES;
if (!baseURL || !fixtures) {
  console.error('anthropic_tools_test: AIGW_BASE_URL and AIGW_ANTHROPIC_FIXTURES must be set');
  process.exit(2);
}
const apiKey = process.env.AIGW_API_KEY || 'sk-aigw-sdk-test';
const timeout = Number(process.env.AIGW_TIMEOUT_MS || 30000);
const client = new OpenAI({ baseURL, apiKey, timeout, maxRetries: 0 });
const T = { timeout: timeout * 2 };

function recording(name) {
  return JSON.parse(readFileSync(`${fixtures}/${name}`, 'utf8')).interactions;
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'weather', description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('a thinking tool loop: the second turn is answered only with the thinking block back', T, async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const first = await client.chat.completions.create({
    model: 'claude-sonnet-4-5', reasoning_effort: 'minimal', tools: [WEATHER_TOOL], messages,
  });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.reasoning_content, 'The user wants the weather: call the tool.');
  const call = choice.message.tool_calls[0];
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  // The application sends the assistant message back as the SDK gave it.
  messages.push(choice.message);
  messages.push({ role: 'tool', tool_call_id: call.id, content: 'sunny' });
  const second = await client.chat.completions.create({
    model: 'claude-sonnet-4-5', reasoning_effort: 'minimal', tools: [WEATHER_TOOL], messages,
  });
  assert.equal(second.choices[0].message.content, 'It is sunny in Paris.');
  assert.equal(second.choices[0].finish_reason, 'stop');

  // The same turn with an id that lost its thinking: not the recorded
  // request, so the stand-in does not answer it with success.
  const lost = messages.slice(0, 1).concat([
    { role: 'assistant', content: null, tool_calls: [{ ...call, id: 'toolu_hand01' }] },
    { role: 'tool', tool_call_id: 'toolu_hand01', content: 'sunny' }]);
  await assert.rejects(client.chat.completions.create({
    model: 'claude-sonnet-4-5', reasoning_effort: 'minimal', tools: [WEATHER_TOOL], messages: lost,
  }), (err) => err instanceof OpenAI.APIError);
});

test('a streamed tool call is assembled by the SDK, arguments "{}"', T, async () => {
  const stream = client.chat.completions.stream({
    model: 'claude-haiku-4-5-20251001', max_tokens: 8192, temperature: 1.0,
    messages: [{ role: 'user', content: 'Generate one name for a pet pelican' }],
    tools: [{ type: 'function', function: { name: 'pelican_name_generator', description: '',
                                             parameters: { properties: {}, type: 'object' } } }],
  });
  const done = await stream.finalChatCompletion();
  const call = done.choices[0].message.tool_calls[0];
  assert.equal(call.id, 'toolu_01CzN6riCPqw4pVSuTd9Dwn7');
  assert.equal(call.function.name, 'pelican_name_generator');
  assert.deepEqual(JSON.parse(call.function.arguments), {});
  assert.equal(done.choices[0].finish_reason, 'tool_calls');
});

test('a streamed thinking answer: content as recorded, reasoning beside it, usage at the end', T, async () => {
  const segs = recording('llm-anthropic_test_stream_events_thinking.json')[0].response.body_segments;
  const want = segs.filter((s) => s.type === 'content_block_delta').map((s) => s.delta.text || '').join('');
  const stream = await client.chat.completions.create({
    model: 'claude-haiku-4-5-20251001', max_tokens: 8192, temperature: 1.0, reasoning_effort: 'minimal',
    stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Two names for a pet pelican, be brief' }],
  });
  let text = '';
  let reasoning = '';
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content || '';
      reasoning += c.delta.reasoning_content || '';
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, want);
  assert.ok(reasoning.startsWith('The user wants two names'), reasoning);
  assert.equal(usage.prompt_tokens, 46);
  assert.equal(usage.completion_tokens, 133);
});

test('cache tokens: prompt_tokens counts them, cached_tokens the reads', T, async () => {
  const r = await client.chat.completions.create({ model: 'cache', messages: [{ role: 'user', content: 'cached?' }] });
  assert.equal(r.usage.prompt_tokens, 1110);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 1000);
  assert.equal(r.usage.completion_tokens, 7);
});

test('529 overloaded is an APIError with status 529 and code overloaded_error', T, async () => {
  await assert.rejects(client.chat.completions.create({ model: 'busy', messages: [{ role: 'user', content: 'hello?' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.InternalServerError, String(err));
      assert.equal(err.status, 529);
      assert.equal(err.code, 'overloaded_error');
      return true;
    });
});

test('a stream cut after content raises an APIError after its text', T, async () => {
  const stream = await client.chat.completions.create({
    model: 'cut', stream: true, messages: [{ role: 'user', content: 'cut?' }],
  });
  let text = '';
  await assert.rejects((async () => {
    for await (const chunk of stream) {
      for (const c of chunk.choices) text += c.delta.content || '';
    }
  })(), (err) => err instanceof OpenAI.APIError);
  assert.equal(text, 'Half an answer');
});
