/* SPDX-License-Identifier: MIT */
#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SHORT_COMMIT_LEN 12

void ppn_plan_init(struct ppn_plan *plan)
{
	*plan = (struct ppn_plan){0};
}

static void action_drop_payload(struct ppn_action *action)
{
	if (action->payload && action->payload_free)
		action->payload_free(action->payload);
	action->payload = NULL;
	action->payload_free = NULL;
}

static void action_release(struct ppn_action *action)
{
	for (size_t i = 0; i < action->n_changes; i++) {
		free(action->changes[i].field);
		free(action->changes[i].old_value);
		free(action->changes[i].new_value);
	}
	free(action->changes);
	free(action->kind);
	free(action->name);
	free(action->reason);
	action_drop_payload(action);
}

void ppn_plan_drop_payloads(struct ppn_plan *plan)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		action_drop_payload(&plan->actions[i]);
}

void ppn_plan_release(struct ppn_plan *plan)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		action_release(&plan->actions[i]);
	free(plan->actions);
	for (size_t i = 0; i < plan->n_notes; i++)
		free(plan->notes[i]);
	free(plan->notes);
	free(plan->node);
	free(plan->commit);
	free(plan->ref);
	*plan = (struct ppn_plan){0};
}

struct ppn_action *ppn_plan_add(struct ppn_plan *plan, enum ppn_op op, const char *kind,
				const char *name)
{
	struct ppn_action *action;

	ppn_grow(&plan->actions, &plan->cap_actions, plan->n_actions + 1, sizeof(*plan->actions));
	action = &plan->actions[plan->n_actions++];
	*action = (struct ppn_action){
		.op = op,
		.kind = ppn_xstrdup(kind),
		.name = ppn_xstrdup(name),
	};
	return action;
}

void ppn_action_set_reason(struct ppn_action *action, const char *fmt, ...)
{
	va_list args;

	free(action->reason);
	va_start(args, fmt);
	action->reason = ppn_xvasprintf(fmt, args);
	va_end(args);
}

void ppn_action_add_change(struct ppn_action *action, const char *field, const char *old_value,
			   const char *new_value)
{
	struct ppn_change *change;

	ppn_grow(&action->changes, &action->cap_changes, action->n_changes + 1,
		 sizeof(*action->changes));
	change = &action->changes[action->n_changes++];
	*change = (struct ppn_change){
		.field = ppn_xstrdup(field),
		.old_value = old_value ? ppn_xstrdup(old_value) : NULL,
		.new_value = new_value ? ppn_xstrdup(new_value) : NULL,
	};
}

void ppn_plan_add_note(struct ppn_plan *plan, const char *fmt, ...)
{
	va_list args;

	ppn_grow(&plan->notes, &plan->cap_notes, plan->n_notes + 1, sizeof(*plan->notes));
	va_start(args, fmt);
	plan->notes[plan->n_notes++] = ppn_xvasprintf(fmt, args);
	va_end(args);
}

size_t ppn_plan_count(const struct ppn_plan *plan, enum ppn_op op)
{
	size_t count = 0;

	for (size_t i = 0; i < plan->n_actions; i++)
		if (plan->actions[i].op == op)
			count++;
	return count;
}

bool ppn_plan_is_empty(const struct ppn_plan *plan)
{
	return plan->n_actions == 0;
}

const char *ppn_op_name(enum ppn_op op)
{
	static const char *const names[PPN_OP_COUNT] = {
		[PPN_OP_CREATE] = "create",   [PPN_OP_UPDATE] = "update",
		[PPN_OP_REPLACE] = "replace", [PPN_OP_DELETE] = "delete",
		[PPN_OP_START] = "start",
	};

	return (unsigned)op < PPN_OP_COUNT ? names[op] : "?";
}

char ppn_op_symbol(enum ppn_op op)
{
	static const char symbols[PPN_OP_COUNT] = {
		[PPN_OP_CREATE] = '+', [PPN_OP_UPDATE] = '~', [PPN_OP_REPLACE] = '!',
		[PPN_OP_DELETE] = '-', [PPN_OP_START] = '>',
	};

	return (unsigned)op < PPN_OP_COUNT ? symbols[op] : '?';
}

