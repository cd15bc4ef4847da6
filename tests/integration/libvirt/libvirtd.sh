#!/bin/bash
# Starts and stops a libvirtd of a test's own, without systemd, that leaves the machine's
# libvirt alone: the daemon runs in a private mount namespace where DIR/etc and DIR/run are
# mounted over /etc/libvirt and /run/libvirt, so its qemu.conf, its persistent definitions
# and its driver state are the test's; its sockets are in DIR/sock. Images, logs and the QEMU
# capability cache stay in the usual /var/lib, /var/log and /var/cache paths (the cache makes
# every connect after the machine's first one fast).
#
# usage: libvirtd.sh start DIR   prints the URI to connect to (qemu:///system?socket=...)
#        libvirtd.sh stop DIR    destroys the daemon's running domains, stops the daemon
#        libvirtd.sh uri DIR     prints the URI again
#
# The daemon runs a QEMU hook (DIR/etc/hooks/qemu) that lets a test hold the start of a domain
# between its definition and its start, to kill a client at exactly that point: write a part of
# the domain's name as the first line of DIR/hold; the start then waits, with the domain's name
# in DIR/held, until a second line of DIR/hold says "release" (the start goes on) or "fail"
# (libvirt fails the start and the domain stays defined and shut off). It gives up after 120 s
# and lets the start go on. While a start is held, libvirt queries that need the domain, even
# `virsh list`, wait for it: a test watches DIR/held instead.
#
# Needs root. start exits 77 (skipped), saying why, when libvirtd, virsh or QEMU is missing.
set -euo pipefail

die() {
	echo "libvirtd.sh: $*" >&2
	exit 1
}

skip() {
	echo "libvirtd.sh: SKIP: $*" >&2
	exit 77
}

# A daemon that was killed may linger as a zombie until PID 1 reaps it: that counts as gone.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

uri_of() {
	echo "qemu:///system?socket=$1/sock/libvirt-sock"
}

# libvirt's QEMU driver resolves its compiled-in user before it reads qemu.conf, so the user
# must exist even though qemu.conf makes QEMU run as root. libvirt-daemon-system would create
# it, but brings systemd units and more with it.
ensure_qemu_user() {
	getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
	getent passwd libvirt-qemu >/dev/null ||
		useradd --system --no-create-home -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu
}

# libvirt looks for hooks when it starts, so the hook is always there; without DIR/hold it
# returns at once.
write_hook() {
	local dir=$1

	mkdir -p "$dir/etc/hooks"
	cat >"$dir/etc/hooks/qemu" <<-EOF
		#!/bin/sh
		# libvirt calls this as: qemu DOMAIN OPERATION SUB-OPERATION, the domain XML on stdin.
		cat >/dev/null
		[ "\$2 \$3" = "prepare begin" ] && [ -f "$dir/hold" ] || exit 0
		case \$1 in
		*"\$(head -n 1 "$dir/hold")"*) ;;
		*) exit 0 ;;
		esac
		echo "\$1" >"$dir/held"
		for _ in \$(seq 1200); do
			[ -f "$dir/hold" ] || break
			case \$(sed -n 2p "$dir/hold") in
			release) break ;;
			fail) rm -f "$dir/held"; exit 1 ;;
			esac
			sleep 0.1
		done
		rm -f "$dir/held"
	EOF
	chmod 0755 "$dir/etc/hooks/qemu"
}

write_config() {
	local dir=$1

	mkdir -p "$dir/etc/qemu" "$dir/run" "$dir/sock"
	chmod 0700 "$dir/sock"
	# QEMU runs as root with no security driver: the test machine has neither AppArmor nor
	# SELinux, and root may open the test's images wherever they are. stdio_handler=file
	# writes QEMU's own log without virtlogd.
	cat >"$dir/etc/qemu.conf" <<-EOF
		user = "root"
		group = "root"
		dynamic_ownership = 0
		security_driver = "none"
		stdio_handler = "file"
	EOF
	write_hook "$dir"
	cat >"$dir/etc/libvirtd.conf" <<-EOF
		unix_sock_dir = "$dir/sock"
		unix_sock_rw_perms = "0700"
		unix_sock_ro_perms = "0700"
		unix_sock_admin_perms = "0700"
		auth_unix_rw = "none"
		auth_unix_ro = "none"
		log_outputs = "3:stderr"
	EOF
}

