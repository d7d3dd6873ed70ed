#!/bin/sh
# fleetnet install: puts `fleetnet` on PATH from the npm package and starts the agent and/or the
# controller: systemd units where systemd runs, else the agent's own supervisor (rotated log).
#
#   sh install.sh [--tarball fleetnet-X.tgz] [--prefix /usr/local] [--agent] [--controller] [--no-start] [--no-native] [--offline]
#   sh install.sh --uninstall [--prefix /usr/local] [--purge]
#
# Without --agent/--controller: the agent only. Without --tarball: the package this script belongs
# to is packed first (`npm pack`). The package is unpacked into PREFIX/lib/node_modules/fleetnet and
# its dependencies installed by `npm ci` from the npm-shrinkwrap.json it carries: exact versions and
# integrity, nothing resolved, the same tree on every host; --offline takes them from npm's cache only
# (filled by an earlier `npm ci` or install), else the cache first and the registry for what it lacks. --no-native skips building native modules (no compiler needed;
# the agent then runs `ip -batch` instead of in-process netlink; the controller needs better-sqlite3). Needs Node.js >= 24 and npm on PATH. Why a script and not a .deb:
# Debian 12 ships Node 18, so a .deb could not depend on a packaged Node; npm is the ordinary client
# for the package and builds its native modules for the Node it runs on; one script covers systemd
# and non-systemd hosts alike.
#
# Settings files (agent.yaml, controller.yaml) go to /etc/fleetnet with a system prefix (/usr/local, the
# default, or /usr), else under the prefix, PREFIX/etc/fleetnet, and the daemons this script starts are
# pointed at them (--config). State (/var/lib/fleetnet), sockets (/run/fleetnet), logs (/var/log/fleetnet)
# and the units (/etc/systemd/system) stay where the daemons and the CLI look for them.
# --uninstall removes the units (or stops the supervised agent) and the package; --purge also removes the
# settings folder, and with a system prefix the state, /run/fleetnet and the logs. With another prefix
# --purge removes only what that install made: its settings folder (PREFIX/etc/fleetnet) and the
# supervised agent's log (the log and run folders too when nothing else is left in them); the state in
# /var/lib/fleetnet stays: the daemons keep it there for every fleetnet on the machine, this script makes none.
# Paths can be moved for tests and unusual layouts (environment):
#   FLEETNET_ETC (above)  FLEETNET_RUN (/run/fleetnet)  FLEETNET_LOG_DIR (/var/log/fleetnet)
#   SYSTEMD_UNIT_DIR (/etc/systemd/system)  FLEETNET_SYSTEMD (auto|yes|no: whether to use systemd)
# Exit codes: 0 done, 1 failed, 2 bad usage.
set -eu

PREFIX=/usr/local
TARBALL=
AGENT=
CONTROLLER=
START=yes
UNINSTALL=
PURGE=
NATIVE=yes
OFFLINE=
RUN=${FLEETNET_RUN:-/run/fleetnet}
LOGDIR=${FLEETNET_LOG_DIR:-/var/log/fleetnet}
UNITDIR=${SYSTEMD_UNIT_DIR:-/etc/systemd/system}
HERE=$(cd "$(dirname "$0")" && pwd)

usage() {
	sed -n '2,/^# Exit codes/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
help() { # asked for: the same text on stdout, exit 0
	sed -n '2,/^# Exit codes/p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
}
die() {
	echo "fleetnet install: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) [ $# -ge 2 ] || usage; PREFIX=$2; shift 2 ;;
	--tarball) [ $# -ge 2 ] || usage; TARBALL=$2; shift 2 ;;
	--agent) AGENT=yes; shift ;;
	--controller) CONTROLLER=yes; shift ;;
	--no-start) START=; shift ;;
	--no-native) NATIVE=; shift ;;
	--offline) OFFLINE=yes; shift ;;
	--uninstall) UNINSTALL=yes; shift ;;
	--purge) PURGE=yes; shift ;;
	-h | --help) help ;;
	*) echo "fleetnet install: unknown argument '$1'" >&2; usage ;;
	esac
