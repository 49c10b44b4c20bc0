// How a chat message looks: its list item (avatar, author, time, body or tombstone, and the
// actions this reader may take on it) and the "Sending…" item of a message not confirmed
// yet.  User text only ever goes in as text nodes (dom.el).
import { initials, isMine } from "./chat-text.js";
import { colourFor, paint } from "./colour.js";
import { displayName, el, shortTime } from "./dom.js";

function avatar(user) {
  return paint(el("div", { class: "avatar", "aria-hidden": "true" }, initials(user)), "background", colourFor(user));
}

/** The <li> of msg for the page's reader: page gives user, can_write and is_owner;
 *  onEdit(id) / onDelete(id) are called by its buttons. */
export function renderMessage(msg, page, { onEdit, onDelete }) {
  const me = page.user;
  const mine = isMine(msg, me);
  const time = el("time", { datetime: msg.created_at, title: new Date(msg.created_at).toLocaleString() },
    shortTime(msg.created_at));
  const head = el("div", { class: "msg-head" },
    el("span", { class: "msg-author" }, displayName(msg.author)), time,
    msg.edited_at && !msg.deleted ? el("span", { class: "msg-edited" }, "(edited)") : null);
  const body = msg.deleted
    ? el("p", { class: "msg-body tombstone" }, "This message was deleted.")
    : el("p", { class: "msg-body" }, msg.body);
  const actions = [];
  if (!msg.deleted && me && page.can_write) {
    if (mine) {
      actions.push(el("button", { type: "button", class: "msg-action", "aria-label": "Edit message",
        onclick: () => onEdit(msg.id) }, "Edit"));
    }
    if (mine || page.is_owner) {
      actions.push(el("button", { type: "button", class: "msg-action", "aria-label": "Delete message",
        onclick: () => onDelete(msg.id) }, "Delete"));
    }
  }
  return el("li", { class: `msg${mine ? " mine" : ""}${msg.deleted ? " deleted" : ""}`, dataset: { id: msg.id } },
    avatar(msg.author),
    el("div", { class: "msg-main" }, head, body, actions.length ? el("div", { class: "msg-actions" }, actions) : null));
}

/** The item of a message `me` is sending (its state line says "Sending…"). */
export function renderPending(me, body, clientId) {
  return el("li", { class: "msg mine pending", dataset: { clientId } },
    avatar(me),
    el("div", { class: "msg-main" },
      el("div", { class: "msg-head" }, el("span", { class: "msg-author" }, displayName(me)),
        el("span", { class: "msg-state" }, "Sending…")),
      el("p", { class: "msg-body" }, body)));
}
