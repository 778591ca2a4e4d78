#!/usr/bin/env bash
# One command from a fresh checkout: installs the npm dependencies (Bun comes from npm),
# compiles dist/2dfs, builds a 2x3 field of model splits into a local store, serves it
# from a filesystem registry on 127.0.0.1, pushes it, and pulls one partition back.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund
./node_modules/.bin/bun run build:bin >/dev/null
BIN="$PWD/dist/2dfs"
DEMO="${TDFS_DEMO_DIR:-${TMPDIR:-/tmp}/2dfs-demo}"
# Port 0 lets the system pick a free port; the server's first log line says which.
PORT="${TDFS_DEMO_PORT:-0}"
rm -rf "$DEMO" && mkdir -p "$DEMO/splits"
export TDFS_STORE="$DEMO/store"

echo "== 6 model splits of 8 MiB in $DEMO/splits"
entries=()
for r in 0 1; do
  for c in 0 1 2; do
    head -c $((8 << 20)) /dev/urandom > "$DEMO/splits/split-$r-$c.bin"
    entries+=("{\"src\":\"splits/split-$r-$c.bin\",\"dst\":\"/model/split-$r-$c.bin\",\"row\":$r,\"col\":$c}")
  done
done
(IFS=,; echo "{\"allotments\":[${entries[*]}]}") > "$DEMO/2dfs.json"

echo "== 2dfs build"
"$BIN" build -t demo/model:v1 -f "$DEMO/2dfs.json"
"$BIN" image inspect demo/model:v1

echo "== 2dfs serve (data in $DEMO/registry)"
"$BIN" serve --addr "127.0.0.1:$PORT" --data "$DEMO/registry" > "$DEMO/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$DEMO/serve.log" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { echo "2dfs serve did not start:" >&2; cat "$DEMO/serve.log" >&2; exit 1; }
  sleep 0.1
done
PORT="$(sed -n 's|.*listening on https\?://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$DEMO/serve.log" | head -1)"
[ -n "$PORT" ] || { echo "2dfs serve did not say where it listens:" >&2; cat "$DEMO/serve.log" >&2; exit 1; }
echo "   listening on 127.0.0.1:$PORT"

echo "== 2dfs push"
"$BIN" push demo/model:v1 "127.0.0.1:$PORT/demo/model:v1"

echo "== 2dfs pull of the partition rows 0-1, column 1 (tag v1--0.1.1.1)"
# A separate store, as on another machine: only the two selected allotments are downloaded.
"$BIN" pull "127.0.0.1:$PORT/demo/model:v1--0.1.1.1" -o "$DEMO/partition" --store "$DEMO/pull-store"
find "$DEMO/partition" -type f | sort
echo "== the registry serves the same partition as an ordinary image:"
curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://127.0.0.1:$PORT/v2/demo/model/manifests/v1--0.1.1.1" | head -c 600; echo
echo "done: everything is under $DEMO"
