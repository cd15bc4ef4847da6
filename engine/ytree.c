/* SPDX-License-Identifier: MIT */
#include "ytree.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yaml.h>

#include "fileset.h"
#include "scalar.h"
#include "util.h"

/* Deep enough for any manifest; a deeper file is refused rather than walked recursively. */
#define MAX_DEPTH 64

/*
 * A mapping with more keys than this is checked for repeated keys by sorting them; a smaller
 * one, such as any manifest's, by comparing each key with those before it.
 */
#define SORT_KEYS_ABOVE 16

/* A parsed file: every node and text of the tree lives in the arena, the root first. */
struct tree {
	struct ppn_arena arena;
	struct ppn_ynode root;
};

/* The first problem of a file: only that one is reported. */
struct problem {
	bool found;
	unsigned line;
	unsigned column;
	char *message;
};

static bool before(unsigned line, unsigned column, const struct problem *problem)
{
	return !problem->found || line < problem->line ||
	       (line == problem->line && column < problem->column);
}

/* Keeps the problem only when it comes before the one already kept. */
static void problem_set(struct problem *problem, unsigned line, unsigned column, char *message)
{
	if (!before(line, column, problem)) {
		free(message);
		return;
	}
	free(problem->message);
	*problem = (struct problem){true, line, column, message};
}

/* Bytes as libyaml counts them: lines, and columns in characters, after a byte order mark. */
struct cursor {
	size_t offset;
	unsigned line;
	unsigned column;
};

static void cursor_start(struct cursor *cursor, const unsigned char *data, size_t size)
{
	*cursor = (struct cursor){0, 1, 1};
	if (size >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf)
		cursor->offset = 3;
}

/* Decodes one UTF-8 character; returns its length, or 0 when the bytes are not UTF-8. */
static size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *out)
{
	size_t len;
	uint32_t value, min;

	if (p[0] < 0x80) {
		*out = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, value = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, value = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, value = p[0] & 0x07, min = 0x10000;
	else
		return 0;

	if (len > left)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		value = value << 6 | (p[i] & 0x3f);
	}
	if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
		return 0;
	*out = value;
	return len;
}

