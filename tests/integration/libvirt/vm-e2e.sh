#!/bin/bash
# The libvirt side of a node end to end, against a libvirtd of the test's own (libvirtd.sh)
# running real guests under QEMU TCG, booted from a tiny base image (make-image.sh):
#
#   1. `ppn-reconcile --once` creates the two VMs placed on the node: both run at once, each
#      on its own qcow2 overlay over the one base image, and each guest's serial console shows
#      the instance-id, host name and user-data of its NoCloud seed;
#   2. a second pass changes nothing, and --dry-run then exits 0 (in sync);
#   3. drift: a VM destroyed behind ppn's back is started again, same domain, same instance-id;
#   4. a VM deleted from the repo loses its domain and its volumes, and nothing else goes: the
#      other VM and a domain ppn did not create (with a volume in a pool of its own) survive;
#   5. ppn-reconcile killed (SIGKILL) between defining a domain and starting it: the next pass
#      ends with exactly one running domain for that VM and no volume left over.
#
# After every pass, every volume of every pool must belong to a domain (its disk or the base
# it is backed by). Everything the test creates carries 'ppnv-e2e': the netns, the WireGuard
# interface, the domains, pools and volumes, the temporary directory.
#
# Needs root. Exits 77 (skipped), saying why, without root, QEMU, libvirtd, wireguard-go, the
# guest kernel cache, ppn-reconcile --once or the libvirt plugin.
set -euo pipefail
umask 077

here=$(cd "$(dirname "$0")" && pwd)
build=${PPN_BUILD_ROOT:?}
source_root=${PPN_SOURCE_ROOT:?}
reconcile=$build/engine/cli/ppn-reconcile
plugin_dir=${PPN_PLUGIN_DIR:-$build/plugins}
node=macbook-air
netns=ppnv-e2e
ifname=ppnv-e2e0
vms="ppnv-e2e-alpha ppnv-e2e-bravo"
boot_timeout=120

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (qemu:///system, network namespaces)"
for tool in qemu-system-x86_64 qemu-img libvirtd virsh wireguard-go wg git genisoimage \
	python3; do
	command -v $tool >/dev/null || skip "'$tool' is not installed (scripts/setup installs it)"
done
[ -x "$reconcile" ] || skip "'$reconcile' is not built"
"$reconcile" --help | grep -q -- '--once' || skip "ppn-reconcile has no --once yet"
[ -f "$plugin_dir/ppn-libvirt.so" ] || skip "the libvirt plugin is not built ('$plugin_dir')"

work=$(mktemp -d /tmp/ppnv-e2e.XXXXXX)
lv=$work/libvirt
wg_pid=""
pass=0

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
started=$(now_ms)

# --- Cleanup: only what this test made, processes by PID ---

# Volumes of the test's VMs, wherever the plugin put them; nothing else in a shared directory.
delete_test_volumes() {
	local pool path

	for pool in $(virsh -q -c "$uri" pool-list --all --name 2>/dev/null); do
		virsh -q -c "$uri" vol-list --pool "$pool" 2>/dev/null | awk '{ print $2 }' |
			while read -r path; do
				case $path in
				*ppnv-e2e*) virsh -q -c "$uri" vol-delete "$path" >/dev/null 2>&1 || true ;;
				esac
			done
	done
}

