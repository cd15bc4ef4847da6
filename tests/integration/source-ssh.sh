#!/bin/bash
# The git source over ssh, against a real sshd of the test's own on 127.0.0.1: a fetch with a
# key file and with ssh-agent succeeds when the server's host key is in known_hosts (plain or
# hashed); an unknown or different host key, a host listed under another port and a client
# key the server does not know are all refused, with -EPERM or -EACCES.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (sshd logs in as root)"; exit 77; }
[ -x /usr/sbin/sshd ] || { echo "SKIP: openssh-server is not installed"; exit 77; }

probe=${1:?usage: source-ssh.sh SOURCE_FETCH_PROGRAM}
source_root=${PPN_SOURCE_ROOT:?}
lsan_file=$source_root/tests/integration/source-ssh.lsan
work=$(mktemp -d /tmp/ppn-src-ssh.XXXXXX)
git="git -c user.name=ppn-test -c user.email=test@ppn.invalid -c init.defaultBranch=main"
sshd_pid=""
agent_pid=""
made_privsep=""
failures=0

cleanup() {
	for pid in $sshd_pid $agent_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[ -z "$made_privsep" ] || rmdir /run/sshd 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		failures=$((failures + 1))
	fi
}

# Runs the probe with a clean ssh environment: no agent, no ~/.ssh of the machine. Its output
# ends with "exit N"; under AddressSanitizer a leak aborts it, which fails the checks. The slow
# unwinder gives the full stacks through libgit2 that the suppressions name.
fetch() {
	local rc=0
	env -u SSH_AUTH_SOCK HOME="$work/home" PPN_SSH_KEY="$work/client_key" \
		PPN_SSH_KNOWN_HOSTS="$work/known_hosts" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0" \
		LSAN_OPTIONS="suppressions=$lsan_file:print_suppressions=0" \
		"$@" "$probe" "$url" "$work/cache" >"$work/out" 2>"$work/err" || rc=$?
	echo "exit $rc" >>"$work/out"
	sed 's/^/    /' "$work/out" "$work/err"
}

fetched() {
	grep -qx "commit $1" "$work/out" && grep -qx "exit 0" "$work/out"
}

refused() {
	grep -qx "error $1" "$work/out" && grep -qx "exit 1" "$work/out"
}

free_port() {
	local port
	for port in $(shuf -i 40000-60000 -n 50); do
		if ! ss -Hltn "sport = :$port" | grep -q .; then
			echo "$port"
			return
		fi
	done
	return 1
}

# The fleet repository, with the example fleet committed on main.
mkdir -p "$work/home"
$git init -q --bare "$work/fleet.git"
$git clone -q "$work/fleet.git" "$work/clone" 2>/dev/null
cp -r "$source_root/examples/fleet/." "$work/clone/"
$git -C "$work/clone" add -A
$git -C "$work/clone" commit -q -m "example fleet"
$git -C "$work/clone" push -q origin HEAD:refs/heads/main 2>/dev/null
first=$($git -C "$work/clone" rev-parse HEAD)

# Keys: the server's, another server's, the client's, and a key the server does not know.
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/other_host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/stranger_key"
cp "$work/client_key.pub" "$work/authorized_keys"

port=$(free_port)
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel VERBOSE
EOF

# sshd insists on its privilege separation directory, which only its init script creates.
if [ ! -d /run/sshd ]; then
	mkdir -m 0755 /run/sshd
	made_privsep=1
fi
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
	ss -Hltn "sport = :$port" | grep -q . && break
	sleep 0.1
done
if ! ss -Hltn "sport = :$port" | grep -q .; then
	cat "$work/sshd.log"
	echo "sshd did not start"
	exit 1
fi

url="ssh://root@127.0.0.1:$port$work/fleet.git"
host_pub=$(cut -d' ' -f1,2 "$work/host_key.pub")
other_pub=$(cut -d' ' -f1,2 "$work/other_host_key.pub")

echo "[127.0.0.1]:$port $host_pub" >"$work/known_hosts"
fetch
check "key file: fetch, resolve and read over ssh" fetched "$first"
check "the manifests are read from the commit" grep -qx "file ppn.yaml [0-9]*" "$work/out"
check "every manifest of the example" test "$(grep -c '^file ' "$work/out")" -eq \
	"$(git -C "$work/clone" ls-files ppn.yaml nodes peers images vms placements | wc -l)"

echo "second" >"$work/clone/README.md"
$git -C "$work/clone" add -A
$git -C "$work/clone" commit -q -m "second"
$git -C "$work/clone" push -q origin HEAD:refs/heads/main 2>/dev/null
second=$($git -C "$work/clone" rev-parse HEAD)
fetch
check "a second fetch sees the new commit" fetched "$second"

ssh-keygen -q -H -f "$work/known_hosts" 2>/dev/null
rm -f "$work/known_hosts.old"
check "known_hosts is hashed now" grep -q '^|1|' "$work/known_hosts"
fetch
check "a hashed known_hosts entry is accepted" fetched "$second"

echo "[127.0.0.1]:$port $other_pub" >"$work/known_hosts"
fetch
check "a different host key is refused" refused EPERM
check "the refusal names known hosts" grep -q "not in known hosts" "$work/err"

: >"$work/known_hosts"
fetch
check "an unknown host is refused" refused EPERM

echo "127.0.0.1 $host_pub" >"$work/known_hosts"
fetch
check "the key listed for port 22 does not vouch for another port" refused EPERM

rm -f "$work/known_hosts"
fetch
check "a missing known_hosts file refuses every host" refused EPERM

echo "[127.0.0.1]:$port $host_pub" >"$work/known_hosts"
fetch env PPN_SSH_KEY="$work/stranger_key"
check "a key the server does not know is refused" refused EACCES

# In the foreground, so that the agent is this script's child, killed and reaped by its PID.
ssh-agent -D -a "$work/agent.sock" >/dev/null &
agent_pid=$!
for _ in $(seq 50); do
	[ -S "$work/agent.sock" ] && break
	sleep 0.1
done
SSH_AUTH_SOCK="$work/agent.sock" ssh-add -q "$work/client_key" 2>/dev/null
fetch env SSH_AUTH_SOCK="$work/agent.sock" PPN_SSH_KEY="$work/no-such-key"
check "ssh-agent: fetch with the agent's identity" fetched "$second"

SSH_AUTH_SOCK="$work/agent.sock" ssh-add -q -D 2>/dev/null
SSH_AUTH_SOCK="$work/agent.sock" ssh-add -q "$work/stranger_key" 2>/dev/null
fetch env SSH_AUTH_SOCK="$work/agent.sock"
check "ssh-agent refused: the key file is tried next" fetched "$second"

if [ "$failures" -ne 0 ]; then
	echo "--- sshd log"
	cat "$work/sshd.log"
	echo "$failures check(s) failed"
	exit 1
fi
echo "all ssh checks passed"
