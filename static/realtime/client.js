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
//    The topic's later retry: true requests are held until it is answered, then follow
//    in order, so listeners see a user's messages in the order they were sent.
//  - The socket's identity is renewed in place before the server's REALTIME_AUTH_MAX_AGE
//    runs out (auth.refresh with a fresh ticket): no reconnect, no resubscribe.
//
// This module is the connection's life (open, close, offline, state) and the entry point;
// each other job is a module of its own: requests.js (pending requests, overload retry),
// subscriptions.js (topics, seqs, resume, presence), reconnect.js (backoff), keepalive.js
// (ping), auth.js (tickets, identity renewal), options.js (defaults).
import { AuthRenewal, fetchTicket } from "./auth.js";
import { CLOSE_CODES } from "./close-codes.js";
import { Keepalive } from "./keepalive.js";
import { DEFAULTS } from "./options.js";
import { Reconnector } from "./reconnect.js";
import { RequestTable } from "./requests.js";
import { Subscriptions } from "./subscriptions.js";

export { csrfToken } from "./auth.js";
export { overloadDelay, RealtimeError } from "./requests.js";

/** The close codes the server sends (close-codes.js, generated from realtime/close_codes.py;
 *  docs/protocol.md says what each asks of a client).  SLOW is the older name of
 *  SLOW_CONSUMER, kept for the callers that use it. */
export const CLOSE = Object.freeze({ ...CLOSE_CODES, SLOW: CLOSE_CODES.SLOW_CONSUMER });

export class RealtimeClient {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.requests = new RequestTable({
      send: (frame) => this.ws.send(JSON.stringify(frame)),
      isOpen: () => this.isOpen(),
    });
    this.subscriptions = new Subscriptions(this);
    this.reconnector = new Reconnector(this);
    this.keepalive = new Keepalive(this);
    this.renewal = new AuthRenewal(this);
    this.stateListeners = new Set();
    this.ws = null;
    this.state = { state: "connecting", retryAt: null, attempt: 0 };
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
    this.state = { state, retryAt: null, attempt: this.reconnector.attempt, ...extra };
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
    this.reconnector.cancel();
    if (navigator.onLine === false) {
      this._goOffline();
      return;
    }
    if (this.state.state !== "reconnecting") this._setState("connecting");
    this._open().catch((err) => {
      console.warn("realtime: could not connect", err);
      this.reconnector.schedule();
    });
  }

  async _open() {
    let url = this._url();
    if (this.options.auth === "ticket") {
      const body = await fetchTicket(this.options.ticketUrl);
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
    this.reconnector.opened();
    // Learn when this identity expires (every ping reply tells it again).
    this.request("ping", null, {}).then((reply) => this.renewal.expiresIn(reply)).catch(() => {});
    this.keepalive.start();
    // Resubscribe first (with since), then flush requests queued while disconnected, so
    // a page's writes land after it has caught up.
    this.subscriptions.resumeAll();
    this.requests.flush();
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.keepalive.stop();
    this.reconnector.closed();
    this.renewal.stop();
    this.subscriptions.dropped();
    this.requests.dropped();
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
    this.reconnector.schedule(ev.code === CLOSE.FLOOD ? this.options.floodBackoff : 0, ev.code);
  }

  /** Tries at once (e.g. the indicator's "Retry now", or the browser coming back online). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.reconnector.cancel();
    this.connect();
  }

  _goOffline() {
    this.reconnector.cancel();
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
    this.reconnector.cancel();
    this.renewal.stop();
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    if (this.ws) this.ws.close(1000);
    this._setState("offline");
  }

  // --- requests and subscriptions ----------------------------------------------------

  /** request(action, topic, data, {timeout, retry}) -> Promise of the reply's data.
   *  Rejects with a RealtimeError: the server's error frame (code, message, field, data),
   *  or code "timeout" / "disconnected" (retry: false) from the client.  Requests made
   *  while disconnected wait for the socket until their timeout.  retry: true resends a
   *  request that was in flight when the socket dropped: use it only for idempotent
   *  actions. */
  request(action, topic = null, data = {}, options = {}) {
    const timeout = options.timeout ?? this.options.requestTimeout;
    return this.requests.request(action, topic, data, { timeout, retry: options.retry });
  }

  /** One page of the users present on topic, by id: resolves {presence, count, next};
   *  pass the previous page's `next` as `after` (null on the last page).  `limit` is at
   *  most the server's REALTIME_PRESENCE_LIST_MAX (its default). */
  presencePage(topic, { after = null, limit = null } = {}) {
    const data = {};
    if (after !== null) data.after = after;
    if (limit !== null) data.limit = limit;
    return this.request("presence", topic, data);
  }

  /** notify(action, topic, data) -> whether it was sent.  A frame without request_id:
   *  no reply, nothing queued while disconnected.  For ephemeral, lossy actions (cursors,
   *  in-progress stroke points, typing) where a late delivery is worse than none. */
  notify(action, topic = null, data = {}) {
    if (!this.isOpen()) return false;
    const frame = { action, data: data || {} };
    if (topic) frame.topic = topic;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** subscribe(topic, onEvent, {onResync, onReply, onError, since}) -> Subscription.
   *  onEvent(event, data, frame) for each event (durable ones once each, in seq order;
   *  ephemeral ones with frame.seq === null).  onResync(reply) after a reconnect when the
   *  server could not replay what was missed: refetch the topic's state over REST.
   *  onReply(reply) after every successful (re)subscribe ({seq, recovered, presence}).
   *  sub.ready resolves with the first subscribe reply or rejects with its error. */
  subscribe(topic, onEvent, options = {}) {
    return this.subscriptions.subscribe(topic, onEvent, options);
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
    if (frame.type === "reply" || frame.type === "error") {
      if (!this.requests.answer(frame)) console.warn("realtime: error frame", frame.error);
    } else if (frame.type === "event") {
      if (frame.event === "auth.expired") this.authExpired = true; // close 4401 follows
      else this.subscriptions.dispatch(frame);
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