wait_until_answering() {
	local dir=$1 pid=$2 uri

	uri=$(uri_of "$dir")
	# The machine's first connection probes QEMU's capabilities: about 8 s under TCG.
	for _ in $(seq 600); do
		alive "$pid" || {
			cat "$dir/libvirtd.log" >&2
			die "libvirtd (PID $pid) exited while starting"
		}
		if [ -S "$dir/sock/libvirt-sock" ] && virsh -q -c "$uri" version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	die "libvirtd (PID $pid) does not answer on '$uri' after 60 s; see $dir/libvirtd.log"
}

start() {
	local dir=$1 pid

	[ "$(id -u)" -eq 0 ] || skip "needs root (qemu:///system)"
	command -v libvirtd >/dev/null || skip "libvirtd is not installed (scripts/setup)"
	command -v virsh >/dev/null || skip "virsh is not installed (scripts/setup)"
	command -v qemu-system-x86_64 >/dev/null || skip "QEMU is not installed (scripts/setup)"
	if [ -f "$dir/libvirtd.pid" ] && alive "$(cat "$dir/libvirtd.pid")"; then
		die "a libvirtd for '$dir' already runs (PID $(cat "$dir/libvirtd.pid"))"
	fi

	ensure_qemu_user
	mkdir -p /var/log/libvirt/qemu /var/lib/libvirt /var/cache/libvirt /etc/libvirt \
		/run/libvirt
	write_config "$dir"

	# unshare and sh exec, so $! is the daemon's own PID.
	unshare --mount --propagation private -- sh -c '
		mount --bind "$1/etc" /etc/libvirt &&
		mount --bind "$1/run" /run/libvirt &&
		exec libvirtd --config "$1/etc/libvirtd.conf" --pid-file "$1/run/libvirtd.pid"' \
		libvirtd "$dir" </dev/null >"$dir/libvirtd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/libvirtd.pid"

	wait_until_answering "$dir" "$pid"
	uri_of "$dir"
}

# QEMU processes outlive a libvirtd that is killed; the daemon's pid files name them.
kill_leftover_qemu() {
	local dir=$1 file pid

	for file in "$dir"/run/qemu/*.pid; do
		[ -f "$file" ] || continue
		pid=$(cat "$file")
		if [ -n "$pid" ] && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null; then
			echo "libvirtd.sh: killing leftover QEMU PID $pid ($file)" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

stop() {
	local dir=$1 pid uri name

	[ -f "$dir/libvirtd.pid" ] || return 0
	pid=$(cat "$dir/libvirtd.pid")
	uri=$(uri_of "$dir")

	# Every domain of this daemon is the test's: the daemon is private to it. QEMU's own logs
	# of the domains it still knows go too; a test removes those of domains it undefined.
	if alive "$pid"; then
		for name in $(virsh -q -c "$uri" list --all --name 2>/dev/null); do
			virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true
			rm -f "/var/log/libvirt/qemu/$name.log"
		done
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			echo "libvirtd.sh: libvirtd (PID $pid) ignored SIGTERM; sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				alive "$pid" || break
				sleep 0.1
			done
		fi
	fi
	kill_leftover_qemu "$dir"
	rm -f "$dir/libvirtd.pid"
}

[ $# -eq 2 ] || die "usage: libvirtd.sh start|stop|uri DIR"
dir=$(realpath -m "$2")
case $1 in
start)
	mkdir -p "$dir"
	start "$dir"
	;;
stop)
	stop "$dir"
	;;
uri)
	uri_of "$dir"
	;;
*)
	die "usage: libvirtd.sh start|stop|uri DIR"
	;;
esac
