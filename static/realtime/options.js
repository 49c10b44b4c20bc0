// The client's options and their defaults (docs/client.md lists them): every timer the
// client keeps, each with why its value.  A page overrides any of them through
// getClient(options) or new RealtimeClient(options).

export const DEFAULTS = {
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
  // A reply slower than this is treated as lost (the server answers in milliseconds; a
  // request made while disconnected waits this long for the socket as well).
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
