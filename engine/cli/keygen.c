/* SPDX-License-Identifier: MIT */
/*
 * ppn keygen: creates this node's WireGuard key pair in the state directory and prints the
 * public key, the only half that goes into the fleet repo.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "log.h"
#include "state.h"

static void print_usage(FILE *out)
{
	fputs("Usage: ppn keygen [--state-dir DIR] [--rotate]\n"
	      "Create this node's WireGuard key pair, unless it has one, and print the public\n"
	      "key for its peers/<node>.yaml. The private key stays in DIR/" PPN_KEY_FILE
	      " (mode 0600).\n"
	      "\n"
	      "  -s, --state-dir DIR  where the key lives (default: " PPN_DEFAULT_STATE_DIR ")\n"
	      "      --rotate         replace an existing key with a new one; peers accept the\n"
	      "                       node again once its manifest has the new public key\n"
	      "  -h, --help           show this help and exit\n",
	      out);
}

static const struct option long_options[] = {
	{"state-dir", required_argument, NULL, 's'},
	{"rotate", no_argument, NULL, 'R'},
	{"help", no_argument, NULL, 'h'},
	{0},
};

static int make_key(const char *state_dir, bool rotate, struct ppn_key *public_key)
{
	int r = ppn_state_prepare(state_dir);

	if (r < 0) {
		ppn_err("state '%s': cannot create: %s", state_dir, strerror(-r));
		return r;
	}

	r = rotate ? ppn_keys_generate(state_dir, true, public_key)
		   : ppn_keys_ensure(state_dir, public_key);
	if (r < 0)
		ppn_err("key '%s/%s': cannot create: %s", state_dir, PPN_KEY_FILE, strerror(-r));
	return r;
}

int ppn_cmd_keygen(int argc, char **argv)
{
	const char *state_dir = PPN_DEFAULT_STATE_DIR;
	char text[PPN_KEY_B64_LEN + 1];
	struct ppn_key public_key;
	bool rotate = false;
	int option;

	while ((option = getopt_long(argc, argv, "s:h", long_options, NULL)) != -1) {
		if (option == 's') {
			state_dir = optarg;
		} else if (option == 'R') {
			rotate = true;
		} else if (option == 'h') {
			print_usage(stdout);
			return 0;
		} else {
			print_usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		print_usage(stderr);
		return 1;
	}

	if (make_key(state_dir, rotate, &public_key) < 0)
		return 1;
	ppn_key_to_base64(&public_key, text);
	puts(text);
	return 0;
}
