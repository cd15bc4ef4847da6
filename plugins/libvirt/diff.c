/* SPDX-License-Identifier: MIT */
/*
 * The plan: what this node should run against what it has. One action per VM at most, whose
 * payload lists the steps apply takes; each step can be taken again after a crash, so an
 * interrupted pass is finished by the next one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lv.h"
#include "util.h"

#define DOMAIN_KIND "libvirt/domain"
#define IMAGE_KIND  "libvirt/image"
#define VOLUME_KIND "libvirt/volume"
#define SHORT_SHA   12

#define STEPS_FRESH                                                                                \
	(PPN_LV_STEP_DESTROY | PPN_LV_STEP_OVERLAY | PPN_LV_STEP_SEED | PPN_LV_STEP_DEFINE |       \
	 PPN_LV_STEP_START)
#define STEPS_DELETE (PPN_LV_STEP_UNDEFINE | PPN_LV_STEP_DEL_VOLUMES)

static struct ppn_action *add_action(struct ppn_plan *plan, enum ppn_op op, const char *kind,
				     const char *name, unsigned steps)
{
	struct ppn_action *action = ppn_plan_add(plan, op, kind, name);
	size_t len = strlen(name);
	struct ppn_lv_payload *payload = ppn_xcalloc(1, sizeof(*payload) + len + 1);

	memcpy(payload->name, name, len + 1);
	payload->steps = steps;
	action->payload = payload;
	/* libc's free, not a function of this module, which may be unloaded first. */
	action->payload_free = free;
	return action;
}

static void add_size_change(struct ppn_action *action, const char *field, uint64_t old_value,
			    uint64_t new_value, bool has_old)
{
	char old_text[32], new_text[32];

	ppn_lv_format_size(old_value, old_text);
	ppn_lv_format_size(new_value, new_text);
	ppn_action_add_change(action, field, has_old ? old_text : NULL, new_text);
}

static void add_number_change(struct ppn_action *action, const char *field, uint64_t old_value,
			      uint64_t new_value, bool has_old)
{
	char old_text[24], new_text[24];

	snprintf(old_text, sizeof(old_text), "%" PRIu64, old_value);
	snprintf(new_text, sizeof(new_text), "%" PRIu64, new_value);
	ppn_action_add_change(action, field, has_old ? old_text : NULL, new_text);
}

/* The memory a domain gets: libvirt counts KiB, a manifest may ask for any byte count. */
static uint64_t memory_rounded(uint64_t bytes)
{
	return (bytes + 1023) / 1024 * 1024;
}

/* ---- One VM ---- */

/* What differs between a VM's domain and its manifest. */
struct vm_diff {
	const struct ppn_lv_want *want;
	const struct ppn_lv_domain *domain;
	const char *type;
	bool generation, image, disk, overlay_missing; /* need a new disk */
	bool memory, vcpus, type_changed;              /* need a new domain */
	bool cloud_init, seed_missing;                 /* need a new seed */
};

static void vm_diff_compute(struct ppn_lv_state *state, struct vm_diff *d)
{
	const struct ppn_lv_domain *dom = d->domain;
	const struct ppn_vm *vm = d->want->vm;
	bool known = state->observed.volumes_known;

	d->generation = dom->meta.generation != vm->cloud_init.generation;
	d->image = strcmp(dom->meta.image, vm->image) != 0;
	d->disk = dom->meta.disk != vm->disk;
	d->overlay_missing = known && !ppn_lv_observed_volume(&state->observed, d->want->overlay);
	d->memory = dom->memory != memory_rounded(vm->memory);
	d->vcpus = dom->vcpus != vm->vcpus;
	d->type_changed = strcmp(dom->meta.type, d->type) != 0;
	d->cloud_init = strcmp(dom->meta.cloud_init_sha256, d->want->cloud_init_sha256) != 0;
	d->seed_missing = known && !ppn_lv_observed_volume(&state->observed, d->want->seed);
}

