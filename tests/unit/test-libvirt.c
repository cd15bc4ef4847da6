/* SPDX-License-Identifier: MIT */
/*
 * The libvirt plugin against libvirt's test driver: a host described by
 * tests/data/libvirt/node.xml, held in this process. Each test opens one plugin instance and
 * keeps it for all its steps (the test driver forgets everything when the connection
 * closes), and inspects the host through the plugin's own connection. Fleets go through the
 * real manifest loader.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "fileset.h"
#include "log.h"
#include "libvirt/lv.h"
#include "manifest.h"
#include "plan.h"
#include "plugin.h"
#include "util.h"

extern const struct ppn_plugin ppn_plugin;

#define NODE          "ppnv-node"
#define POOL          "ppnv-pool"
#define MANIFESTS_MAX 32

static const char *const peer_keys[] = {
	"KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo=",
	"+PhSZdH0j/wT3gcRvzJjNP00dSTH0jk0Owib0y0h8h0=",
};

/* ---- Fixture: a temporary state directory, an image file, manifests, one plugin ---- */

struct manifest {
	char *path;
	char *text;
};

struct fx {
	char *dir;       /* /tmp/ppnv-XXXXXX */
	char *state_dir; /* <dir>/state, or a hostile name under dir */
	char *image;     /* <dir>/base.img */
	char sha[PPN_LV_SHA_HEX];
	struct manifest manifests[MANIFESTS_MAX];
	size_t n_manifests;
	struct ppn_fleet *fleet;
	struct ppn_lv_state *state;
	struct ppn_plan plan;
	pid_t http_pid; /* an HTTP server serving dir, or 0 */
};

/* The fixture of the running test, freed by teardown when an assertion ended it early. */
static struct fx *current;

static void sha256_hex(const void *data, size_t size, char out[PPN_LV_SHA_HEX])
{
	uint8_t digest[PPN_SHA256_LEN];

	assert_int_equal(EVP_Digest(data, size, digest, NULL, EVP_sha256(), NULL), 1);
	ppn_lv_hex(digest, sizeof(digest), out);
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *file = fopen(path, "we");

	assert_non_null(file);
	assert_int_equal(fwrite(data, 1, size, file), size);
	assert_int_equal(fclose(file), 0);
}

static char *read_file(const char *path, size_t *size)
{
	FILE *file = fopen(path, "re");
	char *data;
	long len;

	assert_non_null(file);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	len = ftell(file);
	rewind(file);
	data = ppn_xmalloc((size_t)len + 1);
	assert_int_equal(fread(data, 1, (size_t)len, file), (size_t)len);
	data[len] = '\0';
	fclose(file);
	*size = (size_t)len;
	return data;
}

static void fx_put(struct fx *fx, const char *path, const char *fmt, ...) _printf_(3, 4);
static void fx_put(struct fx *fx, const char *path, const char *fmt, ...)
{
	struct manifest *m = NULL;
	va_list args;

	for (size_t i = 0; i < fx->n_manifests; i++)
		if (strcmp(fx->manifests[i].path, path) == 0)
			m = &fx->manifests[i];
	if (!m) {
		assert_true(fx->n_manifests < MANIFESTS_MAX);
		m = &fx->manifests[fx->n_manifests++];
		m->path = ppn_xstrdup(path);
	} else {
		free(m->text);
	}
	va_start(args, fmt);
	m->text = ppn_xvasprintf(fmt, args);
	va_end(args);
}

static void fx_remove(struct fx *fx, const char *path)
{
	for (size_t i = 0; i < fx->n_manifests; i++) {
		if (strcmp(fx->manifests[i].path, path) != 0)
			continue;
		free(fx->manifests[i].path);
		free(fx->manifests[i].text);
		fx->manifests[i] = fx->manifests[--fx->n_manifests];
		return;
	}
	fail_msg("no manifest '%s'", path);
}

static void fx_put_peer(struct fx *fx, const char *name, unsigned index)
{
	_cleanup_free_ char *path = ppn_xasprintf("peers/%s.yaml", name);

	fx_put(fx, path,
	       "apiVersion: ppn/v1\nkind: Peer\nname: %s\npublicKey: %s\naddress: 10.99.0.%u\n"
	       "endpoint: 192.0.2.%u:51820\n",
	       name, peer_keys[index], index + 1, index + 1);
}

static void fx_put_node(struct fx *fx, const char *name, unsigned index)
{
	_cleanup_free_ char *path = ppn_xasprintf("nodes/%s.yaml", name);

	fx_put(fx, path,
	       "apiVersion: ppn/v1\nkind: Node\nname: %s\ntype: bare-metal\n"
	       "libvirtUri: \"test://%s/libvirt/node.xml\"\n",
	       name, getenv("PPN_TEST_DATA"));
	fx_put_peer(fx, name, index);
}

static void fx_put_image(struct fx *fx, const char *name, const char *source, const char *sha)
{
	_cleanup_free_ char *path = ppn_xasprintf("images/%s.yaml", name);

	fx_put(fx, path,
	       "apiVersion: ppn/v1\nkind: Image\nname: %s\nsource: \"%s\"\nformat: qcow2\n"
	       "sha256: %s\n",
	       name, source, sha);
}

/* A VM with its placement on node; extra: more YAML lines (cloudInit, pin, needs). */
static void fx_put_vm(struct fx *fx, const char *name, const char *memory, const char *node,
		      const char *extra)
{
	_cleanup_free_ char *vm_path = ppn_xasprintf("vms/%s.yaml", name);
	_cleanup_free_ char *placement_path = ppn_xasprintf("placements/%s.yaml", name);

	fx_put(fx, vm_path,
	       "apiVersion: ppn/v1\nkind: VM\nname: %s\nimage: ppnv-base\nmemory: %s\nvcpus: 1\n"
	       "disk: 1GiB\n%s",
	       name, memory, extra ? extra : "");
	if (node)
		fx_put(fx, placement_path,
		       "apiVersion: ppn/v1\nkind: Placement\nname: %s\nnode: %s\n", name, node);
}

static void fx_remove_vm(struct fx *fx, const char *name)
{
	_cleanup_free_ char *vm_path = ppn_xasprintf("vms/%s.yaml", name);
	_cleanup_free_ char *placement_path = ppn_xasprintf("placements/%s.yaml", name);

	fx_remove(fx, vm_path);
	fx_remove(fx, placement_path);
}

