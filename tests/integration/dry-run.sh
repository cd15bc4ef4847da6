#!/bin/bash
# The audit end to end: the example fleet in a bare git repository, a real wireguard-go
# interface in a network namespace of the test's own that holds part of what macbook-air
# should have, one stale peer and one peer with a wrong allowed-ip. `ppn-reconcile --dry-run`
# must print exactly the additions, the change and the removals, exit 2, and change nothing.
set -euo pipefail
umask 077

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
command -v wireguard-go >/dev/null || { echo "SKIP: wireguard-go is not installed"; exit 77; }

build=${PPN_BUILD_ROOT:?}
source_root=${PPN_SOURCE_ROOT:?}
reconcile=$build/engine/cli/ppn-reconcile
netns=ppni-dry
ifname=ppni-dry0
work=$(mktemp -d /tmp/ppni-dry.XXXXXX)
wg_pid=""

cleanup() {
	if [ -n "$wg_pid" ]; then
		kill "$wg_pid" 2>/dev/null || true
		wait "$wg_pid" 2>/dev/null || true
	fi
	ip netns delete "$netns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

in_ns() {
	ip netns exec "$netns" "$@"
}

# The node's key is born here, as `ppn join` would do it: only its public half goes into the
# fleet repo.
make_fleet_repo() {
	wg genkey >"$work/air.key"
	air_pub=$(wg pubkey <"$work/air.key")
	cp -r "$source_root/examples/fleet" "$work/checkout"
	sed -i "s|^publicKey: .*|publicKey: $air_pub|" "$work/checkout/peers/macbook-air.yaml"
	sed -i "s|^interface: .*|interface: $ifname|" "$work/checkout/ppn.yaml"

	git init -q --bare -b main "$work/fleet.git"
	git -C "$work/checkout" init -q -b main
	git -C "$work/checkout" add -A
	git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid \
		commit -q -m "example fleet"
	git -C "$work/checkout" push -q "$work/fleet.git" main
	commit=$(git -C "$work/fleet.git" rev-parse main)
}

start_wireguard_go() {
	ip netns add "$netns"
	WG_PROCESS_FOREGROUND=1 ip netns exec "$netns" wireguard-go "$ifname" \
		>"$work/wireguard-go.log" 2>&1 &
	wg_pid=$!
	for _ in $(seq 100); do
		[ -S "/var/run/wireguard/$ifname.sock" ] && return 0
		sleep 0.05
	done
	cat "$work/wireguard-go.log" >&2
	fail "wireguard-go did not start"
}

# What macbook-air has: the relay, but with a wrong second allowed-ip; a peer nobody
# declared; its own address; the route to the relay, and one to the stale peer.
configure_interface() {
	relay_pub=$(sed -n 's/^publicKey: //p' "$work/checkout/peers/gcp-relay.yaml")
	stale_pub=$(wg genkey | wg pubkey)
	in_ns wg set "$ifname" private-key "$work/air.key" listen-port 51820 \
		peer "$relay_pub" endpoint 203.0.113.10:51820 persistent-keepalive 25 \
		allowed-ips 10.77.0.1/32,10.77.0.99/32 \
		peer "$stale_pub" allowed-ips 10.77.0.50/32
	in_ns ip address add 10.77.0.3/32 dev "$ifname"
	in_ns ip link set "$ifname" mtu 1420 up
	in_ns ip route add 10.77.0.1/32 dev "$ifname"
	in_ns ip route add 10.77.0.50/32 dev "$ifname"
}

# wireguard-go lists peers in no fixed order: the interface's line first, then peers sorted.
snapshot() {
	in_ns wg show "$ifname" dump | awk 'NR == 1 { print; next } { print | "sort" }'
	in_ns ip -o address show dev "$ifname"
	in_ns ip -o route show dev "$ifname"
	in_ns ip -o link show dev "$ifname"
}

# The interface is the one the fleet's ppn.yaml names: no --interface.
run_reconcile() {
	local status=0

	in_ns "$reconcile" --repo "$work/fleet.git" --node macbook-air --state-dir "$work/state" \
		"$@" >"$work/out" 2>"$work/err" || status=$?
	echo "$status"
}

run_dry_run() {
	run_reconcile --dry-run "$@"
}

commit_all() {
	git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid \
		commit -q -am "$1"
	git -C "$work/checkout" push -q "$work/fleet.git" main
}

expect_equal() {
	diff -u "$1" "$2" || fail "$3"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The last run's output and errors, then FAIL: for a failed check of what a run printed.
fail_showing() {
	cat "$work/out" "$work/err" >&2
	fail "$@"
}

expect_status() { # WANT GOT LABEL
	[ "$2" -eq "$1" ] || fail_showing "$3: exit $2, expected $1"
}

make_fleet_repo
start_wireguard_go
configure_interface
snapshot >"$work/before"

status=$(run_dry_run)
expect_status 2 "$status" "the dry run"
cat >"$work/expected" <<EOT
Plan for node 'macbook-air' from 'main' at commit ${commit:0:12}
last applied commit: none
interface '$ifname' observed through wireguard-go (userspace API)

~ wireguard/peer 'gcp-relay'
    allowed-ips: 10.77.0.1/32, 10.77.0.99/32 -> 10.77.0.1/32, 10.77.0.2/32
- wireguard/peer '$stale_pub' (not in the manifests)
    public-key: $stale_pub
    allowed-ips: 10.77.0.50/32
+ wireguard/route '10.77.0.2/32'
- wireguard/route '10.77.0.50/32'

Plan: 1 to create, 1 to update, 0 to replace, 2 to delete, 0 to start.
EOT
expect_equal "$work/expected" "$work/out" "the text plan differs"

status=$(run_dry_run --output json)
expect_status 2 "$status" "the JSON dry run"
/usr/bin/python3 - "$source_root/schemas/plan.schema.json" "$work/out" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator(schema).validate(plan)
assert plan["summary"]["total"] == len(plan["actions"]), plan["summary"]
PY

snapshot >"$work/after"
expect_equal "$work/before" "$work/after" "the dry run changed the interface"
echo "PASS: dry run printed the exact plan, exited 2 and changed nothing"

# Once the interface holds exactly what the plan asked for, the audit finds nothing to do.
in_ns wg set "$ifname" peer "$relay_pub" allowed-ips 10.77.0.1/32,10.77.0.2/32 \
	peer "$stale_pub" remove
in_ns ip route replace 10.77.0.2/32 dev "$ifname"
in_ns ip route delete 10.77.0.50/32 dev "$ifname"
status=$(run_dry_run)
expect_status 0 "$status" "in sync"
echo "No changes. Node 'macbook-air' matches commit ${commit:0:12}." >"$work/expected-tail"
tail -n 1 "$work/out" >"$work/tail"
expect_equal "$work/expected-tail" "$work/tail" "the in-sync plan differs"
echo "PASS: in sync, exit 0"

# A peer of the fleet held directly by a node that must reach it through the relay: its
# removal says so, rather than that the key is unknown.
pro_pub=$(sed -n 's/^publicKey: //p' "$work/checkout/peers/macbook-pro.yaml")
in_ns wg set "$ifname" peer "$pro_pub"
status=$(run_dry_run)
expect_status 2 "$status" "a direct fleet peer"
grep -q -x -F -e "- wireguard/peer '$pro_pub' (peer 'macbook-pro', reached through the relay)" \
	"$work/out" || fail_showing "no reason for the direct peer"
in_ns wg set "$ifname" peer "$pro_pub" remove
echo "PASS: a fleet peer held directly is removed as one reached through the relay"

# A commit with one invalid file is refused whole: exit 1, the error names the file, line and
# column, and nothing is touched. Its ppn.yaml also names 'lo', which is no WireGuard link:
# what the early look at that interface found is not reported for a refused commit.
snapshot >"$work/before"
sed -i 's/^relay: true$/relay: yes/' "$work/checkout/peers/gcp-relay.yaml"
sed -i "s|^interface: .*|interface: lo|" "$work/checkout/ppn.yaml"
commit_all "relay: yes, interface: lo"
status=$(run_dry_run)
expect_status 1 "$status" "an invalid commit"
grep -q "^peers/gcp-relay.yaml:7:8: expected true or false, got " "$work/err" ||
	fail_showing "no path:line:column for the bad file"
[ ! -s "$work/out" ] || fail_showing "a refused commit printed a plan"
! grep -q "interface 'lo'" "$work/err" || fail_showing "the refused commit's interface was reported"
snapshot >"$work/after"
expect_equal "$work/before" "$work/after" "a refused commit changed the interface"
echo "PASS: invalid commit refused with its position, exit 1, nothing changed"

# The same refusal when applying, and the commit also renames the interface: the node keeps
# enforcing its last applied commit on the interface that commit names, and the new name is
# never created.
sed -i 's/^relay: yes$/relay: true/' "$work/checkout/peers/gcp-relay.yaml"
sed -i "s|^interface: .*|interface: $ifname|" "$work/checkout/ppn.yaml"
commit_all "relay: true, interface: $ifname"
install -m 600 "$work/air.key" "$work/state/wireguard.key"
status=$(run_reconcile --once)
expect_status 0 "$status" "--once"
applied=$(git -C "$work/fleet.git" rev-parse main)

snapshot >"$work/before"
sed -i 's/^relay: true$/relay: yes/' "$work/checkout/peers/gcp-relay.yaml"
sed -i "s|^interface: .*|interface: ppni-renamed0|" "$work/checkout/ppn.yaml"
commit_all "rename the interface, and relay: yes"
status=$(run_reconcile --once --verbose)
expect_status 1 "$status" "--once on an invalid commit"
grep -q "^peers/gcp-relay.yaml:7:8: expected true or false, got " "$work/err" ||
	fail_showing "no path:line:column for the bad file"
grep -q "enforcing the last applied commit ${applied:0:12}" "$work/out" ||
	fail_showing "the plan does not say what it enforces"
grep -q "^interface '$ifname' observed through wireguard-go" "$work/out" ||
	fail_showing "not the applied commit's interface"
grep -q "'ppni-renamed0': observed early, but commit ${applied:0:12} names '$ifname'" \
	"$work/err" || fail_showing "no second observation"
! in_ns ip link show ppni-renamed0 >/dev/null 2>&1 ||
	fail "a refused commit's interface was created"
snapshot >"$work/after"
expect_equal "$work/before" "$work/after" "a refused --once changed the interface"
echo "PASS: --once on a refused commit that renames the interface kept the applied one"

# --interface obeys the manifests' rule: it would become a socket path and a link name.
status=0
in_ns "$reconcile" --dry-run --repo "$work/fleet.git" --node macbook-air --state-dir \
	"$work/state" --interface ../../tmp/x >"$work/out" 2>"$work/err" || status=$?
expect_status 1 "$status" "--interface ../../tmp/x"
grep -q "^ppn-reconcile: error: --interface: expected an interface name of 1 to 15" "$work/err" ||
	fail_showing "no reason for refusing --interface"
echo "PASS: an --interface that is no interface name is refused"
