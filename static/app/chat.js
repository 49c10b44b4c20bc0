// A room's chat: history with "load earlier", live messages, send with Enter (each send
// has a client_id so a retry after a reconnect never duplicates), edit/delete own,
// typing indicator, unread marker.  Text only ever goes in as text nodes.
import { api } from "./api.js";
import { colourFor, paint } from "./colour.js";
import { displayName, el, shortTime, uuid } from "./dom.js";

const PAGE = 50;
// chat.typing is forwarded at most once per 2 s per user; send no more often than that.
const TYPING_EVERY_MS = 2000;
// Show "X is typing" this long after their last typing event.
const TYPING_SHOWN_MS = 4000;
// chat.send may wait for a reconnect: give it longer than an ordinary request.
const SEND_TIMEOUT_MS = 30_000;

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
  const typists = new Map(); // user id -> {name, timer}
  let oldestId = null;
  let hasMore = false;
  let lastReadId = page.last_read_id; // null: not a member yet
  let markerPlaced = false;
  let lastTypingSent = 0;
  let readSent = lastReadId || 0;
  // A read position is kept for members only (the server never makes a viewer a member):
  // a public room's viewer sends no chat.read until posting has made them one.
  let isMember = lastReadId !== null && lastReadId !== undefined;

  // --- scrolling -----------------------------------------------------------------
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
  const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; };
  scroller.addEventListener("scroll", () => {
    if (nearBottom()) {
      jump.hidden = true;
      markRead();
    }
  });
  jump.addEventListener("click", () => { toBottom(); jump.hidden = true; input && input.focus(); });

  // --- rendering ---------------------------------------------------------------------
  function isMine(msg) {
    return me && msg.author && msg.author.id === me.id;
  }

  function render(msg) {
    const mine = isMine(msg);
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
          onclick: () => startEdit(msg.id) }, "Edit"));
      }
      if (mine || page.is_owner) {
        actions.push(el("button", { type: "button", class: "msg-action", "aria-label": "Delete message",
          onclick: () => remove(msg.id) }, "Delete"));
      }
    }
    return el("li", { class: `msg${mine ? " mine" : ""}${msg.deleted ? " deleted" : ""}`, dataset: { id: msg.id } },
      paint(el("div", { class: "avatar", "aria-hidden": "true" }, initials(msg.author)), "background", colourFor(msg.author)),
      el("div", { class: "msg-main" }, head, body, actions.length ? el("div", { class: "msg-actions" }, actions) : null));
  }

  /** Inserts or replaces a message, keeping the list in id order. */
  function upsert(msg) {
    const stick = nearBottom();
    const old = nodes.get(msg.id);
    messages.set(msg.id, msg);
    const node = render(msg);
    nodes.set(msg.id, node);
    if (msg.client_id && pending.has(msg.client_id) && isMine(msg)) {
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
    if (stick || isMine(msg)) toBottom();
    else if (!before) jump.hidden = false;
  }

  function placeMarker() {
    if (markerPlaced || lastReadId === null || lastReadId === undefined) return;
    const first = [...messages.values()].filter((m) => m.id > lastReadId && !isMine(m))
      .sort((a, b) => a.id - b.id)[0];
    if (!first) return;
    markerPlaced = true;
    nodes.get(first.id).before(el("li", { class: "unread-marker", role: "separator", "aria-label": "New messages" },
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
    if (!document.hidden || isMine(msg)) return;
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
  async function loadLatest() {
    const reply = await client.request("chat.history", topic, { limit: PAGE });
    for (const msg of reply.messages) upsert(msg);
    hasMore = reply.has_more;
    loadEarlier.hidden = !hasMore;
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
      hasMore = reply.has_more;
      loadEarlier.hidden = !hasMore;
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
    const page = await api("GET", `/api/rooms/${encodeURIComponent(topic.slice("room:".length))}/messages/`);
    for (const msg of [...(page.results || [])].reverse()) upsert(msg);
    hasMore = Boolean(page.next);
    loadEarlier.hidden = !hasMore;
    toBottom();
    markRead();
  }

  // --- typing --------------------------------------------------------------------------
  function renderTyping() {
    const names = [...typists.values()].map((t) => t.name);
    if (names.length === 0) typingLine.textContent = "";
    else if (names.length === 1) typingLine.textContent = `${names[0]} is typing…`;
    else if (names.length <= 3) typingLine.textContent = `${names.join(", ")} are typing…`;
    else typingLine.textContent = "Several people are typing…";
  }

  function someoneTyping(user) {
    if (!user || (me && user.id === me.id)) return;
    const entry = typists.get(user.id);
    if (entry) clearTimeout(entry.timer);
    const timer = setTimeout(() => { typists.delete(user.id); renderTyping(); }, TYPING_SHOWN_MS);
    typists.set(user.id, { name: displayName(user), timer });
    renderTyping();
  }

  // --- events --------------------------------------------------------------------------
  function onEvent(event, data) {
    if (event === "chat.message" || event === "chat.edited" || event === "chat.deleted") {
      if (data.message) {
        if (event === "chat.message" && !messages.has(data.message.id)) countInTitle(data.message);
        upsert(data.message);
        const entry = data.message.author && typists.get(data.message.author.id);
        if (event === "chat.message" && entry) {
          clearTimeout(entry.timer);
          typists.delete(data.message.author.id);
          renderTyping();
        }
        markRead();
      }
    } else if (event === "chat.typing") {
      someoneTyping(data.user);
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

  // --- sending ---------------------------------------------------------------------------
  async function send(body, clientId = uuid(), existing = null) {
    const node = existing || el("li", { class: "msg mine pending", dataset: { clientId } },
      paint(el("div", { class: "avatar", "aria-hidden": "true" }, initials(me)), "background", colourFor(me)),
      el("div", { class: "msg-main" },
        el("div", { class: "msg-head" }, el("span", { class: "msg-author" }, displayName(me)),
          el("span", { class: "msg-state" }, "Sending…")),
        el("p", { class: "msg-body" }, body)));
    if (!existing) {
      pending.set(clientId, { node, body });
      list.append(node);
      toBottom();
    } else {
      node.classList.remove("failed");
      node.querySelector(".msg-state").replaceChildren("Sending…");
    }
    try {
      const reply = await client.request("chat.send", topic, { body, client_id: clientId },
        { retry: true, timeout: SEND_TIMEOUT_MS });
      upsert(reply.message);
      if (!isMember && !page.room.is_private) { isMember = true; markRead(); } // posting joined
    } catch (err) {
      if (!pending.has(clientId)) return; // the event already delivered it
      node.classList.add("failed");
      node.querySelector(".msg-state").replaceChildren(
        `Not sent: ${err.message} `,
        el("button", { type: "button", class: "msg-action", onclick: () => send(body, clientId, node) }, "Retry"));
    }
  }

  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = input.value.trim();
      formError.textContent = "";
      if (!body) return;
      if (body.length > 4000) {
        formError.textContent = "Messages are at most 4,000 characters.";
        return;
      }
      input.value = "";
      autosize();
      send(body);
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      autosize();
      const now = Date.now();
      if (input.value.trim() && now - lastTypingSent > TYPING_EVERY_MS) {
        if (client.notify("chat.typing", topic, {})) lastTypingSent = now;
      }
    });
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  // --- edit / delete -------------------------------------------------------------------
  function startEdit(id) {
    const msg = messages.get(id);
    const node = nodes.get(id);
    if (!msg || !node) return;
    node.classList.add("editing");
    const area = el("textarea", { class: "edit-input", "aria-label": "Edited text", rows: 2, maxlength: 4000 });
    area.value = msg.body;
    const error = el("p", { class: "error", role: "alert" });
    const finish = () => {
      node.classList.remove("editing");
      const fresh = render(messages.get(id));
      node.replaceWith(fresh);
      nodes.set(id, fresh);
      fresh.querySelector("button")?.focus();
    };
    const save = async () => {
      const body = area.value.trim();
      if (!body || body === msg.body) return finish();
      try {
        const reply = await client.request("chat.edit", topic, { id, body });
        if (reply.message) messages.set(id, reply.message);
        finish();
      } catch (err) {
        error.textContent = err.message;
      }
    };
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); save(); }
      if (ev.key === "Escape") { ev.preventDefault(); finish(); }
    });
    const editor = el("div", { class: "msg-editor" }, area,
      el("div", { class: "row" },
        el("button", { type: "button", onclick: save }, "Save"),
        el("button", { type: "button", onclick: finish }, "Cancel")), error);
    node.querySelector(".msg-body").replaceWith(editor);
    node.querySelector(".msg-actions")?.remove();
    area.focus();
  }

  async function remove(id) {
    if (!window.confirm("Delete this message?")) return;
    try {
      const reply = await client.request("chat.delete", topic, { id });
      if (reply.message) upsert(reply.message);
    } catch (err) {
      showError(err);
    }
  }

  return { sub };
}

function initials(user) {
  const name = displayName(user).trim();
  const parts = name.split(/\s+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
}