static void fx_load(struct fx *fx)
{
	struct ppn_fileset set = {0};
	struct ppn_diags diags = {0};
	struct ppn_fleet *fleet = NULL;
	int r;

	for (size_t i = 0; i < fx->n_manifests; i++)
		ppn_fileset_add(&set, fx->manifests[i].path, fx->manifests[i].path,
				fx->manifests[i].text, strlen(fx->manifests[i].text));
	ppn_fileset_sort(&set);
	r = ppn_manifest_load(&set, &fleet, &diags);
	if (r < 0)
		ppn_diags_print(&diags, stderr);
	assert_int_equal(r, 0);
	ppn_diags_release(&diags);
	ppn_fileset_release(&set);
	ppn_fleet_free(fx->fleet);
	fx->fleet = fleet;
}

static void fx_open(struct fx *fx)
{
	struct ppn_plugin_options options = {.node = NODE, .state_dir = fx->state_dir};
	void *state = NULL;

	assert_int_equal(ppn_plugin.open(&options, &state), 0);
	fx->state = state;
}

/* A fleet with node NODE (and "ppnv-far") and the image, no VM yet; the plugin not open. */
static struct fx *fx_new_in(const char *state_name)
{
	static const char content[] = "ppnv base image: not bootable, only hashed and copied\n";
	struct fx *fx = ppn_xcalloc(1, sizeof(*fx));
	char dir[] = "/tmp/ppnv-XXXXXX";

	assert_non_null(mkdtemp(dir));
	fx->dir = ppn_xstrdup(dir);
	fx->state_dir = ppn_xasprintf("%s/%s", dir, state_name);
	assert_int_equal(mkdir(fx->state_dir, 0700), 0);
	fx->image = ppn_xasprintf("%s/base.img", dir);
	write_file(fx->image, content, sizeof(content) - 1);
	sha256_hex(content, sizeof(content) - 1, fx->sha);

	setenv(PPN_LV_ENV_POOL, POOL, 1);
	unsetenv(PPN_LV_ENV_URI);
	unsetenv(PPN_LV_ENV_FACTS);
	fx_put(fx, "ppn.yaml",
	       "apiVersion: ppn/v1\nkind: Network\nname: ppnv\n"
	       "overlay: 10.99.0.0/24\n");
	fx_put_node(fx, NODE, 0);
	fx_put_node(fx, "ppnv-far", 1);
	fx_put_image(fx, "ppnv-base", fx->image, fx->sha);
	ppn_plan_init(&fx->plan);
	current = fx;
	return fx;
}

static struct fx *fx_new(void)
{
	struct fx *fx = fx_new_in("state");

	fx_open(fx);
	return fx;
}

static void remove_tree(const char *dir)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

static void http_stop(struct fx *fx);

static void fx_free(struct fx *fx)
{
	current = NULL;
	http_stop(fx);
	ppn_plugin.close(fx->state);
	ppn_plan_release(&fx->plan);
	ppn_fleet_free(fx->fleet);
	for (size_t i = 0; i < fx->n_manifests; i++) {
		free(fx->manifests[i].path);
		free(fx->manifests[i].text);
	}
	remove_tree(fx->dir);
	free(fx->dir);
	free(fx->state_dir);
	free(fx->image);
	free(fx);
}

/* Loads the manifests, observes and plans; the plan stays in fx->plan. */
static struct ppn_plan *fx_plan(struct fx *fx)
{
	struct ppn_desired desired = {.fleet = fx->fleet};

	fx_load(fx);
	desired.fleet = fx->fleet;
	ppn_plan_release(&fx->plan);
	ppn_plan_init(&fx->plan);
	assert_int_equal(ppn_plugin.observe(fx->state, &desired), 0);
	assert_int_equal(ppn_plugin.plan(fx->state, &desired, &fx->plan), 0);
	return &fx->plan;
}

/* Applies the whole plan; results (may be NULL) receives each action's result. */
static int fx_apply(struct fx *fx, int *results)
{
	struct ppn_desired desired = {.fleet = fx->fleet};
	size_t n = fx->plan.n_actions;
	_cleanup_free_ struct ppn_action **actions = ppn_xcalloc(n, sizeof(*actions));
	_cleanup_free_ int *own = ppn_xcalloc(n, sizeof(*own));

	for (size_t i = 0; i < n; i++)
		actions[i] = &fx->plan.actions[i];
	return ppn_plugin.apply(fx->state, &desired, actions, n, results ? results : own);
}

/* Plans, applies (every action must succeed), and checks the next plan is empty. */
static void fx_converge(struct fx *fx)
{
	fx_plan(fx);
	assert_int_equal(fx_apply(fx, NULL), 0);
	fx_plan(fx);
	if (fx->plan.n_actions)
		ppn_plan_render_text(&fx->plan, stderr);
	assert_int_equal(fx->plan.n_actions, 0);
}

static const struct ppn_action *find_action(const struct ppn_plan *plan, const char *kind,
					    const char *name)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		if (strcmp(plan->actions[i].kind, kind) == 0 &&
		    strcmp(plan->actions[i].name, name) == 0)
			return &plan->actions[i];
	return NULL;
}

static const struct ppn_change *find_change(const struct ppn_action *action, const char *field)
{
	for (size_t i = 0; i < action->n_changes; i++)
		if (strcmp(action->changes[i].field, field) == 0)
			return &action->changes[i];
	return NULL;
}

static bool plan_mentions(const struct ppn_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		if (strstr(plan->actions[i].name, name))
			return true;
	return false;
}

/* ---- Looking at the host directly, through the plugin's connection ---- */

static virDomainPtr domain(struct fx *fx, const char *name)
{
	return virDomainLookupByName(fx->state->conn, name);
}

static bool domain_running(struct fx *fx, const char *name)
{
	virDomainPtr dom = domain(fx, name);
	int active;

	assert_non_null(dom);
	active = virDomainIsActive(dom);
	virDomainFree(dom);
	return active == 1;
}

static bool domain_exists(struct fx *fx, const char *name)
{
	virDomainPtr dom = domain(fx, name);

	if (dom)
		virDomainFree(dom);
	return dom != NULL;
}

static uint64_t domain_memory(struct fx *fx, const char *name)
{
	virDomainPtr dom = domain(fx, name);
	virDomainInfo info;

	assert_non_null(dom);
	assert_int_equal(virDomainGetInfo(dom, &info), 0);
	virDomainFree(dom);
	return (uint64_t)info.maxMem * 1024;
}