cleanup() {
	if [ -n "${uri:-}" ]; then
		for name in $(virsh -q -c "$uri" list --name 2>/dev/null); do
			virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true
		done
		delete_test_volumes
	fi
	"$here/libvirtd.sh" stop "$lv" || true
	rm -f /var/log/libvirt/qemu/*ppnv-e2e*.log
	if [ -n "$wg_pid" ]; then
		kill "$wg_pid" 2>/dev/null || true
		wait "$wg_pid" 2>/dev/null || true
	fi
	ip netns delete "$netns" 2>/dev/null || true
	if [ -n "${PPN_TEST_KEEP:-}" ]; then
		echo "kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

show_context() {
	echo "--- virsh list --all:" >&2
	virsh -c "$uri" list --all >&2 || true
	if [ "$pass" -gt 0 ]; then
		echo "--- last ppn-reconcile stdout ($work/once-$pass.out):" >&2
		cat "$work/once-$pass.out" >&2 || true
		echo "--- last ppn-reconcile stderr:" >&2
		cat "$work/once-$pass.err" >&2 || true
	fi
	echo "--- libvirtd log (last lines):" >&2
	tail -n 20 "$lv/libvirtd.log" >&2 || true
}

fail() {
	echo "FAIL: $*" >&2
	show_context
	exit 1
}

# Kept in a file: some steps run in command substitutions.
timing() {
	echo "timing: $1: $2 ms" >>"$work/timings"
}

virsh_() {
	virsh -q -c "$uri" "$@"
}

# --- The machine: libvirtd, the base image, the node's WireGuard interface ---

start_libvirtd() {
	local t0 status=0

	t0=$(now_ms)
	uri=$("$here/libvirtd.sh" start "$lv") || status=$?
	[ $status -ne 77 ] || skip "libvirtd cannot run here (see above)"
	[ $status -eq 0 ] || fail "libvirtd.sh start exited $status"
	timing "libvirtd start" $(($(now_ms) - t0))
}

make_base_image() {
	local t0 status=0

	t0=$(now_ms)
	"$here/make-image.sh" "$work/base.qcow2" >"$work/image.out" || status=$?
	[ $status -ne 77 ] || skip "the base image cannot be built here (see above)"
	[ $status -eq 0 ] || fail "make-image.sh exited $status"
	base_sha=$(sed -n 's/^sha256 //p' "$work/image.out")
	[ "$base_sha" = "$(sha256sum "$work/base.qcow2" | cut -d' ' -f1)" ] ||
		fail "make-image.sh printed a wrong sha256"
	timing "base image build ($(sed -n 's/^size //p' "$work/image.out") bytes)" \
		$(($(now_ms) - t0))
}

# The node's key is born in its state directory, as on a real node; only the public half goes
# into the fleet repo. The interface is a wireguard-go one: the host kernel may lack WireGuard.
start_wireguard() {
	mkdir -p "$work/state"
	chmod 0700 "$work/state"
	wg genkey >"$work/state/wireguard.key"
	chmod 0600 "$work/state/wireguard.key"
	node_pub=$(wg pubkey <"$work/state/wireguard.key")

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

# --- The fleet repo ---

git_() {
	git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid "$@"
}

commit_and_push() {
	git_ add -A
	git_ commit -q -m "$1"
	git_ push -q "$work/fleet.git" main
}

user_data_of() {
	printf '#cloud-config\nhostname: %s\nwrite_files:\n  - path: /etc/ppn-test\n' "$1"
	printf '    content: %s\n' "$1"
}

# A VM request of the test's, placed on this node as the controller would place it.
add_vm() {
	local vm=$1

	{
		echo "apiVersion: ppn/v1"
		echo "kind: VM"
		echo "name: $vm"
		echo "image: debian-12"
		echo "memory: 256MiB"
		echo "vcpus: 1"
		echo "disk: 1GiB"
		echo "cloudInit:"
		echo "  userData: |"
		user_data_of "$vm" | sed 's/^/    /'
	} >"$work/checkout/vms/$vm.yaml"
	mkdir -p "$work/checkout/placements"
	cat >"$work/checkout/placements/$vm.yaml" <<-EOF
		apiVersion: ppn/v1
		kind: Placement
		name: $vm
		node: $node
		reason: placed by the end-to-end test
	EOF
}

# The example fleet, with: this node's real public key and libvirt URI, the base image just
# built, and the relay's endpoint on loopback (nothing leaves the machine; the namespace has
# no route there anyway). The example's own VMs stay, unplaced: this node must ignore them.
make_fleet_repo() {
	cp -r "$source_root/examples/fleet" "$work/checkout"
	sed -i "s|^publicKey: .*|publicKey: $node_pub|" "$work/checkout/peers/$node.yaml"
	sed -i "s|^endpoint: .*|endpoint: 127.0.0.1:51821|" "$work/checkout/peers/gcp-relay.yaml"
	echo "libvirtUri: \"$uri\"" >>"$work/checkout/nodes/$node.yaml"
	sed -i -e "s|^source: .*|source: $work/base.qcow2|" -e "s|^sha256: .*|sha256: $base_sha|" \
		"$work/checkout/images/debian-12.yaml"
	for vm in $vms; do
		add_vm "$vm"
	done

	git init -q --bare -b main "$work/fleet.git"
	git_ init -q -b main
	commit_and_push "example fleet with two test VMs placed on $node"
}

# --- ppn-reconcile ---

reconcile_args() {
	echo --repo "$work/fleet.git" --node "$node" --interface "$ifname" \
		--backend userspace --state-dir "$work/state" --plugin-dir "$plugin_dir"
}

run_once() {
	local label=$1 status=0 t0

	pass=$((pass + 1))
	t0=$(now_ms)
	pass_started=$t0
	# shellcheck disable=SC2046
	ip netns exec "$netns" "$reconcile" --once $(reconcile_args) >"$work/once-$pass.out" \
		2>"$work/once-$pass.err" || status=$?
	timing "pass $pass ($label)" $(($(now_ms) - t0))
	[ $status -eq 0 ] || fail "ppn-reconcile --once ($label) exited $status, expected 0"
	check_no_leftover_volumes "$label"
}

# The audit's contract: exit 0 when nothing would change.
check_in_sync() {
	local status=0

	# shellcheck disable=SC2046
	ip netns exec "$netns" "$reconcile" --dry-run $(reconcile_args) >"$work/dry-run.out" \
		2>"$work/dry-run.err" || status=$?
	[ $status -eq 0 ] && return 0
	cat "$work/dry-run.out" "$work/dry-run.err" >&2
	fail "after $1: --dry-run exited $status, expected 0 (in sync)"
}

# --- What libvirt and the guests show ---

# The domains whose name holds a VM's name (the plugin chooses the exact form).
domains_of() {
	virsh_ list --all --name | grep -F -- "$1" || true
}

domain_of() {
	local names count

	names=$(domains_of "$1")
	count=$(printf '%s' "$names" | grep -c . || true)
	[ "$count" -eq 1 ] || fail "VM '$1': expected one domain, found $count: $names"
	echo "$names"
}

domstate() {
	virsh_ domstate "$1" | head -n 1
}

# Reads one domain's XML on stdin; prints the path of each disk (with its device) and of the
# file its serial console is written to.
parse_domain() {
	python3 -c '
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.stdin).getroot()
for disk in root.findall("./devices/disk"):
    source = disk.find("source")
    if source is not None and source.get("file"):
        print("disk", disk.get("device"), source.get("file"))
    elif source is not None and source.get("pool"):
        print("disk-pool", disk.get("device"), source.get("pool"), source.get("volume"))
for tag in ("serial", "console"):
    for dev in root.findall("./devices/" + tag):
        log = dev.find("log")
        source = dev.find("source")
        if log is not None and log.get("file"):
            print("serial", log.get("file"))
        elif dev.get("type") == "file" and source is not None:
            print("serial", source.get("path"))
print("type", root.get("type"))
'
}

domain_facts() {
	virsh_ dumpxml "$1" | parse_domain
}

# The disk files of a domain (overlay, seed), resolving pool/volume sources.
disk_files() {
	local kind device a b

	domain_facts "$1" | while read -r kind device a b; do
		case $kind in
		disk) echo "$a" ;;
		disk-pool) virsh_ vol-path --pool "$a" "$b" ;;
		esac
	done
}

overlay_of() {
	local kind device a b

	domain_facts "$1" | while read -r kind device a b; do
		[ "$device" = disk ] || continue
		case $kind in
		disk) echo "$a" ;;
		disk-pool) virsh_ vol-path --pool "$a" "$b" ;;
		esac
	done | head -n 1
}

serial_log_of() {
	local log

	log=$(domain_facts "$1" | sed -n 's/^serial //p' | head -n 1)
	[ -n "$log" ] || fail "domain '$1': its serial console goes to no file; the test cannot read it"
	echo "$log"
}

wait_ready() {
	local domain=$1 log

	log=$(serial_log_of "$domain")
	for _ in $(seq $((boot_timeout * 10))); do
		grep -aq 'PPN-READY' "$log" 2>/dev/null && {
			timing "'$domain' from the start of the pass to PPN-READY" \
				$(($(now_ms) - pass_started))
			return 0
		}
		sleep 0.1
	done
	echo "--- serial console of '$domain' ($log):" >&2
	cat "$log" >&2 || true
	fail "domain '$domain': the guest did not print PPN-READY within $boot_timeout s"
}

serial_value() {
	tr -d '\r' <"$1" | grep -ao "$2.*" | tail -n 1
}

# First boot end to end: the seed ppn made reached the guest.
check_first_boot() {
	local vm=$1 domain log meta id host digest want

	domain=$(domain_of "$vm")
	wait_ready "$domain"
	log=$(serial_log_of "$domain")
	meta=$(serial_value "$log" 'PPN-META ')
	id=$(echo "$meta" | sed -n 's/.*instance-id=\([^ ]*\).*/\1/p')
	host=$(echo "$meta" | sed -n 's/.*local-hostname=\([^ ]*\).*/\1/p')
	[ -n "$id" ] || fail "VM '$vm': no instance-id on the console ('$meta')"
	[ "$host" = "$vm" ] || fail "VM '$vm': local-hostname '$host' on the console, expected '$vm'"
	[ "$(serial_value "$log" 'PPN-HOSTNAME=')" = "PPN-HOSTNAME=$vm" ] ||
		fail "VM '$vm': the guest did not take its host name"
	digest=$(serial_value "$log" 'PPN-USERDATA-SHA256=')
	want=$(user_data_of "$vm" | sha256sum | cut -d' ' -f1)
	[ "$digest" = "PPN-USERDATA-SHA256=$want" ] ||
		fail "VM '$vm': user-data on the console '$digest', expected sha256 $want"
	echo "$id"
}

