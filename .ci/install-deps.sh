#!/usr/bin/env bash
# Installs what the 2dfs test suites need on a fresh Debian 12 machine (root, no systemd):
# the real OCI clients and daemons the e2e tests start themselves, the podman config this kind
# of sandbox needs, and the npm dependencies (which bring Bun). Idempotent, and quick (well under
# a second) when everything is already there.
#
#   .ci/install-deps.sh           install whatever is missing
#   .ci/install-deps.sh --check   only report; exit 1 if anything is missing
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHECK_ONLY=0
if [[ "${1:-}" == "--check" ]]; then CHECK_ONLY=1; fi

# /usr/local is left out: some machines have a different docker client in /usr/local/bin.
SYSTEM_PATH=/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'install-deps: %s\n' "$*" >&2; }

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root for: $*"; exit 1
  fi
}

# Package -> binaries that prove it is installed.
declare -A PACKAGE_BINARIES=(
  [docker.io]="docker dockerd"
  [containerd]="containerd ctr"
  [skopeo]="skopeo"
  [umoci]="umoci"
  [podman]="podman"
  [buildah]="buildah"
  [runc]="runc"
  [docker-registry]="docker-registry"
  [jq]="jq"
  [strace]="strace"
  [curl]="curl"
  [openssl]="openssl"
  # GNU time: the memory tests read a command's own peak RSS from it (test/support/peak-memory.ts).
  [time]="time"
  # Headless browser for the web page's end-to-end test (driven by playwright-core).
  [chromium]="chromium"
  # The release suite runs the arm64 binary under user-mode emulation (test/release/).
  [qemu-user-static]="qemu-aarch64-static"
)

missing_packages=()
for package in "${!PACKAGE_BINARIES[@]}"; do
  for binary in ${PACKAGE_BINARIES[$package]}; do
    if ! PATH=$SYSTEM_PATH command -v "$binary" >/dev/null; then
      missing_packages+=("$package")
      break
    fi
  done
done
# Packages with no binary to look for, so asked of dpkg: busybox-static (the dynamic busybox
# package also provides /bin/busybox, but the test image needs the static one), and the release
# suite's arm64 glibc (qemu -L /usr/aarch64-linux-gnu) and musl loader.
for package in busybox-static libc6-arm64-cross musl; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing_packages+=("$package")
  fi
done
if ! command -v npm >/dev/null; then
  missing_packages+=(nodejs npm)
fi
# Ceph's RADOS Gateway, the S3 store of test/registry/driver/s3.test.ts (scripts/ceph-s3.sh);
# without recommends it is 63 packages, ~257 MiB, and nothing starts on install.
ceph_packages=()
for binary in ceph-mon ceph-osd radosgw ceph-authtool; do
  if ! PATH=$SYSTEM_PATH command -v "$binary" >/dev/null; then
    ceph_packages=(ceph-mon ceph-osd radosgw ceph-common)
    break
  fi
done

CONTAINERS_CONF=/etc/containers/containers.conf
CONTAINERS_CONF_BODY='# Written by 2dfs .ci/install-deps.sh.
# The sandbox refuses podman'"'"'s default rlimits ("error setting rlimit type 7: operation not
# permitted"), and crun is not installed: use runc with lower limits.
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
'
REGISTRIES_CONF=/etc/containers/registries.conf.d/50-2dfs-local.conf
# A location without a port matches every port of that host (checked with podman 4.3), so the
# tests' random registry ports are all plain HTTP. Tests pass --tls-verify=false as well.
REGISTRIES_CONF_BODY='# Written by 2dfs .ci/install-deps.sh: test registries on loopback speak plain HTTP.
[[registry]]
location = "127.0.0.1"
insecure = true

[[registry]]
location = "localhost"
insecure = true
'

# True when file $1 does not hold exactly the text $2.
config_differs() { ! cmp -s "$1" <(printf '%s' "$2"); }

needs_npm=0
if [[ ! -x node_modules/.bin/bun || ! -d node_modules/playwright-core ]]; then needs_npm=1; fi

if [[ $CHECK_ONLY == 1 ]]; then
  status=0
  if ((${#missing_packages[@]})); then log "missing packages: ${missing_packages[*]}"; status=1; fi
  if ((${#ceph_packages[@]})); then log "missing packages: ${ceph_packages[*]}"; status=1; fi
  if config_differs "$CONTAINERS_CONF" "$CONTAINERS_CONF_BODY"; then log "$CONTAINERS_CONF is not the 2dfs one"; status=1; fi
  if config_differs "$REGISTRIES_CONF" "$REGISTRIES_CONF_BODY"; then log "$REGISTRIES_CONF is missing"; status=1; fi
  if ((needs_npm)); then log "node_modules/.bin/bun is missing (npm ci)"; status=1; fi
  ((status == 0)) && log "everything is installed"
  exit $status
fi

if ((${#missing_packages[@]} + ${#ceph_packages[@]})); then
  log "installing: ${missing_packages[*]} ${ceph_packages[*]}"
  # Without systemd, the packages' init scripts would start a system dockerd and a registry on
  # :5000 during install; the tests start their own, so forbid service starts while installing.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap 'as_root rm -f '"$policy" EXIT
  fi
  as_root apt-get update -q
  if ((${#missing_packages[@]})); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing_packages[@]}"
  fi
  if ((${#ceph_packages[@]})); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${ceph_packages[@]}"
  fi
fi

if config_differs "$CONTAINERS_CONF" "$CONTAINERS_CONF_BODY"; then
  if [[ -f $CONTAINERS_CONF ]]; then
    log "replacing $CONTAINERS_CONF (old copy kept as $CONTAINERS_CONF.bak)"
    as_root cp "$CONTAINERS_CONF" "$CONTAINERS_CONF.bak"
  fi
  as_root mkdir -p "$(dirname "$CONTAINERS_CONF")"
  printf '%s' "$CONTAINERS_CONF_BODY" | as_root tee "$CONTAINERS_CONF" >/dev/null
  log "wrote $CONTAINERS_CONF"
fi
if config_differs "$REGISTRIES_CONF" "$REGISTRIES_CONF_BODY"; then
  as_root mkdir -p "$(dirname "$REGISTRIES_CONF")"
  printf '%s' "$REGISTRIES_CONF_BODY" | as_root tee "$REGISTRIES_CONF" >/dev/null
  log "wrote $REGISTRIES_CONF"
fi

if ((needs_npm)); then
  if [[ -f package-lock.json ]]; then
    log "npm ci"
    npm ci --no-audit --no-fund
  else
    log "npm install (no package-lock.json)"
    npm install --no-audit --no-fund
  fi
  if [[ ! -x node_modules/.bin/bun ]]; then
    log "node_modules/.bin/bun is still missing after npm: the bun package's postinstall failed"
    exit 1
  fi
fi

log "ready: $(PATH=$SYSTEM_PATH docker --version), $(podman --version), bun $(node_modules/.bin/bun --version)"
