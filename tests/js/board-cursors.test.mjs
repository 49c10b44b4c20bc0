// Sending our cursor (static/app/board-cursors.js): writers only, throttled.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CURSOR_EVERY_MS, cursorSender } from "../../static/app/board-cursors.js";

function fakeClient(open = true) {
  const sent = [];
  return { sent, notify: (action, topic, data) => { if (open) sent.push([action, topic, data]); return open; } };
}

test("a read-only viewer never sends board.cursor (the server would answer each with an error)", () => {
  const client = fakeClient();
  let t = 0;
  const send = cursorSender(client, "board:x", false, { now: () => t });
  for (; t < 2000; t += 16) assert.equal(send([t, t]), false);
  assert.deepEqual(client.sent, []);
});

test("a writer sends rounded positions at most once per CURSOR_EVERY_MS", () => {
  const client = fakeClient();
  let t = 1000;
  const send = cursorSender(client, "board:x", true, { now: () => t });
  assert.equal(send([10.4, 20.6]), true);
  t += CURSOR_EVERY_MS - 1;
  assert.equal(send([11, 21]), false);
  t += 1;
  assert.equal(send([12, 22]), true);
  assert.deepEqual(client.sent, [["board.cursor", "board:x", { x: 10, y: 21 }], ["board.cursor", "board:x", { x: 12, y: 22 }]]);
});

test("a cursor not sent because the socket is down does not hold back the next", () => {
  const client = fakeClient(false);
  let t = 0;
  const send = cursorSender(client, "board:x", true, { now: () => t });
  assert.equal(send([1, 1]), false);
  client.notify = (...args) => { client.sent.push(args); return true; };
  t += 1;
  assert.equal(send([2, 2]), true);
});
