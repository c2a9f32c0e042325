// The official `openai` npm package through aigw's gemini plugin to a Gemini
// stand-in (aigw-mock replaying Gemini's exchanges): multi-turn tool loops,
// the way an application runs them. The mock answers a request only if its
// body equals the recorded one, so the second turn of a loop is answered
// only if aigw put the thought signature back where Gemini sent it.
// tests/integration/test_gemini_sdk.py starts the mock and aigw and runs
// this file through tests/clients/run.sh.
//
// Environment:
//   AIGW_BASE_URL         required, e.g. http://127.0.0.1:8080/v1
//   AIGW_GEMINI_FIXTURES  required: tests/fixtures (the recordings the
//                         expected values are read from)
//   AIGW_CUT_MODEL        a model whose stream the mock cuts after two
//                         events (optional: that test is skipped without it)
//   AIGW_LIMITED_MODEL    a model whose only key Gemini rate-limits, and
//   AIGW_SAFETY_MODEL     one (gemini-2.5-flash) whose answers the mock
//                         blocks or stops (tests/fixtures/gemini-handmade/
//                         faults.json; optional like AIGW_CUT_MODEL)
//   AIGW_API_KEY, AIGW_TIMEOUT_MS  as for sdk_test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const baseURL = process.env.AIGW_BASE_URL;
const fixtures = process.env.AIGW_GEMINI_FIXTURES;
if (!baseURL || !fixtures) {
  console.error('gemini_tools_test: AIGW_BASE_URL and AIGW_GEMINI_FIXTURES must be set');
  process.exit(2);
}
const apiKey = process.env.AIGW_API_KEY || 'sk-aigw-sdk-test';
const timeout = Number(process.env.AIGW_TIMEOUT_MS || 30000);
const client = new OpenAI({ baseURL, apiKey, timeout, maxRetries: 0 });
const T = { timeout: timeout * 2 };

function recording(name) {
  return JSON.parse(readFileSync(`${fixtures}/gemini/${name}`, 'utf8')).interactions;
}

// --- what Gemini answered, from the recordings ---------------------------------

// gemini-2.5-pro: print (with a thought signature) and beep, then text.
const printer = recording(
  'MCP_related_client_Tests_generateContent_ML_Dev_Multiple_CallableTool_with_MCPClients_and_conduct_automated_function_calling.json');
const printerCalls = printer[0].response.body_segments[0].candidates[0].content.parts;
const SIGNATURE = printerCalls[0].thoughtSignature;
assert.ok(SIGNATURE && SIGNATURE.length > 100, 'the recording lost its thought signature');
const printerReplies = printer[1].request.body[0].contents[2].parts.map((p) => p.functionResponse);
const PRINTER_TEXT = printer[1].response.body_segments[0].candidates[0].content.parts[0].text;
const PRINTER_ASK = printer[0].request.body[0].contents[0].parts[0].text;
const PRINTER_TOOLS = printer[0].request.body[0].tools.flatMap((t) => t.functionDeclarations).map((d) => ({
  type: 'function',
  function: { name: d.name, parameters: d.parametersJsonSchema },
}));

// gemini-2.0-flash, recorded as streams: customDivide, then text in three events.
const divide = recording('AFC_Streaming_Tests_chat_stream_AFC_enabled_Google_AI_chat_stream.json');
const DIVIDE_CALL = divide[0].response.body_segments[0].candidates[0].content.parts[0].functionCall;
const DIVIDE_SEGMENTS = divide[1].response.body_segments;
const DIVIDE_TEXT = DIVIDE_SEGMENTS.map((s) => s.candidates[0].content.parts.map((p) => p.text).join('')).join('');
const DIVIDE_REPLY = divide[1].request.body[0].contents[2].parts[0].functionResponse.response;
const DIVIDE_ASK = divide[0].request.body[0].contents[0].parts[0].text;
const DIVIDE_TOOLS = divide[0].request.body[0].tools[0].functionDeclarations.map((d) => ({
  type: 'function',
  function: { name: d.name, description: d.description, parameters: d.parametersJsonSchema },
}));

// --- helpers ---------------------------------------------------------------------

// The signature an id carries (tool_call_id.h: call_<16 hex>.<base64url>).
function signatureOf(id) {
  const m = /^call_[0-9a-f]{16}\.([A-Za-z0-9_-]+)$/.exec(id);
  if (!m) return null;
  const b64 = m[1].replace(/-/g, '+').replace(/_/g, '/');
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
}

// One streamed turn through the SDK's stream helper: the SDK assembles the
// message (tool calls included) from the deltas; the raw chunks are kept.
async function streamedTurn(params) {
  const stream = client.chat.completions.stream({ ...params, stream: true });
  const chunks = [];
  stream.on('chunk', (c) => chunks.push(c));
  const completion = await stream.finalChatCompletion();
  return { completion, chunks };
}

