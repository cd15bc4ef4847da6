# shellcheck shell=bash
# The example fleet's three nodes as network namespaces on one machine, for scripts/example and
# the mesh test. Source it, set NETNS_FLEET_PREFIX (a short prefix for every namespace and
# interface this creates), NETNS_FLEET_WORK (an empty directory), NETNS_FLEET_BUILD (the build
# directory) and NETNS_FLEET_SOURCE (the source tree), then call the functions below. Call
# netns_fleet_cleanup from an EXIT trap.
#
# Each node is a namespace with eth0 on a bridge in a namespace of its own; gcp-relay's
# endpoint is its bridge address. wireguard-go's UAPI sockets share one directory across
# namespaces, so each node gets an interface name of its own (--interface).

fleet_nodes=(gcp-relay macbook-pro macbook-air)
declare -A fleet_underlay=([gcp-relay]=192.168.77.1 [macbook-pro]=192.168.77.2
	[macbook-air]=192.168.77.3)
declare -A fleet_overlay=([gcp-relay]=10.77.0.1 [macbook-pro]=10.77.0.2 [macbook-air]=10.77.0.3)
declare -A fleet_short=([gcp-relay]=relay [macbook-pro]=pro [macbook-air]=air)

# A node's namespace, and its WireGuard interface inside it, share one name.
fleet_ns() {
	echo "$NETNS_FLEET_PREFIX-${fleet_short[$1]}"
}

fleet_ifname() {
	fleet_ns "$1"
}

fleet_in_ns() {
	local node=$1
	shift
	ip netns exec "$(fleet_ns "$node")" "$@"
}

netns_fleet_cleanup() {
	for node in "${fleet_nodes[@]}"; do
		pkill -f "^wireguard-go $(fleet_ifname "$node")\$" 2>/dev/null || true
		ip netns delete "$(fleet_ns "$node")" 2>/dev/null || true
	done
	ip netns delete "$NETNS_FLEET_PREFIX-br" 2>/dev/null || true
}

netns_fleet_underlay() {
	local bridge=$NETNS_FLEET_PREFIX-br

	ip netns add "$bridge"
	ip -n "$bridge" link add br0 type bridge
	ip -n "$bridge" link set br0 up
	for node in "${fleet_nodes[@]}"; do
		local ns
		ns=$(fleet_ns "$node")
		ip netns add "$ns"
		ip link add "$ns-h" netns "$bridge" type veth peer name eth0 netns "$ns"
		ip -n "$bridge" link set "$ns-h" master br0 up
		ip -n "$ns" address add "${fleet_underlay[$node]}/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" link set lo up
	done
}

fleet_commit() {
	git -C "$NETNS_FLEET_WORK/checkout" add -A
	git -C "$NETNS_FLEET_WORK/checkout" -c user.name=ppn -c user.email=ppn@ppn.invalid \
		commit -q -m "$1"
	git -C "$NETNS_FLEET_WORK/checkout" push -q "$NETNS_FLEET_WORK/fleet.git" main
}

fleet_set_public_key() {
	sed -i "s|^publicKey: .*|publicKey: $2|" "$NETNS_FLEET_WORK/checkout/peers/$1.yaml"
}

# Each node's key is born on the node (ppn keygen); only the public half is committed, as a
# join would do.
netns_fleet_repo() {
	local ppn=$NETNS_FLEET_BUILD/engine/cli/ppn

	cp -r "$NETNS_FLEET_SOURCE/examples/fleet" "$NETNS_FLEET_WORK/checkout"
	sed -i "s|^endpoint: .*|endpoint: ${fleet_underlay[gcp-relay]}:51820|" \
		"$NETNS_FLEET_WORK/checkout/peers/gcp-relay.yaml"
	for node in "${fleet_nodes[@]}"; do
		fleet_set_public_key "$node" \
			"$("$ppn" keygen --state-dir "$NETNS_FLEET_WORK/state-$node" 2>/dev/null)"
	done
	git init -q --bare -b main "$NETNS_FLEET_WORK/fleet.git"
	git -C "$NETNS_FLEET_WORK/checkout" init -q -b main
	fleet_commit "the example fleet, on a bridge of namespaces"
}

# fleet_reconcile NODE --once|--dry-run [OPTION]...
fleet_reconcile() {
	local node=$1
	shift
	fleet_in_ns "$node" "$NETNS_FLEET_BUILD/engine/cli/ppn-reconcile" "$@" \
		--repo "$NETNS_FLEET_WORK/fleet.git" --node "$node" \
		--interface "$(fleet_ifname "$node")" --backend userspace \
		--state-dir "$NETNS_FLEET_WORK/state-$node"
}

# A handshake through the relay can take a moment: a few tries, bounded.
fleet_can_ping() {
	for _ in 1 2 3 4 5; do
		fleet_in_ns "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}
