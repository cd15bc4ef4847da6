/* SPDX-License-Identifier: MIT */
/*
 * Reconciling N VMs (1,000 by default) on libvirt's test driver through the libvirt plugin,
 * beside the bare libvirt calls that build the same VMs, in the same run:
 *
 *   plugin   one plugin instance, one connection: observe + plan + apply of N creates (the
 *            image, then per VM an overlay, a seed ISO built with libarchive, define, start),
 *            then one more observe + plan, which must be empty.
 *   bare     a fresh connection to the same node file, no plugin: the same pool and base
 *            volume and, per VM, the same volume and domain XML (prepared before the clock
 *            starts), a seed built with libarchive as the plugin builds it (through the same
 *            small function) and written to the seed volume's file, define and start. Its
 *            ratio to the plugin is the plugin's own cost: observing, planning, names, XML
 *            writing, lookups and checks.
 *   bytes    the same, with one seed built before the clock and written N times.
 *   minimal  define + start of N domains without disks, with prepared XML only.
 *
 * Usage: libvirt-1000 [-n VMS] [-r RUNS] [-d DIR]; each figure is the best of RUNS (default
 * 3). The pools' files go to a temporary directory in DIR, /dev/shm by default, so that the
 * filesystem's cost of creating 2,000 files (the same on both sides) does not drown the rest.
 * It prints figures and passes or fails nothing (see README.md here).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <openssl/evp.h>

#include "fileset.h"
#include "libvirt/lv.h"
#include "log.h"
#include "manifest.h"
#include "plan.h"
#include "plugin.h"
#include "util.h"

extern const struct ppn_plugin ppn_plugin;

#define NODE "ppnv-bench"

struct bench {
	unsigned vms;
	const char *base_dir; /* where the temporary directory goes */
	char *dir;
	char *node_xml;
	char *uri;
	char *image;
	char sha[PPN_LV_SHA_HEX];
	struct ppn_fleet *fleet;
};

struct figures {
	double observe, plan, apply, total, again; /* plugin, seconds */
	double bare_bytes, bare_built, minimal;
	size_t seed_bytes;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "libvirt-1000: %s: %s\n", what, virGetLastErrorMessage());
	exit(1);
}

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "we");

	if (!file || fputs(text, file) < 0 || fclose(file) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- The fleet: one node, one image, N VMs placed on the node ---- */

static void add(struct ppn_fileset *set, const char *path, char *text)
{
	ppn_fileset_add(set, path, path, text, strlen(text));
	free(text);
}

static void add_vm(struct ppn_fileset *set, unsigned i)
{
	char vm[32], path[64];

	snprintf(vm, sizeof(vm), "ppnv-vm-%05u", i);
	snprintf(path, sizeof(path), "vms/%s.yaml", vm);
	add(set, path,
	    ppn_xasprintf("apiVersion: ppn/v1\nkind: VM\nname: %s\nimage: ppnv-base\n"
			  "memory: 128MiB\nvcpus: 1\ndisk: 1GiB\ncloudInit:\n  userData: |\n"
			  "    #cloud-config\n    hostname: %s\n",
			  vm, vm));
	snprintf(path, sizeof(path), "placements/%s.yaml", vm);
	add(set, path,
	    ppn_xasprintf("apiVersion: ppn/v1\nkind: Placement\nname: %s\nnode: " NODE "\n", vm));
}

static void load_fleet(struct bench *b)
{
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};

	add(&set, "ppn.yaml",
	    ppn_xstrdup("apiVersion: ppn/v1\nkind: Network\nname: ppnv\noverlay: 10.99.0.0/24\n"));
	add(&set, "nodes/" NODE ".yaml",
	    ppn_xasprintf("apiVersion: ppn/v1\nkind: Node\nname: " NODE "\ntype: bare-metal\n"
			  "libvirtUri: \"%s\"\n",
			  b->uri));
	add(&set, "peers/" NODE ".yaml",
	    ppn_xstrdup("apiVersion: ppn/v1\nkind: Peer\nname: " NODE "\n"
			"publicKey: KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo=\n"
			"address: 10.99.0.1\nendpoint: 192.0.2.1:51820\n"));
	add(&set, "images/ppnv-base.yaml",
	    ppn_xasprintf("apiVersion: ppn/v1\nkind: Image\nname: ppnv-base\nsource: \"%s\"\n"
			  "format: qcow2\nsha256: %s\n",
			  b->image, b->sha));
	for (unsigned i = 0; i < b->vms; i++)
		add_vm(&set, i);
	ppn_fileset_sort(&set);
	if (ppn_manifest_load(&set, &b->fleet, &diags) < 0) {
		ppn_diags_print(&diags, stderr);
		exit(1);
	}
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
}

