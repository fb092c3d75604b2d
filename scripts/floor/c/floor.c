/* floor.c: ../main.go's processes in C, started the same way: what the
 * kernel alone costs for ctrkit's process design (scripts/bench-floor.sh). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOCUMENT 26000

static char *self;
static char doc[DOCUMENT];

static void drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static void put(int fd)
{
	size_t done = 0;
	while (done < DOCUMENT) {
		ssize_t n = write(fd, doc + done, DOCUMENT - done);
		if (n <= 0)
			exit(1);
		done += n;
	}
}

/* start runs self MODE with in and out as its stdin and stdout (-1: ours). */
static pid_t start(const char *mode, int in, int out)
{
	pid_t pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		execl(self, self, mode, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(1);
}

/* fed starts self MODE with the document on a pipe to its stdin. */
static pid_t fed(const char *mode, int out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	pid_t pid = start(mode, p[0], out);
	close(p[0]);
	put(p[1]);
	close(p[1]);
	return pid;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor run|runtime\n");
		return 2;
	}
	self = argv[0];
	const char *mode = argv[1];
	if (!strcmp(mode, "run")) {
		pid_t stages[4];
		int in = -1;
		for (int i = 0; i < 4; i++) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0)
				return 1;
			stages[i] = i == 0 ? fed("stage", p[1]) : start("stage", in, p[1]);
			close(p[1]);
			if (in >= 0)
				close(in);
			in = p[0];
		}
		drain(in);
		close(in);
		for (int i = 0; i < 4; i++)
			reap(stages[i]);
		reap(start("stage0", -1, -1));
	} else if (!strcmp(mode, "runtime") || !strcmp(mode, "stage0")) {
		int go[2];
		if (pipe2(go, O_CLOEXEC) < 0)
			return 1;
		pid_t stage1 = start("stage1", go[0], -1);
		close(go[0]);
		if (!strcmp(mode, "runtime")) {
			int out[2];
			if (pipe2(out, O_CLOEXEC) < 0)
				return 1;
			pid_t cg = fed("stage", out[1]);
			close(out[1]);
			drain(out[0]);
			close(out[0]);
			reap(cg);
		}
		close(go[1]);
		reap(stage1);
	} else if (!strcmp(mode, "stage")) {
		drain(0);
		put(1);
	} else if (!strcmp(mode, "stage1")) {
		drain(0);
		execl("/bin/true", "true", (char *)NULL);
		return 127;
	} else {
		fprintf(stderr, "floor: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
