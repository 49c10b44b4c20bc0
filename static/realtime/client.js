// Switchboard realtime client: one WebSocket per tab, multiplexing every topic.
//
// Plain ES module, no build step.  Documented in docs/client.md; the wire protocol is
// docs/protocol.md.  Guarantees it gives a page:
//  - request(action, topic, data) settles with the reply or error of the same request_id,
//    or rejects with code "timeout" (the server may still have done it: retry only what is
//    idempotent, e.g. chat.send with the same client_id).
//  - subscribe(topic, onEvent) delivers each durable event once, in seq order, across any
//    number of reconnects: it resubscribes with `since` = the last seq seen, ignores
//    anything at or below it, and calls onResync when the server could not replay what was
//    missed (recovered: false) so the page refetches over REST.
//  - The connection comes back by itself: exponential backoff with jitter, a countdown for
//    the indicator, a ping every 25 s that also detects half-open sockets.
//  - A retry: true request answered `overloaded` is resent after retry_after (same frame,
//    same client_id) until its timeout: the server refused it before writing anything.
//  - The socket's identity is renewed in place before the server's REALTIME_AUTH_MAX_AGE
//    runs out (auth.refresh with a fresh ticket): no reconnect, no resubscribe.

const DEFAULTS = {
  path: "/ws/",
  // "session": the same-origin session cookie authenticates the socket.
  // "ticket": POST ticketUrl first and connect with ?ticket= (single use, 30 s).
  auth: "session",
  ticketUrl: "/api/auth/ticket/",
  loginUrl: "/accounts/login/",
  // Clients ping every 25 s: under common 30-60 s proxy idle timeouts and well inside
  // the server's 70 s idle limit (close 4408).
  pingInterval: 25_000,
  // A ping unanswered this long means the socket is half-open: drop it and reconnect.
  pingTimeout: 10_000,
  requestTimeout: 10_000,
  // Backoff: base * 2^attempt, capped, then full jitter in [50%, 100%] so a server
  // restart is not met by every tab at the same instant.
  backoffBase: 500,
  backoffMax: 30_000,
  // Close 4429 (flooding): the server wants this client quiet for a while.
  floodBackoff: 60_000,
  // A connection that stayed up this long resets the backoff.
  stableAfter: 10_000,
  // Renew the socket's identity (auth.refresh) when this share of its lifetime is left,
  // but at least this early: the ticket request and the refresh need a moment.
  refreshShare: 0.2,
  refreshMargin: 5_000,
  // A failed refresh (network, server busy) is tried again after this long.
  refreshRetry: 15_000,
};

// Close codes from docs/protocol.md.
export const CLOSE = { GOING_AWAY: 1001, TOO_BIG: 1009, UNAUTHORIZED: 4401, IDLE: 4408, FLOOD: 4429, SLOW: 4503 };

/** Milliseconds to wait before resending a request answered `overloaded`: the server's
 *  retry_after (seconds; 1 s when missing), plus up to half again at random so the tabs
 *  refused together do not all come back in the same instant.  `random` is in [0, 1). */
export function overloadDelay(retryAfter, random) {
  const base = (typeof retryAfter === "number" && retryAfter > 0 ? retryAfter : 1) * 1000;
  return Math.round(base * (1 + 0.5 * random));
}

/** An error frame (or a client-side failure such as "timeout" / "disconnected"). */
export class RealtimeError extends Error {
  constructor(error) {
    super(error.message || error.code);
    this.name = "RealtimeError";
    this.code = error.code;
    this.field = error.field;
    this.data = error.data;
    this.retryAfter = error.retry_after;
  }
}

