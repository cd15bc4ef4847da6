#!/bin/bash
# The WireGuard plugin applying a real fleet (manifests read by the loader, the node's interface
# compiled by the mesh compiler) to a real interface, through the plugin module as the engine
# loads it:
#   1. from nothing: the plugin creates the interface (wireguard-go, which it starts itself),
#      its key, port, three peers, address, MTU, routes and forwarding, and observes it back
#      equal;
#   2. a real handshake with a second wireguard-go (namespace ppna-ns2, over a veth), then one
#      peer changed (behind NAT: the endpoint it was learned from stays), one removed, one
#      added: `wg show dump` shows exactly that, and the untouched peer's session survives
#      (same handshake, counters not reset, a ping needs no new handshake);
#   3. a pass in sync sends nothing: the test's own proxy in front of the UAPI socket records
#      every request's first line, and wireguard-go's verbose log gains no UAPI line; a pass
#      with one change, through the same proxy, shows the proxy sees set requests.
#
# usage: wg-apply.sh PATH-TO-wg-apply
# Needs root, wireguard-go, wg, python3 and unshare; exits 77 (skipped) without them. Every
# name carries the prefix ppna.
set -euo pipefail
umask 077

driver=$1
ns1=ppna-ns1 # the node under test, alpha, with interface ppna0 (the plugin makes it)
ns2=ppna-ns2 # beta, a real peer: wireguard-go ppna2, configured by this script
if1=ppna0
if2=ppna2

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN devices)"
for tool in wireguard-go wg unshare /usr/bin/python3; do
	command -v $tool >/dev/null || skip "'$tool' is not installed (scripts/setup installs it)"
done
for name in $if1 $if2; do
	[ ! -e "/var/run/wireguard/$name.sock" ] ||
		fail "/var/run/wireguard/$name.sock exists: another run of this test is still going"
done
! ip netns list | grep -q '^ppna-ns[12]\b' || fail "namespace $ns1 or $ns2 exists already"

work=$(mktemp -d /tmp/ppna-apply.XXXXXX)
peer_pid=""
holder=""

