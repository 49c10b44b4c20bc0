// The topics this tab follows and their resume bookkeeping: one Subscription per topic, the
// last seq it saw, a resubscribe with `since` after every reconnect, each durable event once
// and in order (at or below the last seq: dropped; ahead of it: resubscribe instead of
// applying), onResync when the server could not replay (recovered: false), and the presence
// list or crowd count.  No DOM and no WebSocket: it asks its client for request(), isOpen()
// and the socket to drop.  Tested by tests/js/client-subscriptions.test.mjs.
import { UNHEALTHY } from "./keepalive.js";

class Subscription {
  constructor(owner, topic, onEvent, options) {
    this.owner = owner;
    this.topic = topic;
    this.onEvent = onEvent;
    this.onResync = options.onResync || null;
    this.onReply = options.onReply || null;
    this.onError = options.onError || null;
    this.lastSeq = Number.isInteger(options.since) ? options.since : null;
    this.active = true;
    this.joined = false;
    this.presence = [];
    this.presenceCount = 0;
    let resolve, reject;
    this.ready = new Promise((res, rej) => { resolve = res; reject = rej; });
    this._resolve = resolve;
    this._reject = reject;
    this._settled = false;
    this._syncing = false;
  }

  /** Leaves the topic (no more events, no resubscribe after reconnects). */
  unsubscribe() {
    if (!this.active) return Promise.resolve();
    this.active = false;
    return this.owner.leave(this);
  }
}

/** What a durable event's seq asks for, given the last seq seen: "duplicate" at or below it
 *  (a replay racing a live frame, a resubscribe on the same socket: never applied twice),
 *  "gap" when it skips ahead while no resubscribe is under way (the server should have
 *  filled it: ask for a replay), else "apply". */
export function seqVerdict(lastSeq, seq, syncing) {
  if (lastSeq !== null && seq <= lastSeq) return "duplicate";
  if (lastSeq !== null && seq > lastSeq + 1 && !syncing) return "gap";
  return "apply";
}

/** Applies a successful subscribe reply to sub (joined, presence, where its seqs resume);
 *  true when the page must refetch: a resume the server could not replay. */
export function acceptReply(sub, reply, resuming) {
  sub._syncing = false;
  sub.joined = true;
  // Above the server's REALTIME_PRESENCE_LIST_MAX the reply has only the count
  // (presence null): pages come from presencePage() when the page wants them.
  sub.presence = reply.presence === undefined ? [] : reply.presence;
  sub.presenceCount = typeof reply.presence_count === "number"
    ? reply.presence_count : (sub.presence || []).length;
  const resync = resuming && !reply.recovered;
  if (resync || sub.lastSeq === null || reply.seq > sub.lastSeq) {
    // First join, or the server could not replay: start from its latest seq.
    sub.lastSeq = reply.seq;
  }
  return resync;
}

/** Keeps sub.presence and sub.presenceCount up to date from a presence event. */
export function applyPresence(sub, event, data) {
  if (event === "presence.join" || event === "presence.leave") {
    // Set operations: a join may name users already listed (this tab's own user too),
    // a leave users that are not.  Without a list (it was a crowd) only the count moves.
    const users = (data && data.users) || [];
    const ids = new Set(users.map((u) => u.id));
    if (sub.presence) {
      sub.presence = sub.presence.filter((u) => !ids.has(u.id));
      if (event === "presence.join") {
        sub.presence.push(...users);
        sub.presence.sort((a, b) => a.id - b.id);
      }
    }
    const count = data && data.count;
    sub.presenceCount = typeof count === "number" ? count : (sub.presence || []).length;
  }
  if (event === "presence.diff") {
    // A crowd: the count, and no list kept (pages come from presencePage()).
    sub.presence = null;
    sub.presenceCount = data.count;
  }
}

export class Subscriptions {
  /** client: request(action, topic, data, options), isOpen(), ws (closed when a subscribe
   *  times out on it), options.requestTimeout. */
  constructor(client) {
    this.client = client;
    this.byTopic = new Map(); // topic -> Subscription
  }

  /** A new Subscription of topic (replacing this tab's earlier one), joined now when the
   *  socket is open, else by resumeAll() when it opens. */
  subscribe(topic, onEvent, options = {}) {
    const existing = this.byTopic.get(topic);
    if (existing) existing.active = false;
    const sub = new Subscription(this, topic, onEvent, options);
    this.byTopic.set(topic, sub);
    if (this.client.isOpen()) this.send(sub);
    return sub;
  }

  /** Called by sub.unsubscribe(): forgets the topic and tells the server if it can. */
  leave(sub) {
    this.byTopic.delete(sub.topic);
    if (this.client.isOpen()) {
      return this.client.request("unsubscribe", sub.topic, {}).catch(() => {});
    }
    return Promise.resolve();
  }

  /** Called when the socket has opened: every topic subscribes again, resuming with since. */
  resumeAll() {
    for (const sub of this.byTopic.values()) this.send(sub);
  }

  /** Called when the socket has dropped: no topic is joined until resumeAll(). */
  dropped() {
    for (const sub of this.byTopic.values()) sub.joined = false;
  }

  /** Sends sub's subscribe (with since = its last seq once it has one) and applies the
   *  answer: resolves sub.ready, calls onReply / onResync, or ends the subscription when the
   *  server refused it for good. */
  send(sub) {
    const data = {};
    const resuming = sub.lastSeq !== null;
    if (resuming) data.since = sub.lastSeq;
    sub._syncing = true;
    // Not `retry`: a dropped socket resubscribes every topic anyway on open.
    this.client.request("subscribe", sub.topic, data, { timeout: this.client.options.requestTimeout })
      .then((reply) => {
        if (!sub.active || this.byTopic.get(sub.topic) !== sub) return;
        const resync = acceptReply(sub, reply, resuming);
        if (!sub._settled) {
          sub._settled = true;
          sub._resolve(reply);
        }
        if (sub.onReply) sub.onReply(reply);
        if (resync && sub.onResync) sub.onResync(reply);
      })
      .catch((err) => {
        sub._syncing = false;
        if (err.code === "disconnected" || err.code === "timeout") {
          // Retried on the next open; a timeout on a live socket means it is unhealthy.
          if (err.code === "timeout" && this.client.ws) this.client.ws.close(UNHEALTHY, "subscribe timeout");
          return;
        }
        // forbidden / not_found / unknown_topic: final, do not retry this topic.
        sub.active = false;
        this.byTopic.delete(sub.topic);
        if (!sub._settled) {
          sub._settled = true;
          sub._reject(err);
        }
        if (sub.onError) sub.onError(err);
      });
  }

  /** An event frame: to its topic's subscription, once and in seq order, with the
   *  presence bookkeeping done before the page's onEvent sees it. */
  dispatch(frame) {
    const sub = this.byTopic.get(frame.topic);
    if (!sub || !sub.active) return;
    const seq = frame.seq;
    if (seq !== null && seq !== undefined) {
      const verdict = seqVerdict(sub.lastSeq, seq, sub._syncing);
      if (verdict === "duplicate") return;
      if (verdict === "gap") {
        this.send(sub);
        return;
      }
      sub.lastSeq = seq;
    }
    applyPresence(sub, frame.event, frame.data);
    if (frame.event === "subscription.revoked") {
      sub.active = false;
      this.byTopic.delete(frame.topic);
    }
    try {
      sub.onEvent(frame.event, frame.data || {}, frame);
    } catch (err) {
      console.error(`realtime: handler for ${frame.topic} ${frame.event} failed`, err);
    }
  }
}
