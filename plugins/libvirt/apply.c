/* SPDX-License-Identifier: MIT */
/*
 * Carries out the plan. A VM's steps run in a fixed order (stop, new disk, new seed, define,
 * restart, metadata, start; or stop, undefine, delete volumes), and each can be repeated:
 * volumes of the same name are replaced, defining a domain that exists updates it, starting
 * a running one is skipped. A crash between two steps leaves a state the next plan finishes.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "lv.h"
#include "util.h"

/* What one batch shares: the wanted VMs, the pool (opened on first use) and the facts. */
struct batch {
	struct ppn_lv_state *state;
	const struct ppn_fleet *fleet;
	struct ppn_lv_want *wants;
	size_t n_wants;
	virStoragePoolPtr pool;
	int pool_error;
	bool console_dir_made;
	struct ppn_facts facts;
};

static int batch_pool(struct batch *batch)
{
	if (!batch->pool && batch->pool_error == 0)
		batch->pool_error = ppn_lv_pool_ensure(batch->state, &batch->pool);
	return batch->pool_error;
}

/* A volume's path, newly allocated, or NULL with *why. */
static char *volume_path(virStoragePoolPtr pool, const char *name, char **why)
{
	virStorageVolPtr volume = virStorageVolLookupByName(pool, name);
	char *path;

	if (!volume) {
		*why = ppn_xasprintf("cannot find volume '%s': %s", name, ppn_lv_error());
		return NULL;
	}
	path = virStorageVolGetPath(volume);
	if (!path)
		*why = ppn_xasprintf("cannot find the path of volume '%s': %s", name,
				     ppn_lv_error());
	virStorageVolFree(volume);
	return path;
}

/* ---- Images and volumes ---- */

static void record_failure(struct ppn_lv_state *state, const char *image, int error,
			   const char *reason)
{
	struct ppn_lv_image_failure *failure;

	ppn_grow(&state->failures, &state->cap_failures, state->n_failures + 1,
		 sizeof(*state->failures));
	failure = &state->failures[state->n_failures++];
	failure->image = ppn_xstrdup(image);
	failure->reason = ppn_xstrdup(reason);
	failure->error = error;
}

static const struct ppn_lv_image_failure *find_failure(const struct ppn_lv_state *state,
						       const char *image)
{
	for (size_t i = state->n_failures; i-- > 0;)
		if (strcmp(state->failures[i].image, image) == 0)
			return &state->failures[i];
	return NULL;
}

static int apply_image(struct batch *batch, const char *name)
{
	const struct ppn_image *image = ppn_fleet_image(batch->fleet, name);
	_cleanup_free_ char *why = NULL;
	int r;

	if (!image) {
		lv_err(batch->state, "libvirt/image '%s': not in the fleet any more", name);
		return -ENOENT;
	}
	r = batch_pool(batch);
	if (r < 0)
		return r;
	r = ppn_lv_image_import(batch->state, batch->pool, image, &why);
	if (r < 0) {
		lv_err(batch->state, "libvirt/image '%s': refused: %s", name, why);
		record_failure(batch->state, name, r, why);
		return r;
	}
	lv_info(batch->state, "libvirt/image '%s': checked and copied from '%s'", name,
		image->source);
	return 0;
}

static int apply_volume(struct batch *batch, const char *name)
{
	_cleanup_free_ char *why = NULL;
	int r = batch_pool(batch);

	if (r < 0)
		return r;
	r = ppn_lv_volume_delete(batch->pool, name, &why);
	if (r < 0)
		lv_err(batch->state, "libvirt/volume '%s': %s", name, why);
	else
		lv_info(batch->state, "libvirt/volume '%s': deleted", name);
	return r;
}

/* ---- One VM ---- */

/* Paths of everything the domain XML points at, kept from the steps that made them. */
struct job_paths {
	char *overlay, *base, *seed, *console;
};

/* A VM being worked on: its manifest, its domain once known, what failed and why. */
struct vm_job {
	struct batch *batch;
	const char *name;
	const struct ppn_lv_want *want;
	virDomainPtr domain;
	struct job_paths paths;
	char *why;
};

static int job_fail(struct vm_job *job, int error, const char *what)
{
	lv_err(job->batch->state, "libvirt/domain '%s': cannot %s: %s", job->name, what,
	       job->why ? job->why : ppn_lv_error());
	return error;
}

