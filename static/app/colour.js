// One colour per user, shared by chat avatars, the presence list and whiteboard cursors, and
// equal to the `color` the server puts on board.cursor events (whiteboard.handlers.user_colour):
// hues spread by the golden angle so consecutive ids differ clearly, HLS lightness 0.45 and
// saturation 0.7 so white text and strokes on white stay readable.  Pure: no DOM, so node
// unit tests import it (tests/js/colour.test.mjs).

const COLOUR_RE = /^#[0-9a-f]{6}$/i;
// The colour of a user without an id (should not happen; never throws on odd input).
export const FALLBACK_COLOUR = "#475569";

/** A colour from the network as lowercase `#rrggbb`, or `fallback`: nothing else is ever put
 *  into a style attribute or onto the canvas (a forged event must not inject CSS). */
export function safeColour(value, fallback = FALLBACK_COLOUR) {
  return typeof value === "string" && COLOUR_RE.test(value) ? value.toLowerCase() : fallback;
}

// Python's colorsys.hls_to_rgb, step for step, so both sides give the same bytes.
function channel(m1, m2, hue) {
  const h = ((hue % 1) + 1) % 1;
  if (h < 1 / 6) return m1 + (m2 - m1) * h * 6;
  if (h < 0.5) return m2;
  if (h < 2 / 3) return m1 + (m2 - m1) * (2 / 3 - h) * 6;
  return m1;
}

function hlsToRgb(h, l, s) {
  const m2 = l <= 0.5 ? l * (1 + s) : l + s - l * s;
  const m1 = 2 * l - m2;
  return [channel(m1, m2, h + 1 / 3), channel(m1, m2, h), channel(m1, m2, h - 1 / 3)];
}

const hex = (v) => Math.round(v * 255).toString(16).padStart(2, "0");

/** The `#rrggbb` of user id `id` (an integer), as whiteboard.handlers.user_colour gives it. */
export function colourForId(id) {
  const hue = ((id * 137.508) % 360) / 360;
  return `#${hlsToRgb(hue, 0.45, 0.7).map(hex).join("")}`;
}

/** The colour of a user object ({id, username, ...}); users without an integer id (none
 *  should reach here) get a stable colour from their name, anything else the fallback. */
export function colourFor(user) {
  if (user && Number.isInteger(user.id)) return colourForId(user.id);
  const name = user && typeof user.username === "string" ? user.username : "";
  if (!name) return FALLBACK_COLOUR;
  let n = 0;
  for (const ch of name) n = (n * 31 + ch.codePointAt(0)) % 1_000_003;
  return colourForId(n);
}

/** Sets CSS property `prop` of `node` to a validated colour and returns the node.  Through the
 *  CSSOM, never a style attribute: the Content-Security-Policy (style-src 'self', no
 *  'unsafe-inline') blocks style attributes but not node.style. */
export function paint(node, prop, colour) {
  node.style.setProperty(prop, safeColour(colour));
  return node;
}