static struct ppn_lv_meta domain_meta(struct fx *fx, const char *name)
{
	virDomainPtr dom = domain(fx, name);
	struct ppn_lv_meta meta;
	char *xml;

	assert_non_null(dom);
	xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, PPN_LV_NS_URI, 0);
	assert_non_null(xml);
	assert_int_equal(ppn_lv_xml_meta_parse(xml, &meta), 0);
	free(xml);
	virDomainFree(dom);
	return meta;
}

static char *domain_xml(struct fx *fx, const char *name)
{
	virDomainPtr dom = domain(fx, name);
	char *xml;

	assert_non_null(dom);
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	assert_non_null(xml);
	virDomainFree(dom);
	return xml;
}

static virStorageVolPtr volume(struct fx *fx, const char *pool_name, const char *name)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(fx->state->conn, pool_name);
	virStorageVolPtr vol;

	assert_non_null(pool);
	vol = virStorageVolLookupByName(pool, name);
	virStoragePoolFree(pool);
	return vol;
}

static bool volume_exists(struct fx *fx, const char *name)
{
	virStorageVolPtr vol = volume(fx, POOL, name);

	if (vol)
		virStorageVolFree(vol);
	return vol != NULL;
}

static int pool_volume_count(struct fx *fx, const char *pool_name)
{
	virStoragePoolPtr pool = virStoragePoolLookupByName(fx->state->conn, pool_name);
	int n;

	assert_non_null(pool);
	n = virStoragePoolNumOfVolumes(pool);
	virStoragePoolFree(pool);
	return n;
}

/* The seed's bytes, read from the volume's file. */
static char *seed_bytes(struct fx *fx, const char *vm, size_t *size)
{
	_cleanup_free_ char *name = ppn_xasprintf("ppn-%s-seed.iso", vm);
	virStorageVolPtr vol = volume(fx, POOL, name);
	_cleanup_free_ char *path = NULL;

	assert_non_null(vol);
	path = virStorageVolGetPath(vol);
	virStorageVolFree(vol);
	return read_file(path, size);
}

static bool contains(const char *data, size_t size, const char *text)
{
	return memmem(data, size, text, strlen(text)) != NULL;
}

/* ---- Tests ---- */

static const char *const user_data_a = "#cloud-config\nhostname: a\n";

/* Two VMs placed here and one elsewhere: the first plan creates the image and two domains,
 * and once applied the host equals the manifests: the next plan is empty. */
static void test_libvirt_create_then_in_sync(void **unused)
{
	struct fx *fx = fx_new();
	const struct ppn_action *action;
	struct ppn_lv_meta meta;
	_cleanup_free_ char *seed = NULL;
	_cleanup_free_ char *xml = NULL;
	size_t size;

	fx_put_vm(fx, "ppnv-a", "256MiB", NODE,
		  "cloudInit:\n  userData: |\n    #cloud-config\n    hostname: a\n");
	fx_put_vm(fx, "ppnv-b", "128MiB", NODE, NULL);
	fx_put_vm(fx, "ppnv-c", "128MiB", "ppnv-far", NULL);
	fx_plan(fx);

	assert_int_equal(fx->plan.n_actions, 3);
	assert_string_equal(fx->plan.actions[0].kind, "libvirt/image");
	assert_string_equal(fx->plan.actions[1].name, "ppnv-a");
	assert_string_equal(fx->plan.actions[2].name, "ppnv-b");
	action = find_action(&fx->plan, "libvirt/domain", "ppnv-a");
	assert_int_equal(action->op, PPN_OP_CREATE);
	assert_string_equal(find_change(action, "memory")->new_value, "256MiB");
	assert_string_equal(find_change(action, "instance-id")->new_value, "ppnv-a-0");
	assert_string_equal(find_change(action, "type")->new_value, "qemu");
	assert_true(strstr(fx->plan.notes[0], "test://"));
	assert_false(plan_mentions(&fx->plan, "ppnv-c"));

	fx_converge(fx);
	assert_true(domain_running(fx, "ppn-ppnv-a"));
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	assert_false(domain_exists(fx, "ppn-ppnv-c"));
	assert_int_equal(domain_memory(fx, "ppn-ppnv-a"), 256 << 20);

	meta = domain_meta(fx, "ppn-ppnv-a");
	assert_string_equal(meta.instance_id, "ppnv-a-0");
	assert_string_equal(meta.image, "ppnv-base");
	assert_string_equal(meta.type, "qemu");
	ppn_lv_meta_release(&meta);

	/* The overlay names its backing file and that file's format; the CPU suits TCG. */
	xml = domain_xml(fx, "ppn-ppnv-a");
	assert_non_null(strstr(xml, "<domain type='qemu'"));
	assert_non_null(strstr(xml, "<cpu mode='maximum'"));
	assert_non_null(strstr(xml, "<format type='qcow2'/>"));
	assert_non_null(strstr(xml, "ppn-ppnv-a.log"));
	assert_null(strstr(xml, "<interface"));

	/* The seed is an ISO9660 image labelled cidata holding the three files' texts. */
	seed = seed_bytes(fx, "ppnv-a", &size);
	assert_true(size > 0x8028 + 6);
	assert_memory_equal(seed + 0x8001, "CD001", 5);
	assert_true(strncasecmp(seed + 0x8028, "cidata", 6) == 0);
	assert_true(contains(seed, size, "instance-id: ppnv-a-0\nlocal-hostname: ppnv-a\n"));
	assert_true(contains(seed, size, user_data_a));
	assert_true(contains(seed, size, "meta-data"));
	assert_true(contains(seed, size, "user-data"));

	/* The pool holds the base image once and two volumes per VM. */
	assert_int_equal(pool_volume_count(fx, POOL), 5);
	assert_true(domain_running(fx, "ppnv-preexisting"));
	fx_free(fx);
}

static struct fx *fx_two_vms(void)
{
	struct fx *fx = fx_new();

	fx_put_vm(fx, "ppnv-a", "256MiB", NODE,
		  "cloudInit:\n  userData: |\n    #cloud-config\n    hostname: a\n");
	fx_put_vm(fx, "ppnv-b", "128MiB", NODE, NULL);
	fx_converge(fx);
	return fx;
}

