// static/app/chat-typing.js: who the typing line lists, for how long, and when they stop.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Typists, TYPING_SHOWN_MS } from "../../static/app/chat-typing.js";

const me = { id: 1, username: "me" };

test("a typing user is listed until TYPING_SHOWN_MS after their last typing event", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const lines = [];
  const typists = new Typists(me, (text) => lines.push(text));
  typists.typing({ id: 2, username: "ann" });
  t.mock.timers.tick(TYPING_SHOWN_MS - 1);
  typists.typing({ id: 2, username: "ann" }); // typing again: shown for another period
  t.mock.timers.tick(TYPING_SHOWN_MS - 1);
  assert.equal(typists.text, "ann is typing…");
  t.mock.timers.tick(1);
  assert.equal(typists.text, "");
  assert.deepEqual(lines, ["ann is typing…", "ann is typing…", ""]);
  t.mock.timers.reset();
});

test("a message from a typing user ends their entry at once; the reader is never listed", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const lines = [];
  const typists = new Typists(me, (text) => lines.push(text));
  typists.typing(me);
  typists.typing(null);
  assert.deepEqual(lines, []);
  typists.typing({ id: 2, username: "ann" });
  typists.typing({ id: 3, username: "bob" });
  typists.sent({ id: 2, username: "ann" });
  typists.sent({ id: 4, username: "cy" }); // not typing: no change
  typists.sent(null);
  assert.deepEqual(lines, ["ann is typing…", "ann, bob are typing…", "bob is typing…"]);
  t.mock.timers.tick(TYPING_SHOWN_MS);
  assert.equal(lines.at(-1), "");
  t.mock.timers.reset();
});
