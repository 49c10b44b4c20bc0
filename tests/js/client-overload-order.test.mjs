// static/realtime/requests.js: while a retry: true request waits to be resent after
// `overloaded`, the later retry: true requests of its topic are held and follow it in the
// order they were made (issue 18 follow-up: listeners saw a user's messages out of order).
import assert from "node:assert/strict";
import { test } from "node:test";

import { RequestTable } from "../../static/realtime/requests.js";

const BUSY = { code: "overloaded", retry_after: 1 };

function table({ random = () => 0 } = {}) {
  // A socket that records what is sent; open unless the test closes it.
  const sent = [];
  const socket = { open: true };
  const requests = new RequestTable({ send: (frame) => sent.push(frame), isOpen: () => socket.open, random });
  const bodies = () => sent.map((frame) => frame.data.body);
  return { requests, sent, socket, bodies };
}

function send(requests, body, { topic = "room:lobby", retry = true, timeout = 10_000 } = {}) {
  const reply = requests.request("chat.send", topic, { body, client_id: body }, { timeout, retry });
  reply.catch(() => {}); // each test awaits the rejections it cares about
  return reply;
}

function answer(requests, sent, body, error = null) {
  const frame = sent.findLast((f) => f.data.body === body);
  requests.answer(error ? { type: "error", request_id: frame.request_id, error }
    : { type: "reply", request_id: frame.request_id, data: { body } });
}

test("later sends on the topic wait for the refused one's resend and follow it one by one", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests, sent, bodies } = table();
  const replies = ["a", "b", "c"].map((body, i) => (i === 0 ? send(requests, body) : null));
  answer(requests, sent, "a", BUSY);
  replies[1] = send(requests, "b");
  replies[2] = send(requests, "c");
  assert.deepEqual(bodies(), ["a"]); // b and c are held, not sent
  t.mock.timers.tick(1000);
  assert.deepEqual(bodies(), ["a", "a"]); // a again; b waits for its answer
  answer(requests, sent, "a");
  assert.deepEqual(bodies(), ["a", "a", "b"]);
  answer(requests, sent, "b");
  assert.deepEqual(bodies(), ["a", "a", "b", "c"]);
  answer(requests, sent, "c");
  assert.deepEqual(await Promise.all(replies), [{ body: "a" }, { body: "b" }, { body: "c" }]);
  send(requests, "d"); // the line is gone: sent at once
  assert.deepEqual(bodies(), ["a", "a", "b", "c", "d"]);
  t.mock.timers.reset();
});

test("other topics and requests without retry are not held", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests, sent, bodies } = table();
  send(requests, "a");
  answer(requests, sent, "a", BUSY);
  send(requests, "other", { topic: "room:other" });
  send(requests, "plain", { retry: false });
  assert.deepEqual(bodies(), ["a", "other", "plain"]);
  t.mock.timers.reset();
});

test("sends refused together are resent in the order they were made, whatever their jitter", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const jitter = [0.9, 0]; // a waits 1,450 ms, b 1,000 ms
  const { requests, sent, bodies } = table({ random: () => jitter.shift() ?? 0 });
  send(requests, "a");
  send(requests, "b");
  answer(requests, sent, "a", BUSY);
  answer(requests, sent, "b", BUSY);
  send(requests, "c");
  t.mock.timers.tick(1000);
  assert.deepEqual(bodies(), ["a", "b"]); // b is due but a is older
  t.mock.timers.tick(450);
  assert.deepEqual(bodies(), ["a", "b", "a"]);
  answer(requests, sent, "a");
  assert.deepEqual(bodies(), ["a", "b", "a", "b"]);
  answer(requests, sent, "b", BUSY); // refused again: c still waits
  t.mock.timers.tick(1000);
  assert.deepEqual(bodies(), ["a", "b", "a", "b", "b"]);
  answer(requests, sent, "b");
  assert.deepEqual(bodies(), ["a", "b", "a", "b", "b", "c"]);
  t.mock.timers.reset();
});

test("a held request keeps its own timeout, and a refused one that times out frees the line", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests, sent, bodies } = table();
  const a = send(requests, "a", { timeout: 5_000 });
  answer(requests, sent, "a", BUSY);
  const b = send(requests, "b", { timeout: 500 });
  const c = send(requests, "c");
  t.mock.timers.tick(500);
  await assert.rejects(b, (err) => err.code === "timeout");
  t.mock.timers.tick(500);
  answer(requests, sent, "a", BUSY); // the resend is refused too; the next gets no answer
  t.mock.timers.tick(4_000);
  await assert.rejects(a, (err) => err.code === "timeout");
  assert.deepEqual(bodies(), ["a", "a", "a", "c"]); // b never went out; c follows a's end
  answer(requests, sent, "c");
  assert.deepEqual(await c, { body: "c" });
  t.mock.timers.reset();
});

test("a resend lost with the socket goes out again first, the held ones still behind it", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { requests, sent, socket, bodies } = table();
  send(requests, "a");
  answer(requests, sent, "a", BUSY);
  send(requests, "b");
  t.mock.timers.tick(1000);
  socket.open = false;
  requests.dropped();
  send(requests, "c");
  socket.open = true;
  requests.flush();
  assert.deepEqual(bodies(), ["a", "a", "a"]);
  answer(requests, sent, "a");
  answer(requests, sent, "b");
  assert.deepEqual(bodies(), ["a", "a", "a", "b", "c"]);
  t.mock.timers.reset();
});