function toolResults(calls, replies) {
  return calls.map((call, i) => {
    assert.equal(call.function.name, replies[i].name);
    return { role: 'tool', tool_call_id: call.id, content: JSON.stringify(replies[i].response) };
  });
}

function checkPrinterCalls(message) {
  const calls = message.tool_calls;
  assert.equal(calls.length, 2, JSON.stringify(calls));
  for (const c of calls) {
    assert.equal(c.type, 'function');
    assert.equal(typeof c.function.arguments, 'string', 'arguments must be a JSON string');
  }
  assert.equal(calls[0].function.name, 'print');
  assert.deepEqual(JSON.parse(calls[0].function.arguments), printerCalls[0].functionCall.args);
  assert.equal(signatureOf(calls[0].id), SIGNATURE,
    `the id does not carry the signature: ${calls[0].id.slice(0, 40)}...`);
  assert.equal(calls[1].function.name, 'beep');
  assert.equal(calls[1].function.arguments, '{}');
  assert.match(calls[1].id, /^call_[0-9a-f]{16}$/, 'a call without a signature has a plain id');
  assert.notEqual(calls[0].id.slice(0, 21), calls[1].id.slice(0, 21), 'ids must differ');
}

// --- tests ---------------------------------------------------------------------------

test('a streamed two-turn tool loop keeps the thought signature (gemini-2.5-pro)', T, async () => {
  const messages = [{ role: 'user', content: PRINTER_ASK }];
  const first = await streamedTurn({ model: 'gemini-2.5-pro', messages, tools: PRINTER_TOOLS, tool_choice: 'auto' });
  const choice = first.completion.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  checkPrinterCalls(choice.message);
  // The calls came as deltas, each with its index, before the finish chunk.
  const deltas = first.chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls || []));
  assert.deepEqual(deltas.map((d) => d.index), [0, 1]);
  assert.equal(first.chunks.at(-1).choices[0].finish_reason, 'tool_calls');

  // The client runs the tools and answers with what the recording sent.
  messages.push(choice.message, ...toolResults(choice.message.tool_calls, printerReplies));
  const second = await streamedTurn({ model: 'gemini-2.5-pro', messages, tools: PRINTER_TOOLS, tool_choice: 'auto' });
  assert.equal(second.completion.choices[0].message.content, PRINTER_TEXT);
  assert.equal(second.completion.choices[0].finish_reason, 'stop');
});

test('the same loop without streaming (gemini-2.5-pro)', T, async () => {
  const messages = [{ role: 'user', content: PRINTER_ASK }];
  const first = await client.chat.completions.create({
    model: 'gemini-2.5-pro', messages, tools: PRINTER_TOOLS, tool_choice: 'auto',
  });
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  checkPrinterCalls(first.choices[0].message);
  const usage = printer[0].response.body_segments[0].usageMetadata;
  assert.equal(first.usage.completion_tokens, usage.candidatesTokenCount + usage.thoughtsTokenCount);
  assert.equal(first.usage.completion_tokens_details?.reasoning_tokens, usage.thoughtsTokenCount);
  messages.push(first.choices[0].message, ...toolResults(first.choices[0].message.tool_calls, printerReplies));
  const second = await client.chat.completions.create({
    model: 'gemini-2.5-pro', messages, tools: PRINTER_TOOLS, tool_choice: 'auto',
  });
  assert.equal(second.choices[0].message.content, PRINTER_TEXT);
});

test('a turn whose tool call lost its signature is not the recorded one', T, async () => {
  // The control for the tests above: the same second turn with the id
  // stripped of its signature reaches Gemini without it, and the stand-in
  // (like Gemini) does not answer it as it answered the recorded turn.
  const first = await client.chat.completions.create({
    model: 'gemini-2.5-pro', tools: PRINTER_TOOLS, tool_choice: 'auto',
    messages: [{ role: 'user', content: PRINTER_ASK }],
  });
  const message = structuredClone(first.choices[0].message);
  message.tool_calls[0].id = message.tool_calls[0].id.slice(0, 21);
  const messages = [
    { role: 'user', content: PRINTER_ASK }, message, ...toolResults(message.tool_calls, printerReplies),
  ];
  await assert.rejects(
    client.chat.completions.create({ model: 'gemini-2.5-pro', messages, tools: PRINTER_TOOLS, tool_choice: 'auto' }),
    (err) => err instanceof OpenAI.APIError && err.status >= 400,
  );
});