/* Finds the domain; one of the same name without ppn's metadata is never touched. */
static int job_lookup(struct vm_job *job)
{
	_cleanup_free_ char *domain_name = ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s", job->name);
	_cleanup_free_ char *meta = NULL;

	job->domain = virDomainLookupByName(job->batch->state->conn, domain_name);
	if (!job->domain)
		return ppn_lv_error_is(VIR_ERR_NO_DOMAIN) ? 0 : job_fail(job, -EIO, "look it up");
	meta = virDomainGetMetadata(job->domain, VIR_DOMAIN_METADATA_ELEMENT, PPN_LV_NS_URI, 0);
	if (!meta) {
		job->why = ppn_xasprintf("domain '%s' exists and is not ppn's", domain_name);
		return job_fail(job, -EEXIST, "take its name");
	}
	return 0;
}

static int job_destroy(struct vm_job *job)
{
	if (!job->domain || virDomainIsActive(job->domain) != 1)
		return 0;
	if (virDomainDestroy(job->domain) < 0)
		return job_fail(job, -EIO, "stop it");
	return 0;
}

/* The base image must have been checked, in this batch or an earlier pass. */
static int job_base_ready(struct vm_job *job)
{
	struct ppn_lv_state *state = job->batch->state;
	const struct ppn_image *image = job->want->image;
	const struct ppn_lv_image_failure *failure = find_failure(state, image->name);
	_cleanup_free_ char *record = ppn_lv_image_record(image);
	_cleanup_free_ char *path = ppn_xasprintf("%s/%s", state->verified_dir, record);

	if (failure) {
		job->why =
			ppn_xasprintf("image '%s' was refused: %s", image->name, failure->reason);
		return job_fail(job, failure->error, "create its disk");
	}
	if (access(path, F_OK) < 0) {
		job->why =
			ppn_xasprintf("image '%s' has not been checked on this node", image->name);
		return job_fail(job, -ENOENT, "create its disk");
	}
	return 0;
}

static int job_overlay(struct vm_job *job)
{
	virStoragePoolPtr pool = job->batch->pool;
	const struct ppn_lv_want *want = job->want;
	_cleanup_free_ char *xml = NULL;
	virStorageVolPtr volume;
	int r = job_base_ready(job);

	if (r < 0)
		return r;
	if (!job->paths.base)
		job->paths.base = volume_path(pool, want->base, &job->why);
	if (!job->paths.base)
		return job_fail(job, -ENOENT, "find its base image");
	r = ppn_lv_xml_volume(want->overlay, want->vm->disk, "qcow2", job->paths.base,
			      want->image->format == PPN_IMAGE_QCOW2 ? "qcow2" : "raw", &xml);
	if (r == 0)
		r = ppn_lv_volume_create(pool, want->overlay, xml, &volume, &job->why);
	if (r < 0)
		return job_fail(job, r, "create its disk");
	free(job->paths.overlay);
	job->paths.overlay = virStorageVolGetPath(volume);
	virStorageVolFree(volume);
	return 0;
}

static char *seed_meta_data(const struct ppn_lv_want *want)
{
	return ppn_xasprintf("instance-id: %s\nlocal-hostname: %s\n", want->instance_id,
			     want->vm->name);
}

static int seed_upload(struct vm_job *job, const uint8_t *data, size_t size)
{
	const struct ppn_lv_want *want = job->want;
	_cleanup_free_ char *xml = NULL;
	struct ppn_lv_writer writer;
	virStorageVolPtr volume;
	int r = ppn_lv_xml_volume(want->seed, size, "raw", NULL, NULL, &xml);

	if (r == 0)
		r = ppn_lv_volume_create(job->batch->pool, want->seed, xml, &volume, &job->why);
	if (r < 0)
		return r;
	r = ppn_lv_writer_open(volume, size, &job->batch->state->no_upload, &writer, &job->why);
	if (r == 0)
		r = ppn_lv_writer_write(&writer, data, size, &job->why);
	if (r == 0)
		r = ppn_lv_writer_finish(&writer, false, &job->why);
	else if (writer.stream || writer.fd >= 0)
		ppn_lv_writer_abort(&writer);
	if (r == 0) {
		free(job->paths.seed);
		job->paths.seed = virStorageVolGetPath(volume);
	}
	virStorageVolFree(volume);
	return r;
}

static int job_seed(struct vm_job *job)
{
	const struct ppn_vm *vm = job->want->vm;
	_cleanup_free_ char *meta_data = seed_meta_data(job->want);
	struct ppn_lv_seed_files files = {
		.meta_data = meta_data,
		.user_data =
			vm->cloud_init.user_data ? vm->cloud_init.user_data : "#cloud-config\n",
		.network_config = vm->cloud_init.network_config,
	};
	_cleanup_free_ uint8_t *data = NULL;
	size_t size;
	int r = ppn_lv_seed_build(&files, &data, &size, &job->why);

	if (r < 0)
		return job_fail(job, r, "build its seed");
	r = seed_upload(job, data, size);
	if (r < 0)
		return job_fail(job, r, "write its seed");
	return 0;
}

