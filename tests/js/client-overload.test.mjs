// static/realtime/requests.js: an `overloaded` answer is retried after retry_after, with the
// same frame (so the same client_id: the server answers a replay with the original).
import assert from "node:assert/strict";
import { test } from "node:test";

import { overloadDelay as exported } from "../../static/realtime/client.js";
import { overloadDelay, RequestTable } from "../../static/realtime/requests.js";

test("the wait is retry_after plus at most half again of jitter", () => {
  assert.equal(overloadDelay(1, 0), 1000);
  assert.equal(overloadDelay(1, 0.999), 1500);
  assert.equal(overloadDelay(2.5, 0.5), 3125);
  assert.equal(overloadDelay(undefined, 0), 1000); // no retry_after: a second
  assert.equal(overloadDelay(-3, 0), 1000);
  assert.equal(exported, overloadDelay); // client.js still exports it
});

function table() {
  // A socket that records what is sent.
  const sent = [];
  const requests = new RequestTable({ send: (frame) => sent.push(structuredClone(frame)), isOpen: () => true });
  return { requests, sent };
}

test("an overloaded retry: true request is resent unchanged, then settles with the reply", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests, sent } = table();
  const reply = requests.request("chat.send", "room:lobby", { body: "hi", client_id: "c-1" },
    { timeout: 10_000, retry: true });
  assert.equal(sent.length, 1);
  const id = sent[0].request_id;
  assert.equal(requests.answer({ type: "error", request_id: id, error: { code: "overloaded", retry_after: 1 } }), true);
  t.mock.timers.tick(999);
  assert.equal(sent.length, 1); // not before retry_after
  t.mock.timers.tick(600);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], sent[0]); // same request_id, same client_id
  requests.answer({ type: "reply", request_id: id, data: { message: { id: 5 } } });
  assert.deepEqual(await reply, { message: { id: 5 } });
  t.mock.timers.reset();
});

test("an overloaded request without retry: true is rejected with the error", async () => {
  const { requests, sent } = table();
  const reply = requests.request("chat.edit", "room:lobby", { id: 1, body: "x" }, { timeout: 50 });
  const id = sent[0].request_id;
  assert.equal(requests.retryOverloaded(id, { code: "overloaded", retry_after: 1 }), false);
  requests.answer({ type: "error", request_id: id, error: { code: "overloaded", retry_after: 1, message: "busy" } });
  await assert.rejects(reply, (err) => err.code === "overloaded" && err.retryAfter === 1);
});

test("an overloaded retry that comes due while the socket is down waits for it, once", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let open = true;
  const sent = [];
  const requests = new RequestTable({ send: (frame) => sent.push(frame), isOpen: () => open, random: () => 0 });
  const reply = requests.request("chat.send", "room:lobby", { client_id: "c-2" }, { timeout: 10_000, retry: true });
  const id = sent[0].request_id;
  requests.retryOverloaded(id, { code: "overloaded", retry_after: 1 });
  open = false;
  t.mock.timers.tick(1000);
  assert.deepEqual(requests.queue, [id]);
  assert.equal(sent.length, 1);
  open = true;
  requests.flush();
  assert.equal(sent.length, 2);
  requests.settle(id, {}, null);
  assert.deepEqual(await reply, {});
  t.mock.timers.reset();
});