# Overlay and base: qemu-img reads the chain (-U: the guest holds the image's lock).
check_overlay() {
	local vm=$1 domain overlay

	domain=$(domain_of "$vm")
	overlay=$(overlay_of "$domain")
	[ -f "$overlay" ] || fail "VM '$vm': disk '$overlay' is not a file"
	qemu-img info -U --backing-chain --output=json "$overlay" >"$work/chain-$vm.json"
	python3 - "$work/chain-$vm.json" "$base_sha" "$vm" <<-'PY' || fail "VM '$vm': bad disk chain"
		import hashlib, json, sys
		chain = json.load(open(sys.argv[1]))
		vm = sys.argv[3]
		top = chain[0]
		assert top["format"] == "qcow2", f"{vm}: overlay format {top['format']}"
		assert len(chain) == 2, f"{vm}: chain of {len(chain)} images, expected overlay + base"
		assert top.get("backing-filename-format") == "qcow2", \
			f"{vm}: backing format not recorded explicitly: {top.get('backing-filename-format')}"
		base = chain[1]["filename"]
		digest = hashlib.sha256(open(base, "rb").read()).hexdigest()
		assert digest == sys.argv[2], f"{vm}: base '{base}' has sha256 {digest}"
		assert top["virtual-size"] >= 1 << 30, f"{vm}: overlay of {top['virtual-size']} bytes"
		print(base)
	PY
}

