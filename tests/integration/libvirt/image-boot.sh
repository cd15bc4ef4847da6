#!/bin/bash
# The ground under vm-e2e, without ppn: the base image of make-image.sh boots and reads its
# NoCloud seed, first under plain QEMU, then as two domains at once under the private libvirtd
# of libvirtd.sh, each on a qcow2 overlay over the base with its backing format explicit, the
# seed as a CD-ROM and the serial console written to a file. Prints how long each step took.
#
# Needs root for the libvirt half. Exits 77 (skipped), saying why, when a tool is missing.
set -euo pipefail
umask 077

here=$(cd "$(dirname "$0")" && pwd)
boot_timeout=120

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (qemu:///system)"
for tool in qemu-system-x86_64 qemu-img genisoimage virsh; do
	command -v $tool >/dev/null || skip "'$tool' is not installed (scripts/setup installs it)"
done

work=$(mktemp -d /tmp/ppnv-e2e-boot.XXXXXX)
lv=$work/libvirt
qemu_pid=""

cleanup() {
	if [ -n "$qemu_pid" ]; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	"$here/libvirtd.sh" stop "$lv" || true
	rm -f /var/log/libvirt/qemu/ppnv-e2e-boot*.log
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# A seed as cloud-localds makes one: ISO9660, Rock Ridge and Joliet names, labelled cidata.
make_seed() {
	local name=$1

	mkdir -p "$work/seed-$name"
	printf 'instance-id: iid-%s\nlocal-hostname: %s\n' "$name" "$name" \
		>"$work/seed-$name/meta-data"
	printf '#cloud-config\nhostname: %s\n' "$name" >"$work/seed-$name/user-data"
	genisoimage -quiet -output "$work/$name-seed.iso" -volid cidata -joliet -rock \
		"$work/seed-$name/user-data" "$work/seed-$name/meta-data"
	qemu-img create -q -f qcow2 -b "$work/base.qcow2" -F qcow2 "$work/$name.qcow2" 1G
}

# Waits for PPN-READY on a console, then checks what the guest read from its seed.
check_console() {
	local name=$1 console=$2 digest

	for _ in $(seq $((boot_timeout * 10))); do
		grep -aq PPN-READY "$console" 2>/dev/null && break
		sleep 0.1
	done
	if ! grep -aq PPN-READY "$console" 2>/dev/null; then
		cat "$console" >&2 || true
		fail "'$name': no PPN-READY on the console within $boot_timeout s"
	fi
	tr -d '\r' <"$console" | grep -ao 'PPN-.*' | sed "s/^/$name: /"
	digest=$(sha256sum "$work/seed-$name/user-data" | cut -d' ' -f1)
	tr -d '\r' <"$console" |
		grep -aqx "PPN-META instance-id=iid-$name local-hostname=$name" ||
		fail "'$name': wrong or missing PPN-META line"
	tr -d '\r' <"$console" | grep -aqx "PPN-USERDATA-SHA256=$digest" ||
		fail "'$name': wrong or missing user-data digest"
	tr -d '\r' <"$console" | grep -aqx "PPN-HOSTNAME=$name" ||
		fail "'$name': the guest did not take its host name"
}

t0=$(now_ms)
status=0
"$here/make-image.sh" "$work/base.qcow2" || status=$?
[ $status -ne 77 ] || skip "the base image cannot be built here (see above)"
[ $status -eq 0 ] || fail "make-image.sh exited $status"
echo "timing: image build $(($(now_ms) - t0)) ms"

# --- Plain QEMU: the image boots from its overlay, the seed on an IDE CD-ROM ---
make_seed ppnv-e2e-boot0
t0=$(now_ms)
qemu-system-x86_64 -accel tcg -cpu max -m 256 -nographic -no-reboot -nic none \
	-drive "file=$work/ppnv-e2e-boot0.qcow2,format=qcow2,if=virtio" \
	-cdrom "$work/ppnv-e2e-boot0-seed.iso" </dev/null >"$work/console0" 2>&1 &
qemu_pid=$!
check_console ppnv-e2e-boot0 "$work/console0"
echo "timing: plain QEMU, start to PPN-READY $(($(now_ms) - t0)) ms"
kill "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""

# --- Two domains at once under the private libvirtd ---
t0=$(now_ms)
status=0
uri=$("$here/libvirtd.sh" start "$lv") || status=$?
[ $status -ne 77 ] || skip "libvirtd cannot run here (see above)"
[ $status -eq 0 ] || fail "libvirtd.sh start exited $status"
echo "timing: libvirtd start, until it answers $(($(now_ms) - t0)) ms"

names="ppnv-e2e-boot1 ppnv-e2e-boot2"
for name in $names; do
	make_seed "$name"
	cat >"$work/$name.xml" <<-EOF
		<domain type='qemu'>
		  <name>$name</name>
		  <memory unit='MiB'>256</memory>
		  <vcpu>1</vcpu>
		  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
		  <cpu mode='maximum'/>
		  <devices>
		    <disk type='file' device='disk'>
		      <driver name='qemu' type='qcow2'/>
		      <source file='$work/$name.qcow2'/>
		      <backingStore type='file'>
		        <format type='qcow2'/>
		        <source file='$work/base.qcow2'/>
		      </backingStore>
		      <target dev='vda' bus='virtio'/>
		    </disk>
		    <disk type='file' device='cdrom'>
		      <driver name='qemu' type='raw'/>
		      <source file='$work/$name-seed.iso'/>
		      <target dev='hdc' bus='ide'/>
		      <readonly/>
		    </disk>
		    <serial type='file'><source path='$work/$name.console'/><target port='0'/></serial>
		  </devices>
		</domain>
	EOF
	virsh -q -c "$uri" define "$work/$name.xml" >/dev/null
done
t0=$(now_ms)
for name in $names; do
	virsh -q -c "$uri" start "$name" >/dev/null
done
echo "timing: two domains started $(($(now_ms) - t0)) ms"
for name in $names; do
	check_console "$name" "$work/$name.console"
	echo "timing: '$name', from the first start to PPN-READY (noticed) $(($(now_ms) - t0)) ms"
done
virsh -c "$uri" list
for name in $names; do
	[ "$(virsh -q -c "$uri" domstate "$name" | head -n 1)" = running ] ||
		fail "'$name' is not running"
done
echo "PASS: the base image boots and reads its seed under QEMU, and as two domains under libvirtd"