static void fresh_reason(struct ppn_action *action, const struct vm_diff *d)
{
	const struct ppn_lv_domain *dom = d->domain;
	const struct ppn_vm *vm = d->want->vm;
	char old_disk[32], new_disk[32];

	if (d->generation) {
		ppn_action_set_reason(
			action,
			"cloudInit.generation %" PRIu32 " -> %" PRIu32
			" asks for a fresh first boot (new instance-id, seed and disk)",
			dom->meta.generation, vm->cloud_init.generation);
	} else if (d->image) {
		ppn_action_set_reason(action, "image '%s' -> '%s' needs a new disk",
				      dom->meta.image, vm->image);
	} else if (d->disk) {
		ppn_lv_format_size(dom->meta.disk, old_disk);
		ppn_lv_format_size(vm->disk, new_disk);
		ppn_action_set_reason(action, "disk %s -> %s needs a new disk", old_disk, new_disk);
	} else {
		ppn_action_set_reason(action, "overlay volume '%s' is missing", d->want->overlay);
	}
}

static void restart_reason(struct ppn_action *action, const struct vm_diff *d)
{
	const struct ppn_lv_domain *dom = d->domain;
	const struct ppn_vm *vm = d->want->vm;
	char old_mem[32], new_mem[32];
	_cleanup_free_ char *what = NULL;

	ppn_lv_format_size(dom->memory, old_mem);
	ppn_lv_format_size(memory_rounded(vm->memory), new_mem);
	if (d->memory && d->vcpus)
		what = ppn_xasprintf("memory %s -> %s and vcpus %" PRIu32 " -> %" PRIu32, old_mem,
				     new_mem, dom->vcpus, vm->vcpus);
	else if (d->memory)
		what = ppn_xasprintf("memory %s -> %s", old_mem, new_mem);
	else if (d->vcpus)
		what = ppn_xasprintf("vcpus %" PRIu32 " -> %" PRIu32, dom->vcpus, vm->vcpus);
	else
		what = ppn_xasprintf("domain type %s -> %s", dom->meta.type, d->type);
	ppn_action_set_reason(action, "%s %s a new domain", what,
			      d->memory && d->vcpus ? "need" : "needs");
}

/* Every field that differs, whatever the action. */
static void vm_changes(struct ppn_action *action, const struct vm_diff *d)
{
	const struct ppn_lv_domain *dom = d->domain;
	const struct ppn_vm *vm = d->want->vm;
	char old_sha[SHORT_SHA + 1], new_sha[SHORT_SHA + 1];

	if (d->image)
		ppn_action_add_change(action, "image", dom->meta.image, vm->image);
	if (d->disk)
		add_size_change(action, "disk", dom->meta.disk, vm->disk, true);
	if (d->memory)
		add_size_change(action, "memory", dom->memory, memory_rounded(vm->memory), true);
	if (d->vcpus)
		add_number_change(action, "vcpus", dom->vcpus, vm->vcpus, true);
	if (d->type_changed)
		ppn_action_add_change(action, "type", dom->meta.type, d->type);
	if (d->generation)
		ppn_action_add_change(action, "instance-id", dom->meta.instance_id,
				      d->want->instance_id);
	if (d->cloud_init) {
		memcpy(old_sha, dom->meta.cloud_init_sha256, SHORT_SHA);
		memcpy(new_sha, d->want->cloud_init_sha256, SHORT_SHA);
		old_sha[SHORT_SHA] = new_sha[SHORT_SHA] = '\0';
		ppn_action_add_change(action, "cloud-init", old_sha, new_sha);
	}
	if (d->overlay_missing)
		ppn_action_add_change(action, "overlay", NULL, d->want->overlay);
	if (d->seed_missing)
		ppn_action_add_change(action, "seed", NULL, d->want->seed);
	if (!dom->running)
		ppn_action_add_change(action, "state", "shut off", "running");
}

