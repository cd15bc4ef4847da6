#!/bin/bash
# The example fleet as a real encrypted mesh: three network namespaces joined by veth to a
# bridge (scripts/lib/netns-fleet.sh): gcp-relay with a public endpoint, macbook-pro and
# macbook-air behind it without one. Each node runs `ppn-reconcile --once` against the same
# bare repository with the userspace backend (wireguard-go, which the plugin starts). Then:
# pings over the overlay, dry runs in sync, key rotation, a refused invalid commit, a refused
# mass removal, and revocation.
set -euo pipefail
umask 077

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go is not installed"; exit 77; }

NETNS_FLEET_PREFIX=ppnm
NETNS_FLEET_BUILD=${PPN_BUILD_ROOT:?}
NETNS_FLEET_SOURCE=${PPN_SOURCE_ROOT:?}
NETNS_FLEET_WORK=$(mktemp -d /tmp/ppnm.XXXXXX)
# shellcheck source=../../scripts/lib/netns-fleet.sh
. "$NETNS_FLEET_SOURCE/scripts/lib/netns-fleet.sh"
work=$NETNS_FLEET_WORK
ppn=$NETNS_FLEET_BUILD/engine/cli/ppn

cleanup() {
	netns_fleet_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

once_everywhere() {
	for node in "$@"; do
		fleet_reconcile "$node" --once >"$work/once.out" 2>"$work/once.err" ||
			{ cat "$work/once.out" "$work/once.err" >&2; fail "--once on $node"; }
	done
}

expect_pings() {
	local pro=${fleet_overlay[macbook-pro]} air=${fleet_overlay[macbook-air]}
	local relay=${fleet_overlay[gcp-relay]}

	fleet_can_ping macbook-pro "$air" || fail "$1: macbook-pro cannot reach macbook-air"
	fleet_can_ping macbook-air "$pro" || fail "$1: macbook-air cannot reach macbook-pro"
	fleet_can_ping macbook-pro "$relay" || fail "$1: macbook-pro cannot reach the relay"
	fleet_can_ping macbook-air "$relay" || fail "$1: macbook-air cannot reach the relay"
	echo "PASS: $1: pings over the overlay, laptop to laptop through the relay"
}

expect_in_sync() {
	local what=$1 status
	shift
	for node in "$@"; do
		status=0
		fleet_reconcile "$node" --dry-run >"$work/dry.out" 2>&1 || status=$?
		[ "$status" -eq 0 ] || { cat "$work/dry.out" >&2; fail "$what: dry run on $node: $status"; }
	done
}

wg_dump() {
	fleet_in_ns "$1" wg show "$(fleet_ifname "$1")" "${2:-dump}"
}

peer_keys() {
	wg_dump "$1" peers | sort
}

netns_fleet_underlay
netns_fleet_repo

# Converge from nothing.
once_everywhere "${fleet_nodes[@]}"
expect_pings "first --once"
expect_in_sync "first --once" "${fleet_nodes[@]}"
echo "PASS: every node in sync after one --once"

# Rotation: macbook-pro makes a new key; the manifest gets its public half.
fleet_set_public_key macbook-pro \
	"$("$ppn" keygen --rotate --state-dir "$work/state-macbook-pro")"
fleet_commit "rotate macbook-pro's key"
once_everywhere "${fleet_nodes[@]}"
expect_pings "after rotation"
expect_in_sync "after rotation" "${fleet_nodes[@]}"

# One invalid file: every node keeps its mesh, exits 1 and names the file, line and column.
for node in "${fleet_nodes[@]}"; do peer_keys "$node" >"$work/peers-before-$node"; done
sed -i 's/^mtu: 1420$/mtu: 01420/' "$work/checkout/ppn.yaml"
fleet_commit "an invalid ppn.yaml"
for node in "${fleet_nodes[@]}"; do
	status=0
	fleet_reconcile "$node" --once >/dev/null 2>"$work/err" || status=$?
	[ "$status" -eq 1 ] || fail "invalid commit: --once on $node exited $status"
	grep -q "^ppn.yaml:8:6: expected an integer from 1280 to 9000 without leading zeros" \
		"$work/err" || { cat "$work/err" >&2; fail "invalid commit: no position"; }
	peer_keys "$node" | diff -u "$work/peers-before-$node" - || fail "invalid commit changed $node"
done
expect_pings "after an invalid commit"
sed -i 's/^mtu: 01420$/mtu: 1420/' "$work/checkout/ppn.yaml"
fleet_commit "fix ppn.yaml"
once_everywhere "${fleet_nodes[@]}"

# Removing two of three peers at once is refused unless the commit says it is meant.
git -C "$work/checkout" rm -q peers/macbook-pro.yaml peers/macbook-air.yaml \
	nodes/macbook-pro.yaml nodes/macbook-air.yaml
fleet_commit "remove both laptops"
status=0
fleet_reconcile gcp-relay --dry-run >/dev/null 2>"$work/err" || status=$?
[ "$status" -eq 1 ] || fail "mass removal: dry run exited $status"
grep -q "removes 2 of 3 peers at once" "$work/err" || { cat "$work/err" >&2; fail "no reason"; }
status=0
fleet_reconcile gcp-relay --once >/dev/null 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "mass removal: --once exited $status"
expect_pings "after a refused mass removal"
git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid \
	revert --no-edit HEAD >/dev/null
git -C "$work/checkout" push -q "$work/fleet.git" main
once_everywhere "${fleet_nodes[@]}"
echo "PASS: mass removal refused, mesh intact"

# Revocation: macbook-air's manifests go; it is gone from every other node, and nothing else
# changes there.
air_key=$(sed -n 's/^publicKey: //p' "$work/checkout/peers/macbook-air.yaml")
relay_key=$(sed -n 's/^publicKey: //p' "$work/checkout/peers/gcp-relay.yaml")
git -C "$work/checkout" rm -q peers/macbook-air.yaml nodes/macbook-air.yaml
fleet_commit "revoke macbook-air"
once_everywhere gcp-relay macbook-pro
for node in gcp-relay macbook-pro; do
	! wg_dump "$node" | grep -q "$air_key" || fail "revocation: $node still has macbook-air"
done
[ "$(wg_dump macbook-pro allowed-ips)" = "$relay_key	${fleet_overlay[gcp-relay]}/32" ] ||
	fail "revocation: macbook-pro's relay still carries macbook-air's address"
! fleet_can_ping macbook-pro "${fleet_overlay[macbook-air]}" ||
	fail "revocation: macbook-air still reachable"
fleet_can_ping macbook-pro "${fleet_overlay[gcp-relay]}" || fail "revocation: relay unreachable"
expect_in_sync "after revocation" gcp-relay macbook-pro
echo "PASS: revocation removed macbook-air everywhere and nothing else"
