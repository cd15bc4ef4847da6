/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int max_level = LOG_INFO;
static _Thread_local struct ppn_log_held *holding;

void ppn_log_set_level(int level)
{
	max_level = level;
}

int ppn_log_get_level(void)
{
	return max_level;
}

static const char *level_prefix(int level)
{
	if (level <= LOG_ERR)
		return "error: ";
	if (level == LOG_WARNING)
		return "warning: ";
	return "";
}

static void hold_line(int level, const char *fmt, va_list args)
{
	_cleanup_free_ char *message = ppn_xvasprintf(fmt, args);

	ppn_grow(&holding->lines, &holding->cap, holding->count + 1, sizeof(*holding->lines));
	holding->lines[holding->count++] = ppn_xasprintf(
		"%s: %s%s\n", program_invocation_short_name, level_prefix(level), message);
}

void ppn_log(int level, const char *fmt, ...)
{
	va_list args;

	if (level > max_level)
		return;

	va_start(args, fmt);
	if (holding) {
		hold_line(level, fmt, args);
		va_end(args);
		return;
	}

	/* One line at a time, whole, even when several threads log. */
	flockfile(stderr);
	fprintf(stderr, "%s: %s", program_invocation_short_name, level_prefix(level));
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(args);
}

void ppn_log_hold_begin(struct ppn_log_held *held)
{
	holding = held;
}

void ppn_log_hold_end(void)
{
	holding = NULL;
}

void ppn_log_held_print(struct ppn_log_held *held)
{
	flockfile(stderr);
	for (size_t i = 0; i < held->count; i++)
		fputs(held->lines[i], stderr);
	funlockfile(stderr);
	ppn_log_held_release(held);
}

void ppn_log_held_release(struct ppn_log_held *held)
{
	for (size_t i = 0; i < held->count; i++)
		free(held->lines[i]);
	free(held->lines);
	*held = (struct ppn_log_held){0};
}
