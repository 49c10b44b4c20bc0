// The chat's pure rules, without the DOM or the socket: whose a message is, where the
// "New messages" marker goes, what the typing line says, initials for an avatar, and which
// bodies the composer refuses before sending.  Tested by tests/js/chat-text.test.mjs.
import { displayName } from "./dom.js";

// The server's limit on a message body (chat's serializer and chat.send refuse longer ones):
// checked before sending so the writer is told at once.
export const MAX_BODY = 4000;

/** Truthy when `me` (the page's user, or null) wrote msg. */
export function isMine(msg, me) {
  return me && msg.author && msg.author.id === me.id;
}

/** The id of the first message after lastReadId that someone else wrote (where the
 *  "New messages" marker goes), or null when there is none. */
export function firstUnreadId(messages, lastReadId, me) {
  let first = null;
  for (const msg of messages) {
    if (msg.id > lastReadId && !isMine(msg, me) && (first === null || msg.id < first)) first = msg.id;
  }
  return first;
}

/** The typing line for the names of the people typing now ("" for nobody). */
export function typingText(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${names.join(", ")} are typing…`;
  return "Several people are typing…";
}

/** Up to two capital initials of the user's display name ("?" when it has none). */
export function initials(user) {
  const name = displayName(user).trim();
  const parts = name.split(/\s+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
}

/** Why the composer refuses a (trimmed) body, or null when it may be sent. */
export function bodyError(body) {
  if (body.length > MAX_BODY) return "Messages are at most 4,000 characters.";
  return null;
}
