/*
 * Shared by the tests of fdshare_grab and fdshare_reopen: a target process
 * that holds descriptors and does not cooperate, a file to grab, and how
 * to tell what came back.
 */
#ifndef TEST_GRAB_H
#define TEST_GRAB_H

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "fdshare.h"
#include "t.h"

#define NOT_OPEN 900 /* a descriptor number no target here has open */

/*
 * A target: a forked child that holds whatever this process had open at
 * fork and answers commands on its control pipe, each naming one of its
 * fds: 'p' reports the fd's offset, 's' seeks it to 5 and reports, 'c'
 * closes it.  It exits when the control pipe closes.  It never passes an
 * fd.
 */
struct target {
	pid_t pid;
	int ctl, rep;
};

static inline void target_loop(int ctl, int rep)
{
	unsigned char cmd[2];

	alarm(30);
	while (read(ctl, cmd, 2) == 2) {
		off_t off = 0;

		if (cmd[0] == 'c')
			close(cmd[1]);
		if (cmd[0] == 's')
			lseek(cmd[1], 5, SEEK_SET);
		if (cmd[0] != 'c')
			off = lseek(cmd[1], 0, SEEK_CUR);
		if (write(rep, &off, sizeof off) != sizeof off)
			_exit(1);
	}
	_exit(0);
}

static inline void target_start(struct target *t)
{
	int c[2], r[2];

	CHECK(pipe2(c, O_CLOEXEC) == 0);
	CHECK(pipe2(r, O_CLOEXEC) == 0);
	t->pid = fork();
	CHECK(t->pid >= 0);
	if (t->pid == 0) {
		close(c[1]);
		close(r[0]);
		target_loop(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	t->ctl = c[1];
	t->rep = r[0];
}

static inline off_t target_cmd(struct target *t, char cmd, int fd)
{
	unsigned char m[2] = { (unsigned char)cmd, (unsigned char)fd };
	off_t off;

	CHECK(fd >= 0 && fd < 256);
	CHECK_EQ(write(t->ctl, m, 2), 2);
	CHECK_EQ(read(t->rep, &off, sizeof off), (ssize_t)sizeof off);
	return off;
}

/* Close its control pipe and reap it: it must have exited cleanly. */
static inline void target_stop(struct target *t)
{
	close(t->ctl);
	close(t->rep);
	CHECK_EQ(t_wait(t->pid), 0);
}

/* A temporary file holding "0123456789", open read-write. */
static inline int make_file(char *path, size_t size)
{
	int fd = t_tmpfile(path, size);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "0123456789", 10), 10);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static inline void remove_file(char *path)
{
	CHECK(unlink(path) == 0);
	*strrchr(path, '/') = 0;
	CHECK(rmdir(path) == 0);
}

static inline int is_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static inline int has_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static inline off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/*
 * kcmp(2): 1 when our fd and the target's tfd are one open file
 * description, 0 when not, -1 when kcmp is not in this kernel.
 */
static inline int same_description(pid_t target, int tfd, int fd)
{
	long r = syscall(SYS_kcmp, getpid(), target, KCMP_FILE, fd, tfd);

	return r < 0 ? -1 : r == 0;
}


#endif
