"""A stand-in for Switchboard's realtime protocol, only to self-test the loadgen's "ours"
adapter until the real server exists. It follows the spec the adapter is written against:

  HTTP (own port):  POST /api/auth/token/  {"username","password"} -> {"token"}
                    POST /api/auth/ticket/ (Authorization: Token T) -> {"ticket","expires_in":30}
  WS /ws/?ticket=T (single-use ticket), frames {"action","request_id","topic","data"}:
    subscribe -> reply;  chat.send -> reply + event chat.message (per-topic seq) to subscribers;
    board.cursor -> event board.cursor to subscribers (no seq);  ping -> reply;  else -> error.

    python -m bench.fake_ours WS_PORT HTTP_PORT
    python -m bench.loadgen --target ours --url ws://127.0.0.1:WS_PORT/ws/ \
        --api-url http://127.0.0.1:HTTP_PORT --scenario fanout,latency,cursor-storm
"""
import asyncio
import itertools
import json
import secrets
import sys
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Response

TOKENS, TICKETS = set(), set()
SUBS: dict = defaultdict(set)          # topic -> connections
SEQ: dict = defaultdict(int)           # topic -> last seq
MSG_IDS = itertools.count(1)


class Api(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/api/auth/token/" and body.get("password") == "bench-pass":
            tok = secrets.token_hex(8)
            TOKENS.add(tok)
            return self._send(200, {"token": tok})
        if self.path == "/api/auth/ticket/" and \
                self.headers.get("Authorization", "").removeprefix("Token ") in TOKENS:
            t = secrets.token_urlsafe(16)
            TICKETS.add(t)
            return self._send(200, {"ticket": t, "expires_in": 30})
        self._send(401, {"detail": "no"})

    def _send(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def check_ticket(conn, request):
    u = urlsplit(request.path)
    ticket = parse_qs(u.query).get("ticket", [""])[0]
    if u.path != "/ws/" or ticket not in TICKETS:
        return Response(403, "Forbidden", Headers(), b"bad ticket\n")
    TICKETS.discard(ticket)  # single use


async def handler(ws):
    mine = set()
    try:
        async for raw in ws:
            f = json.loads(raw)
            act, rid, topic, data = f.get("action"), f.get("request_id"), f.get("topic"), \
                f.get("data") or {}
            if act == "subscribe":
                SUBS[topic].add(ws)
                mine.add(topic)
                await ws.send(json.dumps({"type": "reply", "request_id": rid, "data": {}}))
            elif act == "ping":
                await ws.send(json.dumps({"type": "reply", "request_id": rid, "data": {}}))
            elif act == "chat.send":
                SEQ[topic] += 1
                msg = {"id": next(MSG_IDS), "body": data["body"], "client_id": data.get("client_id"),
                       "author": "bench"}
                await ws.send(json.dumps({"type": "reply", "request_id": rid,
                                          "data": {"message": msg}}))
                broadcast(SUBS[topic], json.dumps({"type": "event", "topic": topic,
                                                   "event": "chat.message", "seq": SEQ[topic],
                                                   "data": {"message": msg}}))
            elif act == "board.cursor":
                broadcast(SUBS[topic] - {ws}, json.dumps({"type": "event", "topic": topic,
                                                          "event": "board.cursor", "data": data}))
            else:
                await ws.send(json.dumps({"type": "error", "request_id": rid,
                                          "error": {"code": "bad_action", "message": str(act)}}))
    finally:
        for t in mine:
            SUBS[t].discard(ws)


class ApiServer(ThreadingHTTPServer):
    request_queue_size = 512  # listen backlog: the connect scenario opens 50 at once
    daemon_threads = True


async def main(ws_port, http_port):
    api = ApiServer(("127.0.0.1", http_port), Api)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    async with serve(handler, "127.0.0.1", ws_port, process_request=check_ticket,
                     compression=None):
        print(f"fake ours on ws://127.0.0.1:{ws_port}/ws/ api http://127.0.0.1:{http_port}",
              flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
