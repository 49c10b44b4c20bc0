#!/usr/bin/env bash
# CI: the newcomer path.  A fresh clone of this repository's HEAD in a temp folder, `make run`
# there with nothing set (no REDIS_URL, DATABASE_URL, CELERY_BROKER_URL: SQLite and the
# embedded Redis; make creates the clone's own .venv), the site checked end to end
# (.ci/newcomer_check.py), then Ctrl-C and a check that no process of the clone is left.
#
#   bash .ci/newcomer.sh            (exit 0: passed; pip's usual cache under ~/.cache/pip is reused)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# Seconds for `make run` to print its address: a fresh .venv (pip install of requirements.txt,
# mostly from pip's wheel cache), migrations on a new SQLite file, a cold daphne and worker.
START_DEADLINE=${NEWCOMER_START_DEADLINE:-900}
# Seconds for everything to be gone after Ctrl-C (the supervisor's own grace is 10 s).
STOP_DEADLINE=30

log() { echo "== newcomer: $*"; }

# Short path: the embedded Redis socket lives under the clone (unix sockets: 107 bytes max).
tmp=$(mktemp -d /tmp/sb-newcomer.XXXXXX)
clone="$tmp/sb"
out="$tmp/make-run.log"
make_pid=""

# PIDs of live processes whose cwd or command line is inside the clone (not this script).
leftovers() {
  local dir pid cwd cmd
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    [[ $(awk '{print $3}' "$dir/stat" 2>/dev/null) == Z ]] && continue
    cwd=$(readlink "$dir/cwd" 2>/dev/null || true)
    cmd=$({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null || true)  # it may be gone meanwhile
    if [[ $cwd == "$clone" || $cwd == "$clone/"* || $cmd == *"$clone/"* ]]; then
      echo "$pid"
    fi
  done
}

cleanup() {
  local status=$?
  if [[ -n $make_pid ]] && kill -0 "$make_pid" 2>/dev/null; then
    kill -KILL -- "-$make_pid" 2>/dev/null || true
  fi
  local pids
  pids=$(leftovers)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  if ((status != 0)) && [[ -f $out ]]; then
    echo "--- make run output (last 100 lines) ---"
    tail -n 100 "$out"
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "== newcomer: FAIL: $*" >&2
  exit 1
}

head=$(git -C "$REPO" rev-parse HEAD)
log "fresh clone of $head into $clone"
git clone --quiet --no-hardlinks "$REPO" "$clone"
git -C "$clone" checkout --quiet --detach "$head"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "make run on port $port with REDIS_URL, DATABASE_URL and CELERY_BROKER_URL unset"
# Job control: make gets its own process group with SIGINT not ignored, as a terminal's
# foreground job, so `kill -INT -- -PID` below is exactly a Ctrl-C.
set -m
(cd "$clone" && exec env -u REDIS_URL -u DATABASE_URL -u CELERY_BROKER_URL -u DEBUG \
  -u SWITCHBOARD_VAR_DIR -u SWITCHBOARD_TESTING -u DJANGO_SETTINGS_MODULE PORT="$port" \
  make run) >"$out" 2>&1 &
make_pid=$!
set +m

deadline=$((SECONDS + START_DEADLINE))
until grep -q "Switchboard is running at" "$out"; do
  kill -0 "$make_pid" 2>/dev/null || fail "make run exited before the site was up"
  ((SECONDS < deadline)) || fail "make run did not print its address within ${START_DEADLINE}s"
  sleep 1
done
log "make run is up; it printed:"
sed -n '/Switchboard is running at/,$p' "$out" | head -n 5

logins=$(grep -c "^demo login:" "$out" || true)
[[ $logins == 1 ]] || fail "the demo login was printed $logins times, not once"
grep -q "^demo room: http://127.0.0.1:$port/rooms/lobby/$" "$out" || fail "no demo room (lobby) URL printed"
grep -q "^demo feed: http://127.0.0.1:$port/feeds/news/$" "$out" || fail "no demo feed (news) URL printed"
log "ok: the demo login once, the room and feed URLs"
password=$(sed -n "s/^demo login: username 'demo', password '\(.*\)'$/\1/p" "$out")
[[ -n $password ]] || fail "could not read the demo password from make run's output"

"$clone/.venv/bin/python" "$clone/.ci/newcomer_check.py" "http://127.0.0.1:$port" "$password" \
  || fail "the end-to-end check failed"

log "Ctrl-C (SIGINT to make run's process group)"
kill -INT -- "-$make_pid"
deadline=$((SECONDS + STOP_DEADLINE))
while kill -0 "$make_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "make run still runs ${STOP_DEADLINE}s after Ctrl-C"
  sleep 0.5
done
wait "$make_pid" || true
make_pid=""
while [[ -n $(leftovers) ]]; do
  ((SECONDS < deadline)) || break
  sleep 0.5
done
pids=$(leftovers)
if [[ -n $pids ]]; then
  # shellcheck disable=SC2086
  ps -o pid,ppid,pgid,cmd -p $pids >&2 || true
  fail "processes of the clone outlived Ctrl-C"
fi
[[ ! -S $clone/var/redis.sock ]] || fail "the embedded Redis socket $clone/var/redis.sock is still there"
log "ok: nothing left (no daphne, celery worker or beat, no redis-server on $clone/var/redis.sock)"
log "passed"
