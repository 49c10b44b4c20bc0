// static/realtime/requests.js: request ids, reply matching, timeouts, the queue while the
// socket is down, and what a dropped socket does to each request in flight.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RealtimeError, RequestTable } from "../../static/realtime/requests.js";

function table(open = true) {
  const state = { open, sent: [] };
  state.requests = new RequestTable({ send: (frame) => state.sent.push(frame), isOpen: () => state.open });
  return state;
}

test("each request gets its own id and settles with the reply of that id only", async () => {
  const { requests, sent } = table();
  const first = requests.request("chat.history", "room:a", { limit: 5 }, { timeout: 1000 });
  const second = requests.request("ping", null, null, { timeout: 1000 });
  assert.deepEqual(sent[0], { action: "chat.history", request_id: "c1", topic: "room:a", data: { limit: 5 } });
  assert.deepEqual(sent[1], { action: "ping", request_id: "c2", data: {} }); // no topic, data {}
  requests.answer({ type: "reply", request_id: "c2", data: { pong: true } });
  requests.answer({ type: "reply", request_id: "c1" });
  assert.deepEqual(await second, { pong: true });
  assert.deepEqual(await first, {}); // a reply without data resolves {}
});

test("an error frame rejects its request with a RealtimeError carrying the protocol fields", async () => {
  const { requests } = table();
  const reply = requests.request("chat.send", "room:a", {}, { timeout: 1000 });
  requests.answer({ type: "error", request_id: "c1",
    error: { code: "invalid", message: "Too long.", field: "body", data: { max: 4000 } } });
  await assert.rejects(reply, (err) => err instanceof RealtimeError && err.name === "RealtimeError"
    && err.code === "invalid" && err.message === "Too long." && err.field === "body" && err.data.max === 4000);
});

test("an error frame without its error rejects as internal; one naming no request is not an answer", async () => {
  const { requests } = table();
  const reply = requests.request("x", null, {}, { timeout: 1000 });
  assert.equal(requests.answer({ type: "error", request_id: null, error: { code: "invalid" } }), false);
  assert.equal(requests.answer({ type: "error", request_id: "c1" }), true);
  await assert.rejects(reply, (err) => err.code === "internal");
});

test("a request without a reply rejects with timeout, and a late reply is ignored", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests } = table();
  const reply = requests.request("chat.edit", "room:a", {}, { timeout: 500 });
  t.mock.timers.tick(500);
  await assert.rejects(reply, (err) => err.code === "timeout" && /chat\.edit within 500 ms/.test(err.message));
  requests.answer({ type: "reply", request_id: "c1", data: {} }); // nothing to settle: no throw
  assert.equal(requests.pending.size, 0);
  t.mock.timers.reset();
});

test("requests made while the socket is down are sent in order once it opens", () => {
  const state = table(false);
  state.requests.request("a", null, {}, { timeout: 1000 }).catch(() => {});
  state.requests.request("b", null, {}, { timeout: 1000 }).catch(() => {});
  assert.equal(state.sent.length, 0);
  state.open = true;
  state.requests.flush();
  assert.deepEqual(state.sent.map((f) => f.action), ["a", "b"]);
  assert.deepEqual(state.requests.queue, []);
});

test("a dropped socket fails requests in flight unless retry: true, which wait for the next open", async () => {
  const state = table();
  const plain = state.requests.request("chat.edit", "room:a", {}, { timeout: 1000 });
  const idempotent = state.requests.request("chat.send", "room:a", { client_id: "k" }, { timeout: 1000, retry: true });
  state.open = false;
  const unsent = state.requests.request("chat.read", "room:a", {}, { timeout: 1000 });
  state.requests.dropped();
  await assert.rejects(plain, (err) => err.code === "disconnected");
  assert.deepEqual(state.requests.queue, ["c3", "c2"]); // the unsent one was queued first
  state.open = true;
  state.requests.flush();
  assert.deepEqual(state.sent.map((f) => f.request_id), ["c1", "c2", "c3", "c2"]);
  state.requests.answer({ type: "reply", request_id: "c2", data: { ok: 1 } });
  state.requests.answer({ type: "reply", request_id: "c3", data: { ok: 2 } });
  assert.deepEqual(await idempotent, { ok: 1 });
  assert.deepEqual(await unsent, { ok: 2 });
});
