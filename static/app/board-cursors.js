// Cursors on the whiteboard: sending ours (only when this user may write: the server answers
// a read-only viewer's board.cursor with an error frame, which used to come back ~16 times a
// second) and showing others' as named arrows in their user colour.
import { colourFor, paint, safeColour } from "./colour.js";
import { displayName, el } from "./dom.js";

// The server forwards at most 20 cursors/s per connection (one per 50 ms); stay under it.
export const CURSOR_EVERY_MS = 60;
// Others' cursors disappear after this long without news (they stopped moving or left).
export const CURSOR_STALE_MS = 5000;

/** A function send([x, y]) that notifies board.cursor at most every CURSOR_EVERY_MS, and
 *  never when `writable` is false (read-only viewers: anonymous, archived rooms, non-members).
 *  Returns whether a frame went out.  No DOM: unit-tested with a fake client. */
export function cursorSender(client, topic, writable, { everyMs = CURSOR_EVERY_MS, now = () => Date.now() } = {}) {
  let last = -Infinity;
  return function send(p) {
    if (!writable) return false;
    const t = now();
    if (t - last < everyMs) return false;
    if (!client.notify("board.cursor", topic, { x: Math.round(p[0]), y: Math.round(p[1]) })) return false;
    last = t;
    return true;
  };
}

/** Others' cursors in `layer` (positioned in board units times getScale()); our own user's
 *  (selfId) are ignored, as the server never echoes them but another tab of ours might. */
export function cursorLayer(layer, { selfId = null, getScale = () => 1 } = {}) {
  const cursors = new Map(); // user id -> {node, timer, x, y}

  function place(entry) {
    const scale = getScale();
    entry.node.style.transform = `translate(${entry.x * scale}px, ${entry.y * scale}px)`;
  }

  function drop(id) {
    const entry = cursors.get(id);
    if (!entry) return;
    entry.node.remove();
    clearTimeout(entry.timer);
    cursors.delete(id);
  }

  function show(data) {
    const user = data && data.user;
    if (!user || user.id === selfId || !Number.isFinite(data.x) || !Number.isFinite(data.y)) return;
    let entry = cursors.get(user.id);
    if (!entry) {
      // Only a validated #rrggbb reaches a style attribute (the server checks it too).
      const colour = safeColour(data.color, colourFor(user));
      const node = el("div", { class: "cursor", dataset: { user: user.id } },
        paint(el("span", { class: "cursor-arrow" }), "border-bottom-color", colour),
        paint(el("span", { class: "cursor-name" }, displayName(user)), "background", colour));
      layer.append(node);
      entry = { node };
      cursors.set(user.id, entry);
    }
    entry.x = data.x;
    entry.y = data.y;
    place(entry);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => drop(user.id), CURSOR_STALE_MS);
  }

  /** Called after a resize: every cursor moves with the new scale. */
  function reposition() {
    for (const entry of cursors.values()) place(entry);
  }

  return { show, drop, reposition };
}