static void plan_existing(struct ppn_lv_state *state, struct vm_diff *d, struct ppn_plan *plan)
{
	const char *name = d->want->vm->name;
	struct ppn_action *action;
	unsigned steps;

	vm_diff_compute(state, d);
	if (d->generation || d->image || d->disk || d->overlay_missing) {
		action = add_action(plan, PPN_OP_REPLACE, DOMAIN_KIND, name, STEPS_FRESH);
		fresh_reason(action, d);
	} else if (d->memory || d->vcpus || d->type_changed) {
		steps = PPN_LV_STEP_DEFINE | PPN_LV_STEP_RESTART | PPN_LV_STEP_START;
		if (d->cloud_init || d->seed_missing)
			steps |= PPN_LV_STEP_SEED;
		action = add_action(plan, PPN_OP_REPLACE, DOMAIN_KIND, name, steps);
		restart_reason(action, d);
	} else if (d->cloud_init || d->seed_missing) {
		steps = PPN_LV_STEP_SEED | PPN_LV_STEP_DEFINE | PPN_LV_STEP_LIVE_META |
			PPN_LV_STEP_START;
		action = add_action(plan, PPN_OP_UPDATE, DOMAIN_KIND, name, steps);
		if (d->cloud_init)
			ppn_action_set_reason(action,
					      "no effect until a new instance (raise "
					      "cloudInit.generation for a fresh first boot)");
		else
			ppn_action_set_reason(action, "seed volume '%s' is missing", d->want->seed);
	} else if (!d->domain->running) {
		action = add_action(plan, PPN_OP_START, DOMAIN_KIND, name, PPN_LV_STEP_START);
		ppn_action_set_reason(action, "stopped without being asked to");
	} else {
		return;
	}
	vm_changes(action, d);
}

static void plan_create(struct ppn_lv_state *state, const struct vm_diff *d,
			const struct ppn_facts *facts, struct ppn_plan *plan)
{
	const struct ppn_lv_want *want = d->want;
	const struct ppn_vm *vm = want->vm;
	struct ppn_action *action =
		add_action(plan, PPN_OP_CREATE, DOMAIN_KIND, vm->name, STEPS_FRESH);
	struct ppn_lv_payload *payload = action->payload;

	ppn_action_add_change(action, "image", NULL, vm->image);
	add_size_change(action, "memory", 0, memory_rounded(vm->memory), false);
	add_number_change(action, "vcpus", 0, vm->vcpus, false);
	add_size_change(action, "disk", 0, vm->disk, false);
	ppn_action_add_change(action, "type", NULL, d->type);
	ppn_action_add_change(action, "instance-id", NULL, want->instance_id);

	if (vm->needs_kvm && !facts->kvm_usable) {
		payload->refusal = "it needs kvm, which this node does not offer";
		ppn_action_set_reason(action, "%s", payload->refusal);
	} else if (ppn_lv_observed_volume(&state->observed, want->overlay) ||
		   ppn_lv_observed_volume(&state->observed, want->seed)) {
		ppn_action_set_reason(action, "replaces the volumes an interrupted create left");
	}
}

/* ---- Images and leftovers ---- */

static bool image_ready(const struct ppn_lv_state *state, const struct ppn_image *image)
{
	_cleanup_free_ char *volume = ppn_lv_base_volume(image);
	_cleanup_free_ char *record = ppn_lv_image_record(image);

	if (!ppn_lv_observed_verified(&state->observed, record))
		return false;
	return !state->observed.volumes_known || ppn_lv_observed_volume(&state->observed, volume);
}

static int image_cmp(const void *a, const void *b)
{
	const struct ppn_image *x = *(const struct ppn_image *const *)a;
	const struct ppn_image *y = *(const struct ppn_image *const *)b;

	return strcmp(x->name, y->name);
}

static void plan_images(struct ppn_lv_state *state, const struct ppn_lv_want *wants, size_t n,
			struct ppn_plan *plan)
{
	_cleanup_free_ const struct ppn_image **images = ppn_xcalloc(n, sizeof(*images));
	char sha[PPN_LV_SHA_HEX];
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (wants[i].image)
			images[count++] = wants[i].image;
	if (count > 0)
		qsort(images, count, sizeof(*images), image_cmp);

