"""Start/stop the comparison servers (baseline = tutorial on daphne, reference = websockets)
as subprocesses on free loopback ports, and wait until they accept connections.

As a library (what `make bench` / bench/suite.py use):
    from bench.run_servers import start_server
    with start_server("baseline") as srv:      # srv.url, srv.pid, srv.port
        ...
As a command (prints one JSON line per server, keeps them up until Ctrl-C or --for s):
    python -m bench.run_servers baseline reference --for 600
"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root
PY = sys.executable
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def free_port(host="127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _raise_nofile():
    """Children inherit the limit: let a server hold 10,000+ sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def command(kind: str, port: int, host="127.0.0.1"):
    """(argv, url the load generator should use) for a server kind.

    ours / ours-uvicorn: Switchboard (project.asgi) under daphne, or uvicorn with uvloop;
    the caller supplies its environment (DATABASE_URL, REDIS_URL, SECRET_KEY...: see
    bench/run_all.py)."""
    if kind == "ours":
        return ([PY, "-m", "daphne", "-b", host, "-p", str(port), "project.asgi:application"],
                f"ws://{host}:{port}/ws")
    if kind == "ours-uvicorn":
        return ([PY, "-m", "uvicorn", "project.asgi:application", "--host", host, "--port", str(port),
                 "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
                 "--log-level", "warning"],
                f"ws://{host}:{port}/ws")
    if kind == "baseline":
        return ([PY, "-m", "daphne", "-b", host, "-p", str(port), "bench.baseline.asgi:application"],
                f"ws://{host}:{port}")
    if kind == "reference":
        return [PY, "bench/reference/server.py", str(port), host], f"ws://{host}:{port}/"
    raise ValueError(f"unknown server kind {kind!r}")


class Server:
    def __init__(self, kind, port=None, host="127.0.0.1", redis_url=None, log=None, env=None,
                 cpus=None):
        """env: extra environment; cpus: e.g. "0" or "0,1" to pin with taskset."""
        self.kind, self.host = kind, host
        self.port = port or free_port(host)
        argv, self.url = command(kind, self.port, host)
        if cpus is not None:
            argv = ["taskset", "-c", str(cpus), *argv]
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "REDIS_URL": redis_url or os.environ.get("REDIS_URL", DEFAULT_REDIS), **(env or {})}
        if kind == "baseline":
            env["DJANGO_SETTINGS_MODULE"] = "bench.baseline.settings"
        else:
            # Every simulated client connects from this one address as one user: the
            # per-address socket caps and handshake rate (realtime.limits) would refuse all
            # but the first 50, and the ticket throttle (TICKET_RATE, 300/min) every HTTP
            # ticket after the 300th.  Lifted here, by the settings' own environment
            # variables (bench/README.md, "Bench conditions"), never by a code path.
            for name in ("REALTIME_MAX_CONNECTIONS_PER_IP", "REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP",
                         "REALTIME_HANDSHAKES_PER_IP"):
                env.setdefault(name, "1000000")
            env.setdefault("TICKET_RATE", "1000000/min")
        _raise_nofile()
        self.log = open(log, "ab") if log else subprocess.DEVNULL
        # Own process group, so stop() can signal the server without touching anything else.
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=30.0):
        """Poll until the port accepts TCP connections (daphne loads the app before listening)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.kind} not accepting on port {self.port} after {timeout}s")

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.log is not subprocess.DEVNULL:
            self.log.close()

    def info(self):
        return {"kind": self.kind, "url": self.url, "pid": self.pid, "port": self.port}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(kind, port=None, timeout=30.0, **kw) -> Server:
    """Start a server and return it once it accepts connections (usable as a context manager)."""
    return Server(kind, port, **kw).wait_ready(timeout)


def main():
    p = argparse.ArgumentParser(description="start the bench comparison servers")
    p.add_argument("kinds", nargs="+", choices=["baseline", "reference", "ours", "ours-uvicorn"])
    p.add_argument("--for", dest="hold", type=float, default=3600.0,
                   help="seconds to keep them up (default 3600; Ctrl-C stops earlier)")
    p.add_argument("--log", help="append server output to this file")
    args = p.parse_args()

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)  # stop the children on SIGTERM too
    servers = []
    try:
        for kind in args.kinds:
            servers.append(start_server(kind, log=args.log))
            print(json.dumps(servers[-1].info()), flush=True)
        time.sleep(args.hold)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