static void test_libvirt_stopped_domain_is_started(void **unused)
{
	struct fx *fx = fx_two_vms();
	virDomainPtr dom = domain(fx, "ppn-ppnv-b");
	const struct ppn_action *action;

	assert_int_equal(virDomainDestroy(dom), 0);
	virDomainFree(dom);

	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_START);
	assert_string_equal(action->name, "ppnv-b");
	assert_string_equal(find_change(action, "state")->old_value, "shut off");
	fx_converge(fx);
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	fx_free(fx);
}

static void test_libvirt_memory_change_is_a_replace(void **unused)
{
	struct fx *fx = fx_two_vms();
	const struct ppn_action *action;
	struct ppn_lv_meta meta;

	fx_put_vm(fx, "ppnv-b", "512MiB", NODE, NULL);
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_REPLACE);
	assert_string_equal(action->reason, "memory 128MiB -> 512MiB needs a new domain");
	assert_string_equal(find_change(action, "memory")->old_value, "128MiB");
	assert_string_equal(find_change(action, "memory")->new_value, "512MiB");

	fx_converge(fx);
	assert_int_equal(domain_memory(fx, "ppn-ppnv-b"), 512 << 20);
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	/* The same instance: its disk and instance-id stay. */
	meta = domain_meta(fx, "ppn-ppnv-b");
	assert_string_equal(meta.instance_id, "ppnv-b-0");
	ppn_lv_meta_release(&meta);
	fx_free(fx);
}

static void test_libvirt_cloud_init_change_is_an_update(void **unused)
{
	struct fx *fx = fx_two_vms();
	const struct ppn_action *action;
	struct ppn_lv_meta meta;
	_cleanup_free_ char *seed = NULL;
	size_t size;

	fx_put_vm(fx, "ppnv-a", "256MiB", NODE,
		  "cloudInit:\n  userData: |\n    #cloud-config\n    hostname: a2\n");
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_UPDATE);
	assert_string_equal(action->name, "ppnv-a");
	assert_string_equal(action->reason, "no effect until a new instance (raise "
					    "cloudInit.generation for a fresh first boot)");
	assert_non_null(find_change(action, "cloud-init"));

	fx_converge(fx);
	meta = domain_meta(fx, "ppn-ppnv-a");
	assert_string_equal(meta.instance_id, "ppnv-a-0");
	ppn_lv_meta_release(&meta);
	seed = seed_bytes(fx, "ppnv-a", &size);
	assert_true(contains(seed, size, "hostname: a2\n"));
	assert_true(contains(seed, size, "instance-id: ppnv-a-0\n"));
	fx_free(fx);
}

static void test_libvirt_generation_change_is_a_fresh_instance(void **unused)
{
	struct fx *fx = fx_two_vms();
	const struct ppn_action *action;
	struct ppn_lv_meta meta;
	_cleanup_free_ char *seed = NULL;
	size_t size;

	fx_put_vm(fx, "ppnv-a", "256MiB", NODE,
		  "cloudInit:\n  generation: 1\n  userData: |\n    #cloud-config\n"
		  "    hostname: a\n");
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_REPLACE);
	assert_non_null(strstr(action->reason, "cloudInit.generation 0 -> 1"));
	assert_string_equal(find_change(action, "instance-id")->old_value, "ppnv-a-0");
	assert_string_equal(find_change(action, "instance-id")->new_value, "ppnv-a-1");

	fx_converge(fx);
	meta = domain_meta(fx, "ppn-ppnv-a");
	assert_string_equal(meta.instance_id, "ppnv-a-1");
	ppn_lv_meta_release(&meta);
	seed = seed_bytes(fx, "ppnv-a", &size);
	assert_true(contains(seed, size, "instance-id: ppnv-a-1\n"));
	assert_true(domain_running(fx, "ppn-ppnv-a"));
	fx_free(fx);
}

/* A VM whose request is gone loses its domain and volumes; the base image, the other VM,
 * someone else's domains and another pool's look-alike volume stay, and never show up. */
static void test_libvirt_delete_removes_only_its_own(void **unused)
{
	struct fx *fx = fx_two_vms();
	const struct ppn_action *action;
	virStorageVolPtr other;

	fx_remove_vm(fx, "ppnv-b");
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_DELETE);
	assert_string_equal(action->kind, "libvirt/domain");
	assert_string_equal(action->name, "ppnv-b");
	assert_false(plan_mentions(&fx->plan, "preexisting"));
	assert_false(plan_mentions(&fx->plan, "squat"));

	fx_converge(fx);
	assert_false(domain_exists(fx, "ppn-ppnv-b"));
	assert_false(volume_exists(fx, "ppn-ppnv-b.qcow2"));
	assert_false(volume_exists(fx, "ppn-ppnv-b-seed.iso"));
	assert_true(domain_running(fx, "ppn-ppnv-a"));
	assert_true(domain_running(fx, "ppnv-preexisting"));
	assert_true(domain_running(fx, "ppn-ppnv-squat"));
	assert_int_equal(pool_volume_count(fx, POOL), 3);
	other = volume(fx, "ppnv-other", "ppn-ppnv-a.qcow2");
	assert_non_null(other);
	virStorageVolFree(other);

	/* Placed elsewhere is gone from here too. */
	fx_put(fx, "placements/ppnv-a.yaml",
	       "apiVersion: ppn/v1\nkind: Placement\nname: ppnv-a\nnode: ppnv-far\n");
	fx_converge(fx);
	assert_false(domain_exists(fx, "ppn-ppnv-a"));
	assert_int_equal(pool_volume_count(fx, POOL), 1);
	fx_free(fx);
}

/* Without a fleet every domain would look unwanted: the plan is refused, not a wipe. */
static void test_libvirt_no_fleet_plans_nothing(void **unused)
{
	struct fx *fx = fx_two_vms();
	struct ppn_desired none = {0};
	struct ppn_plan plan;

	ppn_plan_init(&plan);
	assert_int_equal(ppn_plugin.plan(fx->state, &none, &plan), -EINVAL);
	assert_int_equal(plan.n_actions, 0);
	ppn_plan_release(&plan);
	assert_true(domain_running(fx, "ppn-ppnv-a"));
	fx_free(fx);
}