static bool is_break(uint32_t c)
{
	return c == '\n' || c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

/* Moves past one character of len bytes; CR LF is one line break, as in libyaml. */
static void cursor_advance(struct cursor *cursor, const unsigned char *data, size_t size,
			   uint32_t c, size_t len)
{
	cursor->offset += len;
	if (c == '\r' && cursor->offset < size && data[cursor->offset] == '\n')
		cursor->offset++;
	if (is_break(c)) {
		cursor->line++;
		cursor->column = 1;
	} else {
		cursor->column++;
	}
}

/* Walks to offset without judging the bytes: each undecodable byte counts as a character. */
static void cursor_seek(struct cursor *cursor, const unsigned char *data, size_t size,
			size_t offset)
{
	while (cursor->offset < offset && cursor->offset < size) {
		uint32_t c;
		size_t len = utf8_decode(data + cursor->offset, size - cursor->offset, &c);

		cursor_advance(cursor, data, size, len ? c : 0xfffd, len ? len : 1);
	}
}

/* The characters libyaml reads; any other is a control character. */
static bool is_printable(uint32_t c)
{
	return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0x7e) || c == 0x85 ||
	       (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
}

/* What the byte checks refuse at a character, or NULL when it is fine. */
static char *judge_char(const unsigned char *p, size_t len, uint32_t c)
{
	if (len == 0)
		return ppn_xasprintf("expected UTF-8 text, found the byte 0x%02x", p[0]);
	if (c == 0)
		return ppn_xstrdup("expected UTF-8 text, found a NUL byte");
	if (c == '\t')
		return ppn_xstrdup("expected spaces, found a tab character (tabs are not allowed)");
	if (!is_printable(c))
		return ppn_xasprintf("expected printable text, found the control character U+%04X",
				     (unsigned)c);
	return NULL;
}

/*
 * What libyaml would not report with a useful position (or at all): the size limit, bytes
 * that are not UTF-8, NUL, tabs anywhere, control characters.
 */
static void prescan(const unsigned char *data, size_t size, struct problem *problem)
{
	struct cursor cursor;

	cursor_start(&cursor, data, size);
	if (size > PPN_MANIFEST_MAX_SIZE) {
		cursor_seek(&cursor, data, size, PPN_MANIFEST_MAX_SIZE);
		problem_set(problem, cursor.line, cursor.column,
			    ppn_xasprintf("expected at most 1 MiB (%d bytes), the file is longer",
					  PPN_MANIFEST_MAX_SIZE));
		return;
	}

	while (cursor.offset < size) {
		uint32_t c = 0;
		size_t len;
		char *message;

		/* Nearly every byte of a manifest is printable ASCII or a line feed: no decoding.
		 */
		if (data[cursor.offset] >= 0x20 && data[cursor.offset] <= 0x7e) {
			cursor.offset++;
			cursor.column++;
			continue;
		}
		if (data[cursor.offset] == '\n') {
			cursor.offset++;
			cursor.line++;
			cursor.column = 1;
			continue;
		}

		len = utf8_decode(data + cursor.offset, size - cursor.offset, &c);
		message = judge_char(data + cursor.offset, len, c);

		if (message) {
			problem_set(problem, cursor.line, cursor.column, message);
			return;
		}
		cursor_advance(&cursor, data, size, c, len);
	}
}

struct builder {
	struct tree *tree;
	struct ppn_ynode *root; /* &tree->root once the document has a node */
	struct ppn_ynode *stack[MAX_DEPTH];
	size_t depth;
	unsigned documents;
	struct problem *problem;
};

static void node_at(struct ppn_ynode *node, const yaml_mark_t *mark)
{
	node->line = (unsigned)mark->line + 1;
	node->column = (unsigned)mark->column + 1;
}

static void problem_at(struct builder *builder, const yaml_mark_t *mark, char *message)
{
	problem_set(builder->problem, (unsigned)mark->line + 1, (unsigned)mark->column + 1,
		    message);
}

/* The tag as the user could have written it: "!!str" rather than "tag:yaml.org,2002:str". */
static char *tag_text(const yaml_char_t *tag)
{
	const char *core = "tag:yaml.org,2002:";

	if (strncmp((const char *)tag, core, strlen(core)) == 0)
		return ppn_xasprintf("'!!%s'", (const char *)tag + strlen(core));
	return ppn_scalar_quote((const char *)tag, strlen((const char *)tag));
}

/* Anchors and tags make a value mean something else than what is written: both are refused. */
static int check_decorations(struct builder *builder, const yaml_event_t *event,
			     const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor) {
		problem_at(builder, &event->start_mark,
			   ppn_xasprintf("expected a value without anchor, found the anchor '&%s' "
					 "(anchors and aliases are not allowed)",
					 (const char *)anchor));
		return -EINVAL;
	}
	if (tag) {
		_cleanup_free_ char *text = tag_text(tag);

		problem_at(builder, &event->start_mark,
			   ppn_xasprintf("expected a value without tag, found the tag %s "
					 "(tags are not allowed)",
					 text));
		return -EINVAL;
	}
	return 0;
}

/* The first node of the document is the root, which the tree holds in place. */
static struct ppn_ynode *node_new(struct builder *builder, enum ppn_ynode_kind kind,
				  const yaml_event_t *event)
{
	struct ppn_ynode *node = builder->depth == 0
					 ? &builder->tree->root
					 : ppn_arena_alloc(&builder->tree->arena, sizeof(*node));

	*node = (struct ppn_ynode){.kind = kind};
	node_at(node, &event->start_mark);
	return node;
}

static void mapping_add(struct builder *builder, struct ppn_ynode *mapping, struct ppn_ynode *node)
{
	if (mapping->count > 0 && !mapping->entries[mapping->count - 1].value) {
		mapping->entries[mapping->count - 1].value = node;
		return;
	}
	ppn_arena_grow(&builder->tree->arena, &mapping->entries, &mapping->cap, mapping->count + 1,
		       sizeof(*mapping->entries));
	mapping->entries[mapping->count++] = (struct ppn_yentry){node, NULL};
}

