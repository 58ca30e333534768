/*
 * Demo steps 1 and 2, where the holder of a descriptor cooperates: it
 * passes it across exec, or sends it over a Unix socket.  The proof is a
 * file written by both sides through one open file description, opened
 * without O_APPEND: each line lands after the other's only because the
 * offset is shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"

/* A scratch file opened for writing at fd >= 10 (apart from the peer's). */
static int open_log(const char *path, int flags)
{
	int fd = open(path, flags | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), high, err;

	if (fd < 0)
		return -1;
	high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	err = errno;
	close(fd);
	errno = err;
	return high;
}

/* The file has exactly these line prefixes, in this order. */
static int lines_are(const char *path, const char *first, const char *second)
{
	char a[256] = "", b[256] = "", c[256] = "";
	FILE *f = fopen(path, "re");
	int ok;

	if (f == NULL)
		return 0;
	ok = fgets(a, sizeof a, f) && fgets(b, sizeof b, f) && !fgets(c, sizeof c, f);
	fclose(f);
	return ok && strncmp(a, first, strlen(first)) == 0 &&
	       strncmp(b, second, strlen(second)) == 0;
}

int demo_inherit(struct demo *d)
{
	char path[128];
	struct stat st;
	pid_t pid;
	off_t off;
	int fd, status;

	demo_title(d, 1, "Inheritance across fork and exec (fdshare_spawn, LISTEN_FDS)");
	demo_path(d, "inherit.log", path, sizeof path);
	fd = open_log(path, O_WRONLY);
	if (fd < 0)
		return demo_fail(d, 1, "cannot create a scratch file", errno, "check /tmp");
	dprintf(fd, "parent pid %d wrote through its fd %d\n", (int)d->self, fd);
	if (demo_spawn(d, &pid, (char *[]){ "inherit", NULL },
	               &(struct fdshare_pass){ .fd = fd, .name = "log" }, 1) < 0) {
		close(fd);
		return demo_fail(d, 1, "cannot start a child", errno, "see fdshare(1)");
	}
	status = demo_reap(pid);
	off = lseek(fd, 0, SEEK_CUR);
	fstat(fd, &st);
	close(fd);
	demo_say(d, "pid %d opened %s (no O_APPEND) as fd %d, wrote a line and", (int)d->self,
	         strrchr(path, '/') + 1, fd);
	demo_say(d, "started pid %d with it as fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=log):",
	         (int)pid);
	demo_show_file(d, path);
	if (status != 0 || !lines_are(path, "parent", "child"))
		return demo_fail(d, 1, "the child did not write after the parent", 0,
		                 "descriptor inheritance is broken here");
	if (off != st.st_size)
		return demo_fail(d, 1, "the parent's offset did not move", 0,
		                 "the open file description was not shared");
	demo_ok(d, "one open file description: the child's write moved the "
	        "parent's offset (%lld)", (long long)off);
	return 0;
}

int demo_scm_rights(struct demo *d)
{
	char sock[128], path[128];
	int ready[2], st_take, st_give;
	pid_t taker, giver;

	demo_title(d, 2, "SCM_RIGHTS between unrelated processes (fdshare_msg_send)");
	demo_path(d, "scm.sock", sock, sizeof sock);
	demo_path(d, "scm.log", path, sizeof path);
	if (pipe2(ready, O_CLOEXEC) < 0)
		return demo_fail(d, 2, "cannot make a pipe", errno, "see fdshare(1)");
	if (demo_spawn(d, &taker, (char *[]){ "take", sock, NULL },
	               &(struct fdshare_pass){ .fd = ready[1], .name = "ready" }, 1) < 0) {
		close(ready[0]);
		close(ready[1]);
		return demo_fail(d, 2, "cannot start the receiving process", errno,
		                 "see fdshare(1)");
	}
	close(ready[1]);
	if (demo_wait_byte(ready[0]) < 0) {
		close(ready[0]);
		demo_reap(taker);
		return demo_fail(d, 2, "the receiver did not listen on its socket", errno,
		                 "a Unix socket could not be made in /tmp");
	}
	close(ready[0]);
	if (demo_spawn(d, &giver, (char *[]){ "give", sock, path, NULL }, NULL, 0) < 0) {
		demo_reap(taker);
		return demo_fail(d, 2, "cannot start the sending process", errno,
		                 "see fdshare(1)");
	}
	st_give = demo_reap(giver);
	st_take = demo_reap(taker);
	demo_say(d, "pids %d and %d are siblings, not parent and child; pid %d listens",
	         (int)giver, (int)taker, (int)taker);
	demo_say(d, "on %s, pid %d connects and sends the file it opened:",
	         strrchr(sock, '/') + 1, (int)giver);
	demo_show_file(d, path);
	if (st_give != 0 || st_take != 0 || !lines_are(path, "giver", "taker"))
		return demo_fail(d, 2, "the descriptor did not arrive", 0,
		                 "SCM_RIGHTS failed between the two processes");
	demo_ok(d, "the receiver wrote after the sender: one open file description");
	return 0;
}
