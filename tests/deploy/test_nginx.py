"""deploy/nginx.conf really proxies the WebSocket and keeps the site's body limits: nginx
(its own prefix, pid and temp dirs in a temp directory, free loopback ports) in front of a
real daphne; a client upgrades through it, pings, and receives an event published to its
topic; a body over the limit gets the site's JSON 413, and the limits are the settings'.

TLS is left out here (the HTTPS server block listens in plain HTTP): .ci/production.sh
runs the same file with a certificate, DEBUG off, in front of two daphnes."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from feeds import limits as feed_limits
from realtime.publish import publish
from tests import servers

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                       if os.access(p, os.X_OK)), None)
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"

pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]


def render(conf, listen_port, upstream_ports, redirect_port=None):
    """deploy/nginx.conf with our ports, without TLS, wrapped in a minimal main config."""
    servers_block = "".join(f"    server 127.0.0.1:{p};\n" for p in upstream_ports)
    conf = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+;.*\n", "", conf)
    conf = conf.replace("    least_conn;", "    least_conn;\n" + servers_block.rstrip("\n"), 1)
    conf = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{listen_port};", conf)
    conf = re.sub(r"(?m)^\s*ssl_\w+ [^;]+;.*\n", "", conf)
    conf = re.sub(r"listen 80;", f"listen 127.0.0.1:{redirect_port or servers.free_port()};", conf)
    conf = re.sub(r"server_name [^;]+;", "server_name 127.0.0.1;", conf)
    return ("daemon off;\nworker_processes 1;\nerror_log logs/error.log warn;\npid logs/nginx.pid;\n"
            "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
            "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;\n"
            "  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
            + conf + "\n}\n")


def body_limits(conf):
    """(the server-wide client_max_body_size, {location: its own}) in bytes, from the conf."""
    server = conf[conf.index("listen 443 ssl"):]
    locations = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"location (\S+) \{[^}]*?client_max_body_size (\d+);", server)}
    top = re.sub(r"location [^{]+\{[^}]*\}", "", server)
    return int(re.search(r"client_max_body_size (\d+);", top).group(1)), locations


def post_bytes(url, size):
    """POSTs `size` bytes; (status, parsed JSON body or None, content type)."""
    request = urllib.request.Request(url, data=b"x" * size, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body, status, ctype = response.read(), response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        body, status, ctype = exc.read(), exc.code, exc.headers["Content-Type"]
    try:
        return status, orjson.loads(body), ctype
    except orjson.JSONDecodeError:
        return status, None, ctype


@pytest.fixture
def nginx_in_front(transactional_db):
    daphne = servers.start_daphne(env={"DATABASE_URL": servers.database_url()})
    prefix = Path(tempfile.mkdtemp(prefix="sb-nginx-"))
    for sub in ("logs", "tmp", "conf"):
        (prefix / sub).mkdir()
    # Workers run as another user when nginx is root: they must reach tmp/ (request bodies
    # over 16 KB are buffered there) through the prefix, which mkdtemp made 0700.
    os.chmod(prefix, 0o755)
    os.chmod(prefix / "tmp", 0o777)
    port = servers.free_port()
    (prefix / "conf" / "nginx.conf").write_text(render(CONF.read_text(), port, [daphne.port]))
    check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", "conf/nginx.conf"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", "conf/nginx.conf"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (prefix / "logs" / "error.log").read_text()
                time.sleep(0.05)
        yield type("Proxy", (), {"url": f"http://127.0.0.1:{port}",
                                 "ws_url": f"ws://127.0.0.1:{port}/ws/"})()
    finally:
        proc.terminate()
        proc.wait(10)
        daphne.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def test_read_timeout_outlives_the_servers_idle_timeout():
    match = re.search(r"location /ws/ \{[^}]*proxy_read_timeout (\d+)s;", CONF.read_text())
    assert match and int(match.group(1)) > settings.REALTIME_IDLE_TIMEOUT


async def test_websocket_upgrade_ping_and_event_through_nginx(nginx_in_front, user):
    proxy = nginx_in_front
    with urllib.request.urlopen(proxy.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    async with await servers.connect_client(proxy, user) as client:
        assert await client.request("ping") is not None  # a round trip through the proxy
        topic = f"user:{user.pk}"
        await client.subscribe(topic)
        await sync_to_async(publish, thread_sensitive=False)(topic, "notification", {"via": "nginx"})
        event = await client.next_event()
        assert (event["topic"], event["event"], event["data"]) == (topic, "notification", {"via": "nginx"})
        assert not client.closed.is_set()


def test_body_limits_are_the_settings_limits():
    default, per_location = body_limits(CONF.read_text())
    assert default == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert per_location == {"/api/events/": feed_limits.max_batch_bytes()}


def test_a_body_over_the_limit_gets_the_sites_json_413_from_nginx(nginx_in_front):
    proxy = nginx_in_front
    default, per_location = body_limits(CONF.read_text())
    cases = [("/api/rooms/lobby/messages/", default), ("/api/events/", per_location["/api/events/"])]
    for path, limit in cases:
        status, body, ctype = post_bytes(proxy.url + path, limit + 1)
        assert (status, ctype) == (413, "application/json"), (path, body)
        assert body["error"]["code"] == "too_large" and body["error"]["message"], (path, body)
    # At the limit nginx passes the body on: Django answers (here: no credentials).
    status, body, _ = post_bytes(proxy.url + "/api/rooms/lobby/messages/", default)
    assert status in (401, 403) and body["error"]["code"] != "too_large"