static void setup(struct bench *b)
{
	static const char image[] = "ppnv bench base image\n";
	uint8_t digest[PPN_SHA256_LEN];
	_cleanup_free_ char *dir = ppn_xasprintf("%s/ppnv-bench-XXXXXX", b->base_dir);

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	b->dir = ppn_xstrdup(dir);
	b->node_xml = ppn_xasprintf("%s/node.xml", dir);
	b->uri = ppn_xasprintf("test://%s", b->node_xml);
	b->image = ppn_xasprintf("%s/base.img", dir);
	write_file(b->node_xml,
		   "<node><cpu><mhz>2000</mhz><model>ppnv-bench</model><nodes>1</nodes>"
		   "<sockets>1</sockets><cores>2</cores><threads>1</threads>"
		   "<active>2</active></cpu><memory>25165824</memory></node>\n");
	write_file(b->image, image);
	EVP_Digest(image, sizeof(image) - 1, digest, NULL, EVP_sha256(), NULL);
	ppn_lv_hex(digest, sizeof(digest), b->sha);
	load_fleet(b);
}

static void remove_tree(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* ---- Through the plugin ---- */

static void plugin_run(struct bench *b, const char *state_dir, struct figures *f)
{
	struct ppn_plugin_options options = {.node = NODE, .state_dir = state_dir};
	struct ppn_desired desired = {.fleet = b->fleet};
	struct ppn_plan plan;
	struct ppn_action **actions;
	int *results;
	void *state;
	double t0, t1, t2, t3, t4;

	if (ppn_plugin.open(&options, &state) < 0)
		exit(1);
	ppn_plan_init(&plan);
	t0 = now();
	if (ppn_plugin.observe(state, &desired) < 0)
		exit(1);
	t1 = now();
	if (ppn_plugin.plan(state, &desired, &plan) < 0)
		exit(1);
	t2 = now();
	actions = ppn_xcalloc(plan.n_actions, sizeof(*actions));
	results = ppn_xcalloc(plan.n_actions, sizeof(*results));
	for (size_t i = 0; i < plan.n_actions; i++)
		actions[i] = &plan.actions[i];
	if (ppn_plugin.apply(state, &desired, actions, plan.n_actions, results) < 0) {
		fprintf(stderr, "libvirt-1000: an action failed\n");
		exit(1);
	}
	t3 = now();
	if (plan.n_actions != b->vms + 1) {
		fprintf(stderr, "libvirt-1000: expected %u actions, planned %zu\n", b->vms + 1,
			plan.n_actions);
		exit(1);
	}
	free(actions);
	free(results);
	ppn_plan_release(&plan);

	/* The pass after: nothing to do. */
	ppn_plan_init(&plan);
	if (ppn_plugin.observe(state, &desired) < 0 ||
	    ppn_plugin.plan(state, &desired, &plan) < 0 || plan.n_actions != 0) {
		fprintf(stderr, "libvirt-1000: the second pass is not empty\n");
		exit(1);
	}
	t4 = now();
	ppn_plan_release(&plan);
	ppn_plugin.close(state);

	f->observe = t1 - t0;
	f->plan = t2 - t1;
	f->apply = t3 - t2;
	f->total = t3 - t0;
	f->again = t4 - t3;
}

/* ---- Bare libvirt ---- */

/* What the plugin would write for VM i, prepared before timing. */
struct bare_vm {
	char *overlay_xml, *seed_xml, *domain_xml, *seed_name, *meta_data, *user_data;
};

enum bare_mode {
	BARE_MINIMAL,    /* define + start of a domain without disks */
	BARE_SEED_BYTES, /* the plugin's volumes, seed bytes built once before the clock */
	BARE_SEED_BUILT, /* the same, each VM's seed built with libarchive as the plugin does */
};

static char *bare_domain_xml(const char *dir, unsigned i, bool with_disks)
{
	_cleanup_free_ char *name = ppn_xasprintf("ppn-ppnv-vm-%05u", i);
	_cleanup_free_ char *overlay = ppn_xasprintf("%s/images/%s.qcow2", dir, name);
	_cleanup_free_ char *seed = ppn_xasprintf("%s/images/%s-seed.iso", dir, name);
	_cleanup_free_ char *console = ppn_xasprintf("%s/%s.log", dir, name);
	_cleanup_free_ char *base = ppn_xasprintf("%s/images/base", dir);
	struct ppn_lv_meta meta = {
		.vm = name + 4,
		.image = (char *)"ppnv-base",
		.base = (char *)"base",
		.type = (char *)"qemu",
		.instance_id = (char *)"i",
		.memory = 128 << 20,
		.vcpus = 1,
		.disk = 1ULL << 30,
	};
	struct ppn_lv_domain_spec spec = {
		.name = name,
		.type = "qemu",
		.meta = &meta,
		.memory_kib = 128 << 10,
		.vcpus = 1,
		.overlay_path = overlay,
		.base_path = base,
		.base_format = "qcow2",
		.seed_path = seed,
		.console_path = console,
	};
	char *xml;

	memset(meta.cloud_init_sha256, 'a', PPN_LV_SHA_HEX - 1);
	if (!with_disks)
		return ppn_xasprintf("<domain type='qemu'><name>%s</name><memory unit='KiB'>131072"
				     "</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type>"
				     "</os></domain>",
				     name);
	if (ppn_lv_xml_domain(&spec, &xml) < 0)
		exit(1);
	return xml;
}

static void bare_prepare(struct bench *b, const char *dir, struct bare_vm *vms, enum bare_mode mode)
{
	_cleanup_free_ char *base = ppn_xasprintf("%s/images/base", dir);

	for (unsigned i = 0; i < b->vms; i++) {
		_cleanup_free_ char *overlay = ppn_xasprintf("ppn-ppnv-vm-%05u.qcow2", i);

		vms[i] = (struct bare_vm){.domain_xml =
						  bare_domain_xml(dir, i, mode != BARE_MINIMAL)};
		if (mode == BARE_MINIMAL)
			continue;
		vms[i].meta_data = ppn_xasprintf("instance-id: ppnv-vm-%05u-0\n"
						 "local-hostname: ppnv-vm-%05u\n",
						 i, i);
		vms[i].user_data = ppn_xasprintf("#cloud-config\nhostname: ppnv-vm-%05u\n", i);
		vms[i].seed_name = ppn_xasprintf("ppn-ppnv-vm-%05u-seed.iso", i);
		ppn_lv_xml_volume(overlay, 1ULL << 30, "qcow2", base, "qcow2", &vms[i].overlay_xml);
		ppn_lv_xml_volume(vms[i].seed_name, 1, "raw", NULL, NULL, &vms[i].seed_xml);
	}
}

static void bare_vm_release(struct bare_vm *vm)
{
	free(vm->overlay_xml);
	free(vm->seed_xml);
	free(vm->domain_xml);
	free(vm->seed_name);
	free(vm->meta_data);
	free(vm->user_data);
}

static void write_seed(virStoragePoolPtr pool, const char *xml, const uint8_t *seed, size_t size)
{
	virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
	char *path;
	FILE *file;

	if (!vol)
		die("create a seed volume");
	path = virStorageVolGetPath(vol);
	file = path ? fopen(path, "we") : NULL;
	if (!file || fwrite(seed, 1, size, file) != size || fclose(file) != 0)
		die("write a seed");
	free(path);
	virStorageVolFree(vol);
}

static virStoragePoolPtr bare_pool(virConnectPtr conn, const char *dir)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/images", dir);
	_cleanup_free_ char *xml = NULL;
	_cleanup_free_ char *base_xml = NULL;
	virStoragePoolPtr pool;
	virStorageVolPtr base;

	mkdir(path, 0755);
	ppn_lv_xml_pool("ppnv-bare", path, &xml);
	pool = virStoragePoolDefineXML(conn, xml, 0);
	if (!pool || virStoragePoolBuild(pool, 0) < 0 || virStoragePoolCreate(pool, 0) < 0)
		die("create the pool");
	ppn_lv_xml_volume("base", 64, "raw", NULL, NULL, &base_xml);
	base = virStorageVolCreateXML(pool, base_xml, 0);
	if (!base)
		die("create the base volume");
	virStorageVolFree(base);
	return pool;
}

