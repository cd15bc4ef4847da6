/* SPDX-License-Identifier: MIT */
/*
 * ppn-reconcile: keeps this node equal to what the fleet repo says. With --dry-run it is the
 * audit: it prints what would change and why, and changes nothing. With --once it applies one
 * pass and prints what it did.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "plan.h"
#include "reconcile.h"
#include "scalar.h"
#include "state.h"

enum exit_code {
	EXIT_IN_SYNC = 0,
	EXIT_ERROR = 1,
	EXIT_CHANGES = 2,
};

enum output_format {
	OUTPUT_TEXT,
	OUTPUT_JSON,
};

struct arguments {
	struct ppn_reconcile_options reconcile;
	bool once;
	enum output_format output;
};

static void print_usage(FILE *out)
{
	fputs("Usage: ppn-reconcile --dry-run|--once --repo URL|PATH --node NAME [OPTION]...\n"
	      "Compare this node with the fleet repo, print the plan, and apply it with --once.\n"
	      "\n"
	      "  -n, --dry-run          print what would change and why; change nothing\n"
	      "  -1, --once             apply one pass, print what was done, and exit\n"
	      "      --allow-mass-removal\n"
	      "                         accept a commit that removes more than half of the\n"
	      "                         peers or VMs at once (refused otherwise)\n"
	      "  -r, --repo URL|PATH    the fleet repo: a path, a file:// URL or an ssh URL\n"
	      "      --ref REF          branch or ref with the desired state (default: main)\n"
	      "  -N, --node NAME        this node's name in the fleet (default: the host name)\n"
	      "  -s, --state-dir DIR    where ppn keeps its mirror and keys\n"
	      "                         (default: " PPN_DEFAULT_STATE_DIR ")\n"
	      "  -i, --interface IF     manage IF instead of the interface ppn.yaml names\n"
	      "      --backend KIND     force the WireGuard backend: kernel or userspace\n"
	      "                         (default: probe, as wg(8) does)\n"
	      "      --plugin-dir DIR   load plugins from DIR\n"
	      "  -o, --output FORMAT    text (default) or json\n"
	      "  -v, --verbose          log more\n"
	      "  -h, --help             show this help and exit\n"
	      "      --version          show the version and exit\n"
	      "\n"
	      "Exit status (the same for text and json output):\n"
	      "  0  --dry-run: in sync, nothing would change; --once: every action succeeded\n"
	      "  1  error: bad arguments, an unreadable repo, a refused commit (invalid, or\n"
	      "     removing too much: the last applied commit stays enforced), or a failed\n"
	      "     action\n"
	      "  2  --dry-run only: changes pending, the plan is not empty\n",
	      out);
}

static int parse_output(const char *text, enum output_format *out)
{
	if (strcmp(text, "text") == 0)
		*out = OUTPUT_TEXT;
	else if (strcmp(text, "json") == 0)
		*out = OUTPUT_JSON;
	else
		return -EINVAL;
	return 0;
}

static int default_node(const char **node)
{
	static char hostname[256];

	if (gethostname(hostname, sizeof(hostname) - 1) < 0)
		return -errno;
	*node = hostname;
	return 0;
}

enum {
	OPT_REF = 0x100,
	OPT_BACKEND,
	OPT_PLUGIN_DIR,
	OPT_VERSION,
	OPT_ALLOW_MASS_REMOVAL,
};

static const struct option long_options[] = {
	{"dry-run", no_argument, NULL, 'n'},
	{"once", no_argument, NULL, '1'},
	{"allow-mass-removal", no_argument, NULL, OPT_ALLOW_MASS_REMOVAL},
	{"repo", required_argument, NULL, 'r'},
	{"ref", required_argument, NULL, OPT_REF},
	{"node", required_argument, NULL, 'N'},
	{"state-dir", required_argument, NULL, 's'},
	{"interface", required_argument, NULL, 'i'},
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"output", required_argument, NULL, 'o'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{0},
};

/* Returns 1 when the program should exit successfully (help, version), 0 to go on, -1 on
 * a usage error, which has been reported. */
