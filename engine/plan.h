/* SPDX-License-Identifier: MIT */
#ifndef PPN_PLAN_H
#define PPN_PLAN_H

/*
 * A plan: the ordered actions that turn what a node has into what the manifests say, each
 * with the fields that differ and, for a replace, why. Plugins append actions; the engine
 * renders the plan for people (text) or programs (JSON, see schemas/plan.schema.json) and, when
 * not in a dry run, hands each action back to the plugin that made it.
 */

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

enum ppn_op {
	PPN_OP_CREATE,  /* "+" */
	PPN_OP_UPDATE,  /* "~" changed in place, old -> new */
	PPN_OP_REPLACE, /* "!" destroyed and created again, with a reason */
	PPN_OP_DELETE,  /* "-" */
	PPN_OP_START,   /* ">" exists but stopped without being asked to */
	PPN_OP_COUNT,
};

/* One field of an action. A NULL value means absent: old is NULL on create, new on delete. */
struct ppn_change {
	char *field;
	char *old_value;
	char *new_value;
};

struct ppn_action {
	enum ppn_op op;
	char *kind;   /* "<plugin>/<resource>", such as "wireguard/peer" */
	char *name;   /* the resource's name, such as a peer's manifest name or an address */
	char *reason; /* why: required for replace, optional for the others; NULL when none */
	struct ppn_change *changes;
	size_t n_changes;
	size_t cap_changes;

	int owner;     /* index of the plugin that made the action; set by the engine */
	void *payload; /* what the owner needs to apply it; owned by the action */
	void (*payload_free)(void *payload);
};

struct ppn_plan {
	char *node;
	char *commit; /* full hex id of the commit the desired state came from; NULL if none */
	char *ref;
	char **notes; /* context lines printed before the actions, such as the backend in use */
	size_t n_notes;
	size_t cap_notes;
	struct ppn_action *actions;
	size_t n_actions;
	size_t cap_actions;
};

void ppn_plan_init(struct ppn_plan *plan);
void ppn_plan_release(struct ppn_plan *plan);

/* Appends an action and returns it (borrowed; valid until the next append). */
struct ppn_action *ppn_plan_add(struct ppn_plan *plan, enum ppn_op op, const char *kind,
				const char *name);
void ppn_action_set_reason(struct ppn_action *action, const char *fmt, ...) _printf_(2, 3);
void ppn_action_add_change(struct ppn_action *action, const char *field, const char *old_value,
			   const char *new_value);
void ppn_plan_add_note(struct ppn_plan *plan, const char *fmt, ...) _printf_(2, 3);

/*
 * Frees every action's payload now, leaving the rest of the plan. A payload's free function
 * may live in a plugin's module: call this before the module is unloaded.
 */
void ppn_plan_drop_payloads(struct ppn_plan *plan);

/* Number of actions with this op. */
size_t ppn_plan_count(const struct ppn_plan *plan, enum ppn_op op);
bool ppn_plan_is_empty(const struct ppn_plan *plan);

const char *ppn_op_name(enum ppn_op op);
char ppn_op_symbol(enum ppn_op op);

/* Renderers. Both return 0, or -errno when writing failed. */
int ppn_plan_render_text(const struct ppn_plan *plan, FILE *out);
int ppn_plan_render_json(const struct ppn_plan *plan, FILE *out);

#endif
