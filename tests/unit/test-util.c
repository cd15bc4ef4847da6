/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static bool is_aligned(const void *pointer)
{
	return (uintptr_t)pointer % _Alignof(max_align_t) == 0;
}

/* Every allocation is aligned for any type and apart from the others, whatever its size. */
static void test_util_arena_alloc(void **unused)
{
	static const size_t sizes[] = {1, 3, 16, 0, 4000, 100, 70000, 5};
	struct ppn_arena arena = {0};
	unsigned char *pieces[PPN_ARRAY_SIZE(sizes)];

	for (size_t i = 0; i < PPN_ARRAY_SIZE(sizes); i++) {
		pieces[i] = ppn_arena_alloc(&arena, sizes[i]);
		assert_non_null(pieces[i]);
		assert_true(is_aligned(pieces[i]));
		memset(pieces[i], (int)i + 1, sizes[i]);
	}
	for (size_t i = 0; i < PPN_ARRAY_SIZE(sizes); i++)
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(pieces[i][j], i + 1);

	ppn_arena_release(&arena);
	assert_null(arena.block);
}

/* Many small pieces: the arena takes more blocks as it fills and keeps every piece. */
static void test_util_arena_many_blocks(void **unused)
{
	struct ppn_arena arena = {0};
	uint32_t *pieces[20000];

	for (uint32_t i = 0; i < PPN_ARRAY_SIZE(pieces); i++) {
		pieces[i] = ppn_arena_alloc(&arena, sizeof(*pieces[i]));
		*pieces[i] = i;
	}
	for (uint32_t i = 0; i < PPN_ARRAY_SIZE(pieces); i++)
		assert_int_equal(*pieces[i], i);
	ppn_arena_release(&arena);

	/* A released arena is empty and ready for use again. */
	pieces[0] = ppn_arena_alloc(&arena, sizeof(*pieces[0]));
	*pieces[0] = 7;
	assert_int_equal(*pieces[0], 7);
	ppn_arena_release(&arena);
	ppn_arena_release(&arena);
}

/* A growing array keeps its elements and grows geometrically, as with ppn_grow(). */
static void test_util_arena_grow(void **unused)
{
	struct ppn_arena arena = {0};
	size_t *array = NULL, cap = 0, count = 0;

	ppn_arena_grow(&arena, &array, &cap, 0, sizeof(*array));
	assert_null(array);
	assert_int_equal(cap, 0);

	for (size_t i = 0; i < 1000; i++) {
		ppn_arena_grow(&arena, &array, &cap, count + 1, sizeof(*array));
		assert_true(cap >= count + 1);
		array[count++] = i * 3;
	}
	assert_int_equal(cap, 1024);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(array[i], i * 3);

	/* A need within the capacity changes nothing. */
	ppn_arena_grow(&arena, &array, &cap, 10, sizeof(*array));
	assert_int_equal(cap, 1024);
	assert_int_equal(array[999], 999 * 3);
	ppn_arena_release(&arena);
}

static void *report_mask(void *opaque)
{
	sigset_t *mask = opaque;

	pthread_sigmask(SIG_SETMASK, NULL, mask);
	return NULL;
}

/* A helper thread blocks every signal; the caller's mask is as it was. */
static void test_util_thread_start(void **unused)
{
	sigset_t before, after, in_thread;
	pthread_t thread;

	sigemptyset(&in_thread);
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	assert_true(ppn_thread_start(&thread, report_mask, &in_thread));
	assert_int_equal(pthread_join(thread, NULL), 0);
	pthread_sigmask(SIG_SETMASK, NULL, &after);

	assert_true(sigismember(&in_thread, SIGINT));
	assert_true(sigismember(&in_thread, SIGTERM));
	assert_true(sigismember(&in_thread, SIGHUP));
	assert_int_equal(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
	assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
}

/* Held lines are whole and in order, below the level filter only, and only for this thread. */
static void test_util_log_hold(void **unused)
{
	struct ppn_log_held held = {0};
	int level = ppn_log_get_level();

	ppn_log_set_level(LOG_INFO);
	ppn_log_hold_begin(&held);
	ppn_err("thing '%s': %d", "a", 1);
	ppn_debug("not at this level");
	ppn_warn("second");
	ppn_log_hold_end();
	ppn_log_set_level(level);

	assert_int_equal(held.count, 2);
	assert_non_null(strstr(held.lines[0], ": error: thing 'a': 1\n"));
	assert_non_null(strstr(held.lines[1], ": warning: second\n"));
	ppn_log_held_release(&held);
	assert_int_equal(held.count, 0);
	assert_null(held.lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_arena_alloc),
		cmocka_unit_test(test_util_arena_many_blocks),
		cmocka_unit_test(test_util_arena_grow),
		cmocka_unit_test(test_util_thread_start),
		cmocka_unit_test(test_util_log_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
