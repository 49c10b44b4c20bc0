"""The Redis topology variables (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES, ...) and
what every Redis user is built from them (project/env.py), plus the Cluster rule that each
multi-key script's keys share one slot."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from redis.crc import key_slot

from project import env

VARIABLES = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_PASSWORD",
             "REDIS_SENTINEL_PASSWORD", "REDIS_TLS", "REDIS_DB", "REDIS_CLUSTER_NODES",
             "CELERY_BROKER_URL")


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_nothing_set_is_the_embedded_redis_and_channels_redis(clean_env, tmp_path):
    topology = env.redis_topology(tmp_path, testing=False)
    assert topology["mode"] == "single" and topology["socket"] == tmp_path / "redis.sock"
    layer = env.channel_layer(topology, prefix="sb")
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert layer["CONFIG"]["hosts"] == [{"address": topology["url"], "socket_timeout": None}]
    assert env.celery_broker(topology) == ("redis+socket://" + str(tmp_path / "redis.sock"), {})


def test_sentinel_variables_configure_layer_clients_and_celery(clean_env, tmp_path):
    clean_env.setenv("REDIS_URL", "redis://ignored:6379/0")
    clean_env.setenv("REDIS_SENTINELS", "s1.example:26379, s2.example:26380,[::1]:26381")
    clean_env.setenv("REDIS_SENTINEL_MASTER", "main")
    clean_env.setenv("REDIS_PASSWORD", "p@ss")
    clean_env.setenv("REDIS_SENTINEL_PASSWORD", "sentry")
    clean_env.setenv("REDIS_TLS", "1")
    topology = env.redis_topology(tmp_path, testing=False)
    assert topology["mode"] == "sentinel" and topology["master"] == "main"
    assert topology["sentinels"] == [("s1.example", 26379), ("s2.example", 26380), ("::1", 26381)]
    assert topology["socket"] is None  # nothing embedded is started
    host = env.channel_layer(topology, prefix="sb")["CONFIG"]["hosts"][0]
    assert host["sentinels"] == topology["sentinels"] and host["master_name"] == "main"
    assert host["sentinel_kwargs"] == {"password": "sentry", "ssl": True}
    assert host["password"] == "p@ss" and host["ssl"] is True and host["socket_timeout"] is None
    url, options = env.celery_broker(topology)
    assert url == ("sentinel://:p%40ss@s1.example:26379/0;sentinel://:p%40ss@s2.example:26380/0;"
                   "sentinel://:p%40ss@[::1]:26381/0")
    assert options == {"master_name": "main",
                       "sentinel_kwargs": {"password": "sentry", "ssl": True}}


def test_sentinel_without_master_name_or_with_a_cluster_is_refused(clean_env, tmp_path):
    clean_env.setenv("REDIS_SENTINELS", "s1:26379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINEL_MASTER"):
        env.redis_topology(tmp_path, testing=False)
    clean_env.setenv("REDIS_SENTINEL_MASTER", "main")
    clean_env.setenv("REDIS_CLUSTER_NODES", "n1:7000")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env.redis_topology(tmp_path, testing=False)


@pytest.mark.parametrize("raw", ["host:port", "host:0", ":7000", "host:70000"])
def test_a_malformed_node_list_names_the_variable(clean_env, tmp_path, raw):
    clean_env.setenv("REDIS_CLUSTER_NODES", raw)
    with pytest.raises(ImproperlyConfigured, match="REDIS_CLUSTER_NODES"):
        env.redis_topology(tmp_path, testing=False)


def test_cluster_nodes_select_the_sharded_layer_and_need_an_explicit_broker(clean_env, tmp_path):
    clean_env.setenv("REDIS_CLUSTER_NODES", "n1:7000,n2")
    topology = env.redis_topology(tmp_path, testing=False)
    assert topology["nodes"] == [("n1", 7000), ("n2", 6379)]
    layer = env.channel_layer(topology, prefix="sb")
    assert layer == {"BACKEND": "realtime.layers.RedisClusterChannelLayer",
                     "CONFIG": {"nodes": [("n1", 7000), ("n2", 6379)], "password": None,
                                "ssl": False, "prefix": "sb"}}
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL"):
        env.celery_broker(topology)
    assert env.celery_broker(topology, "amqp://guest@mq//") == ("amqp://guest@mq//", {})


# --- one slot per multi-key script ------------------------------------------------
TOPICS = ["room:lobby", "feed:42", "board:7", "room:a}b", "room:{x}", "open:ünïcode"]


@pytest.mark.parametrize("topic", TOPICS)
def test_a_topics_presence_keys_share_one_slot(topic):
    from realtime import presence

    keys = presence._keys(topic, 17)  # JOIN / LEAVE
    assert len({key_slot(k.encode()) for k in keys}) == 1
    assert {presence.members_key(topic), presence.infos_key(topic)} <= set(keys)  # SWEEP


def test_topics_spread_over_slots():
    from realtime import presence

    slots = {key_slot(presence.members_key(f"room:{i}").encode()) for i in range(100)}
    assert len(slots) > 90


def test_session_snapshot_script_keys_share_one_slot():
    from realtime import sessions

    digest = sessions.digest("some-session-key")
    remember = [sessions.SNAPSHOT_PREFIX + digest, sessions.TOMBSTONE_PREFIX + digest,
                sessions.USER_GENERATION_PREFIX + "5", sessions.USER_SNAPSHOTS_PREFIX + "5"]
    forget_user = [sessions.USER_GENERATION_PREFIX + "9", sessions.USER_SNAPSHOTS_PREFIX + "9",
                   sessions.SNAPSHOT_PREFIX + sessions.digest("another")]  # + keys it deletes
    assert len({key_slot(k.encode()) for k in remember + forget_user}) == 1