done
case "$PREFIX" in /*) ;; *) echo "fleetnet install: --prefix must be an absolute path, not '$PREFIX'" >&2; exit 2 ;; esac
[ "$PREFIX" = / ] || PREFIX=${PREFIX%/}
case "$PREFIX" in
/usr/local | /usr) SYSTEM_PREFIX=yes; ETC=${FLEETNET_ETC:-/etc/fleetnet} ;;
*) SYSTEM_PREFIX=; ETC=${FLEETNET_ETC:-$PREFIX/etc/fleetnet} ;;
esac
[ -n "$AGENT$CONTROLLER" ] || AGENT=yes
if [ -n "$CONTROLLER" ] && [ -z "$NATIVE" ]; then
	echo "fleetnet install: the controller needs its native SQLite module: leave out --no-native" >&2
	exit 2
fi

BIN=$PREFIX/bin/fleetnet
case "${FLEETNET_SYSTEMD:-auto}" in
auto) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then SYSTEMD=yes; else SYSTEMD=; fi ;;
yes) SYSTEMD=yes ;;
no) SYSTEMD= ;;
*) echo "fleetnet install: FLEETNET_SYSTEMD is auto, yes or no" >&2; exit 2 ;;
esac
PIDFILE=$RUN/agent-supervisor.pid

stop_supervised() {
	[ -f "$PIDFILE" ] || return 0
	p=$(cat "$PIDFILE")
	kill "$p" 2>/dev/null || return 0
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
}

if [ -n "$UNINSTALL" ]; then
	if [ -n "$SYSTEMD" ]; then
		for u in fleetnet-agent fleetnet-controller; do
			systemctl disable --now "$u.service" 2>/dev/null || true
			rm -rf "$UNITDIR/$u.service" "$UNITDIR/$u.service.d"
		done
		systemctl daemon-reload 2>/dev/null || true
	fi
	stop_supervised
	rm -f "$PIDFILE"
	rm -rf "$PREFIX/lib/node_modules/fleetnet"
	[ ! -L "$BIN" ] || rm -f "$BIN"
	if [ -n "$PURGE" ] && [ -n "$SYSTEM_PREFIX" ]; then
		rm -rf "$ETC" "$LOGDIR" /var/lib/fleetnet "$RUN"
		echo "fleetnet removed from $PREFIX (settings, state and logs too)"
	elif [ -n "$PURGE" ]; then
		# what this install made: its settings, its supervisor's log (agent.log and its rotations)
		rm -rf "$ETC"
		[ -n "${FLEETNET_ETC:-}" ] || rmdir "$PREFIX/etc" 2>/dev/null || true
		rm -f "$LOGDIR/agent.log" "$LOGDIR"/agent.log.[0-9]*
		rmdir "$LOGDIR" "$RUN" 2>/dev/null || true
		echo "fleetnet removed from $PREFIX (settings $ETC and the agent's log too)"
		[ ! -e /var/lib/fleetnet ] ||
			echo "kept /var/lib/fleetnet: the state every fleetnet on this machine keeps there (remove it if nothing uses it)"
	else
		echo "fleetnet removed from $PREFIX"
	fi
	exit 0
fi

command -v node >/dev/null 2>&1 || die "Node.js is not installed (fleetnet needs Node.js >= 24: https://nodejs.org)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (it comes with Node.js >= 24)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 24 ] || die "Node.js $(node -v) is too old: fleetnet needs >= 24"

if [ -z "$TARBALL" ]; then
	[ -f "$HERE/../package.json" ] || die "no --tarball given and no fleetnet package around $HERE"
	TMP=$(mktemp -d)
	trap 'rm -rf "$TMP"' EXIT
	(cd "$HERE/.." && npm pack --silent --pack-destination "$TMP" >/dev/null)
	TARBALL=$(ls "$TMP"/fleetnet-*.tgz)
fi
[ -f "$TARBALL" ] || die "no package at $TARBALL"

echo "installing $(basename "$TARBALL") into $PREFIX"
PKG=$PREFIX/lib/node_modules/fleetnet
NEW=$PREFIX/lib/node_modules/.fleetnet-new
rm -rf "$NEW"
install -d "$NEW" "$PREFIX/bin"
tar -xzf "$TARBALL" -C "$NEW" --strip-components=1 --no-same-owner || { rm -rf "$NEW"; die "cannot unpack $TARBALL"; }
[ -f "$NEW/npm-shrinkwrap.json" ] || { rm -rf "$NEW"; die "$TARBALL carries no npm-shrinkwrap.json: make it with npm pack (its prepack writes one)"; }
# Native: the dependencies' install scripts build their native code; which may run is the package's own
# allowScripts list (package.json; npm refuses --allow-scripts in a project install). --no-native: none runs.
if [ -n "$NATIVE" ]; then scripts=; else scripts=--ignore-scripts; fi
# Native code builds against the headers of the Node.js that will run it, when they are beside it (Node's own
# builds carry include/node): a machine-wide nodedir naming another version's headers makes modules that fail to load.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -n "$NATIVE" ] && [ -f "$node_prefix/include/node/node_version.h" ]; then
	npm_config_nodedir=$node_prefix
	export npm_config_nodedir
fi
if [ -n "$OFFLINE" ]; then cache=--offline; else cache=--prefer-offline; fi
# the locked tree, production dependencies only; the installed package is replaced only when it is whole
(cd "$NEW" && npm ci --omit=dev --no-fund --no-audit --loglevel=error "$cache" ${scripts:+"$scripts"} >/dev/null) || {
	rm -rf "$NEW"
	die "npm could not install fleetnet's dependencies${OFFLINE:+ from its cache (--offline: fill it with npm ci first, or leave --offline out)}"
}
chmod 0755 "$NEW/bin/fleetnet.cjs"
rm -rf "$PKG.old"
[ ! -e "$PKG" ] || mv "$PKG" "$PKG.old"
mv "$NEW" "$PKG"
rm -rf "$PKG.old"
ln -sfn ../lib/node_modules/fleetnet/bin/fleetnet.cjs "$BIN"
"$BIN" --version >/dev/null || die "$BIN does not run"

install -d -m 0755 "$ETC"
# Settings files are created once, commented; an existing file is never touched.
if [ -n "$AGENT" ] && [ ! -e "$ETC/agent.yaml" ]; then
	cat >"$ETC/agent.yaml" <<-'EOF'
	# fleetnet agent settings (keys as in `fleetnet agent run --help`; flags override them)
	# listen: 10.0.0.12:7441          # the controller reaches the agent here (this host's address)
	# host-name: h2
	# ovs-datapath: system
	# metrics: 127.0.0.1:9464         # Prometheus GET /metrics (off when absent)
	EOF
fi
if [ -n "$CONTROLLER" ] && [ ! -e "$ETC/controller.yaml" ]; then
	cat >"$ETC/controller.yaml" <<-'EOF'
	# fleetnet controller settings (keys as in `fleetnet controller run --help`; flags override them)
	# listen: 10.0.0.2:7440
	# db: /var/lib/fleetnet/state.db
	# metrics: 127.0.0.1:9465         # Prometheus GET /metrics (off when absent)
	EOF
fi
[ -z "$AGENT" ] || echo "agent settings: $ETC/agent.yaml"
[ -z "$CONTROLLER" ] || echo "controller settings: $ETC/controller.yaml"


unit() { # NAME SOURCE: the unit, with a drop-in for ExecStart when fleetnet or its settings are elsewhere
	install -m 0644 "$PKG/deploy/systemd/$2" "$UNITDIR/$1.service"
	rm -rf "$UNITDIR/$1.service.d"
	if [ "$BIN" != /usr/local/bin/fleetnet ] || [ "$ETC" != /etc/fleetnet ]; then
		install -d "$UNITDIR/$1.service.d"
		exec_line=$(grep '^ExecStart=' "$UNITDIR/$1.service" |
			sed -e "s|/usr/local/bin/fleetnet|$BIN|" -e "s|--config /etc/fleetnet/|--config $ETC/|")
		printf '[Service]\nExecStart=\n%s\n' "$exec_line" >"$UNITDIR/$1.service.d/prefix.conf"
	fi
}

if [ -n "$SYSTEMD" ]; then
	install -d "$UNITDIR"
	[ -z "$AGENT" ] || unit fleetnet-agent fleetnet-agent-package.service
	[ -z "$CONTROLLER" ] || unit fleetnet-controller fleetnet-controller.service
	systemctl daemon-reload
	if [ -n "$START" ]; then
		[ -z "$CONTROLLER" ] || systemctl enable --now fleetnet-controller.service
		[ -z "$AGENT" ] || systemctl enable --now fleetnet-agent.service
	fi
	echo "systemd units installed in $UNITDIR"
else
	[ -z "$CONTROLLER" ] || echo "no systemd here: start the controller yourself: $BIN controller run --config $ETC/controller.yaml" >&2
	if [ -n "$AGENT" ] && [ -n "$START" ]; then
		stop_supervised
		install -d -m 0755 "$RUN" "$LOGDIR"
		# The supervisor restarts the agent when it dies and rotates $LOGDIR/agent.log (10 MiB × 5).
		setsid "$BIN" agent supervise --pid-file "$PIDFILE" --log "$LOGDIR/agent.log" -- \
			agent run --config "$ETC/agent.yaml" </dev/null >/dev/null 2>&1 &
		i=0
		while [ ! -f "$PIDFILE" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		[ -f "$PIDFILE" ] || die "the agent supervisor did not start (see $LOGDIR/agent.log)"
		echo "no systemd here: agent supervised (pid $(cat "$PIDFILE")), log $LOGDIR/agent.log"
	fi
fi
echo "fleetnet $("$BIN" --version) installed: $BIN"
