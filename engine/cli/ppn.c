/* SPDX-License-Identifier: MIT */
/* ppn: the admin tool. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"keygen", ppn_cmd_keygen, "create this node's key pair and print its public key"},
	{"validate", ppn_cmd_validate, "check a fleet repo's manifests (for CI gates)"},
};

static void print_usage(FILE *out)
{
	fputs("Usage: ppn COMMAND [ARGUMENT]...\n\nCommands:\n", out);
	for (size_t i = 0; i < PPN_ARRAY_SIZE(subcommands); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\nRun 'ppn COMMAND --help' for a command's options.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts("ppn " PPN_VERSION);
		return 0;
	}

	for (size_t i = 0; i < PPN_ARRAY_SIZE(subcommands); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);

	ppn_err("unknown command '%s'; run 'ppn --help' for the list", argv[1]);
	return 1;
}