static void job_meta(const struct vm_job *job, const char *type, struct ppn_lv_meta *meta)
{
	const struct ppn_lv_want *want = job->want;

	*meta = (struct ppn_lv_meta){
		.vm = want->vm->name,
		.image = want->vm->image,
		.base = want->base,
		.type = (char *)type,
		.instance_id = want->instance_id,
		.generation = want->vm->cloud_init.generation,
		.memory = want->vm->memory,
		.vcpus = want->vm->vcpus,
		.disk = want->vm->disk,
	};
	memcpy(meta->cloud_init_sha256, want->cloud_init_sha256, PPN_LV_SHA_HEX);
}

static const char *job_type(const struct vm_job *job)
{
	return job->batch->facts.kvm_usable ? "kvm" : "qemu";
}

/* Looks up the paths no earlier step of this job produced. */
static int job_paths(struct vm_job *job)
{
	struct ppn_lv_state *state = job->batch->state;
	virStoragePoolPtr pool = job->batch->pool;
	struct job_paths *paths = &job->paths;

	if (!paths->overlay)
		paths->overlay = volume_path(pool, job->want->overlay, &job->why);
	if (paths->overlay && !paths->base)
		paths->base = volume_path(pool, job->want->base, &job->why);
	if (paths->base && !paths->seed)
		paths->seed = volume_path(pool, job->want->seed, &job->why);
	if (!paths->seed)
		return -ENOENT;
	if (!paths->console)
		paths->console = ppn_xasprintf("%s/%s.log", state->console_dir, job->want->domain);
	if (!job->batch->console_dir_made && ppn_lv_mkdir(state, state->console_dir) == 0)
		job->batch->console_dir_made = true;
	return job->batch->console_dir_made ? 0 : -EIO;
}

static void job_paths_release(struct job_paths *paths)
{
	free(paths->overlay);
	free(paths->base);
	free(paths->seed);
	free(paths->console);
}

static int job_define_xml(struct vm_job *job, const struct job_paths *paths, char **xml)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct ppn_lv_meta meta;
	struct ppn_lv_domain_spec spec = {
		.name = job->want->domain,
		.type = job_type(job),
		.meta = &meta,
		.memory_kib = (job->want->vm->memory + 1023) / 1024,
		.vcpus = job->want->vm->vcpus,
		.overlay_path = paths->overlay,
		.base_path = paths->base,
		.base_format = job->want->image->format == PPN_IMAGE_QCOW2 ? "qcow2" : "raw",
		.seed_path = paths->seed,
		.console_path = paths->console,
	};

	/* Defining with the existing UUID updates that domain instead of clashing with it. */
	if (job->domain && virDomainGetUUIDString(job->domain, uuid) == 0)
		spec.uuid = uuid;
	job_meta(job, spec.type, &meta);
	return ppn_lv_xml_domain(&spec, xml);
}

static int job_define(struct vm_job *job)
{
	_cleanup_free_ char *xml = NULL;
	virDomainPtr domain;
	int r = job_paths(job);

	if (r == 0)
		r = job_define_xml(job, &job->paths, &xml);
	if (r < 0)
		return job_fail(job, r, "define it");

	domain = virDomainDefineXML(job->batch->state->conn, xml);
	if (!domain)
		return job_fail(job, -EIO, "define it");
	if (job->domain)
		virDomainFree(job->domain);
	job->domain = domain;
	return 0;
}

