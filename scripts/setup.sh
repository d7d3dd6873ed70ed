#!/usr/bin/env bash
# Installs what fleetnet's demo and tests need on a fresh Debian 12 machine, as root:
# Debian packages, Node.js 24 (from the npm registry), the npm dependencies, and a Docker daemon
# when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (fleetnet makes network namespaces and interfaces)" >&2
  exit 2
fi

PKGS=(iproute2 util-linux procps openvswitch-switch docker.io busybox-static dnsmasq-base udhcpc
      isc-dhcp-client dhcpcd-base openssh-server iputils-arping iputils-ping protobuf-compiler
      containernetworking-plugins lxc tcpdump tar nftables iptables systemd
      curl ca-certificates build-essential python3
      etcd-server etcd-client ethtool podman graphviz ansible-core zsh fish)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/install-node.sh
hash -r
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 24 ]; then
  found="$(node --version 2>/dev/null || echo none) at $(command -v node || echo nowhere)"
  echo "setup: fleetnet needs Node.js 24 or later first on PATH (found: $found)" >&2
  exit 1
fi

# node_modules is rebuilt when the lock file changed or it was built by another Node.js (native
# modules are compiled for one ABI).
abi_stamp="node_modules/.fleetnet-node-abi"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "${CI:-}" = true ] \
   || [ "$(cat "$abi_stamp" 2>/dev/null)" != "$(node -p process.versions.modules)" ]; then
  echo "setup: npm ci"
  # Native modules build against the headers of the Node.js that runs them (a machine-wide
  # nodedir pointing at another version's headers would give modules that fail to load).
  npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" \
  npm ci --no-audit --no-fund --loglevel=error
  node -p process.versions.modules > "$abi_stamp"
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
