/*
 * Demo steps 3 to 5, where the holder does not cooperate: a peer opens a
 * file and a socket and just waits.  We find them in /proc/PID/fd, take
 * the file with pidfd_getfd (step 3), open it again through /proc (step
 * 4) and show that a socket cannot be opened again that way (step 5).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"

struct holder {
	pid_t pid;
	int stop;               /* its "stop" pipe: closing it ends the peer */
	int file;               /* the holder's fd numbers, -1 until found */
	int sock;
	char path[128];
};

static const char ptrace_why[] =
	"pidfd_getfd needs ptrace access to the process: the same user and no "
	"stricter ptrace policy (kernel.yama.ptrace_scope 2 or 3, a security "
	"module), or CAP_SYS_PTRACE";

/* Look at the holder's fds as 'fdshare ls PID' does. */
static void find_fds(struct holder *h)
{
	struct fdshare_fdinfo *info = malloc(sizeof *info);
	char dir[32];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)h->pid);
	d = opendir(dir);
	if (info == NULL || d == NULL) {
		free(info);
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    fdshare_describe(h->pid, atoi(e->d_name), info) < 0)
			continue;
		if (info->kind == FDSHARE_KIND_FILE && strcmp(info->path, h->path) == 0)
			h->file = info->fd;
		else if (info->kind == FDSHARE_KIND_SOCKET)
			h->sock = info->fd;
	}
	closedir(d);
	free(info);
}

