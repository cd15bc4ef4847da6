#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The dry-run benchmark: ppn-reconcile --dry-run on a fleet of N peers and M VMs, against a
# wireguard-go interface that already holds exactly what the mesh compiler wants, beside the
# time libyaml alone takes to parse the same manifests. Prints figures, passes or fails nothing
# except when the set-up itself breaks or the dry-run does not report "in sync".
#
# Needs root (a network namespace, a TUN device), wg, wireguard-go, ip, python3 and a build
# with engine/cli/ppn-reconcile and tests/bench/yaml-parse. See README.md beside this file.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

ns=ppnb-ns
ifname=ppnb0
peers=10000
vms=1000
runs=7
parse_runs=7
node=
build=
keep=0
profiler=
target_ratio=3.0
target_rss_mib=64

usage() {
	cat <<EOF
usage: $0 [-b BUILD_DIR] [-n PEERS] [-m VMS] [-r RUNS] [-k] [-p PROFILER]
  -b  build directory (default: build-bench, else build, under the source root)
  -n  peers in the fleet, one node each (default $peers)
  -m  VMs in the fleet (default $vms)
  -r  warm dry-runs to take the median of, and libyaml runs to take the best of (default $runs)
  -k  keep the generated fleet and state directory (the namespace is always removed)
  -p  after measuring, run one more warm dry-run under PROFILER, a command prefix split on
      spaces, such as "perf record -o /tmp/perf.data --call-graph dwarf" or
      "valgrind --tool=callgrind --callgrind-out-file=/tmp/callgrind.out"
EOF
	exit 2
}

while getopts "b:n:m:r:kp:h" opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) peers=$OPTARG ;;
	m) vms=$OPTARG ;;
	r) runs=$OPTARG parse_runs=$OPTARG ;;
	k) keep=1 ;;
	p) profiler=$OPTARG ;;
	*) usage ;;
	esac
done

die() {
	echo "dry-run: $*" >&2
	exit 1
}

if [ -z "$build" ]; then
	for b in "$root/build-bench" "$root/build"; do
		[ -d "$b" ] && build=$b && break
	done
fi
[ -n "$build" ] || die "no build directory; pass -b"
build=$(cd "$build" && pwd)
reconcile=$build/engine/cli/ppn-reconcile
yaml_parse=$build/tests/bench/yaml-parse

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, TUN device)"
for tool in ip wg wireguard-go /usr/bin/python3; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run scripts/setup"
done
[ -x "$reconcile" ] || die "'$reconcile' not built (ninja -C $build)"
[ -x "$yaml_parse" ] || die "'$yaml_parse' not built (ninja -C $build)"
! ip netns list | grep -qw "^$ns" || die "namespace '$ns' exists already: another run, or a crashed one"
[ ! -e "/var/run/wireguard/$ifname.sock" ] || die "'/var/run/wireguard/$ifname.sock' exists already"

work=$(mktemp -d /tmp/ppnb-bench.XXXXXX)
wg_pid=
ns_made=0

cleanup() {
	local rc=$?

	if [ -n "$wg_pid" ]; then
		kill "$wg_pid" 2>/dev/null || true
		wait "$wg_pid" 2>/dev/null || true
	fi
	[ "$ns_made" -eq 0 ] || ip netns del "$ns" 2>/dev/null || true
	if [ "$keep" -eq 1 ]; then
		echo "dry-run: kept $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'
}

# Runs "$@" $1 times, printing one wall time in ms per run; stops at the first exit code
# other than 0. Meant to run inside the namespace, so that entering it is not timed.
time_runs() {
	local n=$1 i t0 t1 rc
	shift
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		rc=0
		"$@" >/dev/null 2>&1 || rc=$?
		t1=$EPOCHREALTIME
		if [ "$rc" -ne 0 ]; then
			echo "rc=$rc"
			return 1
		fi
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
	done
}

median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.1f", v[(NR + 1) / 2]
		else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Peak RSS of one run in KiB: GNU time (Debian package 'time', in scripts/setup) when present,
# else the same rusage through wait4(2) from Python. Linux folds the RSS a process had before
# exec into ru_maxrss, so the fallback never reports less than Python's own (about 6 MiB).
peak_rss_kib() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
		tail -n 1 "$work/rss"
	else
		/usr/bin/python3 -c 'import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
print(os.wait4(pid, 0)[2].ru_maxrss)' "$@"
	fi
}

echo "== generating a fleet: $peers peers, $vms VMs"
t0=$EPOCHREALTIME
/usr/bin/python3 "$here/gen-fleet.py" "$work/fleet" --peers "$peers" --vms "$vms" \
	--interface "$ifname"
echo "   took $(ms_since "$t0") ms"
fleet=$work/fleet
node=$(basename "$(ls "$fleet"/*.conf)" .conf)

