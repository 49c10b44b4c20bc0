"""bench/publisher.py in its own process, the fanout/latency scenarios' `sync` publisher
(bench/loadgen.py --publisher), and which publisher a run uses."""
import asyncio
import json
import os
import sys
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExternalPublisher:
    """bench/publisher.py in its own process (--publisher sync): started before the
    subscribers connect (Django set-up is not timed), told "go" after they settle."""

    def __init__(self, proc):
        self.proc = proc
        self.ps = psutil.Process(proc.pid)

    @classmethod
    async def start(cls, a, paced, run_id):
        kind = "ours" if a.target == "ours" else "baseline"
        topic = f"room:{a.room}"
        cmd = [sys.executable, "-m", "bench.publisher", "--kind", kind, "--topic", topic,
               "--messages", str(a.messages), "--duration", str(a.duration),
               "--payload", str(a.payload), "--rate", str((a.rate or 10.0) if paced else 0),
               "--run-id", run_id, *(["--ephemeral"] if a.ephemeral else [])]
        env = dict(os.environ)
        if a.redis_url:
            env["REDIS_URL"] = a.redis_url
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self = cls(proc)
        line = await self._line(60)
        if not line.get("ready"):
            raise RuntimeError(f"publisher did not start: {line}")
        return self

    async def _line(self, timeout):
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not raw:
                await self.proc.wait()
                raise RuntimeError(f"publisher exited with {self.proc.returncode}")
            if raw.startswith(b"{"):
                return json.loads(raw)

    async def go(self, timeout):
        cpu0 = sum(self.ps.cpu_times()[:2])
        t0 = time.time()
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        try:
            out = await self._line(timeout)
            out["publisher_cpu_pct"] = round(
                100 * (sum(self.ps.cpu_times()[:2]) - cpu0) / max(time.time() - t0, 1e-9), 1)
            return out
        finally:
            await self.stop()

    async def stop(self):
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def publisher_mode(a):
    if a.publisher == "auto":
        return "sync" if a.target == "ours" else "socket"
    if a.publisher == "http" and a.target != "ours":
        raise SystemExit("--publisher http is for target ours")
    if a.publisher == "sync" and a.target == "reference":
        raise SystemExit("--publisher sync is for targets ours and baseline")
    return a.publisher
