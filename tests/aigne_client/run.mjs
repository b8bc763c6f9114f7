// Drives the real AIGNE Hub client (@aigne/aigne-hub) the way an AIGNE application does, for
// tests/test_aigne_client.py.
//
//   node run.mjs '<scenario JSON>'        or the JSON on standard input
//
// A scenario is {"baseURL","apiKey","kind":"chat"|"image"|"models","model","streaming":bool,
// "input":{...}} with optionally "via" and "env". "chat" and "image" build AIGNEHubChatModel or
// AIGNEHubImageModel from baseURL, apiKey and model and invoke it with input; "models" calls
// models() of AIGNEHubChatModel, or of AIGNEHubImageModel with "type": "image". "via": "model" calls model.invoke(input, {streaming}) as an
// application holding the model does; "aigne" calls new AIGNE().invoke(model, input, {streaming})
// as the framework does for an agent's model (it always streams from the hub, and collects the
// chunks itself when streaming is false); the default is "aigne" when streaming, else "model".
// "env" sets (a string) or clears (null) environment variables for that scenario only.
//
// A JSON array of scenarios runs them all in this one process, in order; with --lines, one
// scenario a line on standard input. Each prints one JSON line on standard output:
//
//   {"output": {...}, "chunks": [...], "requests": [...], "blocked": [...]}   on success
//   {"error": "<message>", "errorType": ..., "chunks": [...], "requests": [...], "blocked": [...]}
//                                                                            on failure
//
// output is what the application gets: the final ChatModelOutput (text, thoughts, json,
// toolCalls, model, usage, modelWithProvider, ...) or ImageModelOutput, or for "models" the
// parsed listing. chunks (streaming only) are the chunks the AIGNE stream yielded, in order
// (those before the failure when it failed).
// requests are the client's HTTP calls as fetch made them (method, url, headers without the
// Authorization value, body, status, content type, x-request-id, and for event streams the raw
// text received).
//
// No connection leaves the loopback interface: any other destination is refused before it is
// opened, and listed in blocked.

import net from "node:net";
import { createInterface } from "node:readline";
import { AIGNEHubChatModel, AIGNEHubImageModel } from "@aigne/aigne-hub";
import { AIGNE } from "@aigne/core";
import { mergeAgentResponseChunk } from "@aigne/core/utils/stream-utils.js";

// Standard output carries the results only; anything the libraries print goes to standard error.
console.log = console.info = console.debug = (...args) => console.error(...args);

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

// Every scenario's records; reset before each one.
let requests = [];
let blocked = [];
let chunks; // the chunks of a stream, also when it fails halfway

// --- nothing leaves 127.0.0.1 ------------------------------------------------------------------

function destination(args) {
  const [first, second] = Array.isArray(args[0]) ? args[0] : args;
  if (first !== null && typeof first === "object") {
    if (first.path) return null; // a Unix socket
    return first.host ?? "localhost";
  }
  if (typeof first === "string" && Number.isNaN(Number(first))) return null; // a Unix socket
  return typeof second === "string" ? second : "localhost";
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const host = destination(args);
  if (host !== null && !LOOPBACK.has(host)) {
    blocked.push(host);
    process.nextTick(() => this.destroy(new Error(`run.mjs: refused to connect to ${host}`)));
    return this;
  }
  return originalConnect.apply(this, args);
};

// --- what the client sends and receives --------------------------------------------------------

const originalFetch = globalThis.fetch;
globalThis.fetch = async function recordingFetch(input, init = {}) {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const record = { method: init.method ?? "GET", url, headers: {}, body: null };
  for (const [name, value] of new Headers(init.headers ?? {}).entries()) {
    record.headers[name] = name === "authorization" ? value.replace(/ .*/, " <key>") : value;
  }
  if (typeof init.body === "string") {
    try {
      record.body = JSON.parse(init.body);
    } catch {
      record.body = init.body;
    }
  }
  requests.push(record);
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host)) {
    blocked.push(host);
    throw new TypeError(`run.mjs: refused to fetch ${url}`);
  }
  let response;
  try {
    response = await originalFetch(input, init);
  } catch (error) {
    record.fetchError = String(error?.cause ?? error);
    throw error;
  }
  record.status = response.status;
  record.contentType = response.headers.get("content-type");
  record.requestId = response.headers.get("x-request-id");
  if (!record.contentType?.startsWith("text/event-stream") || !response.body) return response;
  // Keep a copy of the event stream as it arrived; the client reads the other copy.
  const [mine, theirs] = response.body.tee();
  record.events = "";
  record.eventsDone = (async () => {
    const decoder = new TextDecoder();
    for await (const bytes of mine) record.events += decoder.decode(bytes, { stream: true });
  })().catch((error) => {
    record.eventsError = String(error?.cause ?? error);
  });
  return new Response(theirs, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

// --- scenarios ---------------------------------------------------------------------------------

function modelOf(scenario) {
  const options = { baseURL: scenario.baseURL, apiKey: scenario.apiKey };
  if (scenario.model !== undefined) options.model = scenario.model;
  if (scenario.kind === "image" || scenario.type === "image") return new AIGNEHubImageModel(options);
  return new AIGNEHubChatModel(options);
}

async function run(scenario) {
  const model = modelOf(scenario);
  if (scenario.kind === "models") {
    return { output: await model.models() };
  }
  const input = scenario.input ?? {};
  const via = scenario.via ?? (scenario.streaming ? "aigne" : "model");
  const invoke =
    via === "aigne"
      ? (options) => new AIGNE().invoke(model, input, options)
      : (options) => model.invoke(input, options);
  if (!scenario.streaming) {
    return { output: await invoke({}) };
  }
  chunks = [];
  const stream = await invoke({ streaming: true });
  const output = {};
  for await (const chunk of stream) {
    chunks.push(structuredClone(chunk));
    mergeAgentResponseChunk(output, chunk);
  }
  return { output };
}

async function runRecorded(scenario) {
  requests = [];
  blocked = [];
  chunks = undefined;
  const saved = {};
  for (const [name, value] of Object.entries(scenario.env ?? {})) {
    saved[name] = process.env[name];
    if (value === null) delete process.env[name];
    else process.env[name] = value;
  }
  let result;
  try {
    result = await run(scenario);
  } catch (error) {
    result = { error: error?.message ?? String(error) };
    if (error?.type !== undefined) result.errorType = error.type;
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  await Promise.all(requests.map((r) => r.eventsDone));
  for (const r of requests) delete r.eventsDone;
  return { ...result, ...(chunks && { chunks }), requests, blocked };
}

async function readScenarios() {
  let text = process.argv[2];
  if (text === undefined) {
    const parts = [];
    for await (const part of process.stdin) parts.push(part);
    text = Buffer.concat(parts).toString("utf8");
  }
  const parsed = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : [parsed];
}

if (process.argv[2] === "--lines") {
  // One scenario a line on standard input, one result a line on standard output, until the
  // input ends: a test suite pays the start-up (loading the client takes a second) once.
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim()) process.stdout.write(`${JSON.stringify(await runRecorded(JSON.parse(line)))}\n`);
  }
} else {
  for (const scenario of await readScenarios()) {
    process.stdout.write(`${JSON.stringify(await runRecorded(scenario))}\n`);
  }
}
