// A live feed: items arrive at the top as they are published (feed.item / feed.items),
// with an "N new" counter when the reader has scrolled away; older items load on scroll
// from the REST API's cursor pages.  Item text is shown as text; links only for http(s).
import { api, pageResults } from "./api.js";
import { boot } from "./boot.js";
import { el, pageData, shortTime } from "./dom.js";
import { Pager } from "./feed-pager.js";

const page = pageData("page-data");
const client = boot();
const list = document.getElementById("feed-items");
const status = document.getElementById("feed-status");
const newButton = document.getElementById("new-items");
const moreBox = document.getElementById("feed-more");
const olderButton = document.getElementById("load-older");
// The reader counts as "at the top" within this many pixels.
const TOP_SLACK = 120;

const items = new Map(); // id -> item
const nodes = new Map(); // id -> <li>
const pager = new Pager(page.items_url, async (url) => pageResults(await api("GET", url)));
let unseen = 0;

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function sortKey(item) {
  return Date.parse(item.occurred_at || item.updated_at || 0) || 0;
}

function render(item) {
  const href = item.url ? safeUrl(item.url) : null;
  const title = href
    ? el("a", { href, rel: "noopener noreferrer", target: "_blank" }, item.title || item.external_id)
    : el("span", {}, item.title || item.external_id);
  return el("li", { class: "feed-item", dataset: { id: item.id } },
    el("div", { class: "feed-item-head" },
      item.kind ? el("span", { class: "kind" }, item.kind) : null,
      el("h2", { class: "feed-title" }, title),
      el("time", { datetime: item.occurred_at, title: new Date(item.occurred_at).toLocaleString() },
        shortTime(item.occurred_at))),
    item.body ? el("p", { class: "feed-body" }, item.body) : null,
    item.version > 1 ? el("p", { class: "muted small" }, `updated · version ${item.version}`) : null);
}

/** Inserts, replaces or (deleted) removes an item, keeping newest first. */
function upsert(item, { live = false } = {}) {
  const id = String(item.id);
  const old = nodes.get(id);
  if (old && (items.get(id).version ?? 0) > (item.version ?? 0)) return;
  if (item.deleted) {
    if (old) old.remove();
    nodes.delete(id);
    items.delete(id);
    return;
  }
  items.set(id, item);
  const node = render(item);
  nodes.set(id, node);
  if (old) {
    old.replaceWith(node);
    return;
  }
  const key = sortKey(item);
  let before = null;
  for (const li of list.children) {
    const other = items.get(li.dataset.id);
    // A live arrival goes above items of the same time; a page of history below them.
    if (other && (sortKey(other) < key || (live && sortKey(other) === key))) { before = li; break; }
  }
  list.insertBefore(node, before);
  if (live) {
    node.classList.add("fresh");
    setTimeout(() => node.classList.remove("fresh"), 4000);
    if (window.scrollY > TOP_SLACK) {
      unseen += 1;
      newButton.textContent = `${unseen} new`;
      newButton.setAttribute("aria-label", `${unseen} new ${unseen === 1 ? "item" : "items"}: show`);
      newButton.hidden = false;
    }
  }
  status.hidden = true;
}

function clearUnseen() {
  unseen = 0;
  newButton.hidden = true;
}
newButton.addEventListener("click", () => {
  window.scrollTo({ top: 0, behavior: "smooth" });
  clearUnseen();
  list.firstElementChild?.querySelector("a, h2")?.focus?.();
});
window.addEventListener("scroll", () => { if (window.scrollY <= TOP_SLACK) clearUnseen(); }, { passive: true });

/** Shows what a pager step brought (a superseded one brings null and changes nothing). */
async function show(step) {
  olderButton.disabled = true;
  try {
    const results = await step;
    if (results === null) return;
    for (const item of results) upsert(item);
    if (items.size === 0) {
      status.hidden = false;
      status.textContent = "Nothing here yet. New items will appear as they arrive.";
    }
  } catch (err) {
    status.hidden = false;
    status.textContent = `Could not load items: ${err.message}`;
  } finally {
    olderButton.disabled = pager.loading;
    moreBox.hidden = !pager.hasMore;
  }
}

const loadMore = () => show(pager.loadMore());
olderButton.addEventListener("click", loadMore);
// Older items load by themselves when the end of the list scrolls into view.
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && items.size > 0) loadMore();
}, { rootMargin: "400px" }).observe(moreBox);

function reload() {
  items.clear();
  nodes.clear();
  list.replaceChildren();
  return show(pager.reload());
}

function onEvent(event, data) {
  if (event === "feed.item" && data.item) upsert(data.item, { live: true });
  else if (event === "feed.items") for (const item of data.items || []) upsert(item, { live: true });
}

client.subscribe(page.topic, onEvent, {
  onResync: () => reload(),
  onError: (err) => { status.hidden = false; status.textContent = `Live updates unavailable: ${err.message}`; },
}).ready.finally(() => loadMore());