# Every volume in every pool is some domain's disk, or the base one of them is backed by.
check_no_leftover_volumes() {
	local domain pool file

	: >"$work/referenced"
	for domain in $(virsh_ list --all --name); do
		for file in $(disk_files "$domain"); do
			echo "$file" >>"$work/referenced"
			qemu-img info -U --backing-chain --output=json "$file" 2>/dev/null |
				python3 -c 'import json, sys
for image in json.load(sys.stdin): print(image["filename"])' \
					>>"$work/referenced" || true
		done
	done
	: >"$work/volumes"
	for pool in $(virsh_ pool-list --all --name); do
		virsh_ vol-list --pool "$pool" | awk '{ print $2 }' >>"$work/volumes"
	done
	leftover=$(grep -vxF -f "$work/referenced" "$work/volumes" || true)
	[ -z "$leftover" ] || fail "after $1: volumes that belong to no domain: $leftover"
}

# --- A domain ppn did not create: its own pool and volume, running all along ---

start_foreign_domain() {
	local d=$work/foreign

	mkdir -p "$d/pool" "$d/seed"
	virsh_ pool-define-as ppnv-e2e-foreign dir --target "$d/pool" >/dev/null
	virsh_ pool-start ppnv-e2e-foreign >/dev/null
	cat >"$d/volume.xml" <<-EOF
		<volume>
		  <name>ppnv-e2e-foreign.qcow2</name>
		  <capacity unit='GiB'>1</capacity>
		  <target><format type='qcow2'/></target>
		  <backingStore><path>$work/base.qcow2</path><format type='qcow2'/></backingStore>
		</volume>
	EOF
	virsh_ vol-create ppnv-e2e-foreign "$d/volume.xml" >/dev/null
	printf 'instance-id: ppnv-e2e-foreign-1\nlocal-hostname: ppnv-e2e-foreign\n' \
		>"$d/seed/meta-data"
	printf '#cloud-config\n' >"$d/seed/user-data"
	genisoimage -quiet -output "$d/seed.iso" -volid cidata -joliet -rock \
		"$d/seed/user-data" "$d/seed/meta-data"
	foreign_volume=$d/pool/ppnv-e2e-foreign.qcow2
	cat >"$d/domain.xml" <<-EOF
		<domain type='qemu'>
		  <name>ppnv-e2e-foreign</name>
		  <memory unit='MiB'>128</memory>
		  <vcpu>1</vcpu>
		  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
		  <cpu mode='maximum'/>
		  <devices>
		    <disk type='volume' device='disk'>
		      <driver name='qemu' type='qcow2'/>
		      <source pool='ppnv-e2e-foreign' volume='ppnv-e2e-foreign.qcow2'/>
		      <target dev='vda' bus='virtio'/>
		    </disk>
		    <disk type='file' device='cdrom'>
		      <driver name='qemu' type='raw'/>
		      <source file='$d/seed.iso'/>
		      <target dev='hdc' bus='ide'/>
		      <readonly/>
		    </disk>
		    <serial type='file'><source path='$d/serial.log'/><target port='0'/></serial>
		  </devices>
		</domain>
	EOF
	virsh_ define "$d/domain.xml" >/dev/null
	virsh_ start ppnv-e2e-foreign >/dev/null
	foreign_uuid=$(virsh_ domuuid ppnv-e2e-foreign)
	foreign_id=$(virsh_ domid ppnv-e2e-foreign)
}

