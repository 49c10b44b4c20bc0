"""make bench's Redis: a private server unless REDIS_URL says otherwise, and a row whose
Redis db was emptied by someone else meanwhile is marked (its 4401s are not the server's)."""

from contextlib import ExitStack

import redis
from django.conf import settings

from bench import run_all, runs


def test_without_redis_url_the_set_runs_on_a_private_redis_server_it_stops(tmp_path):
    with ExitStack() as stack:
        svc = run_all.Services(f"sqlite:///{tmp_path / 'bench.sqlite3'}", None, stack)
        assert svc.redis_url.startswith("redis://127.0.0.1:")
        assert svc.redis_url.endswith(f"/{run_all.BENCH_REDIS_DB}")
        assert svc.redis_url != "redis://127.0.0.1:6379/14" and not svc.notes
        with redis.Redis.from_url(svc.redis_url) as own:
            assert own.ping()
    with redis.Redis.from_url(svc.redis_url, socket_connect_timeout=1) as gone:
        try:
            gone.ping()
            answered = True
        except redis.ConnectionError:
            answered = False
    assert not answered


def test_a_row_sees_its_redis_db_emptied_by_another_process():
    url = settings.REDIS_URL
    runs.plant_canary(url)
    assert runs.canary_intact(url)
    with redis.Redis.from_url(url) as other:
        other.flushdb()  # what another process sharing the db did to the storms' tickets
    assert not runs.canary_intact(url)
