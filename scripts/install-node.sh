#!/usr/bin/env bash
# Installs Node.js 24 LTS and npm 11 from the npm registry (Node's own builds are published there
# as node-linux-<arch>), checked against pinned sha512 digests, into /usr/local/lib/fleetnet-node,
# with node, npm and npx linked into /usr/local/bin. Debian 12's own nodejs is 18; a fresh machine
# may have none at all, so this needs only curl, tar and sha512sum (setup installs curl).
# Does nothing when a Node.js 24 or later is already first on PATH.
set -euo pipefail

NODE_VERSION=24.22.3
NPM_VERSION=11.21.3
# The registry's sha512 integrity of each tarball, in hex (what sha512sum prints), written in two
# halves of 64 digits.
declare -A NODE_SHA512
NODE_SHA512[x64]=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e4
NODE_SHA512[x64]+=86a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
NODE_SHA512[arm64]=219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd84
NODE_SHA512[arm64]+=21dbe5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f
NPM_SHA512=e427fe8c4f9772d6e11ffce338ea970be8adcbb79e73f4e4938425dfcb5feb0f
NPM_SHA512+=b586da76c183c7984e1cd51d44b370d8db6ec0735e3e48bae5609c2406271b4e
REGISTRY=${npm_config_registry:-https://registry.npmjs.org}
REGISTRY=${REGISTRY%/}
PREFIX=/usr/local/lib/fleetnet-node

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -ge 24 ]; then exit 0; fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-node: no Node.js 24 build pinned for $(uname -m); install Node.js 24 yourself" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION SHA512 -> $tmp/NAME.tgz, verified
fetch() {
  local url="$REGISTRY/$1/-/${1##*/}-$2.tgz"
  curl -fsSL --retry 3 -o "$tmp/$1.tgz" "$url" || { echo "install-node: cannot download $url" >&2; exit 1; }
  local got
  got=$(sha512sum "$tmp/$1.tgz" | cut -d' ' -f1)
  if [ "$got" != "$3" ]; then echo "install-node: $url does not match its pinned sha512; not installed" >&2; exit 1; fi
}

found=$(node --version 2>/dev/null || echo none)
echo "install-node: Node.js $NODE_VERSION and npm $NPM_VERSION from $REGISTRY (found: $found)"
fetch "node-linux-$arch" "$NODE_VERSION" "${NODE_SHA512[$arch]}"
fetch npm "$NPM_VERSION" "$NPM_SHA512"

dest="$PREFIX/$NODE_VERSION"
rm -rf "$dest.new"
mkdir -p "$dest.new/lib/node_modules/npm"
tar xzf "$tmp/node-linux-$arch.tgz" -C "$dest.new" --strip-components=1
tar xzf "$tmp/npm.tgz" -C "$dest.new/lib/node_modules/npm" --strip-components=1
rm -rf "$dest" && mv "$dest.new" "$dest"
ln -sfn "$dest/bin/node" /usr/local/bin/node
ln -sfn "$dest/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
ln -sfn "$dest/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
hash -r
echo "install-node: $(/usr/local/bin/node --version), npm $(/usr/local/bin/npm --version)"
