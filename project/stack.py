"""`make run`: supervises the whole site as child processes and stops them together.

In order: the embedded Redis when no REDIS_URL is set (shared with any `manage.py`
command running meanwhile: project/embedded_redis.shared), `manage.py migrate` and
`manage.py seed_demo`, then daphne (or SERVER=uvicorn) on 127.0.0.1:$PORT, a Celery worker
and Celery beat.  Once the site answers it prints its address, the demo login and the
demo room and feed.

Every child runs in its own session, so a terminal's Ctrl-C reaches only this process,
which stops them all: TERM to each child's process group (a worker's prefork children
included), KILL after a grace period.  It also stops everything when a child dies, when
SIGTERM arrives (`make` forwards it), when the `make` that started it exits, and when that
`make` got SIGINT alone (make then waits for its children instead of forwarding it).
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request

# Seconds children get to finish in-flight work after TERM before they are killed.
STOP_GRACE = 10.0
# Seconds between checks of the children, of `make` and (until it answers) of /healthz.
POLL_INTERVAL = 0.2
# Seconds the web server may take to answer /healthz before the address is printed with a
# warning instead (a cold start on a slow machine imports Django in a few seconds).
READY_TIMEOUT = 60.0
# Signals GNU make handles by waiting for its children without forwarding them (SIGTERM
# it forwards): while make sits in that handler the signal shows as blocked.
MAKE_WAITING_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
PR_SET_PDEATHSIG = 1  # prctl(2)
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork


def web_command(py, port):
    """daphne by default; SERVER=uvicorn runs uvicorn with uvloop instead (faster fan-out
    and a bounded send buffer per socket: see docs/performance.md)."""
    server = os.environ.get("SERVER", "daphne")
    if server == "uvicorn":
        return [py, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", port,
                "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
                "--log-level", "warning",
                # The client address is TRUSTED_PROXY_COUNT's to decide (realtime.client_address),
                # not uvicorn's (by default it believes X-Forwarded-For from 127.0.0.1).
                "--no-proxy-headers"]
    if server != "daphne":
        raise SystemExit(f"SERVER must be daphne or uvicorn, not {server!r}")
    return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", port, "project.asgi:application"]


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if this supervisor dies without stopping it
    (SIGKILL); runs between fork and exec, so async-signal-safe calls only."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def make_gave_up(parent_pid):
    """True when the `make` that started us is gone, or is handling SIGINT/SIGHUP/SIGQUIT
    sent to it alone: GNU make then blocks that signal and waits for its children, which
    would otherwise run on with nobody to stop them.  Only a parent named `make` is read
    this way (other supervisors may block signals to read them from a signalfd)."""
    if os.getppid() != parent_pid:
        return True
    try:
        with open(f"/proc/{parent_pid}/comm") as comm:
            if comm.read().strip() != "make":
                return False
        with open(f"/proc/{parent_pid}/status") as status:
            blocked = next(int(line.split()[1], 16) for line in status if line.startswith("SigBlk:"))
    except (OSError, StopIteration, ValueError):
        return False
    return any(blocked & (1 << (sig - 1)) for sig in MAKE_WAITING_SIGNALS)


class Supervisor:
    """The children and the reasons to stop them; `stop_all()` leaves none behind."""

    def __init__(self):
        self.children = []  # (name, Popen), in start order
        self.stopping = False
        self.failed = False  # a child exited on its own
        self.parent = os.getppid()
        self._parent_suspect = False

    def request_stop(self, *_):
        self.stopping = True

    def spawn(self, name, cmd, **kwargs):
        proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        self.children.append((name, proc))
        return proc

    def should_stop(self):
        """Checked every POLL_INTERVAL: a stop was asked for, `make` gave up (seen twice in
        a row: make blocks signals for a moment while it starts a job), or a child died."""
        suspect = make_gave_up(self.parent)
        if suspect and self._parent_suspect:
            self.stopping = True
        self._parent_suspect = suspect
        return self.stopping

    def run_step(self, name, cmd, env, *, capture=False):
        """Runs a set-up command to completion (stopped early on Ctrl-C); returns
        (returncode or None when stopped, its stdout when `capture`)."""
        proc = self.spawn(name, cmd, env=env, stdout=subprocess.PIPE if capture else None, text=True)
        while True:
            try:
                out, _ = proc.communicate(timeout=POLL_INTERVAL)
                self.children.remove((name, proc))  # done: not a server to watch
                return proc.returncode, out
            except subprocess.TimeoutExpired:
                if self.should_stop():
                    return None, ""

    def watch(self, port, banner):
        """Returns when a stop is due; prints `banner` once the web server answers."""
        url = f"http://127.0.0.1:{port}/healthz"
        ready_deadline = time.monotonic() + READY_TIMEOUT
        while not self.should_stop():
            for name, proc in self.children:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the rest", flush=True)
                    self.stopping = self.failed = True
            if banner and not self.stopping and (_answers(url) or time.monotonic() > ready_deadline):
                if not _answers(url):
                    print(f"warning: {url} does not answer yet", flush=True)
                print(banner, flush=True)
                banner = None
            time.sleep(POLL_INTERVAL)

    def stop_all(self):
        """TERM to every child's process group, KILL after STOP_GRACE; then KILL whatever is
        left in each group (a prefork child whose parent went first), before reaping the
        leader, so the group id cannot have been reused by then."""
        running = [(name, proc) for name, proc in self.children if proc.poll() is None]
        if running:
            print("stopping...", flush=True)
        for _, proc in running:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for _, proc in running:
            if not _wait_unreaped(proc, deadline):
                _signal_group(proc.pid, signal.SIGKILL)
        # Every group, also of a child that exited on its own (its stragglers keep the
        # group, and so its id, alive).
        for _, proc in self.children:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self.children.clear()


def _signal_group(pgid, sig):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_unreaped(proc, deadline):
    """Waits until `proc` exits, without reaping it (its pid stays reserved); False when
    it still runs at `deadline`."""
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG):
                return True
        except ChildProcessError:
            return True
        time.sleep(0.05)
    return False


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.conf import settings

    from project import embedded_redis

    supervisor = Supervisor()
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGHUP, supervisor.request_stop)
    socket = settings.EMBEDDED_REDIS_SOCKET
    redis = (embedded_redis.shared(socket, logfile=settings.VAR_DIR / "redis.log") if socket
             else contextlib.nullcontext())
    with redis:
        if socket:
            print(f"embedded Redis: {socket}", flush=True)
        try:
            return run(supervisor, settings)
        finally:
            supervisor.stop_all()


def run(supervisor, settings):
    """Set-up commands, then the servers until a stop is due; returns the exit status."""
    # Children compute the same REDIS_URL (the embedded socket or the given one) themselves.
    env = dict(os.environ)
    port = os.environ.get("PORT", "8000")
    py = sys.executable
    manage = [py, str(settings.BASE_DIR / "manage.py")]
    base_url = f"http://127.0.0.1:{port}"
    demo = ""  # seed_demo's lines (login, room, feed), printed once with the address
    for name, cmd in (("migrate", [*manage, "migrate", "--noinput"]),
                      ("seed_demo", [*manage, "seed_demo", "--base-url", base_url])):
        returncode, out = supervisor.run_step(name, cmd, env, capture=name == "seed_demo")
        if returncode is None:
            return 130
        if returncode:
            print(f"{out or ''}{name} failed with {returncode}", flush=True)
            return returncode
        demo = (out or "").strip() or demo
    supervisor.spawn("web", web_command(py, port), env=env)
    supervisor.spawn("worker", [py, "-m", "celery", "-A", "project", "worker", "--loglevel", "INFO",
                                "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2")], env=env)
    supervisor.spawn("beat", [py, "-m", "celery", "-A", "project", "beat", "--loglevel", "INFO",
                              "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")], env=env)
    banner = f"Switchboard is running at {base_url}/  (Ctrl-C stops it)\n{demo}".strip()
    supervisor.watch(port, banner)
    return 1 if supervisor.failed else 0


if __name__ == "__main__":
    sys.exit(main())