static int job_live_meta(struct vm_job *job)
{
	_cleanup_free_ char *xml = NULL;
	struct ppn_lv_meta meta;

	if (virDomainIsActive(job->domain) != 1)
		return 0;
	job_meta(job, job_type(job), &meta);
	if (ppn_lv_xml_meta(&meta, &xml) < 0 ||
	    virDomainSetMetadata(job->domain, VIR_DOMAIN_METADATA_ELEMENT, xml, PPN_LV_NS_PREFIX,
				 PPN_LV_NS_URI, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return job_fail(job, -EIO, "update its metadata");
	return 0;
}

static int job_start(struct vm_job *job)
{
	int active = virDomainIsActive(job->domain);

	if (active == 1)
		return 0;
	if (active < 0 || virDomainCreate(job->domain) < 0)
		return job_fail(job, -EIO, "start it");
	return 0;
}

static int job_undefine(struct vm_job *job)
{
	int r = job_destroy(job);

	if (r < 0 || !job->domain)
		return r;
	/* ppn's domains boot with BIOS, so there is no NVRAM to remove. */
	if (virDomainUndefineFlags(job->domain, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
							VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
		return job_fail(job, -EIO, "undefine it");
	return 0;
}

static int job_delete_volumes(struct vm_job *job)
{
	_cleanup_free_ char *overlay =
		ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s" PPN_LV_OVERLAY_EXT, job->name);
	_cleanup_free_ char *seed =
		ppn_xasprintf(PPN_LV_DOMAIN_PREFIX "%s" PPN_LV_SEED_SUFFIX, job->name);
	int r = ppn_lv_volume_delete(job->batch->pool, overlay, &job->why);

	if (r == 0)
		r = ppn_lv_volume_delete(job->batch->pool, seed, &job->why);
	if (r < 0)
		return job_fail(job, r, "delete its volumes");
	return 0;
}

/* The steps in their order; each returns 0 or a negative errno, already logged. */
static int job_run(struct vm_job *job, unsigned steps)
{
	static const struct {
		unsigned step;
		int (*run)(struct vm_job *job);
	} order[] = {
		{PPN_LV_STEP_DESTROY, job_destroy},
		{PPN_LV_STEP_OVERLAY, job_overlay},
		{PPN_LV_STEP_SEED, job_seed},
		{PPN_LV_STEP_DEFINE, job_define},
		{PPN_LV_STEP_RESTART, job_destroy},
		{PPN_LV_STEP_LIVE_META, job_live_meta},
		{PPN_LV_STEP_START, job_start},
		{PPN_LV_STEP_UNDEFINE, job_undefine},
		{PPN_LV_STEP_DEL_VOLUMES, job_delete_volumes},
	};
	int r = 0;

	for (size_t i = 0; i < PPN_ARRAY_SIZE(order) && r == 0; i++) {
		if (!(steps & order[i].step))
			continue;
		if ((order[i].step == PPN_LV_STEP_START ||
		     order[i].step == PPN_LV_STEP_LIVE_META) &&
		    !job->domain)
			return job_fail(job, -ENOENT, "find it");
		r = order[i].run(job);
	}
	return r;
}

static int job_prepare(struct vm_job *job, const struct ppn_lv_payload *payload)
{
	int r;

	if (payload->refusal) {
		job->why = ppn_xstrdup(payload->refusal);
		return job_fail(job, -ENODEV, "run it here");
	}
	if (!(payload->steps & PPN_LV_STEP_UNDEFINE)) {
		job->want = ppn_lv_wants_find(job->batch->wants, job->batch->n_wants, job->name);
		if (!job->want || !job->want->image) {
			job->why = ppn_xstrdup("it is not placed on this node any more");
			return job_fail(job, -ENOENT, "create it");
		}
	}
	r = batch_pool(job->batch);
	if (r < 0)
		return r;
	return job_lookup(job);
}

static int apply_domain(struct batch *batch, const struct ppn_action *action)
{
	const struct ppn_lv_payload *payload = action->payload;
	struct vm_job job = {.batch = batch, .name = payload->name};
	int r = job_prepare(&job, payload);

	if (r == 0)
		r = job_run(&job, payload->steps);
	if (r == 0)
		lv_info(batch->state, "libvirt/domain '%s': %s done", job.name,
			ppn_op_name(action->op));
	if (job.domain)
		virDomainFree(job.domain);
	job_paths_release(&job.paths);
	free(job.why);
	return r;
}

/* ---- The batch ---- */

static int apply_one(struct batch *batch, const struct ppn_action *action)
{
	const struct ppn_lv_payload *payload = action->payload;

	if (!payload) {
		lv_err(batch->state, "%s '%s': not an action of this plugin", action->kind,
		       action->name);
		return -EINVAL;
	}
	if (strcmp(action->kind, "libvirt/image") == 0)
		return apply_image(batch, payload->name);
	if (strcmp(action->kind, "libvirt/volume") == 0)
		return apply_volume(batch, payload->name);
	return apply_domain(batch, action);
}

static void failures_clear(struct ppn_lv_state *state)
{
	for (size_t i = 0; i < state->n_failures; i++) {
		free(state->failures[i].image);
		free(state->failures[i].reason);
	}
	state->n_failures = 0;
}

int ppn_lv_apply(struct ppn_lv_state *state, const struct ppn_desired *desired,
		 struct ppn_action *const *actions, size_t count, int *results)
{
	struct batch batch = {.state = state, .fleet = desired ? desired->fleet : NULL};
	int first = 0;

	failures_clear(state);
	ppn_lv_facts(state, &batch.facts);
	ppn_lv_wants(batch.fleet, state->node, &batch.wants, &batch.n_wants);
	for (size_t i = 0; i < count; i++) {
		results[i] = apply_one(&batch, actions[i]);
		if (results[i] < 0 && first == 0)
			first = results[i];
	}
	if (batch.pool)
		virStoragePoolFree(batch.pool);
	ppn_lv_wants_free(batch.wants, batch.n_wants);
	return first;
}