echo "== loading '$ifname' in namespace '$ns' with the interface $node should have"
ip netns add "$ns"
ns_made=1
ip -n "$ns" link set lo up
WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go "$ifname" >"$work/wireguard-go.log" 2>&1 &
wg_pid=$!
for _ in $(seq 100); do
	[ -S "/var/run/wireguard/$ifname.sock" ] && break
	kill -0 "$wg_pid" 2>/dev/null || die "wireguard-go exited: $(cat "$work/wireguard-go.log")"
	sleep 0.05
done
[ -S "/var/run/wireguard/$ifname.sock" ] || die "wireguard-go made no UAPI socket in 5 s"

t0=$EPOCHREALTIME
ip netns exec "$ns" wg setconf "$ifname" "$fleet/$node.conf"
echo "   wg setconf: $(ms_since "$t0") ms"
ip -n "$ns" link set "$ifname" mtu "$(cat "$fleet/$node.mtu")" up
t0=$EPOCHREALTIME
ip -n "$ns" -batch "$fleet/$node.batch"
echo "   ip -batch (address + routes): $(ms_since "$t0") ms"
echo "   $(ip netns exec "$ns" wg show "$ifname" peers | wc -l) peers," \
	"$(ip -n "$ns" route show dev "$ifname" | wc -l) routes on '$ifname'"
dump_ms=$(ip netns exec "$ns" bash -c "$(declare -f time_runs); time_runs 3 wg show $ifname dump" |
	median)

echo "== libyaml alone, best of $parse_runs"
parse_line=$("$yaml_parse" -r "$parse_runs" "$fleet/tree")
echo "   $parse_line"
parse_ms=$(sed -n 's/.* parse_ms=\([0-9.]*\).*/\1/p' <<<"$parse_line")

reconcile_args=(--dry-run --repo "$fleet/fleet.git" --node "$node" --state-dir "$work/state"
	--interface "$ifname" --plugin-dir "$build/plugins")

echo "== first dry-run (fills the mirror)"
t0=$EPOCHREALTIME
rc=0
ip netns exec "$ns" "$reconcile" "${reconcile_args[@]}" >"$work/plan.txt" 2>"$work/plan.err" || rc=$?
echo "   took $(ms_since "$t0") ms, exit code $rc"
echo "   plan's last line: $(tail -n 1 "$work/plan.txt")"
if [ "$rc" -ne 0 ]; then
	echo "--- stdout (last 20 lines)"
	tail -n 20 "$work/plan.txt"
	echo "--- stderr (last 20 lines)"
	tail -n 20 "$work/plan.err"
	die "the dry-run must exit 0 (in sync) on an interface loaded from the same fleet"
fi

echo "== $runs warm dry-runs"
times=$(ip netns exec "$ns" bash -c "$(declare -f time_runs); time_runs \"\$@\"" _ "$runs" \
	"$reconcile" "${reconcile_args[@]}") || die "a warm dry-run failed: $(tail -n 1 <<<"$times")"
echo "   ms: $(tr '\n' ' ' <<<"$times")"
dry_ms=$(median <<<"$times")

rss_kib=$(ip netns exec "$ns" bash -c "work=$work; $(declare -f peak_rss_kib); peak_rss_kib \"\$@\"" _ \
	"$reconcile" "${reconcile_args[@]}")

if [ -n "$profiler" ]; then
	echo "== one more warm dry-run under: $profiler"
	read -r -a profiler_words <<<"$profiler"
	ip netns exec "$ns" "${profiler_words[@]}" "$reconcile" "${reconcile_args[@]}" >/dev/null
fi

ratio=$(awk -v d="$dry_ms" -v p="$parse_ms" 'BEGIN { printf "%.2f", d / p }')
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "MISSED" }'; }

echo
echo "== $peers peers, $vms VMs, $(nproc) cores; $(sed -n 's/.*files=\([0-9]*\) bytes=\([0-9]*\).*/\1 files, \2 bytes/p' <<<"$parse_line")"
printf '%-34s %10s   %s\n' "figure" "value" "target"
printf '%-34s %10s\n' "libyaml parse, best of $parse_runs (ms)" "$parse_ms"
printf '%-34s %10s\n' "dry-run, median of $runs warm (ms)" "$dry_ms"
printf '%-34s %10s   <= %s  %s\n' "ratio dry-run / parse" "$ratio" "$target_ratio" \
	"$(verdict "$ratio" "$target_ratio")"
printf '%-34s %10s   <= %s  %s\n' "dry-run peak RSS (MiB)" "$rss_mib" "$target_rss_mib" \
	"$(verdict "$rss_mib" "$target_rss_mib")"
printf '%-34s %10s\n' "for scale: wg show dump (ms)" "$dump_ms"
