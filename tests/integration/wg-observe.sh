#!/bin/sh
# Observes a real wireguard-go interface through the WireGuard plugin module and checks every
# fact against what this script configured and against `wg show dump`; then checks that the
# observation changed nothing on the device.
#
# usage: wg-observe.sh PATH-TO-wg-observe
# Needs root and wireguard-go; exits 77 (skipped) without them. Names carry the prefix ppnw-.
set -eu

observe_program=$1
ns=ppnw-obs      # the namespace under test, with interface ppnw-obs0
ns_b=ppnw-obsb   # a second wireguard-go, a real peer, so that a handshake happens
if0=ppnw-obs0
if_b=ppnw-obsb0

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN devices)"
command -v wireguard-go >/dev/null ||
	skip "wireguard-go is not installed (scripts/setup installs it)"
command -v wg >/dev/null || skip "wg (wireguard-tools) is not installed"
for name in $if0 $if_b; do
	[ ! -e "/var/run/wireguard/$name.sock" ] ||
		fail "/var/run/wireguard/$name.sock exists: another run of this test is still going"
done

work=$(mktemp -d)
daemons=""
cleanup() {
	for pid in $daemons; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $daemons; do
		wait "$pid" 2>/dev/null || true
	done
	ip netns del $ns 2>/dev/null || true
	ip netns del $ns_b 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ns() {
	ip netns exec $ns "$@"
}

# --- Two namespaces joined by a veth pair ---
ip netns add $ns
ip netns add $ns_b
ip link add ppnw-obsv0 netns $ns type veth peer name ppnw-obsv1 netns $ns_b
ip -n $ns addr add 10.203.0.1/24 dev ppnw-obsv0
ip -n $ns_b addr add 10.203.0.2/24 dev ppnw-obsv1
for n in $ns $ns_b; do
	ip -n $n link set lo up
done
ip -n $ns link set ppnw-obsv0 up
ip -n $ns_b link set ppnw-obsv1 up

# --- wireguard-go in each; `ip netns exec` execs, so $! is the daemon itself ---
WG_PROCESS_FOREGROUND=1 ip netns exec $ns wireguard-go $if0 >"$work/$if0.log" 2>&1 &
daemons="$daemons $!"
WG_PROCESS_FOREGROUND=1 ip netns exec $ns_b wireguard-go $if_b >"$work/$if_b.log" 2>&1 &
daemons="$daemons $!"
for i in $(seq 50); do
	[ -S /var/run/wireguard/$if0.sock ] && [ -S /var/run/wireguard/$if_b.sock ] && break
	sleep 0.1
done
[ -S /var/run/wireguard/$if0.sock ] || fail "wireguard-go did not start: $(cat "$work/$if0.log")"
[ -S /var/run/wireguard/$if_b.sock ] || fail "wireguard-go did not start: $(cat "$work/$if_b.log")"

# --- Keys: two real ends, two peers that exist only as keys ---
(umask 077 && wg genkey >"$work/key0" && wg genkey >"$work/key_b")
pub0=$(wg pubkey <"$work/key0")
pub_b=$(wg pubkey <"$work/key_b")
pub2=$(wg genkey | wg pubkey)
pub3=$(wg genkey | wg pubkey)

# --- The configuration under test ---
in_ns wg set $if0 private-key "$work/key0" listen-port 51820 \
	peer "$pub_b" endpoint 10.203.0.2:51821 allowed-ips 10.99.0.2/32,fd99::2/128 \
	peer "$pub2" endpoint 192.0.2.7:51820 allowed-ips 10.99.2.0/24,fd99:2::/64 \
	persistent-keepalive 25 \
	peer "$pub3" endpoint '[2001:db8::3]:51899' allowed-ips 10.99.3.0/24,10.99.4.0/24 \
	persistent-keepalive 15
in_ns ip addr add 10.99.0.1/24 dev $if0
in_ns ip -6 addr add fd99::1/64 dev $if0 nodad
in_ns ip link set $if0 mtu 1380 up
for prefix in 10.99.2.0/24 10.99.3.0/24 10.99.4.0/24 fd99:2::/64; do
	in_ns ip route add $prefix dev $if0
done

ip netns exec $ns_b wg set $if_b private-key "$work/key_b" listen-port 51821 \
	peer "$pub0" endpoint 10.203.0.1:51820 allowed-ips 10.99.0.1/32
ip -n $ns_b addr add 10.99.0.2/24 dev $if_b
ip -n $ns_b link set $if_b up

in_ns ping -c 1 -W 5 10.99.0.2 >/dev/null || fail "no ping through the tunnel"

# --- Observe, with the device's own view before and after ---
# wireguard-go lists peers in no fixed order: the dumps are compared sorted.
in_ns wg show $if0 dump | sort >"$work/dump-before"
in_ns "$observe_program" $if0 >"$work/observed" || fail "wg-observe failed"
in_ns wg show $if0 dump | sort >"$work/dump-after"
cmp -s "$work/dump-before" "$work/dump-after" ||
	fail "the device changed while it was observed: $(diff "$work/dump-before" "$work/dump-after")"

# 1. What this script configured, apart from the counters.
cat >"$work/expected" <<END
interface $if0
present yes
public_key $pub0
listen_port 51820
mtu 1380
up yes
address 10.99.0.1/24
address fd99::1/64
route 10.99.2.0/24
route 10.99.3.0/24
route 10.99.4.0/24
route fd99:2::/64
peer $pub_b endpoint 10.203.0.2:51821
peer $pub_b keepalive 0
peer $pub_b allowed_ip 10.99.0.2/32
peer $pub_b allowed_ip fd99::2/128
peer $pub2 endpoint 192.0.2.7:51820
peer $pub2 keepalive 25
peer $pub2 allowed_ip 10.99.2.0/24
peer $pub2 allowed_ip fd99:2::/64
peer $pub3 endpoint [2001:db8::3]:51899
peer $pub3 keepalive 15
peer $pub3 allowed_ip 10.99.3.0/24
peer $pub3 allowed_ip 10.99.4.0/24
END
grep -v -E '^(note|plan-)|^peer [^ ]+ (handshake|rx|tx) ' "$work/observed" | sort >"$work/got"
sort "$work/expected" >"$work/want"
diff -u "$work/want" "$work/got" || fail "observed facts differ from the configuration"

# 2. What wg(8) reads from the same device, counters included.
awk -F '\t' '
NF == 4 { print "public_key " $2; print "listen_port " $3; next }
{
	print "peer " $1 " endpoint " ($3 == "(none)" ? "none" : $3)
	print "peer " $1 " keepalive " ($8 == "off" ? 0 : $8)
	if ($4 != "(none)") {
		n = split($4, ips, ",")
		for (i = 1; i <= n; i++)
			print "peer " $1 " allowed_ip " ips[i]
	}
	print "peer " $1 " handshake " $5
	print "peer " $1 " rx " $6
	print "peer " $1 " tx " $7
}' "$work/dump-after" | sort >"$work/want-dump"
grep -E '^(public_key|listen_port|peer) ' "$work/observed" | sort >"$work/got-dump"
diff -u "$work/want-dump" "$work/got-dump" || fail "observed facts differ from wg show dump"

# 3. The real peer did a handshake and moved bytes; the counters above are not all zero.
positive() { # KEY FIELD: the observed value is a number above 0
	awk -v key="$1" -v field="$2" '$1 == "peer" && $2 == key && $3 == field && $4 > 0 { ok = 1 }
		END { exit !ok }' "$work/observed"
}
positive "$pub_b" handshake || fail "no handshake seen"
positive "$pub_b" rx || fail "no bytes received seen"
positive "$pub_b" tx || fail "no bytes sent seen"

# 4. The plan's note names the backend; a plan against itself is empty; a name that cannot
#    resolve is compared as written.
grep -q -x "note interface '$if0' observed through wireguard-go (userspace API)" \
	"$work/observed" || fail "no note about the userspace backend"
grep -q -x "plan-self actions 0" "$work/observed" || fail "observed state does not match itself"
grep -q -E '^plan-unresolvable change endpoint [^ ]+ ppnw-unresolvable\.invalid:51820$' \
	"$work/observed" || fail "an unresolvable endpoint was not kept as written"

# 5. An interface that does not exist is observed as absent, not as an error.
in_ns "$observe_program" ppnw-obs9 >"$work/absent" || fail "observing a missing interface failed"
grep -q -x "present no" "$work/absent" || fail "a missing interface was not reported absent"
grep -q -x "note interface 'ppnw-obs9' does not exist yet" "$work/absent" ||
	fail "no note about the missing interface"

# 6. Forcing the kernel backend onto a wireguard-go interface is refused.
if in_ns "$observe_program" $if0 kernel >/dev/null 2>"$work/forced-kernel"; then
	fail "the kernel backend claimed a wireguard-go interface"
fi

echo "PASS: $if0 observed through the plugin equals the configuration and wg show dump"
sed 's/^/  /' "$work/observed"
echo "forcing the kernel backend was refused with:"
sed 's/^/  /' "$work/forced-kernel"