/* Hangs node under the open collection (or makes it the root); the tree owns it from here. */
static int attach(struct builder *builder, struct ppn_ynode *node)
{
	struct ppn_ynode *parent = builder->depth ? builder->stack[builder->depth - 1] : NULL;
	bool is_key;

	if (!parent) {
		builder->root = node;
		return 0;
	}
	if (parent->kind == PPN_YNODE_SEQUENCE) {
		ppn_arena_grow(&builder->tree->arena, &parent->items, &parent->cap,
			       parent->count + 1, sizeof(*parent->items));
		parent->items[parent->count++] = node;
		return 0;
	}

	is_key = parent->count == 0 || parent->entries[parent->count - 1].value;
	mapping_add(builder, parent, node);
	if (is_key && node->kind != PPN_YNODE_SCALAR) {
		problem_set(
			builder->problem, node->line, node->column,
			ppn_xasprintf("expected a plain key, found %s", ppn_ytree_kind_name(node)));
		return -EINVAL;
	}
	return 0;
}

static int on_scalar(struct builder *builder, const yaml_event_t *event)
{
	const typeof(event->data.scalar) *scalar = &event->data.scalar;
	struct ppn_ynode *node;

	if (check_decorations(builder, event, scalar->anchor, scalar->tag) < 0)
		return -EINVAL;

	node = node_new(builder, PPN_YNODE_SCALAR, event);
	node->text = ppn_arena_alloc(&builder->tree->arena, scalar->length + 1);
	memcpy(node->text, scalar->value, scalar->length);
	node->text[scalar->length] = '\0';
	node->len = scalar->length;
	node->plain = scalar->style == YAML_PLAIN_SCALAR_STYLE;
	return attach(builder, node);
}

static int on_collection_start(struct builder *builder, const yaml_event_t *event,
			       enum ppn_ynode_kind kind, const yaml_char_t *anchor,
			       const yaml_char_t *tag)
{
	struct ppn_ynode *node;

	if (check_decorations(builder, event, anchor, tag) < 0)
		return -EINVAL;

	node = node_new(builder, kind, event);
	if (attach(builder, node) < 0)
		return -EINVAL;
	if (builder->depth == MAX_DEPTH) {
		problem_at(builder, &event->start_mark,
			   ppn_xasprintf("expected at most %d levels of nesting, found more",
					 MAX_DEPTH));
		return -EINVAL;
	}
	builder->stack[builder->depth++] = node;
	return 0;
}

static int on_document_start(struct builder *builder, const yaml_event_t *event)
{
	const typeof(event->data.document_start) *start = &event->data.document_start;

	if (++builder->documents > 1) {
		problem_at(builder, &event->start_mark,
			   ppn_xstrdup("expected one YAML document per file, found a second one"));
		return -EINVAL;
	}
	if (start->tag_directives.start != start->tag_directives.end) {
		problem_at(builder, &event->start_mark,
			   ppn_xstrdup("expected no '%TAG' directive (tags are not allowed)"));
		return -EINVAL;
	}
	return 0;
}

