#!/usr/bin/env bash
# CI: the production path exactly as docs/operations.md gives it, then checked from outside.
#
#   bash .ci/production.sh        (from a checkout with .venv made by `make venv`)
#
# Needs psql, PostgreSQL (127.0.0.1:5432, user postgres), Redis (127.0.0.1:6379), RabbitMQ
# (127.0.0.1:5672, guest, rabbitmqctl on this machine), nginx and openssl.  Everything it
# makes (database, RabbitMQ vhost, var dir, certificate, nginx prefix) is its own and is
# removed again; every process it starts is stopped by the trap, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$PWD/.venv/bin/python"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
DB=switchboard_prod_ci
VHOST=switchboard_prod_ci

log() { echo "== $*"; }

work=$(mktemp -d /tmp/sb-prod-ci-XXXXXX)
chmod 755 "$work"   # nginx's workers (another user) must reach its tmp/ below
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if ((rc != 0)); then
    for f in "$work"/logs/*.log "$work"/nginx/logs/error.log; do
      [[ -f $f ]] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }
    done
  fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a long-running process in its own process group (so the trap stops its children
# too), output to $work/logs/<name>.log.
start() {
  local name=$1; shift
  setsid "$@" >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
}
wait_http() { # url, what
  "$PY" .ci/production_check.py wait "$1" "$2"
}
read -r HTTPS_PORT HTTP_PORT WEB1 WEB2 < <("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
mkdir -p "$work/logs" "$work/var" "$work/tls" "$work/nginx/logs" "$work/nginx/tmp" "$work/nginx/conf"
chmod 777 "$work/nginx/tmp"

log "fresh PostgreSQL database $DB and RabbitMQ vhost $VHOST"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
rabbitmqctl -q add_vhost "$VHOST"
rabbitmqctl -q set_permissions -p "$VHOST" guest ".*" ".*" ".*"

# --- Environment (docs/operations.md, "Environment") -------------------------------------
unset DEBUG SWITCHBOARD_TESTING
SECRET_KEY=$("$PY" -c "import secrets; print(secrets.token_urlsafe(50))")
export SECRET_KEY
# The public name, and 127.0.0.1 for probes that reach a process on its own port (/healthz).
export ALLOWED_HOSTS=localhost,127.0.0.1
export CSRF_TRUSTED_ORIGINS="https://localhost:$HTTPS_PORT"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
# Redis db 7: not the one the test suite or `make run` use.
export REDIS_URL="redis://127.0.0.1:6379/7"
export CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/$VHOST"
export TRUSTED_PROXY_COUNT=1   # nginx in front
export SWITCHBOARD_VAR_DIR="$work/var"

# --- Release steps (docs/operations.md, "Releasing"), in order ----------------------------
log "release steps"
set -x
"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput
"$PY" manage.py check --deploy --fail-level WARNING
set +x
ADMIN=ci-admin
ADMIN_PASSWORD=$("$PY" -c "import secrets; print(secrets.token_urlsafe(18))")
log "first install only: the first administrator"
DJANGO_SUPERUSER_USERNAME=$ADMIN DJANGO_SUPERUSER_PASSWORD=$ADMIN_PASSWORD \
  DJANGO_SUPERUSER_EMAIL=admin@example.com "$PY" manage.py createsuperuser --noinput

# --- Processes (docs/operations.md, "Web processes", "Celery workers and beat") ------------
log "two daphnes ($WEB1, $WEB2), a Celery worker and beat"
start "web-$WEB1" "$PY" -m daphne -b 127.0.0.1 -p "$WEB1" -v 0 project.asgi:application
start "web-$WEB2" "$PY" -m daphne -b 127.0.0.1 -p "$WEB2" -v 0 project.asgi:application
start worker "$PY" -m celery -A project worker --loglevel INFO --concurrency 2
start beat "$PY" -m celery -A project beat --loglevel INFO --schedule "$SWITCHBOARD_VAR_DIR/celerybeat-schedule"
wait_http "http://127.0.0.1:$WEB1/healthz" "daphne $WEB1"
wait_http "http://127.0.0.1:$WEB2/healthz" "daphne $WEB2"

# --- nginx with TLS (docs/operations.md, "nginx") -----------------------------------------
log "nginx on https://localhost:$HTTPS_PORT (http redirect on $HTTP_PORT), self-signed certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
"$PY" .ci/production_check.py render-nginx deploy/nginx.conf --listen "$HTTPS_PORT" \
  --redirect "$HTTP_PORT" --upstream "$WEB1,$WEB2" --server-name localhost \
  --cert "$work/tls/fullchain.pem" --key "$work/tls/privkey.pem" >"$work/nginx/conf/nginx.conf"
"$NGINX" -t -q -p "$work/nginx" -c conf/nginx.conf
start nginx "$NGINX" -p "$work/nginx" -c conf/nginx.conf
wait_http "http://127.0.0.1:$HTTP_PORT/" nginx

log "checks through nginx"
"$PY" .ci/production_check.py check --base "https://localhost:$HTTPS_PORT" \
  --redirect "http://127.0.0.1:$HTTP_PORT" --cafile "$work/tls/fullchain.pem" \
  --admin "$ADMIN" --admin-password "$ADMIN_PASSWORD"

log "server logs (what an operator sees)"
for f in "$work"/logs/web-*.log; do
  echo "--- $(basename "$f"): $(wc -l <"$f") lines"; tail -n 5 "$f"
done