check_foreign_untouched() {
	[ "$(virsh_ domuuid ppnv-e2e-foreign 2>/dev/null)" = "$foreign_uuid" ] ||
		fail "after $1: the domain ppn did not create is gone"
	[ "$(virsh_ domid ppnv-e2e-foreign)" = "$foreign_id" ] ||
		fail "after $1: the domain ppn did not create was restarted"
	[ -f "$foreign_volume" ] || fail "after $1: the foreign volume is gone"
	virsh_ pool-info ppnv-e2e-foreign >/dev/null || fail "after $1: the foreign pool is gone"
}

# --- The scenario ---

start_libvirtd
make_base_image
start_wireguard
make_fleet_repo
start_foreign_domain
echo "libvirt: $uri; base image sha256 $base_sha"

# 1. Both VMs created, running at the same time, each on its own overlay over the base.
t0=$(now_ms)
run_once "create two VMs"
virsh -c "$uri" list --all
for vm in $vms; do
	domain=$(domain_of "$vm")
	[ "$(domstate "$domain")" = running ] || fail "VM '$vm': domain '$domain' is not running"
	echo "VM '$vm': domain '$domain' of type '$(domain_facts "$domain" | sed -n 's/^type //p')'"
done
declare -A base_of id_of uuid_of domid_of
for vm in $vms; do
	base_of[$vm]=$(check_overlay "$vm")
done
[ "${base_of[ppnv-e2e-alpha]}" = "${base_of[ppnv-e2e-bravo]}" ] ||
	fail "the VMs do not share one base: '${base_of[ppnv-e2e-alpha]}', '${base_of[ppnv-e2e-bravo]}'"
[ "$(overlay_of "$(domain_of ppnv-e2e-alpha)")" != "$(overlay_of "$(domain_of ppnv-e2e-bravo)")" ] ||
	fail "the VMs share one overlay"
for vm in $vms; do
	id_of[$vm]=$(check_first_boot "$vm")
	echo "VM '$vm': instance-id '${id_of[$vm]}' and host name on its console"
done
timing "create two VMs and boot both to PPN-READY" $(($(now_ms) - t0))
[ "${id_of[ppnv-e2e-alpha]}" != "${id_of[ppnv-e2e-bravo]}" ] || fail "two VMs, one instance-id"
check_foreign_untouched "the first pass"
echo "PASS: two VMs created and running at once on overlays of one base; first boot configured"

# 2. In sync: a second pass touches nothing, and the audit agrees.
for vm in $vms; do
	domain=$(domain_of "$vm")
	uuid_of[$vm]=$(virsh_ domuuid "$domain")
	domid_of[$vm]=$(virsh_ domid "$domain")
done
run_once "in sync"
for vm in $vms; do
	domain=$(domain_of "$vm")
	[ "$(virsh_ domid "$domain")" = "${domid_of[$vm]}" ] ||
		fail "VM '$vm': a pass in sync restarted or replaced its domain"
done
check_foreign_untouched "the pass in sync"
check_in_sync "the pass in sync"
echo "PASS: a second pass changed nothing"

