/*
 * fdshare_describe of a file open deeper than the kernel will name: the
 * readlink of /proc/PID/fd/N fails (ENAMETOOLONG), yet the descriptor is
 * open and everything else about it can be known, so describe (and
 * "fdshare ls", which stops at the first failure) must not fail.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdshare.h"
#include "t.h"

#define LEVELS 22 /* 22 names of 200 bytes: past PATH_MAX */

static struct fdshare_fdinfo info;

struct deep {
	char top[64];
	char name[201];
	int dirs[LEVELS + 1]; /* dirs[0] is top */
	int fd;               /* "file" in the deepest directory, O_RDWR */
};

static void deep_make(struct deep *d)
{
	snprintf(d->top, sizeof d->top, "/tmp/fdshare-deep.XXXXXX");
	CHECK(mkdtemp(d->top) != NULL);
	memset(d->name, 'd', 200);
	d->name[200] = '\0';
	d->dirs[0] = open(d->top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(d->dirs[0] >= 0);
	for (int i = 1; i <= LEVELS; i++) {
		CHECK_EQ(mkdirat(d->dirs[i - 1], d->name, 0700), 0);
		d->dirs[i] = openat(d->dirs[i - 1], d->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		CHECK(d->dirs[i] >= 0);
	}
	d->fd = openat(d->dirs[LEVELS], "file", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(d->fd >= 0);
	CHECK_EQ(write(d->fd, "abc", 3), 3);
}

static void deep_remove(struct deep *d)
{
	unlinkat(d->dirs[LEVELS], "file", 0);
	close(d->fd);
	for (int i = LEVELS; i >= 1; i--) {
		close(d->dirs[i]);
		CHECK_EQ(unlinkat(d->dirs[i - 1], d->name, AT_REMOVEDIR), 0);
	}
	close(d->dirs[0]);
	CHECK_EQ(rmdir(d->top), 0);
}

/* What describe must still say of d->fd, seen from pid (0: self). */
static void check_deep(pid_t pid, int fd, const struct stat *st)
{
	CHECK_EQ(fdshare_describe(pid, fd, &info), 0);
	CHECK_EQ(info.kind, FDSHARE_KIND_FILE);
	CHECK_EQ(info.offset, 3);
	CHECK_EQ(info.flags & O_ACCMODE, O_RDWR);
	CHECK((info.flags & O_CLOEXEC) != 0);
	CHECK_EQ(info.dev, st->st_dev);
	CHECK_EQ(info.ino, st->st_ino);
	CHECK(S_ISREG(info.mode));
	CHECK_EQ(info.path[0], '\0'); /* no name the kernel will give */
}

TEST(file_deeper_than_path_max)
{
	struct deep d;
	char link[64], buf[16];
	struct stat st;

	deep_make(&d);
	snprintf(link, sizeof link, "/proc/self/fd/%d", d.fd);
	CHECK_ERR(readlink(link, buf, sizeof buf), ENAMETOOLONG); /* the premise */
	CHECK_EQ(fstat(d.fd, &st), 0);
	check_deep(0, d.fd, &st);
	deep_remove(&d);
}

TEST(file_deeper_than_path_max_in_another_process)
{
	struct deep d;
	struct stat st;
	pid_t parent = getpid(), pid;

	deep_make(&d);
	CHECK_EQ(fstat(d.fd, &st), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(10);
		check_deep(parent, d.fd, &st);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	deep_remove(&d);
}

/* A closed descriptor is still EBADF, whatever the depth. */
TEST(closed_fd_still_ebadf)
{
	struct deep d;
	int fd;

	deep_make(&d);
	fd = d.fd;
	d.fd = dup(fd);
	CHECK(d.fd >= 0);
	close(fd);
	CHECK_ERR(fdshare_describe_fd(fd, &info), EBADF);
	deep_remove(&d);
}
