// A room's chat: history with "load earlier", live messages, send with Enter (each send
// has a client_id so a retry after a reconnect never duplicates), edit/delete own,
// typing indicator, unread marker.  Text only ever goes in as text nodes.
//
// This module keeps the message list (order, marker, scrolling, read position, history)
// and routes the topic's events; chat-composer.js sends, chat-edit.js edits and deletes,
// chat-render.js draws a message, chat-typing.js and chat-text.js hold the pure rules.
import { api } from "./api.js";
import { startComposer } from "./chat-composer.js";
import { removeMessage, startEdit } from "./chat-edit.js";
import { renderMessage } from "./chat-render.js";
import { firstUnreadId, isMine } from "./chat-text.js";
import { Typists } from "./chat-typing.js";
import { el } from "./dom.js";

// Messages per history page: a screenful or two, one quick query.
const PAGE = 50;
// Closer than this to the bottom counts as "at the bottom": new messages keep it in view
// and mark them read.
const NEAR_BOTTOM_PX = 60;

export function startChat(client, page, { onPresence } = {}) {
  const me = page.user;
  const topic = page.topics.chat;
  const scroller = document.getElementById("chat-scroll");
  const list = document.getElementById("messages");
  const loadEarlier = document.getElementById("load-earlier");
  const jump = document.getElementById("jump-latest");
  const typingLine = document.getElementById("typing");
  const form = document.getElementById("composer");
  const input = document.getElementById("message-input");
  const formError = document.getElementById("composer-error");

  const messages = new Map(); // id -> message
  const nodes = new Map(); // id -> <li>
  const pending = new Map(); // client_id -> {node, body}
  const typists = new Typists(me, (text) => { typingLine.textContent = text; });
  let oldestId = null;
  const lastReadId = page.last_read_id; // null: not a member yet
  let markerPlaced = false;
  let readSent = lastReadId || 0;
  // A read position is kept for members only (the server never makes a viewer a member):
  // a public room's viewer sends no chat.read until posting has made them one.
  let isMember = lastReadId !== null && lastReadId !== undefined;

  // The parts the other chat modules work on.
  const chat = { client, topic, page, list, messages, nodes, pending, upsert, toBottom, showError,
    render: (msg) => renderMessage(msg, page, { onEdit: (id) => startEdit(chat, id), onDelete: (id) => removeMessage(chat, id) }),
    posted: () => { if (!isMember && !page.room.is_private) { isMember = true; markRead(); } } }; // posting joined

  // --- scrolling -----------------------------------------------------------------
  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }
  scroller.addEventListener("scroll", () => {
    if (nearBottom()) {
      jump.hidden = true;
      markRead();
    }
  });
  jump.addEventListener("click", () => { toBottom(); jump.hidden = true; input && input.focus(); });

  // --- the list ----------------------------------------------------------------------
  /** Inserts or replaces a message, keeping the list in id order. */
  function upsert(msg) {
    const stick = nearBottom();
    const old = nodes.get(msg.id);
    messages.set(msg.id, msg);
    const node = chat.render(msg);
    nodes.set(msg.id, node);
    if (msg.client_id && pending.has(msg.client_id) && isMine(msg, me)) {
      pending.get(msg.client_id).node.remove();
      pending.delete(msg.client_id);
    }
    if (old) {
      if (old.classList.contains("editing")) return; // keep the open editor; refreshed on close
      old.replaceWith(node);
      return;
    }
    let before = null;
    for (const li of list.querySelectorAll("li.msg[data-id]")) {
      if (Number(li.dataset.id) > msg.id) { before = li; break; }
    }
    if (before) list.insertBefore(node, before);
    else list.insertBefore(node, list.querySelector("li.pending"));
    if (oldestId === null || msg.id < oldestId) oldestId = msg.id;
    placeMarker();
    if (stick || isMine(msg, me)) toBottom();
    else if (!before) jump.hidden = false;
  }

  function placeMarker() {
    if (markerPlaced || lastReadId === null || lastReadId === undefined) return;
    const first = firstUnreadId(messages.values(), lastReadId, me);
    if (first === null) return;
    markerPlaced = true;
    nodes.get(first).before(el("li", { class: "unread-marker", role: "separator", "aria-label": "New messages" },
      el("span", {}, "New messages")));
  }

  function markRead() {
    if (!me || !isMember || document.hidden) return;
    const newest = Math.max(0, ...messages.keys());
    if (newest > readSent && nearBottom()) {
      readSent = newest;
      client.request("chat.read", topic, { message_id: newest })
        .then((reply) => { if (reply && reply.last_read_message_id === null) isMember = false; })
        .catch(() => {});
    }
  }
  document.addEventListener("visibilitychange", markRead);

  // While the tab is in the background, its title counts the messages that arrived.
  const baseTitle = document.title;
  let unseenInTitle = 0;
  function countInTitle(msg) {
    if (!document.hidden || isMine(msg, me)) return;
    unseenInTitle += 1;
    document.title = `(${unseenInTitle}) ${baseTitle}`;
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && unseenInTitle) {
      unseenInTitle = 0;
      document.title = baseTitle;
    }
  });

  // --- history -----------------------------------------------------------------------
  function showPages(hasMore) {
    loadEarlier.hidden = !hasMore;
  }

  async function loadLatest() {
    const reply = await client.request("chat.history", topic, { limit: PAGE });
    for (const msg of reply.messages) upsert(msg);
    showPages(reply.has_more);
    toBottom();
    markRead();
  }

  async function loadOlder() {
    if (oldestId === null) return;
    loadEarlier.disabled = true;
    const height = scroller.scrollHeight;
    try {
      const reply = await client.request("chat.history", topic, { before: oldestId, limit: PAGE });
      for (const msg of reply.messages) upsert(msg);
      showPages(reply.has_more);
      scroller.scrollTop += scroller.scrollHeight - height; // keep what the reader was looking at
    } finally {
      loadEarlier.disabled = false;
    }
  }
  loadEarlier.addEventListener("click", loadOlder);

  /** After a gap the server could not replay: start over from the latest page. */
  async function resync() {
    messages.clear();
    nodes.clear();
    oldestId = null;
    markerPlaced = true; // the reader has been here; no marker after a resync
    list.querySelectorAll("li.msg[data-id], li.unread-marker").forEach((n) => n.remove());
    // Outside the recovery window: refetch the state over REST (newest first, one page),
    // then live events continue from the subscribe reply's seq.
    const latest = await api("GET", `/api/rooms/${encodeURIComponent(topic.slice("room:".length))}/messages/`);
    for (const msg of [...(latest.results || [])].reverse()) upsert(msg);
    showPages(Boolean(latest.next));
    toBottom();
    markRead();
  }

  // --- events --------------------------------------------------------------------------
  function onEvent(event, data) {
    if (event === "chat.message" || event === "chat.edited" || event === "chat.deleted") {
      if (data.message) {
        if (event === "chat.message" && !messages.has(data.message.id)) countInTitle(data.message);
        upsert(data.message);
        if (event === "chat.message") typists.sent(data.message.author);
        markRead();
      }
    } else if (event === "chat.typing") {
      typists.typing(data.user);
    } else if (event === "presence.join" || event === "presence.leave" || event === "presence.diff") {
      if (onPresence) onPresence(sub.presence, sub.presenceCount);
    } else if (event === "room.updated" && data.room) {
      const title = document.querySelector(".room-head h1");
      if (title && title.firstChild) title.firstChild.textContent = data.room.name;
      if (data.room.archived && form) {
        form.replaceWith(el("p", { class: "muted composer-off" }, "This room was archived: it is read-only now."));
      }
    } else if (event === "subscription.revoked") {
      typingLine.textContent = "You no longer have access to this room.";
      if (form) form.hidden = true;
    }
  }

  const sub = client.subscribe(topic, onEvent, {
    onReply: () => { if (onPresence) onPresence(sub.presence, sub.presenceCount); },
    onResync: () => resync().catch(showError),
    onError: (err) => showError(err),
  });
  sub.ready.then(() => loadLatest()).catch(showError);

  function showError(err) {
    const target = formError || typingLine;
    target.textContent = err.message || String(err);
  }

  if (form) startComposer(chat, form, input, formError);
  return { sub };
}