static void bare_seed(virStoragePoolPtr pool, const struct bare_vm *vm, const uint8_t *seed,
		      size_t seed_size, enum bare_mode mode)
{
	struct ppn_lv_seed_files files = {.meta_data = vm->meta_data, .user_data = vm->user_data};
	uint8_t *built;
	size_t size;
	char *why = NULL;

	if (mode == BARE_SEED_BYTES) {
		write_seed(pool, vm->seed_xml, seed, seed_size);
		return;
	}
	if (ppn_lv_seed_build(&files, &built, &size, &why) < 0) {
		fprintf(stderr, "libvirt-1000: %s\n", why);
		exit(1);
	}
	write_seed(pool, vm->seed_xml, built, size);
	free(built);
}

static double bare_run(struct bench *b, const char *dir, const uint8_t *seed, size_t seed_size,
		       enum bare_mode mode)
{
	struct bare_vm *vms = ppn_xcalloc(b->vms, sizeof(*vms));
	virConnectPtr conn;
	virStoragePoolPtr pool = NULL;
	double t0, t1;

	mkdir(dir, 0700);
	bare_prepare(b, dir, vms, mode);
	conn = virConnectOpen(b->uri);
	if (!conn)
		die("connect");
	t0 = now();
	if (mode != BARE_MINIMAL)
		pool = bare_pool(conn, dir);
	for (unsigned i = 0; i < b->vms; i++) {
		virStorageVolPtr overlay;
		virDomainPtr dom;

		if (mode != BARE_MINIMAL) {
			overlay = virStorageVolCreateXML(pool, vms[i].overlay_xml, 0);
			if (!overlay)
				die("create an overlay");
			virStorageVolFree(overlay);
			bare_seed(pool, &vms[i], seed, seed_size, mode);
		}
		dom = virDomainDefineXML(conn, vms[i].domain_xml);
		if (!dom || virDomainCreate(dom) < 0)
			die("define and start");
		virDomainFree(dom);
	}
	t1 = now();

