/* SPDX-License-Identifier: MIT */
/*
 * Creating a userspace interface: wireguard-go makes the TUN link and its UAPI socket, then
 * daemonizes itself (the process started here exits once the daemon runs). Started from an
 * argument vector, never through a shell; the interface name was validated by the manifest
 * loader before it got here. What it prints while it starts (a banner, or why it cannot) goes
 * to a log file of ppn's rather than to the terminal of whoever ran the reconciler; so does
 * the daemon's own log when LOG_LEVEL asks for one, since the daemon outlives the reconciler
 * and a Go program whose standard output is a closed pipe dies when it next writes there.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* wireguard-go is ready in about 50 ms here; a loaded machine may take much longer. */
#define START_TIMEOUT_MS 10000
#define START_POLL_MS    10

extern char **environ;

/* Ready means accepting connections: a socket file left by a daemon that died is not. */
static bool socket_ready(const char *path)
{
	int fd = ppn_wg_uapi_connect(path);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&delay, NULL);
}

/* Where wireguard-go's output goes, and what to quote from it when it fails. */
struct go_log {
	int fd;       /* the log file, or STDERR_FILENO when there is none or it cannot open */
	char *path;   /* NULL when fd is STDERR_FILENO */
	off_t offset; /* where this start's output begins */
};

/* A log that cannot be opened (a symbolic link there is refused) is no reason to leave the
 * node without its interface: the output goes to our standard error instead. */
static void open_log(const char *ifname, const char *state_dir, struct go_log *log)
{
	*log = (struct go_log){.fd = STDERR_FILENO};
	if (!state_dir)
		return;

	log->path = ppn_xasprintf("%s/%s", state_dir, PPN_WG_GO_LOG);
	log->fd = open(log->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log->fd < 0) {
		ppn_warn("wireguard/interface '%s': cannot open '%s' for wireguard-go's output: "
			 "%s; it goes to standard error",
			 ifname, log->path, strerror(errno));
		free(log->path);
		*log = (struct go_log){.fd = STDERR_FILENO};
		return;
	}
	log->offset = lseek(log->fd, 0, SEEK_END);
}

static void close_log(struct go_log *log)
{
	if (log->fd != STDERR_FILENO)
		close(log->fd);
	free(log->path);
}

/*
 * The last line wireguard-go printed since it was started, to quote in an error; NULL when
 * it printed nothing, or printed onto our standard error where the user saw it already.
 */
static char *last_line(const struct go_log *log)
{
	char tail[512];
	off_t end = lseek(log->fd, 0, SEEK_END);
	off_t from = end - (off_t)sizeof(tail) + 1;
	ssize_t n;
	char *line;

	if (!log->path || end <= log->offset)
		return NULL;
	if (from < log->offset)
		from = log->offset;
	n = pread(log->fd, tail, (size_t)(end - from), from);
	if (n <= 0)
		return NULL;
	tail[n] = '\0';

	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		tail[--n] = '\0';
	line = strrchr(tail, '\n');
	line = line ? line + 1 : tail;
	return *line ? ppn_xstrdup(line) : NULL;
}

static void log_failure(const char *ifname, const struct go_log *log, const char *what)
{
	_cleanup_free_ char *line = last_line(log);

	if (line)
		ppn_err("wireguard/interface '%s': wireguard-go %s; it said \"%s\" (see %s)",
			ifname, what, line, log->path);
	else if (log->path)
		ppn_err("wireguard/interface '%s': wireguard-go %s (see %s)", ifname, what,
			log->path);
	else
		ppn_err("wireguard/interface '%s': wireguard-go %s", ifname, what);
}

/* The started process failing is an error; its still running (it was told to stay in the
 * foreground through WG_PROCESS_FOREGROUND) is not. */
static int check_exit(const char *ifname, const struct go_log *log, pid_t pid, bool *exited)
{
	_cleanup_free_ char *what = NULL;
	int status;

	if (*exited || waitpid(pid, &status, WNOHANG) != pid)
		return 0;
	*exited = true;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;

	if (WIFEXITED(status))
		what = ppn_xasprintf("exited with status %d", WEXITSTATUS(status));
	else
		what = ppn_xasprintf("was killed by signal %d", WTERMSIG(status));
	log_failure(ifname, log, what);
	return -EIO;
}

static int wait_until_ready(const char *ifname, const struct go_log *log, const char *path,
			    pid_t pid)
{
	bool exited = false;

	for (long waited = 0; waited < START_TIMEOUT_MS; waited += START_POLL_MS) {
		int r = check_exit(ifname, log, pid, &exited);

		if (r < 0)
			return r;
		if (socket_ready(path))
			return 0;
		sleep_ms(START_POLL_MS);
	}

	_cleanup_free_ char *what =
		ppn_xasprintf("did not open '%s' within %d s", path, START_TIMEOUT_MS / 1000);
	log_failure(ifname, log, what);
	return -ETIMEDOUT;
}

/* stdin from /dev/null; stdout and stderr into the log, so that a plan printed on our
 * standard output stays clean. */
static int spawn(const char *ifname, int log_fd, pid_t *pid)
{
	char *const argv[] = {"wireguard-go", (char *)ifname, NULL};
	posix_spawn_file_actions_t actions;
	int r;

	r = posix_spawn_file_actions_init(&actions);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
	if (r == 0 && log_fd != STDERR_FILENO)
		r = posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
	if (r == 0)
		r = posix_spawnp(pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	return -r;
}

int ppn_wg_userspace_start(const char *ifname, const char *state_dir)
{
	_cleanup_free_ char *path = ppn_wg_uapi_socket_path(ifname);
	struct go_log log;
	pid_t pid;
	int r;

	open_log(ifname, state_dir, &log);
	r = spawn(ifname, log.fd, &pid);
	if (r == -ENOENT)
		ppn_err("wireguard/interface '%s': cannot start wireguard-go: it is not installed",
			ifname);
	else if (r < 0)
		ppn_err("wireguard/interface '%s': cannot start wireguard-go: %s", ifname,
			strerror(-r));
	else
		r = wait_until_ready(ifname, &log, path, pid);

	if (r == 0)
		ppn_info("wireguard/interface '%s': started wireguard-go%s%s", ifname,
			 log.path ? ", its log in " : "", log.path ? log.path : "");
	close_log(&log);
	return r;
}