static int on_event(struct builder *builder, const yaml_event_t *event)
{
	switch (event->type) {
	case YAML_DOCUMENT_START_EVENT:
		return on_document_start(builder, event);
	case YAML_ALIAS_EVENT:
		problem_at(builder, &event->start_mark,
			   ppn_xasprintf("expected a value, found the alias '*%s' "
					 "(anchors and aliases are not allowed)",
					 (const char *)event->data.alias.anchor));
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		return on_scalar(builder, event);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection_start(builder, event, PPN_YNODE_SEQUENCE,
					   event->data.sequence_start.anchor,
					   event->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return on_collection_start(builder, event, PPN_YNODE_MAPPING,
					   event->data.mapping_start.anchor,
					   event->data.mapping_start.tag);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		builder->depth--;
		return 0;
	default:
		return 0;
	}
}

/* Turns libyaml's error into the file's problem, with a position in every case. */
static void libyaml_problem(struct builder *builder, const yaml_parser_t *parser,
			    const unsigned char *data, size_t size)
{
	_cleanup_free_ char *context = NULL;
	struct cursor cursor;

	if (parser->error == YAML_READER_ERROR) {
		/* The reader knows a byte offset only. */
		cursor_start(&cursor, data, size);
		cursor_seek(&cursor, data, size, parser->problem_offset);
		problem_set(builder->problem, cursor.line, cursor.column,
			    ppn_xasprintf("invalid YAML: %s", parser->problem));
		return;
	}
	if (parser->error == YAML_MEMORY_ERROR) {
		problem_set(builder->problem, 1, 1, ppn_xstrdup("invalid YAML: out of memory"));
		return;
	}

	if (parser->context)
		context = ppn_xasprintf(" (%s at %zu:%zu)", parser->context,
					parser->context_mark.line + 1,
					parser->context_mark.column + 1);
	problem_at(builder, &parser->problem_mark,
		   ppn_xasprintf("invalid YAML: %s%s", parser->problem ? parser->problem : "error",
				 context ? context : ""));
}

/* Feeds libyaml's events into the builder until the end, the first problem or an error. */
static void build(struct builder *builder, const unsigned char *data, size_t size)
{
	yaml_parser_t parser;
	bool done = false;

	yaml_parser_initialize(&parser);
	/* libyaml detects the encoding itself and skips a byte order mark without counting it. */
	yaml_parser_set_input_string(&parser, data, size);

	while (!done) {
		yaml_event_t event;

		if (!yaml_parser_parse(&parser, &event)) {
			libyaml_problem(builder, &parser, data, size);
			break;
		}
		done = event.type == YAML_STREAM_END_EVENT || on_event(builder, &event) < 0;
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
}

static int key_cmp(const void *a, const void *b)
{
	const struct ppn_ynode *x = *(const struct ppn_ynode *const *)a;
	const struct ppn_ynode *y = *(const struct ppn_ynode *const *)b;
	int cmp;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	cmp = memcmp(x->text, y->text, x->len);
	if (cmp)
		return cmp;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->column < y->column ? -1 : (x->column > y->column);
}

static bool same_key(const struct ppn_ynode *x, const struct ppn_ynode *y)
{
	return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
}

static void report_repeated_key(const struct ppn_ynode *key, const struct ppn_ynode *first,
				struct problem *problem)
{
	_cleanup_free_ char *text = NULL;

	if (!before(key->line, key->column, problem))
		return;
	text = ppn_scalar_quote(key->text, key->len);
	problem_set(problem, key->line, key->column,
		    ppn_xasprintf("expected each key once, found %s again (first at %u:%u)", text,
				  first->line, first->column));
}

/*
 * Sorting the keys puts each repeated key right after its first use, so one pass finds every
 * repetition in O(n log n) even for a huge mapping.
 */
static void sort_duplicate_keys(const struct ppn_ynode *mapping, struct problem *problem)
{
	_cleanup_free_ struct ppn_ynode **keys = ppn_xcalloc(mapping->count, sizeof(*keys));

	size_t count = 0;

	/* A key that is no scalar was refused already. */
	for (size_t i = 0; i < mapping->count; i++)
		if (mapping->entries[i].key->kind == PPN_YNODE_SCALAR)
			keys[count++] = mapping->entries[i].key;
	qsort(keys, count, sizeof(*keys), key_cmp);

	for (size_t i = 1; i < count; i++) {
		if (!same_key(keys[i - 1], keys[i]) || (i >= 2 && same_key(keys[i - 2], keys[i])))
			continue;
		report_repeated_key(keys[i], keys[i - 1], problem);
	}
}

/*
 * Keys come in document order, so the first key that repeats an earlier one is the earliest
 * repetition of the mapping: the one the sorting pass would keep as well.
 */
static void scan_duplicate_keys(const struct ppn_ynode *mapping, struct problem *problem)
{
	for (size_t i = 1; i < mapping->count; i++) {
		const struct ppn_ynode *key = mapping->entries[i].key;

		/* A key that is no scalar was refused already. */
		if (key->kind != PPN_YNODE_SCALAR)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct ppn_ynode *earlier = mapping->entries[j].key;

			if (earlier->kind == PPN_YNODE_SCALAR && same_key(earlier, key)) {
				report_repeated_key(key, earlier, problem);
				return;
			}
		}
	}
}

/* Checks the whole tree, even a partial one after an error: a repeated key may come first. */
static void check_keys(const struct ppn_ynode *node, struct problem *problem)
{
	if (!node)
		return;
	if (node->kind == PPN_YNODE_MAPPING && node->count > SORT_KEYS_ABOVE)
		sort_duplicate_keys(node, problem);
	else if (node->kind == PPN_YNODE_MAPPING)
		scan_duplicate_keys(node, problem);
	for (size_t i = 0; node->kind == PPN_YNODE_MAPPING && i < node->count; i++) {
		check_keys(node->entries[i].key, problem);
		check_keys(node->entries[i].value, problem);
	}
	for (size_t i = 0; node->kind == PPN_YNODE_SEQUENCE && i < node->count; i++)
		check_keys(node->items[i], problem);
}

/* A tree in an arena of its own, so that one call frees the whole file. */
static struct tree *tree_new(void)
{
	struct ppn_arena arena = {0};
	struct tree *tree = ppn_arena_alloc(&arena, sizeof(*tree));

	tree->arena = arena;
	return tree;
}

static void tree_free(struct tree *tree)
{
	/* The arena lives in its own first block: release a copy, not what is being freed. */
	struct ppn_arena arena = tree ? tree->arena : (struct ppn_arena){0};

	ppn_arena_release(&arena);
}

int ppn_ytree_parse(const char *data, size_t size, const char *path, struct ppn_ynode **out,
		    struct ppn_diags *diags)
{
	const unsigned char *bytes = (const unsigned char *)data;
	struct problem problem = {0};
	struct builder builder = {.problem = &problem};

	prescan(bytes, size, &problem);
	if (!problem.found) {
		builder.tree = tree_new();
		build(&builder, bytes, size);
		check_keys(builder.root, &problem);
	}

	if (problem.found) {
		ppn_diags_add(diags, path, problem.line, problem.column, "%s", problem.message);
		free(problem.message);
		tree_free(builder.tree);
		return -EINVAL;
	}
	if (!builder.root)
		tree_free(builder.tree);
	*out = builder.root;
	return 0;
}

void ppn_ytree_free(struct ppn_ynode *root)
{
	if (root)
		tree_free((struct tree *)((char *)root - offsetof(struct tree, root)));
}

/* --- parsing ahead ------------------------------------------------------------------- */

/*
 * Files parsed before the caller takes them: bounds the memory held. The helper waits when it
 * is this far ahead, until the caller has taken half of them, so that it is not woken for
 * every file.
 */
#define AHEAD_MAX 64

/* One file of the set, as whoever claimed it left it. */
struct ahead_file {
	bool done;   /* claimed and finished with */
	bool parsed; /* and parsed: r, root and diags are ppn_ytree_parse()'s */
	int r;
	struct ppn_ynode *root;
	struct ppn_diags diags;
};

struct ppn_ytree_ahead {
	const struct ppn_fileset *set;
	bool (*wanted)(const struct ppn_file *file);
	struct ahead_file *files;
	bool has_helper;
	pthread_t helper;

	/* Everything below, and the files' done, parsed, r and root, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t done; /* a file was finished with */
	pthread_cond_t room; /* the helper may go on: the caller took files, or it must stop */
	size_t next;         /* the first file nobody has claimed */
	size_t reading;      /* the file the caller takes, or took last */
	bool stop;
};

/* Claims the next file, if it is not too far ahead of the caller. Under lock. */
static bool ahead_claim(struct ppn_ytree_ahead *ahead, size_t *index)
{
	if (ahead->next >= ahead->set->count || ahead->next >= ahead->reading + AHEAD_MAX)
		return false;
	*index = ahead->next++;
	return true;
}

/* Parses a claimed file into its place (without the lock held on entry or on return). */
static void ahead_parse(struct ppn_ytree_ahead *ahead, size_t index)
{
	const struct ppn_file *file = &ahead->set->files[index];
	struct ahead_file *result = &ahead->files[index];
	bool parse = ahead->wanted(file);
	struct ppn_ynode *root = NULL;
	struct ppn_diags diags = {0};
	int r = 0;

	/* The diagnostic's path is the caller's to choose: it is replaced on take. */
	if (parse)
		r = ppn_ytree_parse(file->data, file->size, file->display, &root, &diags);

	pthread_mutex_lock(&ahead->lock);
	*result = (struct ahead_file){true, parse, r, root, diags};
	pthread_cond_broadcast(&ahead->done);
	pthread_mutex_unlock(&ahead->lock);
}

static void *ahead_helper(void *arg)
{
	struct ppn_ytree_ahead *ahead = arg;
	size_t index;

	pthread_mutex_lock(&ahead->lock);
	while (!ahead->stop && ahead->next < ahead->set->count) {
		if (!ahead_claim(ahead, &index)) {
			pthread_cond_wait(&ahead->room, &ahead->lock);
			continue;
		}
		pthread_mutex_unlock(&ahead->lock);
		ahead_parse(ahead, index);
		pthread_mutex_lock(&ahead->lock);
	}
	pthread_mutex_unlock(&ahead->lock);
	return NULL;
}

struct ppn_ytree_ahead *ppn_ytree_ahead_new(const struct ppn_fileset *set,
					    bool (*wanted)(const struct ppn_file *file))
{
	struct ppn_ytree_ahead *ahead = ppn_xcalloc(1, sizeof(*ahead));

	ahead->set = set;
	ahead->wanted = wanted;
	ahead->files = ppn_xcalloc(set->count, sizeof(*ahead->files));
	pthread_mutex_init(&ahead->lock, NULL);
	pthread_cond_init(&ahead->done, NULL);
	pthread_cond_init(&ahead->room, NULL);
	ahead->has_helper = set->count > 1 && ppn_thread_start(&ahead->helper, ahead_helper, ahead);
	return ahead;
}

/*
 * Waits until the file the caller takes is finished with, parsing other files meanwhile rather
 * than idling. Returns whether the caller must parse the file itself: nobody claimed it yet.
 * Under lock.
 */
static bool ahead_wait(struct ppn_ytree_ahead *ahead, size_t index)
{
	size_t other;

	ahead->reading = index;
	if (ahead->next + AHEAD_MAX / 2 <= index + AHEAD_MAX)
		pthread_cond_signal(&ahead->room);
	if (ahead->next <= index) {
		ahead->next = index + 1;
		return true;
	}

	while (!ahead->files[index].done) {
		if (!ahead_claim(ahead, &other)) {
			pthread_cond_wait(&ahead->done, &ahead->lock);
			continue;
		}
		pthread_mutex_unlock(&ahead->lock);
		ahead_parse(ahead, other);
		pthread_mutex_lock(&ahead->lock);
	}
	return false;
}

int ppn_ytree_ahead_take(struct ppn_ytree_ahead *ahead, size_t index, const char *path,
			 struct ppn_ynode **out, struct ppn_diags *diags)
{
	const struct ppn_file *file = &ahead->set->files[index];
	struct ahead_file *result = &ahead->files[index];
	bool mine;
	int r;

	pthread_mutex_lock(&ahead->lock);
	mine = ahead_wait(ahead, index);
	pthread_mutex_unlock(&ahead->lock);

	if (mine || !result->parsed)
		return ppn_ytree_parse(file->data, file->size, path, out, diags);

	r = result->r;
	for (size_t i = 0; i < result->diags.count; i++)
		ppn_diags_add(diags, path, result->diags.items[i].line,
			      result->diags.items[i].column, "%s", result->diags.items[i].message);
	ppn_diags_release(&result->diags);
	if (r == 0)
		*out = PPN_TAKE_PTR(result->root);
	return r;
}

void ppn_ytree_ahead_free(struct ppn_ytree_ahead *ahead)
{
	if (!ahead)
		return;

	if (ahead->has_helper) {
		pthread_mutex_lock(&ahead->lock);
		ahead->stop = true;
		pthread_cond_signal(&ahead->room);
		pthread_mutex_unlock(&ahead->lock);
		pthread_join(ahead->helper, NULL);
	}

	/* Files parsed ahead that were never taken. */
	for (size_t i = 0; i < ahead->set->count; i++) {
		ppn_ytree_free(ahead->files[i].root);
		ppn_diags_release(&ahead->files[i].diags);
	}
	pthread_cond_destroy(&ahead->room);
	pthread_cond_destroy(&ahead->done);
	pthread_mutex_destroy(&ahead->lock);
	free(ahead->files);
	free(ahead);
}

/* --- reading trees ------------------------------------------------------------------- */

const struct ppn_yentry *ppn_ytree_find(const struct ppn_ynode *node, const char *text)
{
	size_t len = strlen(text);

	if (!node || node->kind != PPN_YNODE_MAPPING)
		return NULL;
	for (size_t i = 0; i < node->count; i++) {
		const struct ppn_ynode *key = node->entries[i].key;

		if (key->len == len && memcmp(key->text, text, len) == 0)
			return &node->entries[i];
	}
	return NULL;
}

const char *ppn_ytree_kind_name(const struct ppn_ynode *node)
{
	switch (node->kind) {
	case PPN_YNODE_MAPPING:
		return "a mapping";
	case PPN_YNODE_SEQUENCE:
		return "a list";
	default:
		return "a scalar";
	}
}