/* A pin wins over a placement. */
static void test_libvirt_pin_wins_over_placement(void **unused)
{
	struct fx *fx = fx_new();
	struct ppn_lv_want *wants;
	size_t n;

	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, "pin: ppnv-far\n");
	fx_put_vm(fx, "ppnv-b", "128MiB", "ppnv-far", "pin: " NODE "\n");
	fx_put_vm(fx, "ppnv-c", "128MiB", NULL, "pin: " NODE "\n");
	fx_load(fx);
	ppn_lv_wants(fx->fleet, NODE, &wants, &n);
	assert_int_equal(n, 2);
	assert_string_equal(wants[0].vm->name, "ppnv-b");
	assert_string_equal(wants[1].vm->name, "ppnv-c");
	assert_string_equal(wants[1].domain, "ppn-ppnv-c");
	ppn_lv_wants_free(wants, n);
	fx_free(fx);
}

/* A crash right after the volumes were made: they are replaced, not duplicated. */
static void test_libvirt_volumes_without_domain_are_adopted(void **unused)
{
	struct fx *fx = fx_two_vms();
	virDomainPtr dom = domain(fx, "ppn-ppnv-b");
	const struct ppn_action *action;

	assert_int_equal(virDomainDestroy(dom), 0);
	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);

	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_CREATE);
	assert_string_equal(action->reason, "replaces the volumes an interrupted create left");
	fx_converge(fx);
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	assert_int_equal(pool_volume_count(fx, POOL), 5);
	fx_free(fx);
}

/* A crash after define and before start, and a seed that went missing. */
static void test_libvirt_defined_domain_without_seed_is_finished(void **unused)
{
	struct fx *fx = fx_two_vms();
	virDomainPtr dom = domain(fx, "ppn-ppnv-b");
	virStorageVolPtr seed = volume(fx, POOL, "ppn-ppnv-b-seed.iso");
	const struct ppn_action *action;

	assert_int_equal(virDomainDestroy(dom), 0);
	virDomainFree(dom);
	assert_int_equal(virStorageVolDelete(seed, 0), 0);
	virStorageVolFree(seed);

	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	action = &fx->plan.actions[0];
	assert_int_equal(action->op, PPN_OP_UPDATE);
	assert_string_equal(action->reason, "seed volume 'ppn-ppnv-b-seed.iso' is missing");
	assert_non_null(find_change(action, "state"));
	fx_converge(fx);
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	assert_true(volume_exists(fx, "ppn-ppnv-b-seed.iso"));
	fx_free(fx);
}

/* Volumes named for a VM that is neither defined nor wanted are deleted, by name. */
static void test_libvirt_leftover_volumes_are_deleted(void **unused)
{
	struct fx *fx = fx_two_vms();
	virStoragePoolPtr pool = virStoragePoolLookupByName(fx->state->conn, POOL);
	_cleanup_free_ char *xml = NULL;
	virStorageVolPtr vol;

	assert_int_equal(
		ppn_lv_xml_volume("ppn-ppnv-gone.qcow2", 1 << 20, "qcow2", NULL, NULL, &xml), 0);
	vol = virStorageVolCreateXML(pool, xml, 0);
	assert_non_null(vol);
	virStorageVolFree(vol);
	virStoragePoolFree(pool);

	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 1);
	assert_string_equal(fx->plan.actions[0].kind, "libvirt/volume");
	assert_string_equal(fx->plan.actions[0].name, "ppn-ppnv-gone.qcow2");
	assert_int_equal(fx->plan.actions[0].op, PPN_OP_DELETE);
	fx_converge(fx);
	assert_false(volume_exists(fx, "ppn-ppnv-gone.qcow2"));
	fx_free(fx);
}

/* A domain of someone else's that has the name ppn would give a VM is never taken over. */
static void test_libvirt_foreign_domain_name_is_refused(void **unused)
{
	struct fx *fx = fx_new();
	int results[3];

	fx_put_vm(fx, "ppnv-squat", "128MiB", NODE, NULL);
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 2);
	assert_int_equal(fx_apply(fx, results), -EEXIST);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], -EEXIST);
	assert_true(domain_running(fx, "ppn-ppnv-squat"));
	fx_free(fx);
}

/* A wrong checksum refuses the image and the VMs over it, and nothing else. */
static void test_libvirt_checksum_mismatch_is_refused(void **unused)
{
	struct fx *fx = fx_new();
	_cleanup_free_ char *good = ppn_xasprintf("%s/good.img", fx->dir);
	char good_sha[PPN_LV_SHA_HEX];
	int results[4];

	write_file(good, "good", 4);
	sha256_hex("good", 4, good_sha);
	fx_put_image(fx, "ppnv-base", fx->image,
		     "abababababababababababababababababababababababababababababababab");
	fx_put_image(fx, "ppnv-good", good, good_sha);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, NULL);
	fx_put(fx, "vms/ppnv-b.yaml",
	       "apiVersion: ppn/v1\nkind: VM\nname: ppnv-b\nimage: ppnv-good\nmemory: 128MiB\n"
	       "vcpus: 1\ndisk: 1GiB\npin: " NODE "\n");
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 4);
	assert_string_equal(fx->plan.actions[0].name, "ppnv-base");
	assert_string_equal(fx->plan.actions[1].name, "ppnv-good");

	assert_int_equal(fx_apply(fx, results), -EBADMSG);
	assert_int_equal(results[0], -EBADMSG);
	assert_int_equal(results[1], 0);
	assert_int_equal(results[2], -EBADMSG);
	assert_int_equal(results[3], 0);
	assert_false(domain_exists(fx, "ppn-ppnv-a"));
	assert_true(domain_running(fx, "ppn-ppnv-b"));
	/* The rejected copy is gone: only the good image and ppnv-b's two volumes remain. */
	assert_int_equal(pool_volume_count(fx, POOL), 3);

	/* It is tried again on the next pass, and refused again. */
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 2);
	fx_free(fx);
}

/* A VM pinned to NODE over image. */
static void fx_put_vm_over(struct fx *fx, const char *name, const char *image)
{
	_cleanup_free_ char *path = ppn_xasprintf("vms/%s.yaml", name);

	fx_put(fx, path,
	       "apiVersion: ppn/v1\nkind: VM\nname: %s\nimage: %s\nmemory: 128MiB\nvcpus: 1\n"
	       "disk: 1GiB\npin: " NODE "\n",
	       name, image);
}

