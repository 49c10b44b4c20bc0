// GENERATED from realtime/close_codes.py (python -m realtime.close_codes --write): do not edit.
// The WebSocket close codes the server sends; docs/protocol.md says what each asks of a client.
export const CLOSE_CODES = Object.freeze({
  GOING_AWAY: 1001,
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  UNAUTHORIZED: 4401,
  IDLE: 4408,
  FLOOD: 4429,
  SLOW_CONSUMER: 4503,
});
