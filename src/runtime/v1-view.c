/*
 * berth-v1-view: run a program (an OCI runtime) where this hybrid host looks like a cgroup v1 host.
 *
 *   berth-v1-view RUNTIME [ARG]...
 *
 * crun refuses a hybrid host whose cgroup v2 hierarchy (/sys/fs/cgroup/unified) holds a controller, and
 * takes it for a plain v1 host when that hierarchy is not mounted. So this program enters a mount
 * namespace of its own, unmounts the v2 hierarchy there (and only there) and execs the runtime. The
 * container's cgroups are the v1 hierarchies', as runc would make them; what the v2 hierarchy holds
 * (hugetlb on the hosts this is for) is not managed, and the engine sets no limit there.
 *
 * In an ordinary user's namespace the v2 hierarchy is a mount of the host's, locked there (the kernel will not
 * unmount what would uncover something the user may not see); an empty read-only tmpfs mounted over it hides
 * it just as well, and crun likewise takes the host for v1.
 *
 * Both mounts are made private in the new namespace first, so the unmount does not travel back to the
 * host through a shared peer group; every other mount keeps its propagation, so a volume's shared or
 * slave propagation and the network namespaces bind-mounted under /run behave as they do for runc.
 * The namespace lasts as long as the runtime process (and a container's own namespaces are made from it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define UNIFIED CGROUP_ROOT "/unified"

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "berth-v1-view: %s %s: %s\n", what, path, strerror(errno));
	return 125;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: berth-v1-view RUNTIME [ARG]...\n");
		return 125;
	}
	if (unshare(CLONE_NEWNS) < 0)
		return fail("unshare", "a mount namespace");
	if (mount(NULL, CGROUP_ROOT, NULL, MS_PRIVATE, NULL) < 0)
		return fail("make private", CGROUP_ROOT);
	if (mount(NULL, UNIFIED, NULL, MS_PRIVATE, NULL) < 0)
		return fail("make private", UNIFIED);
	if (umount2(UNIFIED, MNT_DETACH) < 0) {
		if (errno != EINVAL && errno != EPERM)
			return fail("unmount", UNIFIED);
		if (mount("none", UNIFIED, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0)
			return fail("hide (a tmpfs over)", UNIFIED);
	}
	execv(argv[1], argv + 1);
	return fail("exec", argv[1]);
}
