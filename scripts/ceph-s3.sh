#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with the RADOS Gateway (S3), for tests and for trying
# `2dfs serve --storage s3://...`. Everything (config, data, sockets, logs, PIDs) lives under DIR.
#
#   bash scripts/ceph-s3.sh start DIR   installs the Debian packages if missing, starts a monitor,
#                                       an OSD and radosgw on free loopback ports, creates a user
#                                       and a bucket, and prints `export` lines for them
#   bash scripts/ceph-s3.sh stop DIR    stops the daemons this script started in DIR (by PID)
#   bash scripts/ceph-s3.sh env DIR     prints the export lines again
#
# The OSD keeps its objects in RAM (memstore: ~1.5 s from nothing to the first PUT, against ~6 s
# for bluestore on a file), sized by CEPH_S3_MEMSTORE_BYTES (default 8 GiB; a full memstore makes
# writes hang rather than fail, so keep it well above the data). Data survives a clean stop and
# start, not a kill -9 of the OSD. The daemons share one keyring under DIR.
set -euo pipefail

log() { printf 'ceph-s3: %s\n' "$*" >&2; }
die() { printf 'ceph-s3: error: %s\n' "$*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || die "usage: bash scripts/ceph-s3.sh start|stop|env DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/ceph.conf

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

install_packages() {
  local missing=0
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$b" >/dev/null || missing=1
  done
  ((missing)) || return 0
  log "installing ceph-mon ceph-osd radosgw ceph-common (Debian packages, ~70 MB)"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  # No init system may start the packages' daemons during install: this script runs its own.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    ceph-mon ceph-osd radosgw ceph-common >"$dir/apt.log" 2>&1 || die "apt-get install failed (see $dir/apt.log)"
}

# Runs a daemon in the foreground mode (-f) in the background, in its own session so that a
# `timeout` around the caller does not take it down, and records its PID.
spawn() {
  local name=$1
  shift
  setsid "$@" -f -c "$conf" >>"$dir/log/$name.out" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
}

alive() { [[ -f $dir/run/$1.pid ]] && kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within ${limit}s (logs in $dir/log)"
    sleep 0.05
  done
}

print_env() {
  [[ -f $dir/s3.env ]] || die "no cluster in $dir (run: bash scripts/ceph-s3.sh start $dir)"
  cat "$dir/s3.env"
}

start() {
  if alive rgw; then print_env; return; fi
  install_packages
  mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd/ceph-0" "$dir/rgw"
  if [[ ! -f $conf ]]; then
    local fsid mon_port rgw_port
    fsid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(free_port)
    rgw_port=$(free_port)
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v1:127.0.0.1:$mon_port]
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
# One OSD: pools of one replica, few placement groups, no warnings about either.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# Without these each monitor command takes about a second.
paxos propose interval = 0.01
paxos min wait = 0.001
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${CEPH_S3_MEMSTORE_BYTES:-8589934592}
# A clean stop writes memstore to disk; a fast shutdown would drop it.
osd fast shutdown = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
rgw enable usage log = false
EOF
    # A monitor map with an explicit v1 address (a v2 one on a custom port never lets the OSD boot).
    # One keyring for every daemon (loopback only); the monitor imports all of it at mkfs. (With
    # auth off, the OSD sent its commands with a zero fsid and never booted.)
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >>"$dir/log/mkfs.out" 2>&1 \
      || die "ceph-mon --mkfs failed (see $dir/log/mkfs.out)"
    fresh=1
  else
    fresh=0
  fi
  spawn mon ceph-mon -i a
  wait_for 20 "the Ceph monitor" ceph -c "$conf" --connect-timeout 2 mon stat
  if ((fresh)); then
    local osd_uuid
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    ceph -c "$conf" osd new "$osd_uuid" >/dev/null
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" --no-mon-config >>"$dir/log/mkfs.out" 2>&1 \
      || die "ceph-osd --mkfs failed (see $dir/log/mkfs.out)"
  fi
  spawn osd ceph-osd -i 0
  wait_for 30 "the Ceph OSD" bash -c "ceph -c '$conf' osd stat | grep -q '1 up'"
  spawn rgw radosgw -n client.rgw.a
  local endpoint
  endpoint="http://$(sed -n 's/^rgw frontends = beast endpoint=\([^ ]*\).*/\1/p' "$conf")"
  wait_for 30 "radosgw" curl -sf -o /dev/null "$endpoint/"
  if ((fresh)); then
    local access secret bucket=tdfs
    access=$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
    secret=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
    radosgw-admin -c "$conf" -n client.rgw.a user create --uid=tdfs --display-name=2dfs \
      --access-key="$access" --secret-key="$secret" >/dev/null 2>>"$dir/log/admin.out" || die "radosgw-admin user create failed"
    # Bun's S3 client cannot create buckets: a SigV4-signed PUT does.
    curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/$bucket" -o /dev/null || die "creating bucket $bucket failed"
    cat >"$dir/s3.env" <<EOF
export S3_ENDPOINT=$endpoint
export S3_BUCKET=$bucket
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
EOF
  fi
  print_env
}

stop_one() {
  local name=$1 pidfile=$dir/run/$1.pid
  [[ -f $pidfile ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # The OSD writes its memstore out on a clean stop: give it time before the monitor goes.
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) did not stop in 10 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

stop() {
  stop_one rgw
  stop_one osd
  stop_one mon
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) die "unknown command \"$cmd\" (start, stop or env)" ;;
esac
