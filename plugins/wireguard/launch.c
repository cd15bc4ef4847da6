/* SPDX-License-Identifier: MIT */
/*
 * Creating a userspace interface: wireguard-go makes the TUN link and its UAPI socket, then
 * daemonizes itself (the process started here exits once the daemon runs). Started from an
 * argument vector, never through a shell; the interface name was validated by the manifest
 * loader before it got here.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
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

/* The started process failing is an error; its still running (it was told to stay in the
 * foreground through WG_PROCESS_FOREGROUND) is not. */
static int check_exit(const char *ifname, pid_t pid, bool *exited)
{
	int status;

	if (*exited || waitpid(pid, &status, WNOHANG) != pid)
		return 0;
	*exited = true;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		ppn_err("wireguard/interface '%s': wireguard-go exited with status %d", ifname,
			WEXITSTATUS(status));
	else
		ppn_err("wireguard/interface '%s': wireguard-go was killed by signal %d", ifname,
			WTERMSIG(status));
	return -EIO;
}

static int wait_until_ready(const char *ifname, const char *path, pid_t pid)
{
	bool exited = false;

	for (long waited = 0; waited < START_TIMEOUT_MS; waited += START_POLL_MS) {
		int r = check_exit(ifname, pid, &exited);

		if (r < 0)
			return r;
		if (socket_ready(path))
			return 0;
		sleep_ms(START_POLL_MS);
	}
	ppn_err("wireguard/interface '%s': wireguard-go did not open '%s' within %d s", ifname,
		path, START_TIMEOUT_MS / 1000);
	return -ETIMEDOUT;
}

/* stdin from /dev/null; stdout, where wireguard-go logs, onto our stderr, so that a plan
 * printed on our stdout stays clean. */
static int spawn(const char *ifname, pid_t *pid)
{
	char *const argv[] = {"wireguard-go", (char *)ifname, NULL};
	posix_spawn_file_actions_t actions;
	int r;

	r = posix_spawn_file_actions_init(&actions);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawnp(pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	return -r;
}

int ppn_wg_userspace_start(const char *ifname)
{
	_cleanup_free_ char *path = ppn_wg_uapi_socket_path(ifname);
	pid_t pid;
	int r = spawn(ifname, &pid);

	if (r == -ENOENT) {
		ppn_err("wireguard/interface '%s': cannot start wireguard-go: it is not installed",
			ifname);
		return r;
	}
	if (r < 0) {
		ppn_err("wireguard/interface '%s': cannot start wireguard-go: %s", ifname,
			strerror(-r));
		return r;
	}

	r = wait_until_ready(ifname, path, pid);
	if (r == 0)
		ppn_info("wireguard/interface '%s': started wireguard-go", ifname);
	return r;
}
