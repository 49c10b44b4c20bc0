// The one user colour (static/app/colour.js): the server's cursor colour, a valid #rrggbb.
import assert from "node:assert/strict";
import { test } from "node:test";

import { colourFor, colourForId, FALLBACK_COLOUR, safeColour } from "../../static/app/colour.js";

test("user ids get the colours whiteboard.handlers.user_colour gives them", () => {
  // Computed by the server's function (Python colorsys); test_node_units.py checks many more.
  const server = { 0: "#c32222", 1: "#22c351", 2: "#8022c3", 3: "#c3af22", 7: "#2922c3", 42: "#c34b22", 1000: "#c32243", 123457: "#22c39b" };
  for (const [id, colour] of Object.entries(server)) assert.equal(colourForId(Number(id)), colour, `user ${id}`);
});

test("every user colour is a lowercase #rrggbb", () => {
  for (let id = 0; id < 5000; id++) assert.match(colourForId(id), /^#[0-9a-f]{6}$/);
  assert.match(colourFor({ username: "no-id" }), /^#[0-9a-f]{6}$/);
});

test("chat avatars and board cursors of one user share the colour", () => {
  assert.equal(colourFor({ id: 3, username: "ann" }), colourForId(3));
  assert.equal(colourFor({ id: 3, username: "someone else" }), colourFor({ id: 3 }));
});

test("odd users get the fallback instead of throwing", () => {
  assert.equal(colourFor(null), FALLBACK_COLOUR);
  assert.equal(colourFor({}), FALLBACK_COLOUR);
  assert.equal(colourFor({ id: "3" , username: "" }), FALLBACK_COLOUR);
});

test("only a #rrggbb from the network is used, lowercased; anything else is the fallback", () => {
  assert.equal(safeColour("#A1B2C3", "#000000"), "#a1b2c3");
  for (const bad of ["red", "#abc", "#12345g", "#123456;background:url(x)", "", null, 7, { toString: () => "#123456" }]) {
    assert.equal(safeColour(bad, "#000000"), "#000000", String(bad));
  }
});