	if (pool)
		virStoragePoolFree(pool);
	virConnectClose(conn);
	for (unsigned i = 0; i < b->vms; i++)
		bare_vm_release(&vms[i]);
	free(vms);
	remove_tree(dir);
	return t1 - t0;
}

/* A seed as the plugin builds it for one of the VMs, for the bare run to write. */
static uint8_t *sample_seed(size_t *size)
{
	struct ppn_lv_seed_files files = {
		.meta_data = "instance-id: ppnv-vm-00000-0\nlocal-hostname: ppnv-vm-00000\n",
		.user_data = "#cloud-config\nhostname: ppnv-vm-00000\n",
	};
	uint8_t *data;
	char *why = NULL;

	if (ppn_lv_seed_build(&files, &data, size, &why) < 0) {
		fprintf(stderr, "libvirt-1000: %s\n", why);
		exit(1);
	}
	return data;
}

static double min_of(double a, double b)
{
	return a < b ? a : b;
}

/* Runs the four contenders in an order that rotates with run, since whoever goes first
 * after a cleanup meets a different filesystem and allocator. */
static void one_run(struct bench *b, const uint8_t *seed, size_t seed_size, unsigned run,
		    struct figures *best)
{
	_cleanup_free_ char *plugin_dir = ppn_xasprintf("%s/plugin", b->dir);
	_cleanup_free_ char *bare_dir = ppn_xasprintf("%s/bare", b->dir);
	struct figures f = {0};

