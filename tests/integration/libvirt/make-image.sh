#!/bin/bash
# Builds a tiny bootable qcow2 base image from Debian packages, for tests that boot VMs the way
# ppn does (a qcow2 overlay over a base image, a NoCloud seed labelled 'cidata'):
#
#   - Debian's cloud kernel, from the cache scripts/setup fills (/var/cache/ppn-test/kernel/
#     current, or $PPN_GUEST_KERNEL_ROOT), never installed;
#   - an initramfs of busybox-static and the modules that read a seed on a CD-ROM or a disk;
#     its /init finds the volume labelled cidata, prints what first boot would configure on
#     the serial console (ttyS0), sets the host name, and then idles, so the domain stays
#     running;
#   - SYSLINUX on an unpartitioned FAT disk (SeaBIOS boots its boot sector like an MBR), built
#     without mounting anything: mkfs.vfat, syslinux --install and mcopy work on the file.
#
# Console lines, one each, parseable:
#   PPN-BOOT uptime=<s> kernel=<release>
#   PPN-CIDATA device=<dev> type=<fs>                    or  PPN-NO-CIDATA
#   PPN-META instance-id=<id> local-hostname=<name>
#   PPN-USERDATA-SHA256=<hex>                            (of the user-data file; "none" if absent)
#   PPN-NETWORK-CONFIG-SHA256=<hex>                      (likewise)
#   PPN-HOSTNAME=<the host name the guest now has>
#   PPN-READY uptime=<s>
#
# usage: make-image.sh OUT.qcow2      prints "sha256 <hex>" and "size <bytes>" of OUT.qcow2
# Exits 77 (skipped), saying why, when a tool or the kernel cache is missing.
set -euo pipefail

out=${1:?usage: make-image.sh OUT.qcow2}
kroot=${PPN_GUEST_KERNEL_ROOT:-/var/cache/ppn-test/kernel/current}
modules="sr_mod isofs ata_piix virtio_pci virtio_blk virtio_scsi sd_mod vfat nls_cp437 nls_ascii"

skip() {
	echo "make-image.sh: SKIP: $*" >&2
	exit 77
}
fail() {
	echo "make-image.sh: $*" >&2
	exit 1
}

[ -d "$kroot/lib/modules" ] ||
	skip "no guest kernel under '$kroot' (scripts/setup unpacks Debian's cloud kernel there)"
kver=$(ls "$kroot/lib/modules" | head -n 1)
kernel=$kroot/boot/vmlinuz-$kver
[ -f "$kernel" ] || skip "no kernel image '$kernel' (run scripts/setup again)"
for tool in busybox cpio gzip modprobe mkfs.vfat mcopy syslinux qemu-img sha256sum; do
	command -v $tool >/dev/null || skip "'$tool' is missing (scripts/setup installs it)"
done
busybox=$(command -v busybox)
# The initramfs holds no shared libraries.
if ldd "$busybox" >/dev/null 2>&1; then
	skip "'$busybox' is linked dynamically: install busybox-static"
fi

work=$(mktemp -d /tmp/ppnv-e2e-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- The modules, each once, in an order that loads dependencies first ---
root=$work/root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/mnt" "$root/modules"
cp "$busybox" "$root/bin/busybox"
: >"$root/modules/order"
for module in $modules; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$module" ||
		fail "modprobe cannot resolve '$module' for $kver"
done >"$work/depends"
while read -r verb path _; do
	[ "$verb" = insmod ] || continue # "builtin ..." lines: nothing to load
	name=$(basename "$path")
	grep -qx "$name" "$root/modules/order" && continue
	cp "$path" "$root/modules/"
	echo "$name" >>"$root/modules/order"
done <"$work/depends"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
uptime() { cut -d' ' -f1 /proc/uptime; }
echo "PPN-BOOT uptime=$(uptime) kernel=$(uname -r)"
for module in $(cat /modules/order); do
	insmod "/modules/$module" 2>/dev/null || echo "PPN-WARN cannot load $module"
done

# Disks and CD-ROMs appear asynchronously after their drivers load: look for a while. A vfat
# seed may carry its label in capitals.
find_cidata() {
	for _ in $(seq 100); do
		findfs LABEL=cidata 2>/dev/null && return 0
		findfs LABEL=CIDATA 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# meta-data is YAML (instance-id: x, maybe quoted) or JSON ({"instance-id": "x", ...}).
meta_value() {
	value=$(sed -n "s/^$1:[[:space:]]*//p" /mnt/meta-data | head -n 1 | sed 's/[[:space:]]*$//')
	case $value in
	\"*\" | \'*\') value=${value#?} value=${value%?} ;;
	esac
	[ -n "$value" ] ||
		value=$(tr -d '\n' </mnt/meta-data |
			sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p")
	echo "$value"
}

digest() {
	if [ -f "$1" ]; then sha256sum "$1" | cut -d' ' -f1; else echo none; fi
}

if dev=$(find_cidata); then
	mount -o ro "$dev" /mnt || echo "PPN-WARN cannot mount $dev"
	type=$(awk '$2 == "/mnt" { print $3 }' /proc/mounts)
	echo "PPN-CIDATA device=$dev type=$type"
	id=$(meta_value instance-id)
	name=$(meta_value local-hostname)
	echo "PPN-META instance-id=$id local-hostname=$name"
	echo "PPN-USERDATA-SHA256=$(digest /mnt/user-data)"
	echo "PPN-NETWORK-CONFIG-SHA256=$(digest /mnt/network-config)"
	[ -n "$name" ] && hostname "$name"
else
	echo "PPN-NO-CIDATA"
	echo "PPN-BLOCK-DEVICES $(ls /sys/class/block | tr '\n' ' ')"
fi
echo "PPN-HOSTNAME=$(hostname)"
echo "PPN-READY uptime=$(uptime)"

# PID 1 must not exit: the domain stays running until it is destroyed.
while :; do
	sleep 3600
done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/initrd.gz"

# --- The boot disk: FAT with SYSLINUX, the kernel and the initramfs ---
cat >"$work/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT ppn
PROMPT 0
TIMEOUT 0
LABEL ppn
	LINUX /vmlinuz
	INITRD /initrd.gz
	APPEND console=ttyS0 panic=-1 loglevel=4
CFG
kib=$((($(stat -c %s "$kernel") + $(stat -c %s "$work/initrd.gz")) / 1024 + 1024))
mkfs.vfat -n PPNBOOT -C "$work/disk.raw" "$kib" >/dev/null
syslinux --install "$work/disk.raw"
mcopy -i "$work/disk.raw" "$kernel" ::vmlinuz
mcopy -i "$work/disk.raw" "$work/initrd.gz" ::initrd.gz
mcopy -i "$work/disk.raw" "$work/syslinux.cfg" ::syslinux.cfg

qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/out.qcow2"
mv "$work/out.qcow2" "$out"
echo "sha256 $(sha256sum "$out" | cut -d' ' -f1)"
echo "size $(stat -c %s "$out")"
