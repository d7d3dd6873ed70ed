#!/usr/bin/env bash
# Installs what fleetnet's demo and tests need on a fresh Debian 12 machine, as root:
# Debian packages, the npm dependencies, and a Docker daemon when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "setup: run as root (fleetnet makes network namespaces and interfaces)" >&2; exit 2; fi

PKGS=(iproute2 util-linux procps openvswitch-switch docker.io busybox-static dnsmasq-base udhcpc
      isc-dhcp-client dhcpcd-base openssh-server iputils-arping iputils-ping protobuf-compiler
      containernetworking-plugins lxc tcpdump tar libndp-tools nftables iptables systemd)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: fleetnet needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "${CI:-}" = true ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (--bridge=none --iptables=false: it makes no bridge and no firewall rules)"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/fleetnet-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/fleetnet-dockerd.log" >&2; exit 1; }
fi

echo "setup: building"
npm run --silent build