/*
 * A real HTTP server for image URLs: Python's http.server serving the fixture's directory on
 * a port of its own on 127.0.0.1. "/to-file" redirects to a file:// URL, which must never be
 * followed.
 */
static const char http_server_script[] =
	"import functools, http.server, sys\n"
	"class Handler(http.server.SimpleHTTPRequestHandler):\n"
	"    def log_message(self, *args):\n"
	"        pass\n"
	"    def do_GET(self):\n"
	"        if self.path == '/to-file':\n"
	"            self.send_response(302)\n"
	"            self.send_header('Location', 'file:///etc/hostname')\n"
	"            self.end_headers()\n"
	"            return\n"
	"        super().do_GET()\n"
	"handler = functools.partial(Handler, directory=sys.argv[1])\n"
	"server = http.server.HTTPServer(('127.0.0.1', 0), handler)\n"
	"with open(sys.argv[2] + '.tmp', 'w') as f:\n"
	"    f.write(str(server.server_port))\n"
	"import os\n"
	"os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
	"server.serve_forever()\n";

/* Starts the server and returns its port. */
static unsigned http_start(struct fx *fx)
{
	_cleanup_free_ char *port_file = ppn_xasprintf("%s/http.port", fx->dir);
	unsigned port = 0;

	fx->http_pid = fork();
	assert_true(fx->http_pid >= 0);
	if (fx->http_pid == 0) {
		execl("/usr/bin/python3", "python3", "-c", http_server_script, fx->dir, port_file,
		      (char *)NULL);
		_exit(127);
	}

	for (int i = 0; i < 500 && port == 0; i++) {
		FILE *file = fopen(port_file, "re");

		if (file) {
			assert_int_equal(fscanf(file, "%u", &port), 1);
			fclose(file);
		} else {
			usleep(10000);
		}
	}
	assert_true(port > 0);
	return port;
}

static void http_stop(struct fx *fx)
{
	if (fx->http_pid <= 0)
		return;
	kill(fx->http_pid, SIGTERM);
	waitpid(fx->http_pid, NULL, 0);
	fx->http_pid = 0;
}

/* Nothing of a download stays in the state directory: only what was recorded. */
static void assert_no_download_left(struct fx *fx)
{
	_cleanup_free_ char *command =
		ppn_xasprintf("test -z \"$(find '%s' -name '.download-*')\"", fx->state_dir);

	assert_int_equal(system(command), 0);
}

/* An image at a URL is downloaded, checked and copied into the pool like a local file. */
static void test_libvirt_url_source_is_downloaded(void **unused)
{
	struct fx *fx = fx_new();
	unsigned port = http_start(fx);
	_cleanup_free_ char *url = ppn_xasprintf("http://127.0.0.1:%u/base.img", port);
	_cleanup_free_ char *path = NULL, *copy = NULL, *source = NULL, *volume = NULL;
	size_t copy_size, source_size;

	fx_put_image(fx, "ppnv-base", url, fx->sha);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, NULL);
	fx_converge(fx);
	assert_true(domain_running(fx, "ppn-ppnv-a"));

	volume = ppn_lv_base_volume(ppn_fleet_image(fx->fleet, "ppnv-base"));
	path = ppn_xasprintf("%s/images/%s", fx->state_dir, volume);
	copy = read_file(path, &copy_size);
	source = read_file(fx->image, &source_size);
	assert_int_equal(copy_size, source_size);
	assert_memory_equal(copy, source, source_size);
	assert_no_download_left(fx);
	fx_free(fx);
}

/* A download whose digest differs, a missing file and a redirect to file:// all fail alone,
 * each with its own error, and leave nothing behind. */
static void test_libvirt_url_failures(void **unused)
{
	struct fx *fx = fx_new();
	unsigned port = http_start(fx);
	_cleanup_free_ char *wrong = ppn_xasprintf("http://127.0.0.1:%u/base.img", port);
	_cleanup_free_ char *missing = ppn_xasprintf("http://127.0.0.1:%u/absent.img", port);
	_cleanup_free_ char *to_file = ppn_xasprintf("http://127.0.0.1:%u/to-file", port);
	int results[6];

	fx_put_image(fx, "ppnv-base", wrong,
		     "abababababababababababababababababababababababababababababababab");
	fx_put_image(fx, "ppnv-missing", missing, fx->sha);
	fx_put_image(fx, "ppnv-to-file", to_file, fx->sha);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, NULL);
	fx_put_vm_over(fx, "ppnv-b", "ppnv-missing");
	fx_put_vm_over(fx, "ppnv-c", "ppnv-to-file");
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 6);
	assert_string_equal(fx->plan.actions[0].name, "ppnv-base");
	assert_string_equal(fx->plan.actions[1].name, "ppnv-missing");
	assert_string_equal(fx->plan.actions[2].name, "ppnv-to-file");

	assert_true(fx_apply(fx, results) < 0);
	assert_int_equal(results[0], -EBADMSG);
	assert_int_equal(results[1], -EIO);
	assert_int_equal(results[2], -EPROTONOSUPPORT);
	for (size_t i = 3; i < 6; i++)
		assert_true(results[i] < 0);
	assert_int_equal(pool_volume_count(fx, POOL), 0);
	assert_no_download_left(fx);
	fx_free(fx);
}

