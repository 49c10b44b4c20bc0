"""Switchboard's own target for the load generator (bench/adapters.py has the others and
the connection, `Conn`, over the client library's raw core)."""
import asyncio
import json
import secrets
import time
import urllib.parse
import urllib.request
import uuid

from switchboard_client.errors import RequestTimeout
from websockets.asyncio.client import connect

from bench.adapters import CONNECT_KW, Conn, Target, as_frame, dumps, parse_payload

# Seconds a new connection's subscribe may wait for its reply: in a connect storm of
# thousands the server answers them in turn; longer means the run is measuring a failure.
SUBSCRIBE_TIMEOUT = 30


class Ours(Target):
    """Switchboard's protocol: ws://HOST/ws/?ticket=T, action frames, reply/error/event frames.

    Publishing (fanout/latency, --publisher): `sync` (default) is bench/publisher.py in its
    own process calling realtime.publish.publish() (durable `notification` events, what a
    Celery task does); `http` is POST /api/publish/ with the (staff) token; `socket` is
    `chat.send` over the publisher's own connection (adds chat's message write per send).
    Cursor moves carry the bench's publisher/counter/time in x and y (the event keeps only
    those): x = p + n/1e6, y = send time mod 100 s, in ms.
    """
    name, default_url = "ours", "ws://127.0.0.1:8000/ws"
    PING_EVERY = 25.0
    echoes_cursor = False  # board.cursor is sent to everyone but the mover

    def board_room(self, base, i):
        return f"{base}-{i}"  # room slugs: letters, digits, hyphens (bench/setup_ours.py)

    async def setup(self):
        u = urllib.parse.urlsplit(self.url)  # the HTTP API is on the same host unless --api-url
        self.http = (self.args.api_url or
                     f"{'https' if u.scheme == 'wss' else 'http'}://{u.netloc}").rstrip("/")
        self.client_tag = uuid.uuid4().hex[:8]
        res = await asyncio.to_thread(self._post, "/api/auth/token/",
                                      {"username": self.args.username,
                                       "password": self.args.password})
        self.token = res["token"]
        if self.args.mint_tickets and hasattr(self._minter(), "nodes_manager"):
            # a RedisCluster learns its slots once, here: the first commands of many
            # concurrent connects would otherwise race its lazy start (AttributeError)
            await self._minter().initialize()

    def _post(self, path, body, headers=None):
        req = urllib.request.Request(self.http + path, data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def _minter(self):
        """The Redis client and value for --mint-tickets: written the way
        realtime.auth.issue_ticket does (the user snapshot of bench/setup_ours.py's staff user)."""
        if not hasattr(self, "_redis"):
            import redis.asyncio as aredis

            url = self.args.mint_tickets
            if url.startswith("redis+cluster://"):  # a Redis Cluster: the key's shard
                self._redis = aredis.RedisCluster.from_url("redis://" + url.split("://", 1)[1])
            else:
                self._redis = aredis.Redis.from_url(url)
            self._ticket_value = dumps({"id": self.args.mint_user, "username": self.args.username,
                                        "display_name": self.args.username,
                                        "is_staff": True, "is_superuser": False})
        return self._redis

    async def _ticket(self):
        """A fresh single-use ticket: one issued by prepare(), else POST /api/auth/ticket/, or
        with --mint-tickets written straight to Redis (idle runs: 10,000 connections' memory
        does not depend on how their tickets were fetched, and the HTTP round trip would make
        the run several minutes long)."""
        if getattr(self, "_issued", None):
            return self._issued.pop()
        if self.args.mint_tickets:
            ticket = secrets.token_urlsafe(24)
            await self._minter().set("sb:ticket:" + ticket, self._ticket_value, ex=60)
            return ticket
        return (await asyncio.to_thread(self._post, "/api/auth/ticket/", {},
                                        {"Authorization": f"Token {self.token}"}))["ticket"]

    @staticmethod
    def _distinct_value(i):
        """--distinct-users: a ticket of user i of a crowd (ids from 1,000,000, not in the
        database: the socket's user comes from the ticket; its Connection row has none)."""
        return dumps({"id": 10**6 + i, "username": f"crowd{i}", "display_name": f"Crowd {i}",
                      "is_staff": False, "is_superuser": False})

    async def prepare(self, clients):
        """With --mint-tickets, issues the storm's tickets before the clock starts (one Redis
        pipeline), as clients that already hold one do; over HTTP each connection still
        fetches its own inside the storm.  With --session, logs in (browser tabs are)."""
        if self.args.session:
            self._session = await asyncio.to_thread(self._log_in)
            return
        if not self.args.mint_tickets:
            return
        tickets = [secrets.token_urlsafe(24) for _ in range(clients)]
        minter = self._minter()
        async with minter.pipeline(**({} if hasattr(minter, "nodes_manager")
                                      else {"transaction": False})) as pipe:
            for i, ticket in enumerate(tickets):
                pipe.set("sb:ticket:" + ticket, self._distinct_value(i) if self.args.distinct_users
                         else self._ticket_value, ex=120)
            await pipe.execute()
        self._issued = tickets

    def _log_in(self):
        """--session: logs in through the HTML form as a browser does; the session cookie."""
        import http.cookies
        import re

        def cookies(res):
            jar = http.cookies.SimpleCookie()
            for header in res.headers.get_all("Set-Cookie") or ():
                jar.load(header)
            return {k: v.value for k, v in jar.items()}

        with urllib.request.urlopen(self.http + "/accounts/login/", timeout=30) as res:
            csrf = cookies(res)["csrftoken"]
            form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', res.read())[1]

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        body = urllib.parse.urlencode({"username": self.args.username, "password": self.args.password,
                                       "csrfmiddlewaretoken": form_token.decode()}).encode()
        req = urllib.request.Request(self.http + "/accounts/login/", data=body, method="POST", headers={
            "Cookie": f"csrftoken={csrf}", "Origin": self.http, "Referer": self.http + "/accounts/login/",
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.build_opener(NoRedirect).open(req, timeout=30)
        except urllib.error.HTTPError as redirect:  # 302 to the next page: logged in
            session = cookies(redirect).get("sessionid")
        if not session:
            raise RuntimeError("log-in did not set a session cookie")
        return session

    async def open(self, room, kind="chat"):
        if self.args.session:  # a browser: the session cookie, Origin of the page
            if not hasattr(self, "_session"):
                self._session = await asyncio.to_thread(self._log_in)
            ws = await connect(f"{self.pick_url()}/", origin=self.http,
                               additional_headers={"Cookie": f"sessionid={self._session}"}, **CONNECT_KW)
        else:  # tickets are single use: one fresh ticket per connection
            ticket = await self._ticket()
            ws = await connect(f"{self.pick_url()}/?ticket={urllib.parse.quote(ticket)}", **CONNECT_KW)
        topic = f"{'board' if kind == 'board' else 'room'}:{room}"
        conn = Conn(ws, room, topic)
        try:
            f = await conn.core.request("subscribe", topic, timeout=SUBSCRIBE_TIMEOUT, raw=True)
        except RequestTimeout:  # counted under the same name as before the core
            await conn.close()
            raise TimeoutError(f"subscribe {topic}: no reply within {SUBSCRIBE_TIMEOUT} s") from None
        except BaseException:
            await conn.close()
            raise
        conn.core.events.clear()  # what came before the reply (presence): not measured
        if f["type"] == "error":
            await conn.close()
            raise RuntimeError(f"subscribe {topic}: {f.get('error')}")
        if self.args.session and not any(u.get("username") == self.args.username
                                         for u in f["data"].get("presence") or ()):
            # a public room admits anonymous readers too: only presence proves who we are
            await conn.close()
            raise RuntimeError("the session cookie did not authenticate the socket")
        conn.tasks.append(asyncio.create_task(self._keepalive(conn)))
        return conn

    async def _keepalive(self, conn):
        while True:  # ends when the connection is closed (task cancelled / send fails)
            await asyncio.sleep(self.PING_EVERY)
            await conn.send(dumps({"action": "ping", "request_id": f"ping-{next(conn.ids)}",
                                   "data": {}}))

    def publish_frame(self, conn, body):
        rid = next(conn.ids)
        return dumps({"action": "chat.send", "request_id": str(rid), "topic": conn.topic,
                      "data": {"body": body, "client_id": f"{self.client_tag}-{id(conn)}-{rid}"}})

    def http_publish(self, body):
        """POST /api/publish/ (sync; run it in a thread): one durable `notification`."""
        return self._post("/api/publish/", {"topic": f"room:{self.args.room}", "event": "notification",
                                            "data": {"body": body}},
                          {"Authorization": f"Token {self.token}"})

    def cursor_frame(self, conn, payload):
        x = payload["p"] + (payload["n"] % 1_000_000) / 1e6
        y = round((payload["t"] % 100.0) * 1000.0, 3)
        return dumps({"action": "board.cursor", "request_id": str(next(conn.ids)),
                      "topic": conn.topic, "data": {"x": x, "y": y}})

    @staticmethod
    def _cursor_payload(data):
        x, y = data.get("x"), data.get("y")
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            return None
        p = int(x)
        now = time.time()
        age_ms = ((now % 100.0) * 1000.0 - y) % 100_000.0
        return {"t": now - age_ms / 1000.0, "p": p, "n": round((x - p) * 1e6)}

    def decode(self, f):
        f = as_frame(f)
        kind = f.get("type")
        if kind == "event":
            data = f.get("data") or {}
            event = f.get("event")
            if event == "notification":
                payload = parse_payload(data.get("body"))
            elif event == "chat.message":
                payload = parse_payload((data.get("message") or {}).get("body"))
            elif event == "board.cursor":
                payload = self._cursor_payload(data)
            else:  # presence etc.: still part of the topic's seq stream
                payload = None
            seq = f.get("seq")
            return f.get("topic"), seq if isinstance(seq, int) else None, payload
        if kind == "error":
            self.errors[str((f.get("error") or {}).get("code"))] += 1
        return None
