#!/bin/bash
# ppn validate as a CI gate would use it: on a directory, on a bare repository, on a file://
# URL, and on a branch given with @REF, with the exit status and the exact error lines.
set -euo pipefail

ppn=$(realpath "${1:?usage: validate.sh PPN}")
source_root=${PPN_SOURCE_ROOT:?}
work=$(mktemp -d /tmp/ppn-validate-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

git_as_test() {
	git -C "$work/checkout" -c user.name=test -c user.email=test@ppn.invalid "$@"
}

# Runs ppn validate and checks its exit status and its stderr, exactly.
expect() {
	local want_status=$1 want_err=$2 status=0
	shift 2

	"$ppn" validate "$@" >"$work/out" 2>"$work/err" || status=$?
	if [ "$status" -ne "$want_status" ] || [ "$(cat "$work/err")" != "$want_err" ]; then
		echo "FAIL: ppn validate $*: exit $status (want $want_status), stderr:" >&2
		cat "$work/err" >&2
		echo "wanted stderr: $want_err" >&2
		exit 1
	fi
	echo "ok: ppn validate $* -> $status"
}

git init -q --bare -b main "$work/fleet.git"
cp -r "$source_root/examples/fleet" "$work/checkout"
git -C "$work/checkout" init -q -b main
git_as_test add -A
git_as_test commit -q -m "example fleet"
git_as_test push -q "$work/fleet.git" main

git_as_test checkout -q -b join/new-laptop
sed -i 's/^vcpus: 2$/vcpus: 02/' "$work/checkout/vms/web.yaml"
git_as_test commit -q -am "a leading zero"
git_as_test push -q "$work/fleet.git" join/new-laptop

bad="vms/web.yaml:7:8: expected an integer from 1 to 256 without leading zeros, got '02'"

expect 0 "" "$source_root/examples/fleet"
expect 0 "" "$source_root/examples/fleet/"
expect 0 "" "$work/fleet.git"
expect 0 "" "file://$work/fleet.git"
expect 0 "" "$work/fleet.git@main"
expect 1 "$bad" "$work/fleet.git@join/new-laptop"
expect 1 "$bad" "file://$work/fleet.git@join/new-laptop"
expect 1 "$(basename "$ppn"): error: source '$work/fleet.git': no ref 'nope'" "$work/fleet.git@nope"
(cd "$work/checkout" && expect 1 "$bad" .)

grep -q "^$work/fleet.git: valid: 1 network, 3 nodes, 3 peers, 1 image, 2 VMs, 0 placements$" \
	<("$ppn" validate "$work/fleet.git")
echo "PASS"