/* The whole result of a series of stdio writes: errors stick to the stream until checked. */
static int stream_result(FILE *out)
{
	errno = 0;
	if (fflush(out) == EOF || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- Text ---- */

static void text_header(const struct ppn_plan *plan, FILE *out)
{
	fprintf(out, "Plan for node '%s'", plan->node ? plan->node : "");
	if (plan->ref)
		fprintf(out, " from '%s'", plan->ref);
	if (plan->commit)
		fprintf(out, " at commit %.*s", SHORT_COMMIT_LEN, plan->commit);
	fputc('\n', out);

	for (size_t i = 0; i < plan->n_notes; i++)
		fprintf(out, "%s\n", plan->notes[i]);
	fputc('\n', out);
}

/* A create shows what will be, a delete what was; everything else shows both sides. */
static void text_change(enum ppn_op op, const struct ppn_change *change, FILE *out)
{
	const char *old_value = change->old_value ? change->old_value : "(none)";
	const char *new_value = change->new_value ? change->new_value : "(none)";

	if (op == PPN_OP_CREATE)
		fprintf(out, "    %s: %s\n", change->field, new_value);
	else if (op == PPN_OP_DELETE)
		fprintf(out, "    %s: %s\n", change->field, old_value);
	else
		fprintf(out, "    %s: %s -> %s\n", change->field, old_value, new_value);
}

static void text_action(const struct ppn_action *action, FILE *out)
{
	fprintf(out, "%c %s '%s'", ppn_op_symbol(action->op), action->kind, action->name);
	if (action->reason)
		fprintf(out, " (%s)", action->reason);
	fputc('\n', out);

	for (size_t i = 0; i < action->n_changes; i++)
		text_change(action->op, &action->changes[i], out);
}

static void text_summary(const struct ppn_plan *plan, FILE *out)
{
	fprintf(out,
		"\nPlan: %zu to create, %zu to update, %zu to replace, %zu to delete, "
		"%zu to start.\n",
		ppn_plan_count(plan, PPN_OP_CREATE), ppn_plan_count(plan, PPN_OP_UPDATE),
		ppn_plan_count(plan, PPN_OP_REPLACE), ppn_plan_count(plan, PPN_OP_DELETE),
		ppn_plan_count(plan, PPN_OP_START));
}

int ppn_plan_render_text(const struct ppn_plan *plan, FILE *out)
{
	text_header(plan, out);

	if (ppn_plan_is_empty(plan)) {
		fprintf(out, "No changes. Node '%s' matches commit %.*s.\n",
			plan->node ? plan->node : "", SHORT_COMMIT_LEN,
			plan->commit ? plan->commit : "(none)");
		return stream_result(out);
	}

	for (size_t i = 0; i < plan->n_actions; i++)
		text_action(&plan->actions[i], out);
	text_summary(plan, out);
	return stream_result(out);
}

/* ---- JSON ---- */

/*
 * A JSON string, or null for NULL. jansson refuses bytes that are not UTF-8; manifests are
 * checked for that on load, but observed values come from the system, so such bytes are shown
 * as '?' rather than dropping the whole value.
 */
static json_t *json_text(const char *text)
{
	_cleanup_free_ char *copy = NULL;
	json_t *value;

	if (!text)
		return json_null();
	value = json_string(text);
	if (value)
		return value;

	copy = ppn_xstrdup(text);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

static json_t *json_notes(const struct ppn_plan *plan)
{
	json_t *notes = json_array();

	for (size_t i = 0; i < plan->n_notes; i++)
		json_array_append_new(notes, json_text(plan->notes[i]));
	return notes;
}

static json_t *json_change(const struct ppn_change *change)
{
	json_t *object = json_object();

	json_object_set_new(object, "field", json_text(change->field));
	json_object_set_new(object, "old", json_text(change->old_value));
	json_object_set_new(object, "new", json_text(change->new_value));
	return object;
}

static json_t *json_action(const struct ppn_action *action)
{
	json_t *object = json_object();
	json_t *changes = json_array();

	for (size_t i = 0; i < action->n_changes; i++)
		json_array_append_new(changes, json_change(&action->changes[i]));

	json_object_set_new(object, "op", json_string(ppn_op_name(action->op)));
	json_object_set_new(object, "kind", json_text(action->kind));
	json_object_set_new(object, "name", json_text(action->name));
	json_object_set_new(object, "reason", json_text(action->reason));
	json_object_set_new(object, "changes", changes);
	return object;
}

static json_t *json_summary(const struct ppn_plan *plan)
{
	json_t *object = json_object();

	for (enum ppn_op op = 0; op < PPN_OP_COUNT; op++)
		json_object_set_new(object, ppn_op_name(op),
				    json_integer((json_int_t)ppn_plan_count(plan, op)));
	json_object_set_new(object, "total", json_integer((json_int_t)plan->n_actions));
	return object;
}

/* jansson keeps an object's keys in insertion order, which is the order of the contract. */
static json_t *json_plan(const struct ppn_plan *plan)
{
	json_t *root = json_object();
	json_t *actions = json_array();

	for (size_t i = 0; i < plan->n_actions; i++)
		json_array_append_new(actions, json_action(&plan->actions[i]));

	json_object_set_new(root, "formatVersion", json_integer(1));
	json_object_set_new(root, "node", json_text(plan->node ? plan->node : ""));
	json_object_set_new(root, "ref", json_text(plan->ref));
	json_object_set_new(root, "commit", json_text(plan->commit));
	json_object_set_new(root, "notes", json_notes(plan));
	json_object_set_new(root, "actions", actions);
	json_object_set_new(root, "summary", json_summary(plan));
	return root;
}

int ppn_plan_render_json(const struct ppn_plan *plan, FILE *out)
{
	json_t *root = json_plan(plan);
	int r;

	if (!root)
		return -ENOMEM;
	r = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (r < 0)
		return stream_result(out) ?: -EIO;
	fputc('\n', out);
	return stream_result(out);
}
