/*
 * berth-userns: run a program (Berth itself) as root of the user's own user namespace, with a mount namespace
 * of its own, as an ordinary user's Berth needs: there it may mount overlays and own the ids of its
 * subordinate ranges.
 *
 *   berth-userns RUNDIR PROGRAM [ARG]...
 *
 * The namespaces outlive any one command: a pause process holds them (its pid in RUNDIR/pause.pid), and every
 * later command joins them, so a container made by one command (its mounts, its monitor) is there for the
 * next. The first command makes them: a child unshares a user and a mount namespace, this program maps the
 * user's id to 0 and its first subordinate ranges above it with newuidmap and newgidmap (setuid; the kernel
 * lets a user map only its own id), and the child stays, paused, as the holder. RUNDIR/pause.lock serialises
 * two first commands. A holder that is gone (a reboot) is replaced.
 *
 * Subordinate ranges come from BERTH_SUBUID and BERTH_SUBGID ("start:count"), which the caller reads from
 * /etc/subuid and /etc/subgid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The lock of RUNDIR, held while the namespaces are made or joined; the holder must not keep it. */
static int lock = -1;

static int fail(const char *what)
{
	fprintf(stderr, "berth-userns: %s: %s\n", what, strerror(errno));
	return 125;
}

/* Join the user and mount namespaces of pid; 0 when done. */
static int join(pid_t pid)
{
	char path[64];
	int user, mnt;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if ((user = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
	if ((mnt = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		close(user);
		return -1;
	}
	int r = setns(user, CLONE_NEWUSER) == 0 && setns(mnt, CLONE_NEWNS) == 0 ? 0 : -1;
	close(user);
	close(mnt);
	return r;
}

/* The holder recorded in pidfile, if it still is one of ours (a pause process in another user namespace). */
static pid_t holder(const char *pidfile)
{
	FILE *f = fopen(pidfile, "r");
	int pid = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || kill(pid, 0) != 0)
		return 0;
	char a[64], b[64], la[64] = "", lb[64] = "";
	snprintf(a, sizeof a, "/proc/%d/ns/user", pid);
	snprintf(b, sizeof b, "/proc/self/ns/user");
	if (readlink(a, la, sizeof la - 1) < 0 || readlink(b, lb, sizeof lb - 1) < 0 || strcmp(la, lb) == 0)
		return 0;
	/* A holder killed but not yet reaped (a zombie) still shows its user namespace, but no mount namespace. */
	snprintf(a, sizeof a, "/proc/%d/ns/mnt", pid);
	if (readlink(a, la, sizeof la - 1) < 0)
		return 0;
	return pid;
}

/* Run newuidmap or newgidmap for pid: own id to 0, the subordinate range from 1. */
static int map(const char *tool, pid_t pid, unsigned own, const char *range)
{
	char spid[16], sown[16], start[16], count[16];
	const char *colon = range ? strchr(range, ':') : NULL;
	if (!colon || colon - range >= (long)sizeof start) {
		fprintf(stderr, "berth-userns: %s: no subordinate range given\n", tool);
		return -1;
	}
	snprintf(spid, sizeof spid, "%d", (int)pid);
	snprintf(sown, sizeof sown, "%u", own);
	memcpy(start, range, colon - range);
	start[colon - range] = 0;
	snprintf(count, sizeof count, "%s", colon + 1);
	pid_t c = fork();
	if (c == 0) {
		execl(tool, tool, spid, "0", sown, "1", "1", start, count, (char *)NULL);
		_exit(127);
	}
	int st;
	if (c < 0 || waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "berth-userns: %s %s 0 %s 1 1 %s %s failed\n", tool, spid, sown, start, count);
		return -1;
	}
	return 0;
}

/* Make the namespaces and their holder; its pid, or -1. */
static pid_t make(const char *pidfile)
{
	int up[2], go[2];
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char c = 0;
		close(up[0]);
		close(go[1]);
		close(lock);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			_exit(1);
		if (write(up[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		setsid();
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		signal(SIGTERM, SIG_DFL);
		for (;;)
			pause();
	}
	char c;
	close(up[1]);
	close(go[0]);
	if (read(up[0], &c, 1) != 1) {
		errno = ECHILD;
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (map("/usr/bin/newuidmap", pid, getuid(), getenv("BERTH_SUBUID")) < 0 || map("/usr/bin/newgidmap", pid, getgid(), getenv("BERTH_SUBGID")) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		errno = EPERM;
		return -1;
	}
	if (write(go[1], &c, 1) != 1)
		return -1;
	close(go[1]);
	close(up[0]);
	FILE *f = fopen(pidfile, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: berth-userns RUNDIR PROGRAM [ARG]...\n");
		return 125;
	}
	const char *dir = argv[1];
	char pidfile[4096], lockfile[4096];
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail(dir);
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		fprintf(stderr, "berth-userns: %s is not a private directory of this user\n", dir);
		return 125;
	}
	snprintf(pidfile, sizeof pidfile, "%s/pause.pid", dir);
	snprintf(lockfile, sizeof lockfile, "%s/pause.lock", dir);
	lock = open(lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return fail(lockfile);
	pid_t pid = holder(pidfile);
	if (!pid && (pid = make(pidfile)) < 0)
		return fail("making the user namespace");
	/* The holder reaps nothing; ours is the pause process's parent only until we exec. */
	if (join(pid) < 0)
		return fail("joining the user namespace");
	close(lock);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return fail("becoming root of the user namespace");
	execv(argv[2], argv + 2);
	return fail(argv[2]);
}