# 3. Drift: destroyed behind ppn's back, started again (the same domain, the same seed).
domain=$(domain_of ppnv-e2e-alpha)
log=$(serial_log_of "$domain")
virsh_ destroy "$domain" >/dev/null
: >"$log" # QEMU is gone; the next boot's lines are the only ones
t0=$(now_ms)
run_once "start a destroyed VM"
[ "$(domstate "$domain")" = running ] || fail "VM 'ppnv-e2e-alpha' was not started again"
[ "$(virsh_ domuuid "$domain")" = "${uuid_of[ppnv-e2e-alpha]}" ] ||
	fail "VM 'ppnv-e2e-alpha' was re-created instead of started"
id=$(check_first_boot ppnv-e2e-alpha)
timing "restart after drift, to PPN-READY" $(($(now_ms) - t0))
[ "$id" = "${id_of[ppnv-e2e-alpha]}" ] ||
	fail "VM 'ppnv-e2e-alpha': instance-id changed from '${id_of[ppnv-e2e-alpha]}' to '$id'"
[ "$(virsh_ domid "$(domain_of ppnv-e2e-bravo)")" = "${domid_of[ppnv-e2e-bravo]}" ] ||
	fail "VM 'ppnv-e2e-bravo' was restarted by the drift pass"
check_foreign_untouched "the drift pass"
echo "PASS: a destroyed VM was started again with the same domain and instance-id"

# 4. Delete one VM: its domain and volumes go, nothing else does.
domain=$(domain_of ppnv-e2e-bravo)
bravo_files=$(disk_files "$domain")
alpha_id=$(virsh_ domid "$(domain_of ppnv-e2e-alpha)")
git_ rm -q vms/ppnv-e2e-bravo.yaml placements/ppnv-e2e-bravo.yaml
commit_and_push "remove ppnv-e2e-bravo"
run_once "delete a VM"
[ -z "$(domains_of ppnv-e2e-bravo)" ] || fail "VM 'ppnv-e2e-bravo' still has a domain"
for file in $bravo_files; do
	[ ! -e "$file" ] || fail "VM 'ppnv-e2e-bravo': '$file' is still there"
done
[ "$(virsh_ domid "$(domain_of ppnv-e2e-alpha)")" = "$alpha_id" ] ||
	fail "deleting 'ppnv-e2e-bravo' restarted 'ppnv-e2e-alpha'"
[ -f "${base_of[ppnv-e2e-alpha]}" ] || fail "deleting one VM removed the base image"
check_foreign_untouched "the delete pass"
echo "PASS: the deleted VM's domain and volumes are gone; the other VM and the foreign domain stay"

# 5. SIGKILL between define and start. The QEMU hook of libvirtd.sh holds the start, with the
# domain defined; ppn-reconcile is killed there and the start then fails, so the domain stays
# defined and shut off with its volumes, as after a crash at that point.
add_vm ppnv-e2e-charlie
commit_and_push "add ppnv-e2e-charlie"
echo ppnv-e2e-charlie >"$lv/hold"
pass=$((pass + 1))
# shellcheck disable=SC2046
ip netns exec "$netns" "$reconcile" --once $(reconcile_args) >"$work/once-$pass.out" \
	2>"$work/once-$pass.err" &
victim=$!
for _ in $(seq 600); do
	[ -s "$lv/held" ] && break
	kill -0 "$victim" 2>/dev/null || break
	sleep 0.1
done
[ -s "$lv/held" ] || fail "ppn-reconcile never started a domain for 'ppnv-e2e-charlie'"
held=$(cat "$lv/held")
[ "$(cat "/proc/$victim/comm")" = ppn-reconcile ] || fail "PID $victim is not ppn-reconcile"
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
echo fail >>"$lv/hold"
for _ in $(seq 100); do
	[ -e "$lv/held" ] || break
	sleep 0.1
done
rm -f "$lv/hold"
[ "$(domstate "$held")" = "shut off" ] ||
	fail "domain '$held' is '$(domstate "$held")' after the kill, expected shut off"
echo "killed ppn-reconcile (PID $victim) with domain '$held' defined and not started"
t0=$(now_ms)
run_once "after a kill between define and start"
domain=$(domain_of ppnv-e2e-charlie)
[ "$(domstate "$domain")" = running ] || fail "VM 'ppnv-e2e-charlie' is not running"
check_overlay ppnv-e2e-charlie >/dev/null
check_first_boot ppnv-e2e-charlie >/dev/null
timing "recover after the kill, to PPN-READY" $(($(now_ms) - t0))
check_foreign_untouched "the pass after the kill"
check_in_sync "the pass after the kill"
echo "PASS: after a kill between define and start, one running domain and no leftover volume"

timing "whole test" $(($(now_ms) - started))
cat "$work/timings"
