// Joins the namespaces listed in _CTRKIT_SETNS before the Go runtime starts.
// See setns.go for why this cannot be Go.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(const char *kind, int fd, int err) {
	char msg[512];
	const char *hint = "";
	if (err == EPERM)
		hint = " (needs CAP_SYS_ADMIN in the namespace's owning user namespace)";
	else if (err == EINVAL)
		hint = " (a mount or user namespace can only be joined by a single-threaded process)";
	int n = snprintf(msg, sizeof msg, "125 setns(%d, %s): %s%s", fd, kind, strerror(err), hint);
	const char *errfd = getenv("_CTRKIT_ERRFD");
	if (errfd != NULL && write(atoi(errfd), msg, n) == n)
		_exit(125);
	dprintf(2, "ns-enter: %s\n", msg + 4);
	_exit(125);
}

void ctrkit_setns(void) {
	const char *list = getenv("_CTRKIT_SETNS");
	if (list == NULL || *list == '\0')
		return;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *kind = strchr(item, ':');
		if (kind == NULL)
			continue;
		*kind++ = '\0';
		int fd = atoi(item);
		if (setns(fd, 0) < 0)
			fail(kind, fd, errno);
		close(fd);
	}
	unsetenv("_CTRKIT_SETNS");
}
