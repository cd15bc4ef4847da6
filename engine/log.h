/* SPDX-License-Identifier: MIT */
#ifndef PPN_LOG_H
#define PPN_LOG_H

/*
 * One line per event on stderr: the program's name, the level when it is a warning or worse,
 * then the message. Messages start with the resource ("wireguard/peer 'x': ..."), quote user
 * values and put the cause last. Timestamps are left to whatever collects stderr. Never log a
 * secret.
 */

#include <syslog.h>

#include "util.h"

void ppn_log_set_level(int level);
int ppn_log_get_level(void);
void ppn_log(int level, const char *fmt, ...) _printf_(2, 3);

/*
 * Lines held back instead of printed: work done ahead on a thread (an observation made before
 * the commit is known) logs into one, and its lines are printed only if that work is used.
 */
struct ppn_log_held {
	char **lines; /* whole lines, each with its newline */
	size_t count;
	size_t cap;
};

/* From now on the calling thread's lines go into held, until ppn_log_hold_end(). */
void ppn_log_hold_begin(struct ppn_log_held *held);
void ppn_log_hold_end(void);

/* Prints the held lines in order and empties held; ppn_log_held_release() drops them. */
void ppn_log_held_print(struct ppn_log_held *held);
void ppn_log_held_release(struct ppn_log_held *held);

#define ppn_err(...)   ppn_log(LOG_ERR, __VA_ARGS__)
#define ppn_warn(...)  ppn_log(LOG_WARNING, __VA_ARGS__)
#define ppn_info(...)  ppn_log(LOG_INFO, __VA_ARGS__)
#define ppn_debug(...) ppn_log(LOG_DEBUG, __VA_ARGS__)

#endif
