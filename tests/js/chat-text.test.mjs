// static/app/chat-text.js: whose a message is, where the unread marker goes, the typing
// line, avatar initials, and the composer's length check.
import assert from "node:assert/strict";
import { test } from "node:test";

import { bodyError, firstUnreadId, initials, isMine, MAX_BODY, typingText } from "../../static/app/chat-text.js";

const ann = { id: 1, username: "ann", display_name: "Ann Lee" };
const bob = { id: 2, username: "bob", display_name: "" };

test("a message is mine only when a signed-in reader wrote it", () => {
  assert.ok(isMine({ author: ann }, ann));
  assert.ok(!isMine({ author: bob }, ann));
  assert.ok(!isMine({ author: ann }, null)); // an anonymous reader owns nothing
  assert.ok(!isMine({ author: null }, ann)); // a deleted account's message
});

test("the marker goes before the first message after the read position that someone else wrote", () => {
  const msgs = [{ id: 9, author: bob }, { id: 4, author: bob }, { id: 6, author: ann }, { id: 7, author: bob }];
  assert.equal(firstUnreadId(msgs, 5, ann), 7); // 6 is Ann's own
  assert.equal(firstUnreadId(msgs, 3, ann), 4);
  assert.equal(firstUnreadId(msgs, 9, ann), null); // all read
  assert.equal(firstUnreadId([], 0, ann), null);
});

test("the typing line names up to three people, then says several", () => {
  assert.equal(typingText([]), "");
  assert.equal(typingText(["Ann"]), "Ann is typing…");
  assert.equal(typingText(["Ann", "bob", "Cy"]), "Ann, bob, Cy are typing…");
  assert.equal(typingText(["a", "b", "c", "d"]), "Several people are typing…");
});

test("initials are the first letters of up to two words of the display name", () => {
  assert.equal(initials(ann), "AL");
  assert.equal(initials(bob), "B"); // no display name: the username
  assert.equal(initials({ id: 3, display_name: "  zoë   de la cruz " }), "ZD");
  assert.equal(initials(null), "S"); // "someone"
});

test("the composer refuses a body over the server's limit and nothing shorter", () => {
  assert.equal(bodyError("x".repeat(MAX_BODY)), null);
  assert.equal(bodyError("x".repeat(MAX_BODY + 1)), "Messages are at most 4,000 characters.");
});