static int parse_option(int option, struct arguments *args)
{
	struct ppn_reconcile_options *reconcile = &args->reconcile;

	switch (option) {
	case 'n':
		reconcile->dry_run = true;
		return 0;
	case '1':
		args->once = true;
		return 0;
	case OPT_ALLOW_MASS_REMOVAL:
		reconcile->allow_mass_removal = true;
		return 0;
	case 'r':
		reconcile->repo = optarg;
		return 0;
	case OPT_REF:
		reconcile->ref = optarg;
		return 0;
	case 'N':
		reconcile->node = optarg;
		return 0;
	case 's':
		reconcile->state_dir = optarg;
		return 0;
	case 'i':
		/* It becomes a socket path and a link name, as a manifest's would: same rule. */
		reconcile->ifname = optarg;
		if (ppn_scalar_is_interface(optarg))
			return 0;
		ppn_err("--interface: expected %s, got '%s'", PPN_INTERFACE_RULE, optarg);
		return -1;
	case OPT_BACKEND:
		reconcile->backend = optarg;
		if (strcmp(optarg, "kernel") == 0 || strcmp(optarg, "userspace") == 0)
			return 0;
		ppn_err("--backend: expected 'kernel' or 'userspace', got '%s'", optarg);
		return -1;
	case OPT_PLUGIN_DIR:
		reconcile->plugin_dir = optarg;
		return 0;
	case 'o':
		if (parse_output(optarg, &args->output) == 0)
			return 0;
		ppn_err("--output: expected 'text' or 'json', got '%s'", optarg);
		return -1;
	case 'v':
		ppn_log_set_level(LOG_DEBUG);
		return 0;
	case 'h':
		print_usage(stdout);
		return 1;
	case OPT_VERSION:
		puts("ppn-reconcile " PPN_VERSION);
		return 1;
	default:
		fputs("Try 'ppn-reconcile --help' for more information.\n", stderr);
		return -1;
	}
}

static int check_arguments(struct arguments *args)
{
	struct ppn_reconcile_options *reconcile = &args->reconcile;

	if (!reconcile->repo) {
		ppn_err("--repo is required");
		return -1;
	}
	/* TODO: without either, run as a daemon that watches the repo; not written yet. */
	if (reconcile->dry_run == args->once) {
		ppn_err("expected exactly one of --dry-run and --once");
		return -1;
	}
	if (!reconcile->node && default_node(&reconcile->node) < 0) {
		ppn_err("--node: not given, and the host name is unknown");
		return -1;
	}
	return 0;
}

static int parse_arguments(int argc, char **argv, struct arguments *args)
{
	int option, r;

	while ((option = getopt_long(argc, argv, "n1r:N:s:i:o:vh", long_options, NULL)) != -1) {
		r = parse_option(option, args);
		if (r != 0)
			return r;
	}
	if (optind < argc) {
		ppn_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return check_arguments(args);
}

static int render(const struct ppn_plan *plan, enum output_format output)
{
	int r = output == OUTPUT_JSON ? ppn_plan_render_json(plan, stdout)
				      : ppn_plan_render_text(plan, stdout);

	if (r == 0 && fflush(stdout) != 0)
		r = -errno;
	if (r < 0)
		ppn_err("cannot write the plan: %s", strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	struct arguments args = {
		.reconcile = {.ref = "main", .state_dir = PPN_DEFAULT_STATE_DIR},
		.output = OUTPUT_TEXT,
	};
	struct ppn_plan plan;
	bool refused;
	int r, code;

	r = parse_arguments(argc, argv, &args);
	if (r != 0)
		return r > 0 ? EXIT_IN_SYNC : EXIT_ERROR;

	ppn_plan_init(&plan);
	r = ppn_reconcile_pass(&args.reconcile, &plan, &refused);
	if (r == 0 || r == -EIO) {
		int w = render(&plan, args.output);

		r = r < 0 ? r : w;
	}

	if (r < 0 || refused)
		code = EXIT_ERROR;
	else if (args.once || ppn_plan_is_empty(&plan))
		code = EXIT_IN_SYNC;
	else
		code = EXIT_CHANGES;
	ppn_plan_release(&plan);
	return code;
}
