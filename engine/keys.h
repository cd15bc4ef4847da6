/* SPDX-License-Identifier: MIT */
#ifndef PPN_KEYS_H
#define PPN_KEYS_H

/*
 * The node's WireGuard key pair. The private key is born on the node, with OpenSSL's X25519,
 * and never leaves it: it lives in <state_dir>/wireguard.key (base64, as wg(8) writes keys,
 * mode 0600) and in memory only as long as a caller needs it, which wipes it with
 * ppn_secret_key_wipe(). Only the public key goes into the fleet repo.
 */

#include <stdbool.h>

#include "model.h"

#define PPN_KEY_FILE "wireguard.key"

struct ppn_secret_key {
	uint8_t bytes[PPN_KEY_LEN];
};

/*
 * Creates a new private key in state_dir and returns its public key. Fails with -EEXIST when a
 * key is already there, unless replace is true, in which case the new key takes the old one's
 * place atomically.
 */
int ppn_keys_generate(const char *state_dir, bool replace, struct ppn_key *public_key);

/*
 * Reads the private key into *secret (wipe it after use). -ENOENT when there is none, -EPERM
 * when the file is readable by anyone but its owner, -EINVAL when it is not a key.
 */
int ppn_keys_load(const char *state_dir, struct ppn_secret_key *secret);

/* The public key of a private key, as `wg pubkey` computes it. */
int ppn_keys_public(const struct ppn_secret_key *secret, struct ppn_key *public_key);

/* Reads the node's public key, creating the key pair first when there is none (first start). */
int ppn_keys_ensure(const char *state_dir, struct ppn_key *public_key);

void ppn_secret_key_wipe(struct ppn_secret_key *secret);

#endif
