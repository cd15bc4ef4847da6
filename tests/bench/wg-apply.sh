#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The WireGuard plugin's apply beside wg(8), against wireguard-go in a namespace of its own:
#   (a) N peers (10,000) onto an empty interface: the plugin (observe, plan, apply) against
#       `wg setconf` of the same set;
#   (b) 1% of them replaced (100 of 10,000): the plugin against `wg syncconf`;
#   (c) one peer changed among N: the plugin's own count of the peer operations it sent.
# Prints medians and ratios (target: plugin / wg <= 1.0 for both). Passes or fails nothing,
# except when the set-up breaks or the plugin and wg(8) leave different devices behind.
#
# Needs root (a network namespace, TUN devices), wg, wireguard-go, ip, and a build with
# tests/bench/wg-apply-bench and the plugin. See README.md beside this file.
set -euo pipefail
export LC_ALL=C
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

ns=ppna-bench
ifname=ppna-b0
peers=10000
runs=5
build=

usage() {
	cat <<EOF
usage: $0 [-b BUILD_DIR] [-n PEERS] [-r RUNS]
  -b  build directory (default: build-bench, else build, under the source root)
  -n  peers in the set (default $peers); 1% of them are replaced in (b)
  -r  timed runs of each command, of which the median is shown (default $runs)
EOF
	exit 2
}

while getopts "b:n:r:h" opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) peers=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) usage ;;
	esac
done

die() {
	echo "wg-apply: $*" >&2
	exit 1
}

if [ -z "$build" ]; then
	for b in "$root/build-bench" "$root/build"; do
		[ -d "$b" ] && build=$b && break
	done
fi
[ -n "$build" ] || die "no build directory; pass -b"
build=$(cd "$build" && pwd)
driver=$build/tests/bench/wg-apply-bench
export PPN_PLUGIN_DIR=$build/plugins

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, TUN devices)"
for tool in ip wg wireguard-go; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run scripts/setup"
done
[ -x "$driver" ] || die "'$driver' not built (ninja -C $build)"
[ -f "$PPN_PLUGIN_DIR/ppn-wireguard.so" ] || die "no plugin in '$PPN_PLUGIN_DIR'"
! ip netns list | grep -qw "^$ns" || die "namespace '$ns' exists already"
[ ! -e "/var/run/wireguard/$ifname.sock" ] || die "'/var/run/wireguard/$ifname.sock' exists"

work=$(mktemp -d /tmp/ppna-bench.XXXXXX)
wg_pid=
ip netns add "$ns"

