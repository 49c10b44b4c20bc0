// static/realtime/subscriptions.js: seq and gap bookkeeping across resubscribes (nothing at
// or below the last seq is applied twice, a gap asks for a replay, recovered: false calls
// onResync and resumes from the reply's seq), final refusals, and presence.
import assert from "node:assert/strict";
import { test } from "node:test";

import { acceptReply, applyPresence, seqVerdict, Subscriptions } from "../../static/realtime/subscriptions.js";

test("a seq at or below the last seen is a duplicate; one skipping ahead is a gap unless a resubscribe is under way", () => {
  assert.equal(seqVerdict(null, 7, false), "apply"); // nothing seen yet
  assert.equal(seqVerdict(5, 6, false), "apply");
  assert.equal(seqVerdict(5, 5, false), "duplicate");
  assert.equal(seqVerdict(5, 2, true), "duplicate");
  assert.equal(seqVerdict(5, 8, false), "gap");
  assert.equal(seqVerdict(5, 8, true), "apply"); // the replay under way brings the rest
});

test("a subscribe reply sets where seqs resume: first join, replayed resume, unrecoverable resume", () => {
  const sub = { lastSeq: null, presence: [], presenceCount: 0 };
  assert.equal(acceptReply(sub, { seq: 4, presence: [{ id: 1 }] }, false), false);
  assert.equal(sub.lastSeq, 4);
  assert.equal(sub.joined, true);
  assert.equal(sub.presenceCount, 1);
  // Resumed and recovered: the replayed events move lastSeq, not the reply's seq.
  assert.equal(acceptReply(sub, { seq: 9, recovered: true, presence: [] }, true), false);
  assert.equal(sub.lastSeq, 9);
  sub.lastSeq = 12;
  assert.equal(acceptReply(sub, { seq: 10, recovered: true }, true), false);
  assert.equal(sub.lastSeq, 12); // never moves back
  // Not recovered (history reset or out of the window): resync, and start from its seq.
  assert.equal(acceptReply(sub, { seq: 3, recovered: false, presence: null, presence_count: 150 }, true), true);
  assert.equal(sub.lastSeq, 3);
  assert.equal(sub.presence, null);
  assert.equal(sub.presenceCount, 150);
});

test("presence joins and leaves are set operations on the list; a diff makes it a crowd count", () => {
  const sub = { presence: [{ id: 2 }], presenceCount: 1 };
  applyPresence(sub, "presence.join", { users: [{ id: 3 }, { id: 1 }, { id: 2 }] });
  assert.deepEqual(sub.presence.map((u) => u.id), [1, 2, 3]);
  assert.equal(sub.presenceCount, 3);
  applyPresence(sub, "presence.leave", { users: [{ id: 2 }, { id: 9 }], count: 2 });
  assert.deepEqual(sub.presence.map((u) => u.id), [1, 3]);
  applyPresence(sub, "presence.diff", { count: 140, joined: [], left: [] });
  assert.equal(sub.presence, null);
  applyPresence(sub, "presence.join", { users: [{ id: 5 }], count: 141 });
  assert.equal(sub.presence, null);
  assert.equal(sub.presenceCount, 141);
});