	for (unsigned k = 0; k < 4; k++) {
		switch ((run + k) % 4) {
		case 0:
			mkdir(plugin_dir, 0700);
			plugin_run(b, plugin_dir, &f);
			remove_tree(plugin_dir);
			break;
		case 1:
			f.bare_bytes = bare_run(b, bare_dir, seed, seed_size, BARE_SEED_BYTES);
			break;
		case 2:
			f.bare_built = bare_run(b, bare_dir, seed, seed_size, BARE_SEED_BUILT);
			break;
		default:
			f.minimal = bare_run(b, bare_dir, seed, seed_size, BARE_MINIMAL);
		}
	}

	best->observe = min_of(best->observe, f.observe);
	best->plan = min_of(best->plan, f.plan);
	best->apply = min_of(best->apply, f.apply);
	best->total = min_of(best->total, f.total);
	best->again = min_of(best->again, f.again);
	best->bare_bytes = min_of(best->bare_bytes, f.bare_bytes);
	best->bare_built = min_of(best->bare_built, f.bare_built);
	best->minimal = min_of(best->minimal, f.minimal);
}

static void print(const struct bench *b, const struct figures *f, unsigned runs)
{
	printf("libvirt plugin on the test driver: %u VMs, best of %u runs, files in %s\n", b->vms,
	       runs, b->base_dir);
	printf("  seed ISO per VM                      %zu bytes\n", f->seed_bytes);
	printf("  plugin: observe (empty host)         %8.1f ms\n", f->observe * 1e3);
	printf("  plugin: plan                         %8.1f ms\n", f->plan * 1e3);
	printf("  plugin: apply (%u creates + image)  %8.1f ms\n", b->vms, f->apply * 1e3);
	printf("  plugin: observe + plan + apply       %8.1f ms  (%.3f ms per VM)\n",
	       f->total * 1e3, f->total * 1e3 / b->vms);
	printf("  plugin: next pass, observe + plan    %8.1f ms  (empty plan)\n", f->again * 1e3);
	printf("  bare: same libvirt calls, seeds built with libarchive\n"
	       "                                       %8.1f ms\n",
	       f->bare_built * 1e3);
	printf("  bare: same libvirt calls, seed bytes built beforehand\n"
	       "                                       %8.1f ms\n",
	       f->bare_bytes * 1e3);
	printf("  bare: define + start only            %8.1f ms\n", f->minimal * 1e3);
	printf("  ratio plugin / bare, seeds built     %8.2f  (target <= 1.1)\n",
	       f->total / f->bare_built);
	printf("  ratio plugin / bare, seed bytes      %8.2f\n", f->total / f->bare_bytes);
	printf("  ratio plugin / define + start only   %8.2f\n", f->total / f->minimal);
}

int main(int argc, char **argv)
{
	struct bench b = {.vms = 1000, .base_dir = "/dev/shm"};
	struct figures best = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 0};
	unsigned runs = 3;
	_cleanup_free_ uint8_t *seed = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "d:n:r:")) != -1) {
		if (opt == 'd')
			b.base_dir = optarg;
		else if (opt == 'n')
			b.vms = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			runs = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (b.vms == 0 || b.vms > 99999 || runs == 0)
		return 2;

	ppn_log_set_level(LOG_WARNING);
	setenv(PPN_LV_ENV_POOL, "ppnv-pool", 1);
	unsetenv(PPN_LV_ENV_URI);
	unsetenv(PPN_LV_ENV_FACTS);
	setup(&b);
	seed = sample_seed(&best.seed_bytes);
	for (unsigned i = 0; i < runs; i++)
		one_run(&b, seed, best.seed_bytes, i, &best);
	print(&b, &best, runs);

	remove_tree(b.dir);
	ppn_fleet_free(b.fleet);
	free(b.dir);
	free(b.node_xml);
	free(b.uri);
	free(b.image);
	return 0;
}