test('runTools drives the streamed loop by itself (gemini-2.5-pro)', T, async () => {
  const ran = [];
  const tools = PRINTER_TOOLS.map((t, i) => ({
    type: 'function',
    function: {
      name: t.function.name,
      parameters: t.function.parameters,
      parse: JSON.parse,
      function: (args) => {
        ran.push([t.function.name, args]);
        return JSON.stringify(printerReplies[i].response);
      },
    },
  }));
  const runner = client.chat.completions.runTools({
    model: 'gemini-2.5-pro', stream: true, tool_choice: 'auto', tools,
    messages: [{ role: 'user', content: PRINTER_ASK }],
  });
  assert.equal(await runner.finalContent(), PRINTER_TEXT);
  assert.deepEqual(ran, [['print', printerCalls[0].functionCall.args], ['beep', {}]]);
});

test('a loop recorded as streams: the call, then the text event by event (gemini-2.0-flash)', T, async () => {
  const messages = [{ role: 'user', content: DIVIDE_ASK }];
  const first = await streamedTurn({ model: 'gemini-2.0-flash', messages, tools: DIVIDE_TOOLS, tool_choice: 'auto' });
  const msg = first.completion.choices[0].message;
  assert.equal(first.completion.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].function.name, DIVIDE_CALL.name);
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), DIVIDE_CALL.args);
  assert.match(msg.tool_calls[0].id, /^call_[0-9a-f]{16}$/, 'gemini-2.0-flash sends no signature');

  messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: JSON.stringify(DIVIDE_REPLY) });
  const second = await streamedTurn({
    model: 'gemini-2.0-flash', messages, tools: DIVIDE_TOOLS, tool_choice: 'auto',
    stream_options: { include_usage: true },
  });
  assert.equal(second.completion.choices[0].message.content, DIVIDE_TEXT);
  const pieces = second.chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content).filter(Boolean));
  assert.equal(pieces.length, DIVIDE_SEGMENTS.length, 'one delta per Gemini event');
  const usage = DIVIDE_SEGMENTS.at(-1).usageMetadata;
  assert.equal(second.completion.usage.prompt_tokens, usage.promptTokenCount);
  assert.equal(second.completion.usage.total_tokens, usage.totalTokenCount);
});

const cutModel = process.env.AIGW_CUT_MODEL;
const cutOpts = { ...T, skip: !cutModel && 'AIGW_CUT_MODEL not set' };
test('a stream cut after content: the text so far, then an APIError, no hang', cutOpts, async () => {
  const stream = await client.chat.completions.create({
    model: cutModel, stream: true, tools: DIVIDE_TOOLS, tool_choice: 'auto',
    messages: [
      { role: 'user', content: DIVIDE_ASK },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_0000000000000001', type: 'function',
        function: { name: DIVIDE_CALL.name, arguments: JSON.stringify(DIVIDE_CALL.args) } }] },
      { role: 'tool', tool_call_id: 'call_0000000000000001', content: JSON.stringify(DIVIDE_REPLY) },
    ],
  });
  let text = '';
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
    })(),
    (err) => err instanceof OpenAI.APIError && typeof err.message === 'string' && err.message.length > 0,
  );
  const twoEvents = DIVIDE_SEGMENTS.slice(0, 2).map((s) => s.candidates[0].content.parts[0].text).join('');
  assert.equal(text, twoEvents);
});

const limitedModel = process.env.AIGW_LIMITED_MODEL;
const limitedOpts = { ...T, skip: !limitedModel && 'AIGW_LIMITED_MODEL not set' };
test('a 429 from Gemini is a RateLimitError with Retry-After from RetryInfo', limitedOpts, async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: limitedModel, messages: [{ role: 'user', content: 'aigw fault: rate limited' }],
    }),
    (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'resource_exhausted');
      assert.equal(err.headers.get('retry-after'), '38'); // RetryInfo: 37.512345678s
      return true;
    },
  );
});

const safetyModel = process.env.AIGW_SAFETY_MODEL;
const safetyOpts = { ...T, skip: !safetyModel && 'AIGW_SAFETY_MODEL not set' };
test('a blocked prompt, streamed, is a BadRequestError with code content_filter', safetyOpts, async () => {
  await assert.rejects(
    (async () => {
      const s = await client.chat.completions.create({
        model: safetyModel, stream: true, messages: [{ role: 'user', content: 'aigw fault: a blocked prompt' }],
      });
      for await (const _ of s) { /* must not get here */ }
    })(),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.code, 'content_filter');
      assert.match(err.message, /SAFETY/);
      return true;
    },
  );
});

test('an answer the safety filter stops ends with finish_reason content_filter', safetyOpts, async () => {
  const { completion } = await streamedTurn({
    model: safetyModel, messages: [{ role: 'user', content: 'aigw fault: an answer the safety filter stops' }],
  });
  assert.equal(completion.choices[0].finish_reason, 'content_filter');
  assert.equal(completion.choices[0].message.content, 'Here is how');
});