static int start_holder(struct demo *d, struct holder *h)
{
	struct fdshare_pass pass[2];
	int ready[2], stop[2], r, err;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(stop, O_CLOEXEC) < 0) {
		err = errno;
		close(ready[0]);
		close(ready[1]);
		errno = err;
		return -1;
	}
	pass[0] = (struct fdshare_pass){ .fd = ready[1], .name = "ready" };
	pass[1] = (struct fdshare_pass){ .fd = stop[0], .name = "stop" };
	r = demo_spawn(d, &h->pid, (char *[]){ "hold", h->path, NULL }, pass, 2);
	err = errno;
	close(ready[1]);
	close(stop[0]);
	if (r < 0) {
		close(ready[0]);
		close(stop[1]);
		errno = err;
		return -1;
	}
	h->stop = stop[1];
	r = demo_wait_byte(ready[0]);
	err = errno;
	close(ready[0]);
	if (r < 0) {
		errno = err;
		return -1;
	}
	find_fds(h);
	if (h->file < 0 || h->sock < 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int64_t holder_offset(const struct holder *h)
{
	struct fdshare_fdinfo *info = malloc(sizeof *info);
	int64_t off = -1;

	if (info && fdshare_describe(h->pid, h->file, info) == 0)
		off = info->offset;
	free(info);
	return off;
}

/* Step 3: take the file with pidfd_getfd, write through it. */
static int step_grab(struct demo *d, struct holder *h, int *grabbed)
{
	struct stat st;
	int64_t off;
	int g;

	demo_title(d, 3, "pidfd_getfd from a process that does not cooperate (fdshare_grab)");
	demo_say(d, "pid %d opened %s as its fd %d and waits; found in /proc/%d/fd:",
	         (int)h->pid, strrchr(h->path, '/') + 1, h->file, (int)h->pid);
	g = fdshare_grab(h->pid, h->file, 0);
	if (g < 0)
		return demo_fail(d, 3, "pidfd_getfd", errno, ptrace_why);
	dprintf(g, "demo pid %d grabbed it as its fd %d and wrote through it\n",
	        (int)d->self, g);
	demo_show_file(d, h->path);
	off = holder_offset(h);
	*grabbed = g;
	if (fstat(g, &st) < 0 || off != st.st_size)
		return demo_fail(d, 3, "the holder's offset did not move", 0,
		                 "pidfd_getfd did not share the open file description");
	demo_ok(d, "one open file description: our write moved the holder's "
	        "offset (%lld)", (long long)off);
	return 0;
}

/* Step 4: open /proc/PID/fd/N again, show its offset is its own. */
static int step_reopen(struct demo *d, struct holder *h)
{
	char word[7] = "";
	int64_t before, after;
	off_t own;
	int r;

	demo_title(d, 4, "Reopening /proc/PID/fd/N (fdshare_reopen)");
	r = fdshare_reopen(h->pid, h->file, 0);
	if (r < 0)
		return demo_fail(d, 4, "open /proc/PID/fd/N", errno,
		                 "it needs ptrace read access to the process and "
		                 "permission to open the file itself");
	before = holder_offset(h);
	demo_say(d, "opened /proc/%d/fd/%d again as our fd %d: offset %lld, holder's %lld",
	         (int)h->pid, h->file, r, (long long)lseek(r, 0, SEEK_CUR), (long long)before);
	if (read(r, word, 6) != 6)
		word[0] = '\0';
	own = lseek(r, 0, SEEK_CUR);
	after = holder_offset(h);
	close(r);
	demo_say(d, "read \"%s\" through fd %d: its offset is %lld, holder's still %lld",
	         word, r, (long long)own, (long long)after);
	if (own != 6 || after != before || before <= 6)
		return demo_fail(d, 4, "the offsets are not independent", 0,
		                 "reopening did not make a new open file description");
	demo_ok(d, "a new open file description, with its own offset");
	return 0;
}

/* Step 5: a socket has no file to open again. */
static int step_socket(struct demo *d, struct holder *h)
{
	char target[FDSHARE_PATH_MAX + 64] = "";
	struct fdshare_fdinfo *info;
	int r, s;

	demo_title(d, 5, "What does not work: reopening a socket through /proc");
	r = fdshare_reopen(h->pid, h->sock, 0);
	if (r >= 0) {
		close(r);
		return demo_fail(d, 5, "a socket was reopened", 0, "this kernel is unusual");
	}
	if (errno != ENXIO)
		return demo_fail(d, 5, "open /proc/PID/fd/N of a socket", errno,
		                 "expected ENXIO");
	demo_say(d, "pid %d holds a socket as fd %d; open(\"/proc/%d/fd/%d\"): ENXIO",
	         (int)h->pid, h->sock, (int)h->pid, h->sock);
	demo_say(d, "why: a socket is in no filesystem; its /proc link \"socket:[N]\"");
	demo_say(d, "names it, but there is nothing to open(): pass or take the socket");
	demo_say(d, "itself instead (SCM_RIGHTS, pidfd_getfd).");
	s = fdshare_grab(h->pid, h->sock, 0);
	info = malloc(sizeof *info);
	if (s >= 0 && info && fdshare_describe_fd(s, info) == 0) {
		fdrow_target(info, target, sizeof target);
		demo_say(d, "pidfd_getfd took it as our fd %d: %s", s, target);
	}
	free(info);
	if (s >= 0)
		close(s);
	demo_ok(d, "refused with ENXIO (%s), as expected", strerror(ENXIO));
	return 0;
}

int demo_proc(struct demo *d)
{
	struct holder h = { .stop = -1, .file = -1, .sock = -1 };
	int grabbed = -1, rc = 0;

	demo_path(d, "held.log", h.path, sizeof h.path);
	if (start_holder(d, &h) < 0) {
		demo_title(d, 3, "pidfd_getfd from a process that does not cooperate");
		rc = demo_fail(d, 3, "cannot start the holding process", errno,
		               "it needs /tmp and /proc");
	} else {
		rc |= step_grab(d, &h, &grabbed);
		rc |= step_reopen(d, &h);
		rc |= step_socket(d, &h);
	}
	if (grabbed >= 0)
		close(grabbed);
	if (h.stop >= 0)
		close(h.stop);
	if (h.pid > 0 && demo_reap(h.pid) != 0 && rc == 0)
		rc = demo_fail(d, 5, "the holding process failed", 0, "see its error output");
	return rc;
}
