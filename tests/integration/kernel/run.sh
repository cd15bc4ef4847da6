#!/bin/sh
# Boots Debian's cloud kernel under QEMU (TCG) with a small initramfs: busybox, the WireGuard
# modules and wg-kernel-observe, which configures kernel WireGuard interfaces and observes them
# with the plugin's kernel backend. Passes when the guest prints "PPN-WG-KERNEL: PASS".
#
# usage: run.sh PATH-TO-wg-kernel-observe
# The kernel comes from the cache scripts/setup fills (/var/cache/ppn-test/kernel/current, or
# $PPN_GUEST_KERNEL_ROOT). Exits 77 (skipped), saying why, when QEMU or that cache is missing.
set -eu

program=$1
kroot=${PPN_GUEST_KERNEL_ROOT:-/var/cache/ppn-test/kernel/current}
timeout_s=${PPN_GUEST_TIMEOUT:-120}

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

command -v qemu-system-x86_64 >/dev/null ||
	skip "qemu-system-x86_64 is not installed (scripts/setup installs qemu-system-x86)"
[ -d "$kroot/lib/modules" ] ||
	skip "no guest kernel under '$kroot' (scripts/setup unpacks Debian's cloud kernel there)"
kver=$(ls "$kroot/lib/modules" | head -n 1)
kernel=$kroot/boot/vmlinuz-$kver
[ -f "$kernel" ] || skip "no kernel image '$kernel' (run scripts/setup again)"
for tool in cpio gzip modprobe busybox; do
	command -v $tool >/dev/null || fail "'$tool' is missing (scripts/setup installs it)"
done
busybox=$(command -v busybox)
# The initramfs holds no shared libraries.
if ldd "$busybox" >/dev/null 2>&1; then
	fail "'$busybox' is linked dynamically: install busybox-static"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
started=$(now_ms)

# --- The initramfs: busybox, the modules WireGuard needs in load order, the program ---
root=$work/root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/modules"
cp "$busybox" "$root/bin/busybox"
cp "$program" "$root/bin/wg-kernel-observe"
modprobe -d "$kroot" -S "$kver" --show-depends wireguard >"$work/depends"
: >"$root/modules/order"
while read -r verb path _; do
	[ "$verb" = insmod ] || continue # "builtin ..." lines: nothing to load
	cp "$path" "$root/modules/"
	basename "$path" >>"$root/modules/order"
done <"$work/depends"
[ -s "$root/modules/order" ] || fail "modprobe found no wireguard module for $kver"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "PPN-GUEST-START uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
for module in $(cat /modules/order); do
	insmod "/modules/$module" || echo "PPN-WG-KERNEL: FAIL: cannot load $module"
done
echo "PPN-MODULES-LOADED uptime=$(cut -d' ' -f1 /proc/uptime)"
/bin/wg-kernel-observe 2>&1
echo "PPN-GUEST-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"
built=$(now_ms)

# --- Boot. -cpu max: the default CPU model lacks SSSE3, which chacha-x86_64 needs ---
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 256 -nographic -no-reboot \
	-nic none -kernel "$kernel" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4" </dev/null >"$work/console" 2>&1 || rc=$?
finished=$(now_ms)

# Only the guest's own lines; the first shares its line with the firmware's screen codes.
tr -d '\r' <"$work/console" | grep -E 'PPN-|^(ok: |FAILED: |  want: |  got:  )|error: |warning: ' |
	sed 's/^.*\(PPN-GUEST-START\)/\1/' || true
echo "timing: initramfs $((built - started)) ms ($(du -k "$work/initramfs.gz" | cut -f1) KiB)," \
	"QEMU from start to exit $((finished - built)) ms, kernel $kver"

[ $rc -ne 124 ] || fail "the guest did not finish within ${timeout_s} s"
if ! grep -q '^PPN-WG-KERNEL: PASS' "$work/console"; then
	echo "--- whole console:" >&2
	cat "$work/console" >&2
	fail "the guest did not report PASS (QEMU exit status $rc)"
fi
echo "PASS: kernel WireGuard observed through the plugin's kernel backend"
