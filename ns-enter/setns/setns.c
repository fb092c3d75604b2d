// Joins the namespaces listed in _CTRKIT_SETNS before the Go runtime starts.
// See setns.go for why this cannot be Go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// The descriptor ns-enter sends the spec on (fdConfig in container.go),
// after the _CTRKIT_PASS_FDS ones meant for the container.
static int config_fd(void) {
	const char *pass = getenv("_CTRKIT_PASS_FDS");
	return 3 + (pass != NULL ? atoi(pass) : 0);
}

static void fail(const char *what, const char *kind, int err) {
	char msg[512];
	const char *hint = "";
	int ns = strcmp(what, "write") != 0; // the hints are about namespaces, not a cgroup file
	if (ns && err == EPERM)
		hint = " (needs CAP_SYS_ADMIN in the namespace's owning user namespace)";
	else if (ns && err == EINVAL && kind != NULL)
		hint = " (a mount or user namespace can only be joined by a single-threaded process)";
	int n = snprintf(msg, sizeof msg, "125 %s(%s): %s%s", what, kind ? kind : "", strerror(err), hint);
	const char *errfd = getenv("_CTRKIT_ERRFD");
	if (errfd != NULL && write(atoi(errfd), msg, n) == n)
		_exit(125);
	dprintf(2, "ns-enter: %s\n", msg + 4);
	_exit(125);
}

static pid_t child;

static void forward(int sig) {
	if (child > 0)
		kill(child, sig);
}

// After setns(CLONE_NEWPID) only children are born in the namespace, and
// the caller can no longer create threads (clone(CLONE_THREAD) fails with
// EINVAL while its own pid namespace differs from its children's), which
// the Go runtime needs. So fork: the child goes on into Go, inside; this
// process stays outside, passes signals on, and exits as the child does.
// It forks only once the spec arrives, so it is already in the cgroup
// ns-enter put it in, and the child is born there too.
//
// ns-enter learns the child's pid (the process it must name in --pid-file)
// as "pid N\n", first on the error pipe; the child waits until that is
// written. With _CTRKIT_DETACH (runc exec --detach) this process then exits
// at once: the child is re-parented to the nearest subreaper (containerd's
// shim), which reaps it and sees its status, as with runc.
static void fork_into_pid_namespace(void) {
	struct pollfd p = {.fd = config_fd(), .events = POLLIN};
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	int hold[2];
	if (pipe(hold) < 0)
		fail("pipe", "into the pid namespace", errno);
	child = fork();
	if (child < 0)
		fail("fork", "into the pid namespace", errno);
	if (child == 0) {
		char c;
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		close(hold[0]);
		return;
	}
	const char *errfd = getenv("_CTRKIT_ERRFD");
	if (errfd != NULL)
		dprintf(atoi(errfd), "pid %d\n", child);
	close(hold[1]); // EOF: the child goes on
	if (getenv("_CTRKIT_DETACH") != NULL)
		_exit(0);
	for (int fd = 3; fd < 1024; fd++)
		close(fd); // the child holds the pipes to ns-enter now
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], forward);
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

// nstype is the CLONE_NEW* flag of a kind ns-enter names ("net", "mnt"…):
// setns(2) then refuses a descriptor of another kind (EINVAL) instead of
// joining whatever it is, e.g. the caller's own mount namespace.
static int nstype(const char *kind) {
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
		     {"uts", CLONE_NEWUTS}, {"time", CLONE_NEWTIME}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID},
		     {"mnt", CLONE_NEWNS}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kind, kinds[i].name) == 0)
			return kinds[i].flag;
	fail("setns", kind, EINVAL);
	return 0;
}

// late_user_namespace makes the container's user namespace after the
// joins, and its other new namespaces inside it (runc's order; see
// setns.go): unshare(CLONE_NEWUSER), tell ns-enter ("userns\n" on the
// error pipe), wait until it wrote uid_map and gid_map and sent the spec,
// become root inside, then unshare the rest.
static void late_user_namespace(const char *flags_env) {
	int flags = atoi(flags_env);
	const char *dir = getenv("_CTRKIT_CHDIR");
	if (dir != NULL && chdir(dir) < 0) // as the host's root, who may reach it
		fail("chdir", dir, errno);
	if (unshare(CLONE_NEWUSER) < 0)
		fail("unshare", "user", errno);
	const char *errfd = getenv("_CTRKIT_ERRFD");
	if (errfd != NULL)
		dprintf(atoi(errfd), "userns\n");
	struct pollfd p = {.fd = config_fd(), .events = POLLIN};
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (setresgid(0, 0, 0) < 0)
		fail("setresgid", "0", errno);
	if (setresuid(0, 0, 0) < 0)
		fail("setresuid", "0", errno);
	if (flags != 0 && unshare(flags) < 0)
		fail("unshare", "the container's namespaces", errno);
	unsetenv("_CTRKIT_USERNS");
	unsetenv("_CTRKIT_CHDIR");
	if (flags & CLONE_NEWPID)
		fork_into_pid_namespace();
}

// listed tells whether the n bytes at b are a whole list: NUL-terminated
// names, then an empty one.
static int listed(const char *b, size_t n) {
	return n == 1 ? b[0] == '\0' : n >= 2 && b[n - 1] == '\0' && b[n - 2] == '\0';
}

// join_cgroups moves this process into the container's cgroup while it
// has one thread (see setns.go): ns-enter sends the cgroup v1 "tasks"
// files on the config pipe, each ending in NUL and the list in one more
// NUL, and waits; "0" written to each moves the writer, the whole process
// while it is one thread; "cgroup\n" on the error pipe says it is done.
static void join_cgroups(void) {
	static char buf[65536];
	size_t n = 0;
	while (!listed(buf, n)) {
		if (n == sizeof buf)
			fail("read", "the cgroup list", E2BIG);
		ssize_t r = read(config_fd(), buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(125); // ns-enter is gone, or failed: it says why
		n += r;
	}
	for (char *path = buf; path < buf + n && *path != '\0'; path += strlen(path) + 1) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			fail("write", path, errno);
		close(fd);
	}
	unsetenv("_CTRKIT_CGROUP");
	const char *errfd = getenv("_CTRKIT_ERRFD");
	if (errfd != NULL)
		dprintf(atoi(errfd), "cgroup\n");
}

void ctrkit_setns(void) {
	if (getenv("_CTRKIT_CGROUP") != NULL)
		join_cgroups(); // first: the paths are the host's, before any setns
	const char *list = getenv("_CTRKIT_SETNS");
	const char *userns = getenv("_CTRKIT_USERNS");
	if (list == NULL || *list == '\0') {
		if (userns != NULL)
			late_user_namespace(userns);
		return;
	}
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	int joined_pid = 0;
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *kind = strchr(item, ':');
		if (kind == NULL)
			continue;
		*kind++ = '\0';
		int fd = atoi(item);
		if (setns(fd, nstype(kind)) < 0)
			fail("setns", kind, errno);
		close(fd);
		joined_pid |= strcmp(kind, "pid") == 0;
	}
	unsetenv("_CTRKIT_SETNS");
	if (userns != NULL)
		late_user_namespace(userns);
	else if (joined_pid)
		fork_into_pid_namespace();
}
