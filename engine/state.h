/* SPDX-License-Identifier: MIT */
#ifndef PPN_STATE_H
#define PPN_STATE_H

/*
 * The state directory (/var/lib/ppn by default): the repository mirror, the node's keys and
 * the id of the last commit this node applied. Mode 0700: it holds a private key.
 */

#include "source.h"

#define PPN_DEFAULT_STATE_DIR "/var/lib/ppn"

/* Creates dir (mode 0700) when absent. Returns 0 or -errno. */
int ppn_state_prepare(const char *dir);

/* The cache directory for repository mirrors; a newly allocated string. */
char *ppn_state_cache_dir(const char *dir);

/* Reads the last applied commit. -ENOENT when nothing was ever applied. */
int ppn_state_read_applied(const char *dir, char commit[PPN_COMMIT_HEX_LEN + 1]);

/* Records commit as applied; atomic and durable (written aside, synced, renamed). */
int ppn_state_write_applied(const char *dir, const char *commit);

#endif