/* Every value that reaches the domain XML comes back unchanged from a parser. */
static void test_libvirt_xml_escapes_hostile_values(void **unused)
{
	static const char hostile[] = "a<b>&c\"d'e]]>f&amp;g<!--h";
	struct ppn_lv_meta meta = {
		.vm = (char *)hostile,
		.image = (char *)hostile,
		.base = (char *)hostile,
		.type = (char *)"qemu",
		.instance_id = (char *)hostile,
		.memory = 1,
		.vcpus = 1,
		.disk = 1,
	};
	struct ppn_lv_domain_spec spec = {
		.name = hostile,
		.type = "qemu",
		.meta = &meta,
		.memory_kib = 1024,
		.vcpus = 1,
		.overlay_path = hostile,
		.base_path = hostile,
		.base_format = "qcow2",
		.seed_path = hostile,
		.console_path = hostile,
	};
	_cleanup_free_ char *xml = NULL;
	struct ppn_lv_meta back;
	xmlDocPtr doc;
	xmlNodePtr root, node;
	xmlChar *text;
	int sources = 0;

	memset(meta.cloud_init_sha256, 'a', PPN_LV_SHA_HEX - 1);
	assert_int_equal(ppn_lv_xml_domain(&spec, &xml), 0);
	assert_null(strstr(xml, "]]>"));
	doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	for (node = root->children; node; node = node->next) {
		if (node->type != XML_ELEMENT_NODE || strcmp((char *)node->name, "name") != 0)
			continue;
		text = xmlNodeGetContent(node);
		assert_string_equal((char *)text, hostile);
		xmlFree(text);
	}
	/* Every source path and file attribute in the document. */
	for (xmlNodePtr n = root; n;) {
		xmlChar *file = xmlGetProp(n, BAD_CAST "file");
		xmlChar *path = xmlGetProp(n, BAD_CAST "path");

		if (file || path) {
			assert_string_equal((char *)(file ? file : path), hostile);
			sources++;
		}
		xmlFree(file);
		xmlFree(path);
		if (n->children)
			n = n->children;
		else {
			while (n && !n->next)
				n = n->parent;
			if (n)
				n = n->next;
		}
	}
	assert_int_equal(sources, 5);
	xmlFreeDoc(doc);

	free(xml);
	xml = NULL;
	assert_int_equal(ppn_lv_xml_meta(&meta, &xml), 0);
	assert_int_equal(ppn_lv_xml_meta_parse(xml, &back), 0);
	assert_string_equal(back.vm, hostile);
	assert_string_equal(back.instance_id, hostile);
	ppn_lv_meta_release(&back);
}

/* The same through libvirt: a state directory and cloud-init text full of markup. */
static void test_libvirt_hostile_paths_and_cloud_init(void **unused)
{
	struct fx *fx = fx_new_in("ppnv-<&'\"]]>");
	_cleanup_free_ char *xml = NULL;
	_cleanup_free_ char *seed = NULL;
	xmlDocPtr doc;
	size_t size;

	fx_open(fx);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE,
		  "cloudInit:\n  userData: |\n    #cloud-config\n"
		  "    runcmd: [\"echo '<&>' ]]> \\\"x\\\"\"]\n");
	fx_converge(fx);

	xml = domain_xml(fx, "ppn-ppnv-a");
	doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	assert_non_null(strstr(xml, "ppnv-&lt;&amp;"));

	seed = seed_bytes(fx, "ppnv-a", &size);
	assert_true(
		contains(seed, size, "#cloud-config\nruncmd: [\"echo '<&>' ]]> \\\"x\\\"\"]\n"));
	fx_free(fx);
}

static void write_override(struct fx *fx, const char *json)
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/facts.override", fx->state_dir);

	write_file(path, json, strlen(json));
}

/* The domain type follows the facts, and a VM that needs KVM is refused without it. */
static void test_libvirt_domain_type_follows_facts(void **unused)
{
	struct fx *fx = fx_new_in("state");
	_cleanup_free_ char *xml = NULL;
	const struct ppn_action *action;
	int results[3];

	write_override(fx, "{\"kvm\": true}");
	fx_open(fx);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, "needs: [kvm]\n");
	fx_plan(fx);
	action = find_action(&fx->plan, "libvirt/domain", "ppnv-a");
	assert_string_equal(find_change(action, "type")->new_value, "kvm");
	fx_converge(fx);
	xml = domain_xml(fx, "ppn-ppnv-a");
	assert_non_null(strstr(xml, "<domain type='kvm'"));
	assert_non_null(strstr(xml, "<cpu mode='host-passthrough'"));
	ppn_plugin.close(fx->state);

	/* A host without KVM (a new connection: the test driver starts afresh): domains are
	 * qemu, and a VM that needs kvm is refused. */
	write_override(fx, "{\"kvm\": false}");
	fx_open(fx);
	fx_remove_vm(fx, "ppnv-a");
	fx_put_vm(fx, "ppnv-b", "128MiB", NODE, "needs: [kvm]\n");
	fx_put_vm(fx, "ppnv-c", "128MiB", NODE, NULL);
	fx_plan(fx);
	assert_int_equal(fx->plan.n_actions, 3);
	action = find_action(&fx->plan, "libvirt/domain", "ppnv-b");
	assert_string_equal(action->reason, "it needs kvm, which this node does not offer");
	assert_int_equal(fx_apply(fx, results), -ENODEV);
	assert_int_equal(results[1], -ENODEV);
	assert_int_equal(results[2], 0);
	free(xml);
	xml = domain_xml(fx, "ppn-ppnv-c");
	assert_non_null(strstr(xml, "<domain type='qemu'"));
	fx_free(fx);
}

/* Runs fn with stderr sent to a file, and returns what was written there. */
static char *capture_stderr(struct fx *fx, void (*fn)(struct fx *fx))
{
	_cleanup_free_ char *path = ppn_xasprintf("%s/stderr", fx->dir);
	int saved = dup(STDERR_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t size;

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fn(fx);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return read_file(path, &size);
}

static void plan_and_apply(struct fx *fx)
{
	fx_plan(fx);
	fx_apply(fx, NULL);
}

/* Overridden facts are reported as such in the facts, in the plan's notes and in every log
 * line; a malformed override file stops the plugin from opening, naming the position. */
static void test_libvirt_facts_override(void **unused)
{
	struct fx *fx = fx_new_in("state");
	_cleanup_free_ char *path = ppn_xasprintf("%s/facts.override", fx->state_dir);
	_cleanup_free_ char *marker = ppn_xasprintf("facts overridden by %s (simulation)", path);
	_cleanup_free_ char *log = NULL;
	struct ppn_plugin_options options = {.node = NODE, .state_dir = fx->state_dir};
	struct ppn_facts facts;
	void *state = NULL;
	size_t lines = 0;

	write_override(fx, "{\"memoryTotal\": 8589934592, \"memoryAvailable\": 1073741824, "
			   "\"kvm\": false}");
	fx_open(fx);
	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, NULL);
	log = capture_stderr(fx, plan_and_apply);
	assert_int_equal(ppn_plugin.facts(fx->state, &facts), 0);
	assert_int_equal(facts.memory_total, 8589934592ULL);
	assert_int_equal(facts.memory_available, 1073741824ULL);
	assert_true(facts.kvm_known);
	assert_false(facts.kvm_usable);
	assert_string_equal(fx->plan.notes[1], marker);
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		assert_non_null(strstr(line, marker));
		lines++;
	}
	assert_true(lines >= 2);

	write_override(fx, "{\"kvm\": \"yes\"}");
	assert_int_equal(ppn_plugin.open(&options, &state), -EINVAL);
	write_override(fx, "{\"memoryTotal\": 1,\n \"memoryTotal\": 2}");
	assert_int_equal(ppn_plugin.open(&options, &state), -EINVAL);
	write_override(fx, "{\"cpus\": 4}");
	assert_int_equal(ppn_plugin.open(&options, &state), -EINVAL);
	fx_free(fx);
}

