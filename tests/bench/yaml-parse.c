/* SPDX-License-Identifier: MIT */
/*
 * The floor for the dry-run benchmark: how long libyaml alone takes to parse a fleet's
 * manifests. The files are read once into memory (through the engine's fileset, so exactly the
 * files the loader would see), then every run feeds each one to libyaml's event parser until
 * the end of the stream, building nothing. The best of several runs is reported, because the
 * floor is what the machine can do, not what it happened to do once.
 *
 * Usage: yaml-parse [-r RUNS] DIR
 * Prints: files=N bytes=N events=N runs=N read_ms=X parse_ms=X parse_median_ms=X
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "diag.h"
#include "fileset.h"
#include "util.h"

#define DEFAULT_RUNS 5
#define MAX_RUNS     1000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Parses one file to the end of its stream. Returns the number of events, or -EINVAL. */
static long parse_one(const struct ppn_file *file)
{
	yaml_parser_t parser;
	yaml_event_t event;
	long events = 0;
	int done = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)file->data, file->size);

	while (!done) {
		if (!yaml_parser_parse(&parser, &event)) {
			fprintf(stderr, "yaml-parse: %s:%zu:%zu: %s\n", file->display,
				parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				parser.problem ? parser.problem : "parse error");
			events = -EINVAL;
			break;
		}
		done = event.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&event);
		events++;
	}

	yaml_parser_delete(&parser);
	return events;
}

/* One pass over every file. Returns the total number of events, or a negative errno. */
static long parse_all(const struct ppn_fileset *set)
{
	long total = 0;

	for (size_t i = 0; i < set->count; i++) {
		long events = parse_one(&set->files[i]);

		if (events < 0)
			return events;
		total += events;
	}
	return total;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int parse_runs(const char *text, unsigned *runs)
{
	if (ppn_parse_uint(text, MAX_RUNS, runs) < 0 || *runs == 0) {
		fprintf(stderr, "yaml-parse: -r expects a number of runs from 1 to %d, got '%s'\n",
			MAX_RUNS, text);
		return -EINVAL;
	}
	return 0;
}

static int read_files(const char *dir, struct ppn_fileset *set, double *read_ms)
{
	struct ppn_diags diags = {0};
	double start = now_ms();
	int r;

	r = ppn_fileset_read_dir(set, dir, &diags);
	*read_ms = now_ms() - start;
	ppn_diags_print(&diags, stderr);
	ppn_diags_release(&diags);
	return r;
}

/* Runs the parse `runs` times into times[] (sorted on return). Returns events or -errno. */
static long time_runs(const struct ppn_fileset *set, unsigned runs, double *times)
{
	long events = 0;

	for (unsigned i = 0; i < runs; i++) {
		double start = now_ms();

		events = parse_all(set);
		if (events < 0)
			return events;
		times[i] = now_ms() - start;
	}
	qsort(times, runs, sizeof(*times), compare_doubles);
	return events;
}

static size_t total_bytes(const struct ppn_fileset *set)
{
	size_t bytes = 0;

	for (size_t i = 0; i < set->count; i++)
		bytes += set->files[i].size;
	return bytes;
}

int main(int argc, char **argv)
{
	struct ppn_fileset set = {0};
	_cleanup_free_ double *times = NULL;
	unsigned runs = DEFAULT_RUNS;
	double read_ms;
	long events;
	int opt, r = EXIT_FAILURE;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r' || parse_runs(optarg, &runs) < 0)
			return EXIT_FAILURE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: yaml-parse [-r RUNS] DIR\n");
		return EXIT_FAILURE;
	}

	if (read_files(argv[optind], &set, &read_ms) < 0)
		goto out;

	times = ppn_xcalloc(runs, sizeof(*times));
	events = time_runs(&set, runs, times);
	if (events < 0)
		goto out;

	printf("files=%zu bytes=%zu events=%ld runs=%u read_ms=%.3f parse_ms=%.3f "
	       "parse_median_ms=%.3f\n",
	       set.count, total_bytes(&set), events, runs, read_ms, times[0], times[runs / 2]);
	r = EXIT_SUCCESS;
out:
	ppn_fileset_release(&set);
	return r;
}
