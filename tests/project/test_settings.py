"""Settings come from the environment only, with safe defaults (project/env.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from project import env


def test_bool_parsing_accepts_common_spellings_and_rejects_others(monkeypatch):
    for raw, expected in [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("FLAG", raw)
        assert env.get_bool("FLAG", default=None) is expected
    monkeypatch.delenv("FLAG")
    assert env.get_bool("FLAG", default=True) is True
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env.get_bool("FLAG", default=False)


def test_int_and_list_parsing(monkeypatch):
    monkeypatch.setenv("N", "42")
    assert env.get_int("N", 1) == 42
    monkeypatch.setenv("N", "4x")
    with pytest.raises(ImproperlyConfigured):
        env.get_int("N", 1)
    monkeypatch.setenv("L", " a.example, b.example ,,")
    assert env.get_list("L") == ["a.example", "b.example"]


def test_secret_key_is_required_without_debug_and_generated_once_with_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        env.secret_key(debug=False, var_dir=tmp_path)
    first = env.secret_key(debug=True, var_dir=tmp_path)
    assert len(first) >= 50 and env.secret_key(debug=True, var_dir=tmp_path) == first
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert env.secret_key(debug=False, var_dir=tmp_path) == "from-env"


def test_allowed_hosts_never_wildcard_and_required_in_production(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "example.com,*")
    with pytest.raises(ImproperlyConfigured, match=r"\*"):
        env.allowed_hosts(debug=False)
    monkeypatch.delenv("ALLOWED_HOSTS")
    with pytest.raises(ImproperlyConfigured):
        env.allowed_hosts(debug=False)
    assert "localhost" in env.allowed_hosts(debug=True)


def test_default_database_is_sqlite_tuned_for_two_writers(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.database(tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] > 0
    assert config["CONN_MAX_AGE"] == 0


def test_postgres_url_uses_psycopg_pool(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/app")
    config = env.database(tmp_path / "unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "app")
    assert config["OPTIONS"]["pool"]["max_size"] >= 1
    assert config["CONN_MAX_AGE"] == 0


def test_redis_defaults_to_the_embedded_socket_and_broker_follows(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    url, sock = env.redis_url(tmp_path, testing=False)
    assert sock == tmp_path / "redis.sock" and url == f"unix://{sock}"
    assert env.celery_url(url) == f"redis+socket://{sock}"
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert env.redis_url(tmp_path, testing=False) == ("redis://127.0.0.1:6379/3", None)
    assert env.celery_url("redis://127.0.0.1:6379/3") == "redis://127.0.0.1:6379/3"


def test_production_settings_pass_the_deploy_check():
    """`manage.py check --deploy --fail-level WARNING` with production-like variables."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    environ = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SWITCHBOARD_TESTING")}
    environ.update(DEBUG="0", SECRET_KEY="x" * 20 + "-production-like-secret-key-0123456789abcdef",
                   ALLOWED_HOSTS="switchboard.example.com",
                   CSRF_TRUSTED_ORIGINS="https://switchboard.example.com")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