/* Without an override, the test driver's host gives its memory (the node file's, less what
 * the running domains have) and KVM is unknown: the test driver is not this machine. */
static void test_libvirt_facts_from_the_test_driver(void **unused)
{
	struct fx *fx = fx_two_vms();
	struct ppn_facts facts;

	assert_int_equal(ppn_plugin.facts(fx->state, &facts), 0);
	assert_int_equal(facts.memory_total, 16ULL << 30);
	/* preexisting 512 MiB, squat 128 MiB, ppnv-a 256 MiB, ppnv-b 128 MiB */
	assert_int_equal(facts.memory_available, (16ULL << 30) - (1024ULL << 20));
	assert_false(facts.kvm_known);
	assert_false(facts.kvm_usable);
	fx_free(fx);
}

/* The KVM probe says no, with a reason, for a device that is missing or is not KVM. */
static void test_libvirt_kvm_probe_refuses_non_kvm(void **unused)
{
	_cleanup_free_ char *why = NULL;

	assert_int_equal(ppn_lv_kvm_probe("/nonexistent/ppnv-kvm", &why), 0);
	assert_non_null(strstr(why, "does not exist"));
	free(why);
	why = NULL;
	assert_int_equal(ppn_lv_kvm_probe("/dev/null", &why), 0);
	assert_string_equal(why, "the KVM API version is not 12");
}

/* The engine may release a plan after it unloaded the module that made it: nothing in the
 * plan may point into the module's code. */
static void test_libvirt_plan_outlives_the_module(void **unused)
{
	struct fx *fx = fx_new_in("state");
	_cleanup_free_ char *path = ppn_xasprintf("%s/ppn-libvirt.so", getenv("PPN_PLUGIN_DIR"));
	struct ppn_plugin_options options = {.node = NODE, .state_dir = fx->state_dir};
	struct ppn_desired desired = {0};
	struct ppn_loaded_plugin *plugin;

	fx_put_vm(fx, "ppnv-a", "128MiB", NODE, NULL);
	fx_load(fx);
	desired.fleet = fx->fleet;
	assert_int_equal(ppn_plugin_load(path, &plugin), 0);
	assert_int_equal(plugin->table->open(&options, &plugin->state), 0);
	assert_int_equal(plugin->table->observe(plugin->state, &desired), 0);
	assert_int_equal(plugin->table->plan(plugin->state, &desired, &fx->plan), 0);
	assert_int_equal(fx->plan.n_actions, 2);
	ppn_plugin_unload(plugin);
	ppn_plan_release(&fx->plan);
	fx_free(fx);
}

static void test_libvirt_names(void **unused)
{
	char text[32];
	_cleanup_free_ char *vm = NULL;

	ppn_lv_format_size(2ULL << 30, text);
	assert_string_equal(text, "2GiB");
	ppn_lv_format_size(1536ULL << 20, text);
	assert_string_equal(text, "1536MiB");
	ppn_lv_format_size(1000000000ULL, text);
	assert_string_equal(text, "1000000000B");
	vm = ppn_lv_volume_vm("ppn-web-seed-seed.iso");
	assert_string_equal(vm, "web-seed");
	free(vm);
	vm = ppn_lv_volume_vm("ppn-web-seed.qcow2");
	assert_string_equal(vm, "web-seed");
	assert_null(ppn_lv_volume_vm("base-debian-0123456789ab.qcow2"));
	assert_null(ppn_lv_volume_vm("ppn-.qcow2"));
	assert_null(ppn_lv_volume_vm("other.qcow2"));
}

static int teardown(void **unused)
{
	if (current)
		fx_free(current);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_libvirt_create_then_in_sync, teardown),
		cmocka_unit_test_teardown(test_libvirt_stopped_domain_is_started, teardown),
		cmocka_unit_test_teardown(test_libvirt_memory_change_is_a_replace, teardown),
		cmocka_unit_test_teardown(test_libvirt_cloud_init_change_is_an_update, teardown),
		cmocka_unit_test_teardown(test_libvirt_generation_change_is_a_fresh_instance,
					  teardown),
		cmocka_unit_test_teardown(test_libvirt_delete_removes_only_its_own, teardown),
		cmocka_unit_test_teardown(test_libvirt_no_fleet_plans_nothing, teardown),
		cmocka_unit_test_teardown(test_libvirt_pin_wins_over_placement, teardown),
		cmocka_unit_test_teardown(test_libvirt_volumes_without_domain_are_adopted,
					  teardown),
		cmocka_unit_test_teardown(test_libvirt_defined_domain_without_seed_is_finished,
					  teardown),
		cmocka_unit_test_teardown(test_libvirt_leftover_volumes_are_deleted, teardown),
		cmocka_unit_test_teardown(test_libvirt_foreign_domain_name_is_refused, teardown),
		cmocka_unit_test_teardown(test_libvirt_checksum_mismatch_is_refused, teardown),
		cmocka_unit_test_teardown(test_libvirt_url_source_is_downloaded, teardown),
		cmocka_unit_test_teardown(test_libvirt_url_failures, teardown),
		cmocka_unit_test_teardown(test_libvirt_xml_escapes_hostile_values, teardown),
		cmocka_unit_test_teardown(test_libvirt_hostile_paths_and_cloud_init, teardown),
		cmocka_unit_test_teardown(test_libvirt_domain_type_follows_facts, teardown),
		cmocka_unit_test_teardown(test_libvirt_facts_override, teardown),
		cmocka_unit_test_teardown(test_libvirt_facts_from_the_test_driver, teardown),
		cmocka_unit_test_teardown(test_libvirt_kvm_probe_refuses_non_kvm, teardown),
		cmocka_unit_test_teardown(test_libvirt_plan_outlives_the_module, teardown),
		cmocka_unit_test_teardown(test_libvirt_names, teardown),
	};

	ppn_log_set_level(LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
