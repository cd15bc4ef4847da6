/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>

static int max_level = LOG_INFO;

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

void ppn_log(int level, const char *fmt, ...)
{
	va_list args;

	if (level > max_level)
		return;

	/* One line at a time, whole, even when several threads log. */
	flockfile(stderr);
	fprintf(stderr, "%s: %s", program_invocation_short_name, level_prefix(level));
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	funlockfile(stderr);
}
