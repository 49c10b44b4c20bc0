"""Fixtures of the feeds tests: feeds, an ingesting user, event factories, and real Celery
worker processes on the test database and the test Redis."""

import itertools
import os
import signal
import sys
import time

import pytest

from tests.servers import Process, database_url, server_env

_ids = itertools.count(1)
# Seconds a fresh worker may take to import Django and connect to the broker.
WORKER_START_TIMEOUT = 30.0


@pytest.fixture
def feed(db):
    from feeds.models import Feed

    return Feed.objects.create(slug="news", title="News", is_public=True)


@pytest.fixture
def private_feed(db):
    from feeds.models import Feed

    return Feed.objects.create(slug="ops", title="Ops", is_public=False)


@pytest.fixture
def ingester(make_user):
    """A user holding feeds.ingest_events."""
    from django.contrib.auth.models import Permission

    user = make_user("ingester")
    user.user_permissions.add(Permission.objects.get(codename="ingest_events",
                                                     content_type__app_label="feeds"))
    return type(user).objects.get(pk=user.pk)  # fresh: no stale permission cache


def make_event(**fields):
    """A valid event (feed news) with a fresh id unless given."""
    event = {"id": f"ext-{next(_ids)}", "feed": "news", "kind": "article", "title": "Hello",
             "body": "Body", "url": "https://example.com/a", "data": {"n": 1},
             "occurred_at": "2025-01-31T12:00:00+00:00", "version": 1, "deleted": False}
    event.update(fields)
    return event


@pytest.fixture
def event():
    return make_event


class Worker(Process):
    """`celery -A project worker` (prefork, one child) in its own process group."""

    def wait_ready(self, timeout=WORKER_START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"celery worker exited:\n{self.log()[-3000:]}")
            if " ready." in self.log():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"celery worker did not start in {timeout} s:\n{self.log()[-3000:]}")

    def children(self):
        import psutil

        return psutil.Process(self.pid).children(recursive=True)

    def kill_child(self):
        """kill -9 the pool process running the task (the worker's main process lives on)."""
        children = self.children()
        assert children, "the worker has no pool process"
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        return [child.pid for child in children]


@pytest.fixture
def celery_worker(transactional_db, settings):
    """celery_worker(wait=True, **env) -> a Worker on this test's database and Redis (ready
    unless wait=False: then call .wait_ready()); every worker is killed (process group)
    after the test, its log printed if the test failed."""
    started = []

    def start(wait=True, **env):
        full = {"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, **env}
        name = f"feeds-{os.getpid()}-{len(started)}"
        worker = Worker([sys.executable, "-m", "celery", "-A", "project", "worker", "-P", "prefork",
                         "-c", "1", "--without-mingle", "--without-gossip", "-l", "info",
                         "-n", f"{name}@%h"], server_env(full), name)
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        log = worker.log()
        worker.stop()
        if "Traceback" in log:
            print(f"--- {worker.name} log ---\n{log[-6000:]}")
