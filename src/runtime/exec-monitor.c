/*
 * berth-exec-monitor: the monitor of one exec process whose output its starter reads from this program.
 *
 *   berth-exec-monitor EXIT_FILE PID_FILE RUNTIME [ARG]...
 *
 * The runtime's arguments are its exec, detached, writing the process's pid to PID_FILE. This program is a
 * child subreaper, so the process, orphaned when the runtime's intermediate processes leave, becomes its
 * child. It tells its starter on fd 3 how the start went (one line: the pid, or "-" and the runtime's exit
 * status when the runtime failed; the runtime's log says why), copies the process's stdout and stderr
 * (pipes of its own, as a process expects them: /dev/stdout opens) to its own until the process exits,
 * then writes the exit code (128+signal when killed) to EXIT_FILE, whole, as conmon writes a container's.
 *
 * The starter may be gone by then (a killed CLI): the output is then read and dropped, so the process is
 * not killed by a broken pipe, and the exit is still recorded. conmon does the same for a container, but
 * its dynamically linked start and attach socket cost ~10 ms before the runtime runs; this program is
 * static and speaks over the fds it was given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATUS_FD 3

static void report(const char *line)
{
	size_t n = strlen(line);
	while (n > 0) {
		ssize_t w = write(STATUS_FD, line, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the starter is gone: the exit file is still written */
		line += w;
		n -= (size_t)w;
	}
	close(STATUS_FD);
}

static int code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

static pid_t read_pid(const char *path)
{
	char buf[32] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
}

/* The exit file appears whole: written beside it, then renamed into place. */
static void write_exit(const char *path, int code)
{
	char tmp[4096], text[16];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int n = snprintf(text, sizeof text, "%d", code);
	if (write(fd, text, (size_t)n) == n && close(fd) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

/*
 * Copy what `from` has now to `*to` (-1 once the starter is gone: read and dropped). 1: copied, 0: the
 * pipe's end (or an error), -1: nothing there now.
 */
static int copy_some(int from, int *to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof buf);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? -1 : 0;
	if (n == 0)
		return 0;
	for (char *p = buf; n > 0 && *to >= 0;) {
		ssize_t w = write(*to, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*to = -1; /* EPIPE: nobody reads any more */
			break;
		}
		p += w;
		n -= w;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: berth-exec-monitor EXIT_FILE PID_FILE RUNTIME [ARG]...\n");
		return 125;
	}
	const char *exit_file = argv[1], *pid_file = argv[2];
	/* A terminal's signals or a starter's exit must not end the one who records the exit. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
	int out[2], err[2];
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		dprintf(STATUS_FD, "- 125 %s\n", strerror(errno));
		return 125;
	}
	pid_t runtime = fork();
	if (runtime < 0) {
		dprintf(STATUS_FD, "- 125 cannot fork: %s\n", strerror(errno));
		return 125;
	}
	if (runtime == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[3], argv + 3);
		dprintf(2, "berth-exec-monitor: exec %s: %s\n", argv[3], strerror(errno));
		_exit(125);
	}
	close(out[1]);
	close(err[1]);
	int status;
	while (waitpid(runtime, &status, 0) < 0 && errno == EINTR)
		;
	pid_t pid = read_pid(pid_file);
	if (code_of(status) != 0 || pid <= 0) {
		/* What reached the pipes is the runtime's (or its child's) complaint: its log has it. */
		char line[64];
		snprintf(line, sizeof line, "- %d\n", code_of(status));
		report(line);
		return 125;
	}
	char line[32];
	snprintf(line, sizeof line, "%d\n", (int)pid);
	report(line);
	/* Copy until the process ends (its pidfd turns readable), then what it left in the pipes. Without a
	 * pidfd (before Linux 5.3), until the pipes end. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int to_out = 1, to_err = 2, open_out = 1, open_err = 1, ended = 0;
	while ((open_out || open_err) && !ended) {
		struct pollfd fds[3] = {{out[0], open_out ? POLLIN : 0, 0}, {err[0], open_err ? POLLIN : 0, 0}, {pidfd, POLLIN, 0}};
		if (poll(fds, pidfd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			open_out = copy_some(out[0], &to_out) != 0;
		if (fds[1].revents)
			open_err = copy_some(err[0], &to_err) != 0;
		ended = pidfd >= 0 && fds[2].revents;
	}
	if (ended) {
		fcntl(out[0], F_SETFL, O_NONBLOCK);
		fcntl(err[0], F_SETFL, O_NONBLOCK);
		while (open_out && copy_some(out[0], &to_out) > 0)
			;
		while (open_err && copy_some(err[0], &to_err) > 0)
			;
	}
	int code = -1;
	for (;;) {
		if (waitpid(pid, &status, 0) == pid) {
			code = code_of(status);
			break;
		}
		if (errno == EINTR)
			continue;
		/* Not our child after all (no orphan came here): wait for it to be gone; its code is unknown. */
		while (kill(pid, 0) == 0 || errno != ESRCH) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		break;
	}
	/* The exit is on disk before the starter sees the output end. */
	write_exit(exit_file, code);
	return 0;
}
