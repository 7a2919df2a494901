# Shared by the registry benchmarks (scripts/bench-promote, scripts/bench-sign); sourced.
# Uses the caller's $work (a scratch directory), $pids (an array of processes to stop at exit)
# and $kind (distribution | ferro; ferro needs $VOUCH_TEST_FERRO_BIN).

proxy_py="$(dirname "${BASH_SOURCE[0]}")/counting-proxy.py"
proxy_py="$(cd "$(dirname "$proxy_py")" && pwd)/counting-proxy.py"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_registry KIND NAME: a registry of KIND (distribution | ferro) on a free 127.0.0.1 port
# with storage under $work/NAME; sets REG_HOST and REG_PID (as tests/e2e/support/registry.rs).
# With REG_PPROF=1, docker-registry also serves Go's /debug/pprof on REG_DEBUG_HOST.
start_registry() {
  local kind=$1 name=$2 dir port attempt debug=""
  for attempt in 1 2 3; do
    dir="$work/$name.$attempt.$RANDOM"
    mkdir -p "$dir/storage"
    port=$(free_port)
    REG_DEBUG_HOST=""
    if [ "${REG_PPROF:-}" = 1 ] && [ "$kind" != ferro ]; then
      REG_DEBUG_HOST="127.0.0.1:$(free_port)"
      debug="  debug:
    addr: $REG_DEBUG_HOST"
    fi
    if [ "$kind" = ferro ]; then
      FERRO_OCI_LISTEN="127.0.0.1:$port" FERRO_OCI_STORAGE_DIR="$dir/storage" RUST_LOG=warn \
        "$VOUCH_TEST_FERRO_BIN" > "$dir/registry.log" 2>&1 &
    else
      cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: vouch-bench-only
$debug
EOF
      docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
    fi
    REG_PID=$!
    pids+=("$REG_PID")
    for _ in $(seq 300); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
        REG_HOST="127.0.0.1:$port"
        return 0
      fi
      kill -0 "$REG_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  done
  echo "$kind registry did not start; its log:" >&2
  cat "$dir/registry.log" >&2
  exit 1
}

stop_pid() { # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# fresh_b: registry B of $kind restarted with empty storage (sets B).
b_pid=""
fresh_b() {
  if [ -n "$b_pid" ]; then stop_pid "$b_pid"; fi
  start_registry "$kind" b
  B=$REG_HOST
  b_pid=$REG_PID
}

# proxy HOST: a counting proxy in front of HOST; sets PROXY_HOST, PROXY_PID, PROXY_COUNTS.
proxy() {
  local n=$RANDOM
  python3 "$proxy_py" "${1##*:}" "$work/proxy.$n.port" "$work/proxy.$n.counts" &
  PROXY_PID=$!
  pids+=("$PROXY_PID")
  for _ in $(seq 250); do [ -s "$work/proxy.$n.port" ] && break; sleep 0.02; done
  PROXY_HOST="127.0.0.1:$(cat "$work/proxy.$n.port")"
  PROXY_COUNTS="$work/proxy.$n.counts"
}

# counted PID COUNTS: the requests the proxy PID counted since the last call (resets them).
counted() {
  rm -f "$2"
  kill -USR1 "$1"
  for _ in $(seq 250); do [ -s "$2" ] && break; sleep 0.02; done
  head -1 "$2"
}