/** Reads the CSRF token: a {% csrf_token %}-rendered meta tag, else the csrftoken cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) return meta.content;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

class Subscription {
  constructor(client, topic, onEvent, options) {
    this.client = client;
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
    this.client.subs.delete(this.topic);
    if (this.client.isOpen()) {
      return this.client.request("unsubscribe", this.topic, {}).catch(() => {});
    }
    return Promise.resolve();
  }
}

export class RealtimeClient {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.subs = new Map(); // topic -> Subscription
    this.pending = new Map(); // request_id -> {resolve, reject, timer, frame, retry}
    this.queue = []; // frames waiting for an open socket (request ids)
    this.stateListeners = new Set();
    this.ws = null;
    this.nextId = 1;
    this.attempt = 0;
    this.state = { state: "connecting", retryAt: null, attempt: 0 };
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pingWatchdog = null;
    this.stableTimer = null;
    this.refreshTimer = null;
    this.authExpired = false; // the server sent auth.expired: its 4401 means "renew"
    this.unauthorizedCloses = 0;
    this.stopped = false;
    this._onOnline = () => this.reconnectNow();
    this._onOffline = () => this._goOffline();
    window.addEventListener("online", this._onOnline);
    window.addEventListener("offline", this._onOffline);
  }

  // --- connection state ------------------------------------------------------------

  /** onState(cb): cb({state: "connecting"|"connected"|"reconnecting"|"offline",
   *  retryAt: ms timestamp of the next try or null, attempt, closeCode}).  Called at once
   *  with the current state; returns a function that removes the listener. */
  onState(cb) {
    this.stateListeners.add(cb);
    cb(this.state);
    return () => this.stateListeners.delete(cb);
  }

  _setState(state, extra = {}) {
    this.state = { state, retryAt: null, attempt: this.attempt, ...extra };
    for (const cb of this.stateListeners) {
      try { cb(this.state); } catch (err) { console.error(err); }
    }
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Opens the socket (called once by getClient(); later reconnects happen by themselves). */
  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (navigator.onLine === false) {
      this._goOffline();
      return;
    }
    if (this.state.state !== "reconnecting") this._setState("connecting");
    this._open().catch((err) => {
      console.warn("realtime: could not connect", err);
      this._scheduleReconnect();
    });
  }

  /** POSTs ticketUrl with the session cookie and CSRF header: {ticket, auth_expires_in},
   *  or null when the session no longer signs us in (401/403). */
  async _fetchTicket() {
    const resp = await fetch(this.options.ticketUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    if (resp.status === 401 || resp.status === 403) return null;
    if (!resp.ok) throw new Error(`ticket request failed: ${resp.status}`);
    return resp.json();
  }

  async _open() {
    let url = this._url();
    if (this.options.auth === "ticket") {
      const body = await this._fetchTicket();
      if (body === null) {
        this._unauthorized();
        return;
      }
      url += `?ticket=${encodeURIComponent(body.ticket)}`;
    }
    if (this.stopped || this.ws) return;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => this._onOpen(ws);
    ws.onmessage = (msg) => this._onMessage(ws, msg);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => {}; // onclose follows with the code
  }

  _url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}${this.options.path}`;
  }

  _onOpen(ws) {
    if (ws !== this.ws) return;
    this._setState("connected");
    this.authExpired = false;
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
      this.unauthorizedCloses = 0;
    }, this.options.stableAfter);
    // Learn when this identity expires (every ping reply tells it again).
    this.request("ping", null, {}).then((reply) => this._authExpiresIn(reply)).catch(() => {});
    this._startPing();
    // Resubscribe first (with since), then flush requests queued while disconnected, so
    // a page's writes land after it has caught up.
    for (const sub of this.subs.values()) this._sendSubscribe(sub);
    const queued = this.queue;
    this.queue = [];
    for (const id of queued) {
      const entry = this.pending.get(id);
      if (entry) this._sendRaw(entry.frame);
    }
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._stopPing();
    clearTimeout(this.stableTimer);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    for (const sub of this.subs.values()) sub.joined = false;
    // Requests in flight: idempotent ones (retry: true) are sent again after the
    // reconnect; the others fail now, since we cannot know whether the server did them.
    for (const [id, entry] of this.pending) {
      if (!entry.sent) continue;
      if (entry.retry) {
        entry.sent = false;
        this.queue.push(id);
      } else {
        this._settle(id, null, { code: "disconnected", message: "The connection was lost." });
      }
    }
    if (this.stopped) return;
    if (ev.code === CLOSE.UNAUTHORIZED) {
      // After auth.expired the 4401 means "renew": reconnect (a ticket request, or the
      // session cookie, decides who we are).  Any other 4401 means "log in again"; so do
      // repeated ones, so a refused identity never loops.
      const expired = this.authExpired;
      this.authExpired = false;
      this.unauthorizedCloses += 1;
      if (!expired || this.unauthorizedCloses > 2) {
        this._unauthorized();
        return;
      }
    }
    if (navigator.onLine === false) {
      this._goOffline();
      return;
    }
    this._scheduleReconnect(ev.code === CLOSE.FLOOD ? this.options.floodBackoff : 0, ev.code);
  }

  _scheduleReconnect(minimum = 0, closeCode = null) {
    if (this.stopped || this.reconnectTimer) return;
    const exp = Math.min(this.options.backoffMax, this.options.backoffBase * 2 ** this.attempt);
    const delay = Math.max(minimum, Math.round(exp * (0.5 + Math.random() * 0.5)));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this._setState("reconnecting", { retryAt, closeCode });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Tries at once (e.g. the indicator's "Retry now", or the browser coming back online). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  _goOffline() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.ws) {
      const ws = this.ws;
      ws.close(1000, "offline");
      this._onClose(ws, { code: 1000 });
      return;
    }
    this._setState("offline");
  }

  _unauthorized() {
    this.stopped = true;
    this._setState("offline", { closeCode: CLOSE.UNAUTHORIZED });
    if (this.options.onUnauthorized) {
      this.options.onUnauthorized();
    } else {
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`${this.options.loginUrl}?next=${next}`);
    }
  }

  /** Closes the socket for good (tests, page teardown). */
  close() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    if (this.ws) this.ws.close(1000);
    this._setState("offline");
  }

  // --- keepalive -------------------------------------------------------------------

  _startPing() {
    this._stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.isOpen()) return;
      const ws = this.ws;
      clearTimeout(this.pingWatchdog);
      this.pingWatchdog = setTimeout(() => {
        // No pong: the socket is half-open (laptop sleep, NAT timeout).
        if (ws === this.ws) {
          ws.close(4000, "ping timeout");
          this._onClose(ws, { code: 4000 });
        }
      }, this.options.pingTimeout);
      this.request("ping", null, {}, { timeout: this.options.pingTimeout })
        .then((reply) => {
          clearTimeout(this.pingWatchdog);
          this._authExpiresIn(reply);
        })
        .catch(() => {});
    }, this.options.pingInterval);
  }

  // --- identity renewal ------------------------------------------------------------

  /** A reply carrying auth_expires_in (ping, auth.refresh): (re)plans the refresh. */
  _authExpiresIn(reply) {
    const seconds = reply && reply.auth_expires_in;
    if (typeof seconds !== "number") return; // anonymous: nothing expires
    const lifetime = seconds * 1000;
    const lead = Math.max(this.options.refreshMargin, lifetime * this.options.refreshShare);
    this._planRefresh(Math.max(0, lifetime - lead));
  }

  _planRefresh(delay) {
    clearTimeout(this.refreshTimer);
    const ws = this.ws;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (ws === this.ws && this.isOpen()) this._refreshAuth(ws);
    }, delay);
  }

  /** auth.refresh with a fresh ticket: same socket, subscriptions and seqs. */
  async _refreshAuth(ws) {
    try {
      const body = await this._fetchTicket();
      if (body === null || ws !== this.ws) return; // signed out: the server closes 4401
      const reply = await this.request("auth.refresh", null, { ticket: body.ticket });
      if (ws === this.ws) this._authExpiresIn(reply);
    } catch (err) {
      console.warn("realtime: identity refresh failed; trying again", err);
      if (ws === this.ws) this._planRefresh(this.options.refreshRetry);
    }
  }

  _stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pingWatchdog);
    this.pingTimer = null;
  }

  // --- requests --------------------------------------------------------------------

  /** request(action, topic, data, {timeout, retry}) -> Promise of the reply's data.
   *  Rejects with a RealtimeError: the server's error frame (code, message, field, data),
   *  or code "timeout" / "disconnected" (retry: false) from the client.  Requests made
   *  while disconnected wait for the socket until their timeout.  retry: true resends a
   *  request that was in flight when the socket dropped: use it only for idempotent
   *  actions. */
  request(action, topic = null, data = {}, options = {}) {
    const id = `c${this.nextId++}`;
    const frame = { action, request_id: id, data: data || {} };
    if (topic) frame.topic = topic;
    const timeout = options.timeout ?? this.options.requestTimeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._settle(id, null, { code: "timeout", message: `No reply to ${action} within ${timeout} ms.` });
      }, timeout);
      this.pending.set(id, { resolve, reject, timer, frame, retry: !!options.retry, sent: false });
      if (this.isOpen()) this._sendRaw(frame);
      else this.queue.push(id);
    });
  }

  /** notify(action, topic, data) -> whether it was sent.  A frame without request_id:
   *  no reply, nothing queued while disconnected.  For ephemeral, lossy actions (cursors,
   *  in-progress stroke points, typing) where a late delivery is worse than none. */
  /** One page of the users present on topic, by id: resolves {presence, count, next};
   *  pass the previous page's `next` as `after` (null on the last page).  `limit` is at
   *  most the server's REALTIME_PRESENCE_LIST_MAX (its default). */
  presencePage(topic, { after = null, limit = null } = {}) {
    const data = {};
    if (after !== null) data.after = after;
    if (limit !== null) data.limit = limit;
    return this.request("presence", topic, data);
  }

  notify(action, topic = null, data = {}) {
    if (!this.isOpen()) return false;
    const frame = { action, data: data || {} };
    if (topic) frame.topic = topic;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  _sendRaw(frame) {
    const entry = this.pending.get(frame.request_id);
    if (entry) entry.sent = true;
    this.ws.send(JSON.stringify(frame));
  }

  /** An `overloaded` answer to a retry: true request (nothing was written): sends the same
   *  frame again (same request_id, same client_id: no duplicate) after retry_after with
   *  jitter, until the request's own timeout.  True when it will be retried. */
  _retryOverloaded(id, error) {
    const entry = this.pending.get(id);
    if (!entry || !entry.retry || !error || error.code !== "overloaded") return false;
    setTimeout(() => {
      if (this.pending.get(id) !== entry) return; // settled meanwhile (timeout, reply)
      if (this.isOpen()) this._sendRaw(entry.frame);
      else if (!this.queue.includes(id)) this.queue.push(id);
    }, overloadDelay(error.retry_after, Math.random()));
    return true;
  }

  _settle(id, data, error) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    this.queue = this.queue.filter((q) => q !== id);
    if (error) entry.reject(new RealtimeError(error));
    else entry.resolve(data);
  }

  // --- subscriptions ---------------------------------------------------------------

  /** subscribe(topic, onEvent, {onResync, onReply, onError, since}) -> Subscription.
   *  onEvent(event, data, frame) for each event (durable ones once each, in seq order;
   *  ephemeral ones with frame.seq === null).  onResync(reply) after a reconnect when the
   *  server could not replay what was missed: refetch the topic's state over REST.
   *  onReply(reply) after every successful (re)subscribe ({seq, recovered, presence}).
   *  sub.ready resolves with the first subscribe reply or rejects with its error. */
  subscribe(topic, onEvent, options = {}) {
    const existing = this.subs.get(topic);
    if (existing) existing.active = false;
    const sub = new Subscription(this, topic, onEvent, options);
    this.subs.set(topic, sub);
    if (this.isOpen()) this._sendSubscribe(sub);
    return sub;
  }

  _sendSubscribe(sub) {
    const data = {};
    const resuming = sub.lastSeq !== null;
    if (resuming) data.since = sub.lastSeq;
    sub._syncing = true;
    // Not `retry`: a dropped socket resubscribes every topic anyway on open.
    this.request("subscribe", sub.topic, data, { timeout: this.options.requestTimeout })
      .then((reply) => {
        if (!sub.active || this.subs.get(sub.topic) !== sub) return;
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
          if (err.code === "timeout" && this.ws) this.ws.close(4000, "subscribe timeout");
          return;
        }
        // forbidden / not_found / unknown_topic: final, do not retry this topic.
        sub.active = false;
        this.subs.delete(sub.topic);
        if (!sub._settled) {
          sub._settled = true;
          sub._reject(err);
        }
        if (sub.onError) sub.onError(err);
      });
  }

  _onMessage(ws, msg) {
    if (ws !== this.ws) return;
    let frame;
    try {
      frame = JSON.parse(msg.data);
    } catch {
      console.warn("realtime: ignoring a frame that is not JSON");
      return;
    }
    if (frame.type === "reply") {
      this._settle(frame.request_id, frame.data || {}, null);
    } else if (frame.type === "error") {
      if (frame.request_id !== null && frame.request_id !== undefined) {
        if (this._retryOverloaded(frame.request_id, frame.error)) return;
        this._settle(frame.request_id, null, frame.error || { code: "internal" });
      } else {
        console.warn("realtime: error frame", frame.error);
      }
    } else if (frame.type === "event") {
      if (frame.event === "auth.expired") this.authExpired = true; // close 4401 follows
      else this._onEvent(frame);
    }
  }

  _onEvent(frame) {
    const sub = this.subs.get(frame.topic);
    if (!sub || !sub.active) return;
    const seq = frame.seq;
    if (seq !== null && seq !== undefined) {
      // Defence in depth: the server never repeats a seq, but a page must never apply
      // an event twice (a replay racing a live frame, a resubscribe on the same socket).
      if (sub.lastSeq !== null && seq <= sub.lastSeq) return;
      if (sub.lastSeq !== null && seq > sub.lastSeq + 1 && !sub._syncing) {
        // A gap the server should have filled: ask it to replay from what we have.
        this._sendSubscribe(sub);
        return;
      }
      sub.lastSeq = seq;
    }
    if (frame.event === "presence.join" || frame.event === "presence.leave") {
      // Set operations: a join may name users already listed (this tab's own user too),
      // a leave users that are not.  Without a list (it was a crowd) only the count moves.
      const users = (frame.data && frame.data.users) || [];
      const ids = new Set(users.map((u) => u.id));
      if (sub.presence) {
        sub.presence = sub.presence.filter((u) => !ids.has(u.id));
        if (frame.event === "presence.join") {
          sub.presence.push(...users);
          sub.presence.sort((a, b) => a.id - b.id);
        }
      }
      const count = frame.data && frame.data.count;
      sub.presenceCount = typeof count === "number" ? count : (sub.presence || []).length;
    }
    if (frame.event === "presence.diff") {
      // A crowd: the count, and no list kept (pages come from presencePage()).
      sub.presence = null;
      sub.presenceCount = frame.data.count;
    }
    if (frame.event === "subscription.revoked") {
      sub.active = false;
      this.subs.delete(frame.topic);
    }
    try {
      sub.onEvent(frame.event, frame.data || {}, frame);
    } catch (err) {
      console.error(`realtime: handler for ${frame.topic} ${frame.event} failed`, err);
    }
  }
}

let shared = null;

/** The tab's one client, created (and connected) on first use.  Options apply only then;
 *  base.html's <body data-realtime-auth="session|ticket"> chooses the auth mode. */
export function getClient(options = {}) {
  if (!shared) {
    const auth = document.body && document.body.dataset.realtimeAuth;
    const loginUrl = document.body && document.body.dataset.loginUrl;
    shared = new RealtimeClient({
      ...(auth ? { auth } : {}),
      ...(loginUrl ? { loginUrl } : {}),
      ...options,
    });
    shared.connect();
  }
  return shared;
}
