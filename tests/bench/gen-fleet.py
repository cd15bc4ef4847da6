#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes a synthetic fleet repo for the dry-run benchmark.

The fleet has N peers, each with its node manifest, M VMs over a few images, and (unless
--no-placements) a placement for every VM on a node other than the measured one. Every peer
has an endpoint, so the mesh of any node lists every other peer directly with its host
prefix; one peer is a relay all the same, as a real fleet would have.

Output directory layout:
  tree/              the manifests as files (what yaml-parse reads)
  fleet.git          a bare repo whose branch main holds the same tree in one commit
  <node>.conf        `wg setconf` file of the measured node: private key, port, every peer
  <node>.batch       `ip -batch` file: the node's address and a route per allowed-ip
  <node>.mtu         the MTU from ppn.yaml
  <node>.key         the measured node's private key (mode 0600)

Peer keys are random 32-byte strings (WireGuard accepts any 32 bytes as a public key); only
the measured node gets a real key pair, from wg(8), because its interface must present the
public key its manifest declares.
"""

import argparse
import base64
import ipaddress
import os
import random
import subprocess
import sys

OVERLAY = ipaddress.ip_network("10.64.0.0/10")
ENDPOINTS = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 benchmarking range
PORT = 51820
MTU = 1420
SITES = ["office", "warehouse", "lab", "colo"]
TYPES = ["bare-metal", "leased", "cloud-vm"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="directory to create (must not exist)")
    parser.add_argument("--peers", type=int, default=10000, help="N peers (default 10000)")
    parser.add_argument("--vms", type=int, default=1000, help="M VMs (default 1000)")
    parser.add_argument("--images", type=int, default=0,
                        help="images the VMs use (default: one per 100 VMs, at least 1)")
    parser.add_argument("--node", default=None,
                        help="the measured node (default: the first, node-00000)")
    parser.add_argument("--interface", default="ppn0", help="interface named in ppn.yaml")
    parser.add_argument("--libvirt-uri", default="test:///default",
                        help="libvirtUri of every node (default test:///default)")
    parser.add_argument("--no-placements", action="store_true",
                        help="leave every VM unplaced")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    if args.peers < 2:
        parser.error("--peers must be at least 2")
    if args.peers > ENDPOINTS.num_addresses - 2:
        parser.error(f"--peers must be at most {ENDPOINTS.num_addresses - 2}")
    if args.vms < 0:
        parser.error("--vms must not be negative")
    return args


def wg_keypair():
    private = subprocess.run(["wg", "genkey"], check=True, capture_output=True,
                             text=True).stdout.strip()
    public = subprocess.run(["wg", "pubkey"], input=private + "\n", check=True,
                            capture_output=True, text=True).stdout.strip()
    return private, public


def b64(data):
    return base64.b64encode(data).decode("ascii")


def network_yaml(args):
    return (
        "# Synthetic fleet for the dry-run benchmark.\n"
        "apiVersion: ppn/v1\n"
        "kind: Network\n"
        "name: bench\n"
        f"overlay: {OVERLAY}\n"
        f"interface: {args.interface}\n"
        f"listenPort: {PORT}\n"
        f"mtu: {MTU}\n"
        "heartbeat: 30s\n"
    )


def peer_yaml(name, key, address, endpoint, relay):
    text = (
        "apiVersion: ppn/v1\n"
        "kind: Peer\n"
        f"name: {name}\n"
        f"publicKey: {key}\n"
        f"address: {address}\n"
        f"endpoint: {endpoint}:{PORT}\n"
    )
    if relay:
        text += "relay: true\n"
    return text


def node_yaml(name, index, uri):
    return (
        "apiVersion: ppn/v1\n"
        "kind: Node\n"
        f"name: {name}\n"
        f"type: {TYPES[index % len(TYPES)]}\n"
        f"libvirtUri: {uri}\n"
        "labels:\n"
        f"  site: {SITES[index % len(SITES)]}\n"
        f"  rack: r{index % 40:02d}\n"
    )


def image_yaml(name, rng):
    return (
        "apiVersion: ppn/v1\n"
        "kind: Image\n"
        f"name: {name}\n"
        f"source: https://images.example.com/{name}.qcow2\n"
        "format: qcow2\n"
        f"sha256: {rng.randbytes(32).hex()}\n"
    )


def vm_yaml(name, index, image):
    text = (
        "apiVersion: ppn/v1\n"
        "kind: VM\n"
        f"name: {name}\n"
        f"image: {image}\n"
        f"memory: {(index % 8 + 1) * 512}MiB\n"
        f"vcpus: {index % 4 + 1}\n"
        f"disk: {(index % 5 + 1) * 10}GiB\n"
    )
    if index % 2 == 0:
        text += "needs:\n  - kvm\n"
    if index % 3 == 0:
        text += (
            "cloudInit:\n"
            "  userData: |\n"
            "    #cloud-config\n"
            f"    hostname: {name}\n"
            "    packages:\n"
            "      - nginx\n"
            f"  generation: {index % 3}\n"
        )
    return text


def placement_yaml(name, node):
    return (
        "apiVersion: ppn/v1\n"
        "kind: Placement\n"
        f"name: {name}\n"
        f"node: {node}\n"
        "reason: most free memory\n"
    )


def build_fleet(args, rng, measured_public):
    """Returns (files, measured) where files maps repo paths to text."""
    width = max(5, len(str(args.peers - 1)))
    names = [f"node-{i:0{width}d}" for i in range(args.peers)]
    measured = args.node or names[0]
    if measured not in names:
        sys.exit(f"gen-fleet: --node '{measured}' is not one of the generated nodes")

    files = {"ppn.yaml": network_yaml(args)}
    peers = []
    relay = names[1] if measured == names[0] else names[0]
    for i, name in enumerate(names):
        key = measured_public if name == measured else b64(rng.randbytes(32))
        address = OVERLAY.network_address + i + 1
        endpoint = ENDPOINTS.network_address + i + 1
        files[f"peers/{name}.yaml"] = peer_yaml(name, key, address, endpoint, name == relay)
        files[f"nodes/{name}.yaml"] = node_yaml(name, i, args.libvirt_uri)
        peers.append((name, key, address, endpoint))

    n_images = args.images or max(1, args.vms // 100)
    images = [f"image-{i:02d}" for i in range(n_images)]
    for image in images:
        files[f"images/{image}.yaml"] = image_yaml(image, rng)

    hosts = [n for n in names if n != measured]
    for i in range(args.vms):
        vm = f"vm-{i:05d}"
        files[f"vms/{vm}.yaml"] = vm_yaml(vm, i, images[i % n_images])
        if not args.no_placements:
            files[f"placements/{vm}.yaml"] = placement_yaml(vm, hosts[i % len(hosts)])
    return files, measured, peers


def write_tree(root, files):
    os.makedirs(root)
    made = set()
    for path, text in files.items():
        parent = os.path.dirname(path)
        if parent and parent not in made:
            os.makedirs(os.path.join(root, parent), exist_ok=True)
            made.add(parent)
        with open(os.path.join(root, path), "w", encoding="utf-8") as out:
            out.write(text)


def fast_import_stream(files):
    """One commit on refs/heads/main with every file, data inline: no work tree, no index."""
    chunks = []
    for mark, (path, text) in enumerate(sorted(files.items()), start=1):
        data = text.encode("utf-8")
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
    message = b"Synthetic benchmark fleet\n"
    stamp = b"ppn bench <bench@ppn.invalid> 1767225600 +0000"
    chunks.append(b"commit refs/heads/main\nauthor %s\ncommitter %s\ndata %d\n%s"
                  % (stamp, stamp, len(message), message))
    for mark, path in enumerate(sorted(files), start=1):
        chunks.append(b"M 100644 :%d %s\n" % (mark, path.encode("utf-8")))
    chunks.append(b"\ndone\n")
    return b"".join(chunks)


def write_repo(git_dir, files):
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", git_dir], check=True)
    subprocess.run(["git", "--git-dir", git_dir, "fast-import", "--quiet", "--done"],
                   input=fast_import_stream(files), check=True)


def write_node_files(outdir, args, measured, private, peers):
    """The interface state the mesh compiler should want for the measured node."""
    index = next(i for i, p in enumerate(peers) if p[0] == measured)
    own = peers[index][2]
    conf = [f"[Interface]\nPrivateKey = {private}\nListenPort = {PORT}\n"]
    batch = [f"address add {own}/32 dev {args.interface}\n"]
    for name, key, address, endpoint in peers:
        if name == measured:
            continue
        conf.append(f"\n[Peer]\nPublicKey = {key}\nEndpoint = {endpoint}:{PORT}\n"
                    f"AllowedIPs = {address}/32\n")
        batch.append(f"route add {address}/32 dev {args.interface}\n")

    base = os.path.join(outdir, measured)
    old = os.umask(0o077)
    try:
        with open(base + ".key", "w") as out:
            out.write(private + "\n")
        with open(base + ".conf", "w") as out:
            out.write("".join(conf))
    finally:
        os.umask(old)
    with open(base + ".batch", "w") as out:
        out.write("".join(batch))
    with open(base + ".mtu", "w") as out:
        out.write(f"{MTU}\n")


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.outdir)

    private, public = wg_keypair()
    files, measured, peers = build_fleet(args, rng, public)
    write_tree(os.path.join(args.outdir, "tree"), files)
    write_repo(os.path.join(args.outdir, "fleet.git"), files)
    write_node_files(args.outdir, args, measured, private, peers)

    size = sum(len(t.encode("utf-8")) for t in files.values())
    print(f"gen-fleet: {len(files)} files, {size} bytes, {args.peers} peers, {args.vms} VMs; "
          f"measured node '{measured}' in {args.outdir}")


if __name__ == "__main__":
    main()
