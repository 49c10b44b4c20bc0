// static/realtime/client.js: an `overloaded` answer is retried after retry_after, with the
// same frame (so the same client_id: the server answers a replay with the original).
import assert from "node:assert/strict";
import { test } from "node:test";

import { overloadDelay, RealtimeClient } from "../../static/realtime/client.js";

test("the wait is retry_after plus at most half again of jitter", () => {
  assert.equal(overloadDelay(1, 0), 1000);
  assert.equal(overloadDelay(1, 0.999), 1500);
  assert.equal(overloadDelay(2.5, 0.5), 3125);
  assert.equal(overloadDelay(undefined, 0), 1000); // no retry_after: a second
  assert.equal(overloadDelay(-3, 0), 1000);
});

function fakeClient() {
  // The request machinery alone: a socket that records what is sent.
  const client = Object.create(RealtimeClient.prototype);
  client.pending = new Map();
  client.queue = [];
  client.nextId = 1;
  client.options = { requestTimeout: 10_000 };
  client.sent = [];
  client.isOpen = () => true;
  client.ws = { send: (text) => client.sent.push(JSON.parse(text)) };
  return client;
}

test("an overloaded retry: true request is resent unchanged, then settles with the reply", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const client = fakeClient();
  const reply = client.request("chat.send", "room:lobby", { body: "hi", client_id: "c-1" }, { retry: true });
  assert.equal(client.sent.length, 1);
  const id = client.sent[0].request_id;
  assert.equal(client._retryOverloaded(id, { code: "overloaded", retry_after: 1 }), true);
  t.mock.timers.tick(999);
  assert.equal(client.sent.length, 1); // not before retry_after
  t.mock.timers.tick(600);
  assert.equal(client.sent.length, 2);
  assert.deepEqual(client.sent[1], client.sent[0]); // same request_id, same client_id
  client._settle(id, { message: { id: 5 } }, null);
  assert.deepEqual(await reply, { message: { id: 5 } });
  t.mock.timers.reset();
});

test("an overloaded request without retry: true is rejected with the error", async () => {
  const client = fakeClient();
  const reply = client.request("chat.edit", "room:lobby", { id: 1, body: "x" }, { timeout: 50 });
  const id = client.sent[0].request_id;
  assert.equal(client._retryOverloaded(id, { code: "overloaded", retry_after: 1 }), false);
  client._settle(id, null, { code: "overloaded", retry_after: 1, message: "busy" });
  await assert.rejects(reply, (err) => err.code === "overloaded" && err.retryAfter === 1);
});