	for (size_t i = 0; i < count; i++) {
		struct ppn_action *action;

		if ((i > 0 && images[i] == images[i - 1]) || image_ready(state, images[i]))
			continue;
		action = add_action(plan, PPN_OP_CREATE, IMAGE_KIND, images[i]->name, 0);
		ppn_lv_hex(images[i]->sha256, PPN_SHA256_LEN, sha);
		ppn_action_add_change(action, "source", NULL, images[i]->source);
		ppn_action_add_change(action, "format", NULL,
				      images[i]->format == PPN_IMAGE_QCOW2 ? "qcow2" : "raw");
		ppn_action_add_change(action, "sha256", NULL, sha);
	}
}

static void plan_deletes(struct ppn_lv_state *state, const struct ppn_lv_want *wants, size_t n,
			 struct ppn_plan *plan)
{
	for (size_t i = 0; i < state->observed.n_domains; i++) {
		const struct ppn_lv_domain *dom = &state->observed.domains[i];
		struct ppn_action *action;
		char memory[32];

		if (ppn_lv_wants_find(wants, n, dom->meta.vm))
			continue;
		action = add_action(plan, PPN_OP_DELETE, DOMAIN_KIND, dom->meta.vm, STEPS_DELETE);
		ppn_action_set_reason(action, "not placed on this node");
		ppn_lv_format_size(dom->memory, memory);
		ppn_action_add_change(action, "memory", memory, NULL);
		ppn_action_add_change(action, "instance-id", dom->meta.instance_id, NULL);
	}
}

static void plan_leftovers(struct ppn_lv_state *state, const struct ppn_lv_want *wants, size_t n,
			   struct ppn_plan *plan)
{
	for (size_t i = 0; i < state->observed.n_volumes; i++) {
		const char *volume = state->observed.volumes[i];
		_cleanup_free_ char *vm = ppn_lv_volume_vm(volume);
		struct ppn_action *action;

		if (!vm || ppn_lv_observed_domain(&state->observed, vm) ||
		    ppn_lv_wants_find(wants, n, vm))
			continue;
		action = add_action(plan, PPN_OP_DELETE, VOLUME_KIND, volume, 0);
		ppn_action_set_reason(action,
				      "left by VM '%s', which has no domain and is not "
				      "placed on this node",
				      vm);
	}
}

static void plan_notes(struct ppn_lv_state *state, const struct ppn_facts *facts,
		       struct ppn_plan *plan)
{
	ppn_plan_add_note(plan, "libvirt: '%s', storage pool '%s' at '%s'", state->uri,
			  state->pool_name, state->pool_dir);
	if (state->facts_override)
		ppn_plan_add_note(plan, "facts overridden by %s (simulation)",
				  state->facts_override);
	ppn_plan_add_note(plan, "libvirt: new domains are of type '%s' (KVM %s: %s)",
			  facts->kvm_usable ? "kvm" : "qemu",
			  facts->kvm_usable ? "usable" : "not usable",
			  state->override_kvm ? "set by the facts override"
			  : state->kvm_reason ? state->kvm_reason
					      : "unknown");
}

int ppn_lv_plan(struct ppn_lv_state *state, const struct ppn_desired *desired,
		struct ppn_plan *plan)
{
	const struct ppn_fleet *fleet = desired ? desired->fleet : NULL;
	struct ppn_lv_want *wants;
	struct ppn_facts facts;
	size_t n;

	/* Without a fleet or a node name every domain would look unwanted: plan nothing. */
	if (!fleet || !state->node) {
		lv_err(state, "libvirt/connection '%s': cannot plan without %s", state->uri,
		       fleet ? "this node's name" : "a fleet");
		return -EINVAL;
	}
	ppn_lv_facts(state, &facts);
	plan_notes(state, &facts, plan);
	ppn_lv_wants(fleet, state->node, &wants, &n);

	plan_deletes(state, wants, n, plan);
	plan_images(state, wants, n, plan);
	for (size_t i = 0; i < n; i++) {
		struct vm_diff d = {
			.want = &wants[i],
			.domain = ppn_lv_observed_domain(&state->observed, wants[i].vm->name),
			.type = facts.kvm_usable ? "kvm" : "qemu",
		};

		if (d.domain)
			plan_existing(state, &d, plan);
		else
			plan_create(state, &d, &facts, plan);
	}
	plan_leftovers(state, wants, n, plan);

	ppn_lv_wants_free(wants, n);
	return 0;
}
