#!/bin/bash
# The example fleet as a real encrypted mesh. Three network namespaces joined by veth to a
# bridge: gcp-relay (a public endpoint), macbook-pro and macbook-air (behind the relay, no
# endpoint). Each node runs `ppn-reconcile --once` against the same bare repository, with the
# userspace backend (wireguard-go, which the plugin starts). Then: pings over the overlay,
# dry runs in sync, key rotation, a refused invalid commit, a refused mass removal, and
# revocation.
#
# wireguard-go's UAPI sockets share one directory across namespaces, so each node gets its own
# interface name (--interface).
set -euo pipefail
umask 077

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go is not installed"; exit 77; }

build=${PPN_BUILD_ROOT:?}
source_root=${PPN_SOURCE_ROOT:?}
reconcile=$build/engine/cli/ppn-reconcile
ppn=$build/engine/cli/ppn
work=$(mktemp -d /tmp/ppnm.XXXXXX)

nodes=(gcp-relay macbook-pro macbook-air)
declare -A ns=([gcp-relay]=ppnm-relay [macbook-pro]=ppnm-pro [macbook-air]=ppnm-air)
declare -A ifname=([gcp-relay]=ppnm-r0 [macbook-pro]=ppnm-p0 [macbook-air]=ppnm-a0)
declare -A underlay=([gcp-relay]=192.168.77.1 [macbook-pro]=192.168.77.2 [macbook-air]=192.168.77.3)
declare -A overlay=([gcp-relay]=10.77.0.1 [macbook-pro]=10.77.0.2 [macbook-air]=10.77.0.3)

