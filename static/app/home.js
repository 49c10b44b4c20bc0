// Home: rooms (unread counts, who is in each), feeds, and the create-room form.
// Lists come from the REST API; presence from the socket's `presence` action, which
// reads a room's list without joining it (so looking at home never marks you "in" a room).
import { api, pageResults } from "./api.js";
import { boot } from "./boot.js";
import { displayName, el } from "./dom.js";

const client = boot();
const roomList = document.getElementById("room-list");
const roomsStatus = document.getElementById("rooms-status");
const feedList = document.getElementById("feed-list");
const feedsStatus = document.getElementById("feeds-status");
// Presence and unread counts change without any event reaching this page: refresh.
const REFRESH_MS = 20_000;

function unreadOf(room) {
  return room.unread ?? room.unread_count ?? 0;
}

function roomItem(room) {
  const unread = unreadOf(room);
  const people = el("p", { class: "room-people muted", dataset: { slug: room.slug } }, "Nobody here right now");
  const title = el("a", { href: `/rooms/${encodeURIComponent(room.slug)}/`, class: "room-link" }, room.name || room.slug);
  const badges = [];
  if (room.is_private) badges.push(el("span", { class: "badge" }, "Private"));
  if (room.archived) badges.push(el("span", { class: "badge warn" }, "Archived"));
  const count = unread > 0
    ? el("span", { class: "unread", "aria-label": `${unread} unread` }, String(unread > 99 ? "99+" : unread))
    : null;
  return el("li", { class: "room-card", dataset: { slug: room.slug } },
    el("div", { class: "room-card-head" }, title, ...badges, count),
    room.description ? el("p", { class: "room-desc" }, room.description) : null,
    people);
}

function showPresence(node, presence) {
  node.replaceChildren();
  if (!presence || presence.length === 0) {
    node.textContent = "Nobody here right now";
    return;
  }
  const names = presence.map(displayName);
  node.append(el("span", { class: "dot-online", "aria-hidden": "true" }), `${names.length} here: ${names.join(", ")}`);
}

async function loadPresence(slug, node) {
  try {
    const { presence } = await client.request("presence", `room:${slug}`, {});
    showPresence(node, presence);
  } catch (err) {
    node.textContent = "";
  }
}

async function loadRooms() {
  try {
    const payload = await api("GET", "/api/rooms/");
    const { results } = pageResults(payload);
    roomList.replaceChildren(...results.map(roomItem));
    roomsStatus.textContent = results.length ? "" : "No rooms yet: create the first one.";
    roomsStatus.hidden = !!results.length;
    for (const node of roomList.querySelectorAll(".room-people")) {
      const room = results.find((r) => r.slug === node.dataset.slug);
      // The list may carry presence already; else ask the socket (without joining).
      if (room && Array.isArray(room.presence)) showPresence(node, room.presence);
      else loadPresence(node.dataset.slug, node);
    }
  } catch (err) {
    roomsStatus.hidden = false;
    roomsStatus.textContent = `Could not load rooms: ${err.message}`;
  }
}

async function loadFeeds() {
  try {
    const { results } = pageResults(await api("GET", "/api/feeds/"));
    feedList.replaceChildren(...results.map((feed) => el("li", {},
      el("a", { href: `/feeds/${encodeURIComponent(feed.slug)}/` }, feed.title || feed.slug),
      feed.description ? el("p", { class: "muted small" }, feed.description) : null)));
    feedsStatus.textContent = results.length ? "" : "No feeds yet.";
    feedsStatus.hidden = !!results.length;
  } catch (err) {
    feedsStatus.textContent = `Could not load feeds: ${err.message}`;
  }
}

// --- create a room -------------------------------------------------------------------
const form = document.getElementById("create-room");
const nameInput = document.getElementById("room-name");
const slugInput = document.getElementById("room-slug");
const formError = document.getElementById("create-error");
let slugEdited = false;

function slugify(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50);
}

nameInput.addEventListener("input", () => {
  if (!slugEdited) slugInput.value = slugify(nameInput.value);
});
slugInput.addEventListener("input", () => { slugEdited = slugInput.value !== ""; });

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  formError.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const body = {
    name: nameInput.value.trim(),
    slug: slugInput.value.trim(),
    description: document.getElementById("room-description").value.trim(),
    is_private: document.getElementById("room-private").checked,
  };
  if (!body.name) {
    formError.textContent = "Give the room a name.";
    nameInput.setAttribute("aria-invalid", "true");
    nameInput.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const room = await api("POST", "/api/rooms/", body);
    location.assign(`/rooms/${encodeURIComponent(room.slug || body.slug)}/`);
  } catch (err) {
    formError.textContent = err.message;
    const field = err.field && form.querySelector(`[name="${CSS.escape(err.field)}"]`);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  } finally {
    button.disabled = false;
  }
});

loadRooms();
loadFeeds();
setInterval(() => { if (!document.hidden) loadRooms(); }, REFRESH_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) loadRooms(); });