# The daemon the plugin started is found by its exact command line, and killed by PID.
cleanup() {
	local pid

	for pid in $(pgrep -f "^wireguard-go $if1\$" || true); do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $peer_pid $holder; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	ip netns del $ns1 2>/dev/null || true
	ip netns del $ns2 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ns1() {
	ip netns exec $ns1 "$@"
}

# --- Namespaces joined by a veth pair ---
ip netns add $ns1
ip netns add $ns2
ip link add ppna-v1 netns $ns1 type veth peer name ppna-v2 netns $ns2
ip -n $ns1 addr add 10.204.0.1/24 dev ppna-v1
ip -n $ns2 addr add 10.204.0.2/24 dev ppna-v2
for n in $ns1 $ns2; do
	ip -n $n link set lo up
done
ip -n $ns1 link set ppna-v1 up
ip -n $ns2 link set ppna-v2 up

# --- The fleet: alpha (this node, a relay) and three peers ---
fleet=$work/fleet
state=$work/state
mkdir -p "$fleet/peers" "$state"
wg genkey >"$state/wireguard.key"
wg genkey >"$work/beta.key"
alpha_pub=$(wg pubkey <"$state/wireguard.key")
beta_pub=$(wg pubkey <"$work/beta.key")
gamma_pub=$(wg genkey | wg pubkey)
delta_pub=$(wg genkey | wg pubkey)
epsilon_pub=$(wg genkey | wg pubkey)

cat >"$fleet/ppn.yaml" <<EOF
apiVersion: ppn/v1
kind: Network
name: ppna
overlay: 10.98.0.0/24
interface: $if1
listenPort: 51820
mtu: 1380
EOF

write_peer() { # NAME KEY ADDRESS [MORE LINES]
	printf 'apiVersion: ppn/v1\nkind: Peer\nname: %s\npublicKey: %s\naddress: %s\n%s' \
		"$1" "$2" "$3" "${4:-}" >"$fleet/peers/$1.yaml"
}
write_peer alpha "$alpha_pub" 10.98.0.1 $'endpoint: 10.204.0.1:51820\nrelay: true\n'
write_peer beta "$beta_pub" 10.98.0.2 $'endpoint: 10.204.0.2:51821\n'
write_peer gamma "$gamma_pub" 10.98.0.3 $'endpoint: 192.0.2.3:51820\n'
write_peer delta "$delta_pub" 10.98.0.4 $'persistentKeepalive: 25s\n' # behind NAT

run_driver() { # OUTPUT-FILE [DRIVER OPTIONS]
	local out=$1
	shift
	in_ns1 "$driver" "$@" "$fleet" alpha "$state" $if1 >"$out"
}

# `wg show dump` of ppna0 as "interface PRIVATE PUBLIC PORT" and "peer KEY ENDPOINT IPS
# KEEPALIVE" lines, sorted.
dump_config() {
	in_ns1 wg show $if1 dump | awk -F '\t' '
		NR == 1 { print "interface", $1, $2, $3; next }
		{ print "peer", $1, $3, $4, $8 }' | sort
}

expect_config() { # LABEL, then the expected lines on stdin
	sort >"$work/want"
	dump_config >"$work/got"
	diff -u "$work/want" "$work/got" || fail "$1: the device holds something else"
}

peer_field() { # KEY FIELD-NUMBER of `wg show dump`
	in_ns1 wg show $if1 dump | awk -F '\t' -v key="$1" -v n="$2" '$1 == key { print $n }'
}

# --- 1. From nothing ---
# Where the kernel has WireGuard the plugin would use it: then wireguard-go is forced, since
# this test is about wireguard-go. Without it, the plugin must fall back by itself.
backend_option=()
if ip -n $ns1 link add ppna-probe type wireguard 2>/dev/null; then
	ip -n $ns1 link del ppna-probe
	backend_option=(-b userspace)
fi
# wireguard-go logs into the state directory, verbosely for step 3; the plugin's own log
# goes to this file, and nothing of wireguard-go's may reach it.
go_log="$state/wireguard-go.log"
LOG_LEVEL=verbose run_driver "$work/pass1" "${backend_option[@]}" 2>"$work/daemon.log" ||
	{ cat "$work/pass1" "$work/daemon.log" >&2; fail "pass 1: the driver failed"; }
grep -q -x 'apply: 8 actions, 0 failed' "$work/pass1" || fail "pass 1: $(cat "$work/pass1")"
grep -q -x 'after: 0 actions' "$work/pass1" || fail "pass 1: not in sync afterwards"
if [ ${#backend_option[@]} -eq 0 ]; then
	grep -q "no WireGuard in this kernel; using wireguard-go" "$work/daemon.log" ||
		fail "pass 1: no word of the fallback to wireguard-go"
fi
grep -q "started wireguard-go, its log in $go_log" "$work/daemon.log" ||
	fail "pass 1: the plugin did not say where wireguard-go's log is"
! grep -q -e 'UAPI:' -e 'wireguard-go version' "$work/daemon.log" ||
	fail "pass 1: wireguard-go printed onto the reconciler's stderr"
[ "$(stat -c %a "$go_log")" = 600 ] || fail "pass 1: $go_log is not mode 0600"
daemon_pid=$(pgrep -f "^wireguard-go $if1\$") || fail "pass 1: no wireguard-go $if1 running"
[ "$(echo "$daemon_pid" | wc -w)" -eq 1 ] || fail "pass 1: several wireguard-go $if1"

expect_config "pass 1" <<EOF
interface $(cat "$state/wireguard.key") $alpha_pub 51820
peer $beta_pub 10.204.0.2:51821 10.98.0.2/32 off
peer $gamma_pub 192.0.2.3:51820 10.98.0.3/32 off
peer $delta_pub (none) 10.98.0.4/32 off
EOF
in_ns1 ip -o addr show dev $if1 scope global | awk '{ print $4 }' >"$work/addresses"
[ "$(cat "$work/addresses")" = 10.98.0.1/32 ] || fail "pass 1: addresses $(cat "$work/addresses")"
in_ns1 ip route show dev $if1 | awk '{ print $1 }' | sort |
	diff -u <(printf '10.98.0.%s\n' 2 3 4) - || fail "pass 1: routes"
in_ns1 ip -o link show dev $if1 | grep -q -E '<([^>]*,)?UP(,[^>]*)?> mtu 1380 ' ||
	fail "pass 1: link $(in_ns1 ip -o link show dev $if1)"
[ "$(in_ns1 cat /proc/sys/net/ipv4/conf/$if1/forwarding)" = 1 ] ||
	fail "pass 1: the relay's interface does not forward"
[ "$(in_ns1 cat /proc/sys/net/ipv4/ip_forward)" = 0 ] ||
	fail "pass 1: the global forwarding switch was turned on"
echo "PASS: pass 1 created $if1 (wireguard-go, PID $daemon_pid) with 3 peers, observed back equal"

# --- 2. A real session with beta, then a change beside it ---
WG_PROCESS_FOREGROUND=1 ip netns exec $ns2 wireguard-go $if2 >"$work/$if2.log" 2>&1 &
peer_pid=$!
for _ in $(seq 100); do
	[ -S /var/run/wireguard/$if2.sock ] && break
	sleep 0.05
done
ip netns exec $ns2 wg set $if2 private-key "$work/beta.key" listen-port 51821 \
	peer "$alpha_pub" endpoint 10.204.0.1:51820 allowed-ips 10.98.0.1/32
ip -n $ns2 addr add 10.98.0.2/32 dev $if2
ip -n $ns2 link set $if2 up
ip -n $ns2 route add 10.98.0.1/32 dev $if2
in_ns1 ping -c 1 -W 5 10.98.0.2 >/dev/null || fail "no ping through the tunnel to beta"
handshake_at=$(date +%s)
handshake=$(peer_field "$beta_pub" 5)
rx=$(peer_field "$beta_pub" 6)
tx=$(peer_field "$beta_pub" 7)
[ "$handshake" -gt 0 ] && [ "$rx" -gt 0 ] && [ "$tx" -gt 0 ] ||
	fail "no session with beta: handshake $handshake rx $rx tx $tx"

# delta sits behind NAT: the endpoint its handshakes taught the device is not drift.
in_ns1 wg set $if1 peer "$delta_pub" endpoint 203.0.113.77:40000
run_driver "$work/dry" -n || fail "a learned endpoint counts as drift: $(cat "$work/dry")"

# delta gets another address, gamma goes, epsilon comes.
write_peer delta "$delta_pub" 10.98.0.44 $'persistentKeepalive: 25s\n'
rm "$fleet/peers/gamma.yaml"
write_peer epsilon "$epsilon_pub" 10.98.0.5 $'endpoint: 198.51.100.5:51820\n'
run_driver "$work/pass2" 2>"$work/pass2.err" ||
	{ cat "$work/pass2" "$work/pass2.err" >&2; fail "pass 2"; }
cat >"$work/pass2-want" <<EOF
Plan for node 'alpha' from '$fleet'
interface '$if1' observed through wireguard-go (userspace API)

~ wireguard/peer 'delta'
    allowed-ips: 10.98.0.4/32 -> 10.98.0.44/32
+ wireguard/peer 'epsilon'
    public-key: $epsilon_pub
    endpoint: 198.51.100.5:51820
    allowed-ips: 10.98.0.5/32
- wireguard/peer '$gamma_pub' (not in the manifests)
    public-key: $gamma_pub
    allowed-ips: 10.98.0.3/32
- wireguard/route '10.98.0.3/32'
- wireguard/route '10.98.0.4/32'
+ wireguard/route '10.98.0.5/32'
+ wireguard/route '10.98.0.44/32'

Plan: 3 to create, 1 to update, 0 to replace, 3 to delete, 0 to start.
apply: 7 actions, 0 failed
after: 0 actions
EOF
diff -u "$work/pass2-want" "$work/pass2" || fail "pass 2: another plan or result"
[ "$(peer_field "$beta_pub" 5)" = "$handshake" ] || fail "pass 2: beta's handshake changed"
[ "$(peer_field "$beta_pub" 6)" -ge "$rx" ] && [ "$(peer_field "$beta_pub" 7)" -ge "$tx" ] ||
	fail "pass 2: beta's counters were reset"
expect_config "pass 2" <<EOF
interface $(cat "$state/wireguard.key") $alpha_pub 51820
peer $beta_pub 10.204.0.2:51821 10.98.0.2/32 off
peer $delta_pub 203.0.113.77:40000 10.98.0.44/32 off
peer $epsilon_pub 198.51.100.5:51820 10.98.0.5/32 off
EOF
in_ns1 ip route show dev $if1 | awk '{ print $1 }' | sort |
	diff -u <(printf '10.98.0.%s\n' 2 44 5 | sort) - || fail "pass 2: routes"

rx=$(peer_field "$beta_pub" 6)
in_ns1 ping -c 1 -W 5 10.98.0.2 >/dev/null || fail "pass 2: no ping to beta any more"
[ "$(peer_field "$beta_pub" 6)" -gt "$rx" ] || fail "pass 2: the ping's reply was not counted"
# wireguard-go renews a session after 120 s of use: only sooner is a new handshake news.
if [ $(($(date +%s) - handshake_at)) -lt 100 ]; then
	[ "$(peer_field "$beta_pub" 5)" = "$handshake" ] ||
		fail "pass 2: the ping needed a new handshake: the session did not survive"
fi
echo "PASS: pass 2 changed delta (its learned endpoint kept), removed gamma, added epsilon;" \
	"beta's session survived (handshake $handshake)"

# --- 3. What a pass sends, seen from outside the plugin ---
# A proxy of the test's own stands where the plugin looks for the UAPI socket, in a private
# mount namespace: the daemon and its socket stay untouched.
cat >"$work/proxy.py" <<'PY'
import socket, sys, threading

listen_path, target_path, log_path = sys.argv[1:]
log = open(log_path, "a", buffering=1)

def forward(source, sink, record):
    first = True  # the next line starts a request
    pending = b""
    while True:
        data = source.recv(65536)
        if not data:
            break
        if record:
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if first and line:
                    log.write(line.decode(errors="replace") + "\n")
                first = line == b""
        sink.sendall(data)
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass

server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(listen_path)
server.listen(8)
while True:
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(target_path)
    threading.Thread(target=forward, args=(client, upstream, True), daemon=True).start()
    threading.Thread(target=forward, args=(upstream, client, False), daemon=True).start()
PY

# Runs in the private mount namespace: WORK REQUEST-LOG OUTPUT-FILE IFNAME COMMAND...
proxy_script='
set -e
work=$1 requests=$2 out=$3 ifname=$4
shift 4
mkdir -p "$work/uapi-real"
mount --bind /var/run/wireguard "$work/uapi-real"
mount -t tmpfs ppna-uapi /var/run/wireguard
/usr/bin/python3 "$work/proxy.py" "/var/run/wireguard/$ifname.sock" \
	"$work/uapi-real/$ifname.sock" "$requests" &
proxy=$!
for _ in $(seq 100); do
	[ -S "/var/run/wireguard/$ifname.sock" ] && break
	sleep 0.05
done
status=0
"$@" >"$out" || status=$?
kill $proxy
exit $status'

through_proxy() { # OUTPUT-FILE REQUEST-LOG
	: >"$2"
	in_ns1 unshare -m --propagation private /bin/bash -c "$proxy_script" bash "$work" "$2" \
		"$1" $if1 "$driver" "$fleet" alpha "$state" $if1
}

uapi_lines() {
	grep -c 'UAPI:' "$go_log" || true
}

# The control: one change, which the proxy must see as a set request.
write_peer epsilon "$epsilon_pub" 10.98.0.5 $'endpoint: 198.51.100.6:51820\n'
before=$(uapi_lines)
through_proxy "$work/pass3" "$work/requests3" 2>"$work/pass3.err" ||
	{ cat "$work/pass3" "$work/pass3.err" >&2; fail "pass 3"; }
printf 'get=1\nset=1\nget=1\n' | diff -u - "$work/requests3" ||
	fail "pass 3: the proxy did not see observe, one set, observe"
[ "$(uapi_lines)" -gt "$before" ] || fail "pass 3: wireguard-go logged no UAPI change"
[ "$(peer_field "$epsilon_pub" 3)" = 198.51.100.6:51820 ] || fail "pass 3: epsilon not changed"

# The same fleet again: observe and plan only, not one set request.
before=$(uapi_lines)
through_proxy "$work/pass4" "$work/requests4" 2>"$work/pass4.err" ||
	{ cat "$work/pass4" "$work/pass4.err" >&2; fail "pass 4"; }
grep -q "^No changes. Node 'alpha'" "$work/pass4" || fail "pass 4: $(cat "$work/pass4")"
printf 'get=1\nget=1\n' | diff -u - "$work/requests4" ||
	fail "pass 4: a pass in sync sent more than two observations"
[ "$(uapi_lines)" -eq "$before" ] || fail "pass 4: wireguard-go logged a UAPI change"
echo "PASS: a pass in sync sent no set request (proxy saw: $(tr '\n' ' ' <"$work/requests4"))"

# --- 4. The node's own key against its manifest ---
# The plan is made with the key the node holds; a manifest that says otherwise gets a note.
other_pub=$(wg genkey | wg pubkey)
write_peer alpha "$other_pub" 10.98.0.1 $'endpoint: 10.204.0.1:51820\nrelay: true\n'
run_driver "$work/pass5" -n ||
	fail "pass 5: the local key was not planned with: $(cat "$work/pass5")"
grep -q -x "the node's key '$alpha_pub' differs from peers/alpha.yaml ('$other_pub'): other\
 nodes will not accept it until the manifest is updated" "$work/pass5" ||
	fail "pass 5: no note of the key mismatch: $(cat "$work/pass5")"

# Without a key file the manifest's key is compared, and apply cannot put it in place.
mkdir "$work/no-key"
status=0
in_ns1 "$driver" "$fleet" alpha "$work/no-key" $if1 >"$work/pass6" 2>"$work/pass6.err" ||
	status=$?
[ $status -eq 1 ] || fail "pass 6: exit $status without a key"
grep -q -x "    public-key: $alpha_pub -> $other_pub" "$work/pass6" ||
	fail "pass 6: $(cat "$work/pass6")"
grep -q -x 'apply: 1 actions, 1 failed' "$work/pass6" || fail "pass 6: $(cat "$work/pass6")"
grep -q "wireguard/interface '$if1': cannot set the private key: no key in\
 '$work/no-key/wireguard.key'; run 'ppn keygen' to make one" "$work/pass6.err" ||
	fail "pass 6: no clear error: $(cat "$work/pass6.err")"
[ "$(in_ns1 wg show $if1 public-key)" = "$alpha_pub" ] || fail "pass 6: the key changed"
echo "PASS: the node's own key is planned with, and a missing key file is a clear error"

# --- 5. One refused action does not stop the others ---
# Another socket holds the new listen port: wireguard-go refuses it and reads no further in
# that request, yet the new peer (and its route) must still get in; the port follows once free.
holder_script='import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 51999))
time.sleep(120)'
ip netns exec $ns1 /usr/bin/python3 -c "$holder_script" & # exec'ed: $! is python itself
holder=$!
for _ in $(seq 100); do
	in_ns1 ss -Huln 'sport = :51999' | grep -q . && break
	sleep 0.05
done
zeta_pub=$(wg genkey | wg pubkey)
sed -i 's/^listenPort: 51820$/listenPort: 51999/' "$fleet/ppn.yaml"
write_peer zeta "$zeta_pub" 10.98.0.6 $'endpoint: 198.51.100.7:51820\n'
status=0
run_driver "$work/pass7" 2>"$work/pass7.err" || status=$?
kill $holder
wait $holder 2>/dev/null || true
holder=""
[ $status -eq 1 ] || fail "pass 7: exit $status with the port taken"
grep -q -x 'apply: 3 actions, 1 failed' "$work/pass7" || fail "pass 7: $(cat "$work/pass7")"
grep -q "wireguard/interface '$if1': cannot configure WireGuard: Address already in use" \
	"$work/pass7.err" || fail "pass 7: $(cat "$work/pass7.err")"
[ "$(peer_field "$zeta_pub" 4)" = 10.98.0.6/32 ] || fail "pass 7: zeta was not added"
in_ns1 ip route show dev $if1 | grep -q '^10\.98\.0\.6 ' || fail "pass 7: no route to zeta"

run_driver "$work/pass8" || fail "pass 8: $(cat "$work/pass8")"
[ "$(in_ns1 wg show $if1 listen-port)" = 51999 ] || fail "pass 8: the port did not follow"
echo "PASS: a refused listen port failed alone; the new peer got in; the port followed once free"

# --- 9. A log file that cannot be opened does not cost the interface ---
# wireguard-go's log refuses to follow a symbolic link: with one there, the interface is still
# created, the output goes to stderr with a warning, and the link's target stays untouched.
pkill -f "^wireguard-go $if1\$"
for _ in $(seq 100); do
	in_ns1 ip link show $if1 >/dev/null 2>&1 || break
	sleep 0.05
done
echo "not for wireguard-go" >"$work/target"
rm -f "$go_log"
ln -s "$work/target" "$go_log"
run_driver "$work/pass9" "${backend_option[@]}" 2>"$work/pass9.err" ||
	fail "pass 9: $(cat "$work/pass9" "$work/pass9.err")"
grep -q "cannot open '$go_log' for wireguard-go's output" "$work/pass9.err" ||
	fail "pass 9: no warning: $(cat "$work/pass9.err")"
[ "$(cat "$work/target")" = "not for wireguard-go" ] || fail "pass 9: the link was followed"
pgrep -f "^wireguard-go $if1\$" >/dev/null || fail "pass 9: no wireguard-go $if1 running"
echo "PASS: with its log refused, wireguard-go still served the interface"