cleanup() {
	for node in "${nodes[@]}"; do
		pkill -f "^wireguard-go ${ifname[$node]}\$" 2>/dev/null || true
		ip netns delete "${ns[$node]}" 2>/dev/null || true
	done
	ip netns delete ppnm-br 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

in_ns() {
	local node=$1
	shift
	ip netns exec "${ns[$node]}" "$@"
}

make_underlay() {
	ip netns add ppnm-br
	ip -n ppnm-br link add br0 type bridge
	ip -n ppnm-br link set br0 up
	for node in "${nodes[@]}"; do
		local n=${ns[$node]}

		ip netns add "$n"
		ip link add "$n-h" netns ppnm-br type veth peer name eth0 netns "$n"
		ip -n ppnm-br link set "$n-h" master br0 up
		ip -n "$n" address add "${underlay[$node]}/24" dev eth0
		ip -n "$n" link set eth0 up
		ip -n "$n" link set lo up
	done
}

git_commit() {
	git -C "$work/checkout" add -A
	git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid \
		commit -q -m "$1"
	git -C "$work/checkout" push -q "$work/fleet.git" main
}

set_public_key() {
	sed -i "s|^publicKey: .*|publicKey: $2|" "$work/checkout/peers/$1.yaml"
}

# Each node's key is born on the node (ppn keygen); only the public half is committed, as a
# join would do. The relay's endpoint is its address on the test's bridge.
make_fleet_repo() {
	cp -r "$source_root/examples/fleet" "$work/checkout"
	sed -i "s|^endpoint: .*|endpoint: ${underlay[gcp-relay]}:51820|" \
		"$work/checkout/peers/gcp-relay.yaml"
	for node in "${nodes[@]}"; do
		set_public_key "$node" "$("$ppn" keygen --state-dir "$work/state-$node" 2>/dev/null)"
	done
	git init -q --bare -b main "$work/fleet.git"
	git -C "$work/checkout" init -q -b main
	git_commit "the example fleet, on the test's bridge"
}

once() {
	local node=$1
	shift
	in_ns "$node" "$reconcile" --once --repo "$work/fleet.git" --node "$node" \
		--interface "${ifname[$node]}" --backend userspace \
		--state-dir "$work/state-$node" "$@"
}

dry_run() {
	local node=$1
	in_ns "$node" "$reconcile" --dry-run --repo "$work/fleet.git" --node "$node" \
		--interface "${ifname[$node]}" --backend userspace --state-dir "$work/state-$node"
}

once_everywhere() {
	for node in "$@"; do
		once "$node" >"$work/once-$node.out" 2>"$work/once-$node.err" ||
			{ cat "$work/once-$node.out" "$work/once-$node.err" >&2; fail "--once on $node"; }
	done
}

# A handshake through the relay can take a moment: a few tries, bounded.
can_ping() {
	local from=$1 to=$2
	for _ in 1 2 3 4 5; do
		in_ns "$from" ping -c 1 -W 1 "$to" >/dev/null 2>&1 && return 0
	done
	return 1
}

expect_pings() {
	can_ping macbook-pro "${overlay[macbook-air]}" || fail "$1: macbook-pro cannot reach macbook-air"
	can_ping macbook-air "${overlay[macbook-pro]}" || fail "$1: macbook-air cannot reach macbook-pro"
	can_ping macbook-pro "${overlay[gcp-relay]}" || fail "$1: macbook-pro cannot reach the relay"
	can_ping macbook-air "${overlay[gcp-relay]}" || fail "$1: macbook-air cannot reach the relay"
	echo "PASS: $1: pings over the overlay, laptop to laptop through the relay"
}

expect_in_sync() {
	for node in "$@"; do
		local status=0
		dry_run "$node" >"$work/dry-$node.out" 2>&1 || status=$?
		[ "$status" -eq 0 ] || { cat "$work/dry-$node.out" >&2; fail "$1: dry run on $node: $status"; }
	done
}

peer_keys() {
	in_ns "$1" wg show "${ifname[$1]}" peers | sort
}

make_underlay
make_fleet_repo

# Converge from nothing.
once_everywhere "${nodes[@]}"
expect_pings "first --once"
expect_in_sync "${nodes[@]}"
echo "PASS: every node in sync after one --once"

# Rotation: macbook-pro makes a new key; the manifest gets its public half.
set_public_key macbook-pro "$("$ppn" keygen --rotate --state-dir "$work/state-macbook-pro")"
git_commit "rotate macbook-pro's key"
once_everywhere "${nodes[@]}"
expect_pings "after rotation"
expect_in_sync "${nodes[@]}"

# One invalid file: every node keeps its mesh, exits 1 and names the file, line and column.
for node in "${nodes[@]}"; do peer_keys "$node" >"$work/peers-before-$node"; done
sed -i 's/^mtu: 1420$/mtu: 01420/' "$work/checkout/ppn.yaml"
git_commit "an invalid ppn.yaml"
for node in "${nodes[@]}"; do
	status=0
	once "$node" >/dev/null 2>"$work/err" || status=$?
	[ "$status" -eq 1 ] || fail "invalid commit: --once on $node exited $status"
	grep -q "^ppn.yaml:[0-9]*:[0-9]*: " "$work/err" || { cat "$work/err" >&2; fail "no position"; }
	peer_keys "$node" | diff -u "$work/peers-before-$node" - || fail "invalid commit changed $node"
done
expect_pings "after an invalid commit"
sed -i 's/^mtu: 01420$/mtu: 1420/' "$work/checkout/ppn.yaml"
git_commit "fix ppn.yaml"
once_everywhere "${nodes[@]}"

# Removing two of three peers at once is refused unless the commit says it is meant.
git -C "$work/checkout" rm -q peers/macbook-pro.yaml peers/macbook-air.yaml \
	nodes/macbook-pro.yaml nodes/macbook-air.yaml
git_commit "remove both laptops"
status=0
dry_run gcp-relay >/dev/null 2>"$work/err" || status=$?
[ "$status" -eq 1 ] || fail "mass removal: dry run exited $status"
grep -q "removes 2 of 3 peers at once" "$work/err" || { cat "$work/err" >&2; fail "no reason"; }
status=0
once gcp-relay >/dev/null 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "mass removal: --once exited $status"
expect_pings "after a refused mass removal"
git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid \
	revert --no-edit HEAD >/dev/null
git -C "$work/checkout" push -q "$work/fleet.git" main
once_everywhere "${nodes[@]}"
echo "PASS: mass removal refused, mesh intact"

# Revocation: macbook-air's manifests go; it is gone from every other node, and nothing else.
air_key=$(sed -n 's/^publicKey: //p' "$work/checkout/peers/macbook-air.yaml")
git -C "$work/checkout" rm -q peers/macbook-air.yaml nodes/macbook-air.yaml
git_commit "revoke macbook-air"
once_everywhere gcp-relay macbook-pro
for node in gcp-relay macbook-pro; do
	! in_ns "$node" wg show "${ifname[$node]}" dump | grep -q "$air_key" ||
		fail "revocation: $node still has macbook-air's key"
done
in_ns macbook-pro wg show "${ifname[macbook-pro]}" allowed-ips | grep -q "${overlay[macbook-air]}" &&
	fail "revocation: macbook-pro still routes macbook-air's address"
! can_ping macbook-pro "${overlay[macbook-air]}" || fail "revocation: macbook-air still reachable"
can_ping macbook-pro "${overlay[gcp-relay]}" || fail "revocation: the relay became unreachable"
expect_in_sync gcp-relay macbook-pro
echo "PASS: revocation removed macbook-air everywhere and nothing else"
