"""Bookkeeping for the load generator: delivery stats, server RSS/CPU sampling, fd limit."""
import asyncio
import gc
import os
import random
import resource
import time

import psutil

LAT_CAP = 2_000_000  # latency samples kept (uniform reservoir beyond that)


def raise_nofile(need: int) -> int:
    """Raise this process's open-file soft limit towards `need` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def quiesce_gc():
    """Called by a scenario once its connections are open, before its clock starts: the
    load generator's own long-lived objects (a thousand clients' state) are frozen, so a
    collection in the measured window walks only what that window allocates.  Without it,
    the first burst after the connects paid a full collection of every client's objects
    (~150 ms of receive time in one message at 1,000 clients) whatever the server was."""
    gc.collect()
    gc.freeze()


def pct(sorted_vals, q):
    """Nearest-rank percentile of an already sorted list (None if empty)."""
    if not sorted_vals:
        return None
    return round(sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))], 2)


class Stats:
    """Deliveries seen by all receiving connections of one run."""

    def __init__(self, run_id=None):
        self.run_id = run_id    # payloads tagged with another run's "r" are not counted
        self.delivered = 0
        self.out_of_order = 0   # a publisher's counter did not increase at some receiver
        self.seq_gaps = 0       # "ours": per-topic seq did not go up by exactly 1
        self.lat = []           # publish -> receive, ms
        self.first = self.last = None  # wall time of first/last delivery
        self._seen = 0
        # BENCH_PER_MESSAGE=1: latencies kept by message counter too (None: not kept); read
        # once here, not per delivery (record() is the load generator's hot path).
        self.per_n = {} if os.environ.get("BENCH_PER_MESSAGE") else None

    def record(self, conn, topic, seq, payload):
        now = time.time()
        if seq is not None:
            prev = conn.last_seq.get(topic)
            if prev is not None and seq != prev + 1:
                self.seq_gaps += 1
            if prev is None or seq > prev:
                conn.last_seq[topic] = seq
        if payload is None or payload.get("r", self.run_id) != self.run_id:
            return  # not a bench message of this run (presence, an earlier run's backlog...)
        self.delivered += 1
        self.first = self.first or now
        self.last = now
        pub, n = payload.get("p"), payload.get("n")
        if n is not None:
            prev = conn.last_n.get(pub)
            if prev is not None and n <= prev:
                self.out_of_order += 1
            else:
                conn.last_n[pub] = n
        t = payload.get("t")
        if isinstance(t, (int, float)):
            self._seen += 1
            ms = (now - t) * 1000.0
            if n is not None and self.per_n is not None:
                self.per_n.setdefault(n, []).append(ms)
            if len(self.lat) < LAT_CAP:
                self.lat.append(ms)
            else:  # reservoir sampling keeps the percentiles unbiased
                j = random.randrange(self._seen)
                if j < LAT_CAP:
                    self.lat[j] = ms

    def summary(self):
        s = sorted(self.lat)
        return {"delivered": self.delivered, "out_of_order": self.out_of_order,
                "seq_gaps": self.seq_gaps, "p50_ms": pct(s, 0.50), "p99_ms": pct(s, 0.99),
                "max_ms": round(s[-1], 2) if s else None, **self._per_message()}

    def _per_message(self):
        """With BENCH_PER_MESSAGE=1: each message's (min, median, max) latency over its
        receivers, by counter -- which message a p99 comes from (e.g. the first)."""
        return {"per_message": {n: [round(min(v), 1), round(sorted(v)[len(v) // 2], 1),
                                    round(max(v), 1)] for n, v in sorted(self.per_n.items())}
                } if self.per_n else {}


class Monitor:
    """Samples the server's RSS (process + children) and CPU, and this process's CPU."""

    def __init__(self, pid):
        """pid: an int, or "PID[,PID...]" (several server processes are summed)."""
        pids = [int(p) for p in str(pid).split(",") if p.strip()] if pid else []
        self.procs = [psutil.Process(p) for p in pids]
        self.proc = self.procs[0] if self.procs else None
        self.me = psutil.Process()
        self.rss_start = self.rss_max = self.rss_end = None
        self._task = self._last = None
        self.t0 = None

    def _procs(self):
        return [q for p in self.procs for q in (p, *p.children(recursive=True))]

    def _rss_kb(self):
        try:
            return sum(p.memory_info().rss for p in self._procs()) // 1024
        except psutil.Error:
            return None

    def _cpu(self):
        try:
            return sum(sum(p.cpu_times()[:2]) for p in self._procs())
        except psutil.Error:
            return None

    def start(self):
        """Start the measurement window (call again to restart it)."""
        self.t0, self.my0 = time.monotonic(), sum(self.me.cpu_times()[:2])
        self._last = None
        if self.proc:
            self.cpu0 = self._cpu()
            self.rss_start = self.rss_max = self._rss_kb()
            if self._task is None:
                self._task = asyncio.create_task(self._sample())

    async def _sample(self):
        while True:
            await asyncio.sleep(0.25)
            rss = self._rss_kb()
            if rss is not None and self.rss_max is not None:
                self.rss_max = max(self.rss_max, rss)

    def stop(self):
        """End the window; later calls return the same figures."""
        if self._last is not None or self.t0 is None:
            return self._last or {}
        wall = max(time.monotonic() - self.t0, 1e-9)
        out = {"loadgen_cpu_pct": round(100 * (sum(self.me.cpu_times()[:2]) - self.my0) / wall, 1)}
        if self.proc:
            if self._task:
                self._task.cancel()
                self._task = None
            self.rss_end, cpu1 = self._rss_kb(), self._cpu()
            if self.rss_end is not None and self.rss_max is not None:
                self.rss_max = max(self.rss_max, self.rss_end)
            out.update(rss_start_kb=self.rss_start, rss_end_kb=self.rss_end, rss_max_kb=self.rss_max,
                       cpu_pct=round(100 * (cpu1 - self.cpu0) / wall, 1)
                       if cpu1 is not None and self.cpu0 is not None else None)
        self._last = out
        return out