cleanup() {
	stop_daemon
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_daemon() {
	if [ -n "$wg_pid" ]; then
		kill "$wg_pid" 2>/dev/null || true
		wait "$wg_pid" 2>/dev/null || true
	fi
	wg_pid=
}

# A fresh wireguard-go, its link up (as the plugin would leave it), nothing configured.
start_daemon() {
	stop_daemon
	WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go "$ifname" \
		>>"$work/wireguard-go.log" 2>&1 &
	wg_pid=$!
	for _ in $(seq 200); do
		[ -S "/var/run/wireguard/$ifname.sock" ] && break
		sleep 0.02
	done
	[ -S "/var/run/wireguard/$ifname.sock" ] || die "wireguard-go did not start"
	ip -n "$ns" link set "$ifname" up
}

# Runs "$@" inside the namespace and prints its wall time in ms; entering the namespace is
# not timed. The command's stdout goes to $work/out, its stderr to $work/err.
cat >"$work/timed.sh" <<'SH'
out=$1 err=$2
shift 2
t0=$EPOCHREALTIME
"$@" >"$out" 2>>"$err" || exit 1
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
SH
timed() {
	ip netns exec "$ns" bash "$work/timed.sh" "$work/out" "$work/err" "$@" ||
		die "'$*' failed: $(tail -n 5 "$work/err")"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.1f", v[(NR + 1) / 2]
		else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

spread() { # FILE: "min-max" of the runs
	sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'
}

field() { # NAME: a value the driver printed in its last run
	awk -v name="$1" '$1 == name { print $2 }' "$work/out"
}

# The device without counters, sorted, to compare what the plugin and wg(8) left.
device_state() {
	ip netns exec "$ns" wg show "$ifname" dump | awk -F '\t' '
		NR == 1 { print $1, $3; next } { print $1, $3, $4, $8 }' | sort
}

plugin() { # DRIVER OPTIONS
	timed "$driver" -n "$peers" "$@" apply "$ifname" "$work/state"
}

# --- The sets ---
replaced=$((peers / 100))
mkdir -p "$work/state"
wg genkey >"$work/state/wireguard.key"
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat "$work/state/wireguard.key")" \
	>"$work/header.conf"
"$driver" -n "$peers" conf | cat "$work/header.conf" - >"$work/base.conf"
"$driver" -n "$peers" -r "$replaced" conf | cat "$work/header.conf" - >"$work/changed.conf"
echo "== $peers peers; $replaced replaced in (b); $(wireguard-go --version | head -n 1);" \
	"$runs runs each, medians; load average $(cut -d ' ' -f 1 /proc/loadavg) at the start"

# --- (a) onto an empty interface ---
: >"$work/a-plugin" >"$work/a-wg" >"$work/a-observe" >"$work/a-plan" >"$work/a-apply"
for ((i = 0; i < runs; i++)); do
	start_daemon
	plugin >>"$work/a-plugin"
	[ "$(field failed)" = 0 ] || die "(a): the plugin failed $(field failed) actions"
	field observe_ms >>"$work/a-observe"
	field plan_ms >>"$work/a-plan"
	field apply_ms >>"$work/a-apply"
	device_state >"$work/a-plugin-state"

	start_daemon
	timed wg setconf "$ifname" "$work/base.conf" >>"$work/a-wg"
	device_state >"$work/a-wg-state"
	cmp -s "$work/a-plugin-state" "$work/a-wg-state" ||
		die "(a): the plugin and wg setconf left different devices"
done
a_plugin=$(median <"$work/a-plugin")
a_wg=$(median <"$work/a-wg")

# --- (b) 1% replaced ---
: >"$work/b-plugin" >"$work/b-wg" >"$work/b-observe" >"$work/b-plan" >"$work/b-apply"
start_daemon
for ((i = 0; i < runs; i++)); do
	ip netns exec "$ns" wg setconf "$ifname" "$work/base.conf"
	plugin -r "$replaced" >>"$work/b-plugin"
	[ "$(field actions)" = $((2 * replaced)) ] || die "(b): $(field actions) actions"
	field observe_ms >>"$work/b-observe"
	field plan_ms >>"$work/b-plan"
	field apply_ms >>"$work/b-apply"
	device_state >"$work/b-plugin-state"

	ip netns exec "$ns" wg setconf "$ifname" "$work/base.conf"
	timed wg syncconf "$ifname" "$work/changed.conf" >>"$work/b-wg"
	device_state >"$work/b-wg-state"
	cmp -s "$work/b-plugin-state" "$work/b-wg-state" ||
		die "(b): the plugin and wg syncconf left different devices"
done
b_plugin=$(median <"$work/b-plugin")
b_wg=$(median <"$work/b-wg")

# --- (c) one changed peer ---
ip netns exec "$ns" wg setconf "$ifname" "$work/base.conf"
ip netns exec "$ns" "$driver" -v -n "$peers" -e 1 apply "$ifname" "$work/state" \
	>"$work/c-out" 2>"$work/c-log" || die "(c) failed: $(cat "$work/c-log")"
c_actions=$(awk '$1 == "actions" { print $2 }' "$work/c-out")
c_sent=$(grep -o "sent [0-9]* peer operations\? in .*" "$work/c-log" || true)
[ "$(ip netns exec "$ns" wg show "$ifname" endpoints | grep -c ':51821$')" -eq 1 ] ||
	die "(c): not exactly one peer moved"

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

phases() { # a or b: the medians of the plugin's own steps
	echo "observe $(median <"$work/$1-observe") ms, plan $(median <"$work/$1-plan") ms," \
		"apply $(median <"$work/$1-apply") ms"
}

cat <<EOF

(a) $peers peers onto an empty interface
    plugin: observe + plan + apply (whole process)  $a_plugin ms  (runs $(spread "$work/a-plugin"))
        of which $(phases a)
    wg setconf                                      $a_wg ms  (runs $(spread "$work/a-wg"))
    ratio plugin / wg setconf                       $(ratio "$a_plugin" "$a_wg")   (target <= 1.0)
    ratio of the apply call alone / wg setconf      $(ratio "$(median <"$work/a-apply")" "$a_wg")

(b) $replaced of $peers peers replaced
    plugin: observe + plan + apply (whole process)  $b_plugin ms  (runs $(spread "$work/b-plugin"))
        of which $(phases b)
    wg syncconf                                     $b_wg ms  (runs $(spread "$work/b-wg"))
    ratio plugin / wg syncconf                      $(ratio "$b_plugin" "$b_wg")   (target <= 1.0)

(c) one peer's endpoint changed among $peers
    plan: $c_actions action; the plugin's log: "${c_sent:-nothing}"

Both tools left the same device behind in every run of (a) and (b).
EOF