/** A client whose requests the test answers: replies[i] settles the i-th request. */
function fakeClient() {
  const client = { open: true, requests: [], options: { requestTimeout: 1000 }, ws: null };
  client.isOpen = () => client.open;
  client.request = (action, topic, data) => new Promise((resolve, reject) => {
    client.requests.push({ action, topic, data, resolve, reject });
  });
  return client;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("events arrive once each in order across a resubscribe, and a gap asks for a replay from the last seq", async () => {
  const client = fakeClient();
  const subs = new Subscriptions(client);
  const got = [];
  const sub = subs.subscribe("open:t", (event, data, frame) => got.push(frame.seq));
  client.requests[0].resolve({ seq: 2, recovered: true, presence: [] });
  assert.deepEqual(await sub.ready, { seq: 2, recovered: true, presence: [] });
  for (const seq of [3, 3, 2, 4]) subs.dispatch({ type: "event", topic: "open:t", event: "n", seq, data: {} });
  assert.deepEqual(got, [3, 4]);
  subs.dispatch({ topic: "open:t", event: "n", seq: 7, data: {} }); // 5 and 6 missing
  assert.deepEqual(got, [3, 4]);
  assert.deepEqual(client.requests[1].data, { since: 4 });
  // The replay (before its reply) races a live frame: each seq is applied once, in order.
  for (const seq of [5, 5, 6, 7]) subs.dispatch({ topic: "open:t", event: "n", seq, data: {} });
  client.requests[1].resolve({ seq: 7, recovered: true });
  await settle();
  subs.dispatch({ topic: "open:t", event: "n", seq: 7, data: {} });
  subs.dispatch({ topic: "open:t", event: "n", seq: 8, data: {} });
  assert.deepEqual(got, [3, 4, 5, 6, 7, 8]);
  // Ephemeral events (seq null) pass without touching the seq.
  subs.dispatch({ topic: "open:t", event: "chat.typing", seq: null, data: {} });
  assert.equal(sub.lastSeq, 8);
  assert.equal(got.length, 7);
});

test("after a reconnect every topic resumes with since, and recovered: false calls onResync once", async () => {
  const client = fakeClient();
  const subs = new Subscriptions(client);
  const resyncs = [];
  const replies = [];
  const sub = subs.subscribe("open:r", () => {}, { since: 10, onResync: (r) => resyncs.push(r.seq),
    onReply: (r) => replies.push(r.seq) });
  assert.deepEqual(client.requests[0].data, { since: 10 });
  client.requests[0].resolve({ seq: 12, recovered: true, presence: [] });
  await sub.ready;
  subs.dropped();
  assert.equal(sub.joined, false);
  subs.resumeAll(); // from the reply's seq: the server replays before it replies
  assert.deepEqual(client.requests[1].data, { since: 12 });
  client.requests[1].resolve({ seq: 40, recovered: false, presence: [] });
  await settle();
  assert.deepEqual(resyncs, [40]);
  assert.deepEqual(replies, [12, 40]);
  assert.equal(sub.lastSeq, 40);
  assert.equal(sub.joined, true);
});

test("a refused subscribe ends the subscription; a timeout keeps it and drops the unhealthy socket", async () => {
  const client = fakeClient();
  const closed = [];
  client.ws = { close: (code, reason) => closed.push([code, reason]) };
  const subs = new Subscriptions(client);
  const errors = [];
  const kept = subs.subscribe("open:slow", () => {});
  const refused = subs.subscribe("room:secret", () => {}, { onError: (err) => errors.push(err.code) });
  client.requests[0].reject(Object.assign(new Error("late"), { code: "timeout" }));
  client.requests[1].reject(Object.assign(new Error("no"), { code: "forbidden" }));
  await assert.rejects(refused.ready, (err) => err.code === "forbidden");
  assert.deepEqual(errors, ["forbidden"]);
  assert.deepEqual(closed, [[4000, "subscribe timeout"]]);
  assert.equal(refused.active, false);
  subs.resumeAll(); // only the topic still followed
  assert.deepEqual(client.requests.slice(2).map((r) => r.topic), ["open:slow"]);
  assert.equal(kept.active, true);
});

test("unsubscribe and subscription.revoked stop events and resubscribes", async () => {
  const client = fakeClient();
  const subs = new Subscriptions(client);
  const got = [];
  const a = subs.subscribe("open:a", (event) => got.push(`a:${event}`));
  subs.subscribe("open:b", (event) => got.push(`b:${event}`));
  client.requests[0].resolve({ seq: 0, presence: [] });
  client.requests[1].resolve({ seq: 0, presence: [] });
  await settle();
  const left = a.unsubscribe();
  assert.deepEqual([client.requests[2].action, client.requests[2].topic], ["unsubscribe", "open:a"]);
  client.requests[2].resolve({});
  await left;
  subs.dispatch({ topic: "open:a", event: "n", seq: 1, data: {} });
  subs.dispatch({ topic: "open:b", event: "subscription.revoked", seq: null, data: {} });
  subs.dispatch({ topic: "open:b", event: "n", seq: 1, data: {} });
  assert.deepEqual(got, ["b:subscription.revoked"]);
  subs.resumeAll();
  assert.equal(client.requests.length, 3);
});
