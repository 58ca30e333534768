/*
 * What a descriptor is: its kind, open flags, offset and target, read
 * from /proc/PID/fd/N and /proc/PID/fdinfo/N (sockets: describe_sock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "describe.h"

#define DELETED_SUFFIX " (deleted)"

static const char *const kind_names[FDSHARE_KIND_COUNT] = {
	[FDSHARE_KIND_OTHER] = "other",
	[FDSHARE_KIND_FILE] = "file",
	[FDSHARE_KIND_DIR] = "dir",
	[FDSHARE_KIND_PIPE] = "pipe",
	[FDSHARE_KIND_FIFO] = "fifo",
	[FDSHARE_KIND_SOCKET] = "socket",
	[FDSHARE_KIND_TTY] = "tty",
	[FDSHARE_KIND_CHAR] = "char",
	[FDSHARE_KIND_BLOCK] = "block",
	[FDSHARE_KIND_EVENTFD] = "eventfd",
	[FDSHARE_KIND_TIMERFD] = "timerfd",
	[FDSHARE_KIND_SIGNALFD] = "signalfd",
	[FDSHARE_KIND_EPOLL] = "epoll",
	[FDSHARE_KIND_INOTIFY] = "inotify",
	[FDSHARE_KIND_MEMFD] = "memfd",
	[FDSHARE_KIND_PIDFD] = "pidfd",
};

API const char *fdshare_kind_name(int kind)
{
	if (kind < 0 || kind >= FDSHARE_KIND_COUNT)
		return kind_names[FDSHARE_KIND_OTHER];
	return kind_names[kind];
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Anonymous inodes name themselves "anon_inode:[eventfd]" and the like. */
static int anon_kind(const char *target)
{
	static const struct { const char *name; int kind; } anon[] = {
		{ "[eventfd]", FDSHARE_KIND_EVENTFD },
		{ "[timerfd]", FDSHARE_KIND_TIMERFD },
		{ "[signalfd]", FDSHARE_KIND_SIGNALFD },
		{ "[eventpoll]", FDSHARE_KIND_EPOLL },
		{ "inotify", FDSHARE_KIND_INOTIFY },
		{ "[pidfd]", FDSHARE_KIND_PIDFD },
	};
	const char *name = target + strlen("anon_inode:");

	for (size_t i = 0; i < sizeof anon / sizeof *anon; i++)
		if (strcmp(name, anon[i].name) == 0)
			return anon[i].kind;
	return FDSHARE_KIND_OTHER;
}

/* A character device is a tty when sysfs files it under the tty class. */
static int is_tty_device(dev_t rdev)
{
	char path[64], link[256];
	ssize_t n;
	unsigned int maj = major(rdev);

	snprintf(path, sizeof path, "/sys/dev/char/%u:%u/subsystem", maj, minor(rdev));
	n = readlink(path, link, sizeof link - 1);
	if (n > 0) {
		const char *base;

		link[n] = '\0';
		base = strrchr(link, '/');
		return strcmp(base ? base + 1 : link, "tty") == 0;
	}
	/* No sysfs: the majors of ttys, consoles and pseudo-terminals. */
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

static int classify(const char *target, const struct stat *st, int have_stat)
{
	if (starts_with(target, "socket:["))
		return FDSHARE_KIND_SOCKET;
	if (starts_with(target, "pipe:["))
		return FDSHARE_KIND_PIPE;
	if (starts_with(target, "pidfd:"))
		return FDSHARE_KIND_PIDFD;
	if (starts_with(target, "anon_inode:"))
		return anon_kind(target);
	if (!have_stat)
		return FDSHARE_KIND_OTHER;
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return starts_with(target, "/memfd:") ? FDSHARE_KIND_MEMFD
		                                      : FDSHARE_KIND_FILE;
	case S_IFDIR:
		return FDSHARE_KIND_DIR;
	case S_IFIFO:
		return FDSHARE_KIND_FIFO;
	case S_IFSOCK:
		return FDSHARE_KIND_SOCKET;
	case S_IFBLK:
		return FDSHARE_KIND_BLOCK;
	case S_IFCHR:
		return is_tty_device(st->st_rdev) ? FDSHARE_KIND_TTY
		                                  : FDSHARE_KIND_CHAR;
	}
	return FDSHARE_KIND_OTHER;
}

static int has_offset(int kind)
{
	return kind == FDSHARE_KIND_FILE || kind == FDSHARE_KIND_DIR ||
	       kind == FDSHARE_KIND_BLOCK || kind == FDSHARE_KIND_CHAR ||
	       kind == FDSHARE_KIND_MEMFD;
}

/* The "pos:" and "flags:" lines of /proc/PID/fdinfo/N. */
static int read_fdinfo(pid_t pid, int fd, struct fdshare_fdinfo *info)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *end;

		errno = 0;
		if (starts_with(line, "pos:")) {
			long long v = strtoll(line + 4, &end, 10);

			if (errno == 0 && end != line + 4 && v >= 0) {
				info->offset = v;
				got |= 1;
			}
		} else if (starts_with(line, "flags:")) {
			unsigned long v = strtoul(line + 6, &end, 8);

			if (errno == 0 && end != line + 6 && v <= INT_MAX) {
				info->flags = (int)v;
				got |= 2;
			}
		}
	}
	fclose(f);
	if (got != 3) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* ENOENT from /proc/PID/fd/N: no such process, or no such fd. */
static int missing(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	errno = access(path, F_OK) < 0 ? ESRCH : EBADF;
	return -1;
}

static int read_target(pid_t pid, int fd, struct fdshare_fdinfo *info)
{
	char path[64];
	char link[FDSHARE_PATH_MAX];
	ssize_t n;
	size_t len, slen = strlen(DELETED_SUFFIX);

	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, link, sizeof link - 1);
	/* Deeper than the kernel will name (PATH_MAX): the rest still is known. */
	if (n < 0 && errno == ENAMETOOLONG)
		return 0;
	if (n < 0)
		return errno == ENOENT ? missing(pid) : -1;
	link[n] = '\0';
	len = (size_t)n;
	if (len > slen && strcmp(link + len - slen, DELETED_SUFFIX) == 0 &&
	    link[0] == '/') {
		link[len - slen] = '\0';
		info->deleted = 1;
	}
	memcpy(info->path, link, strlen(link) + 1);
	return 0;
}

/*
 * Whether path + " (deleted)", seen from pid's root, is the file st: so
 * named, not unlinked (an unlinked name with other links left has
 * st_nlink > 0 too).
 */
static int names_it(pid_t pid, const char *path, const struct stat *st)
{
	char full[FDSHARE_PATH_MAX + 64];
	struct stat at;

	if (snprintf(full, sizeof full, "/proc/%d/root%s" DELETED_SUFFIX, (int)pid,
	             path) >= (int)sizeof full)
		return 0;
	return lstat(full, &at) == 0 && at.st_dev == st->st_dev && at.st_ino == st->st_ino;
}

static void read_stat(pid_t pid, int fd, struct fdshare_fdinfo *info,
                      struct stat *st, int *have_stat)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	*have_stat = stat(path, st) == 0;
	if (!*have_stat)
		return;
	info->dev = st->st_dev;
	info->ino = st->st_ino;
	info->mode = st->st_mode;
	info->rdev = st->st_rdev;
	/* A live file whose name merely ends in " (deleted)": that name is it. */
	if (info->deleted && st->st_nlink > 0 && !starts_with(info->path, "/memfd:") &&
	    names_it(pid, info->path, st)) {
		info->deleted = 0;
		strcat(info->path, DELETED_SUFFIX);
	}
}

API int fdshare_describe(pid_t pid, int fd, struct fdshare_fdinfo *info)
{
	struct stat st;
	int have_stat, self;

	if (pid < 0 || fd < 0 || info == NULL) {
		errno = fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	self = pid == 0 || pid == getpid();
	memset(info, 0, sizeof *info);
	info->pid = self ? getpid() : pid;
	info->fd = fd;
	if (read_target(info->pid, fd, info) < 0)
		return -1;
	if (read_fdinfo(info->pid, fd, info) < 0)
		return errno == ENOENT ? missing(info->pid) : -1;
	read_stat(info->pid, fd, info, &st, &have_stat);
	info->kind = classify(info->path, &st, have_stat);
	if (info->kind == FDSHARE_KIND_MEMFD)
		info->deleted = 0; /* never had a name to lose */
	if (!has_offset(info->kind))
		info->offset = -1;
	if (info->kind == FDSHARE_KIND_SOCKET && info->ino == 0) {
		uintmax_t ino;

		if (sscanf(info->path, "socket:[%ju]", &ino) == 1)
			info->ino = (ino_t)ino;
	}
	if (info->kind == FDSHARE_KIND_SOCKET)
		describe_socket(info->pid, fd, self, info->ino, &info->sock);
	return 0;
}

API int fdshare_describe_fd(int fd, struct fdshare_fdinfo *info)
{
	return fdshare_describe(0, fd, info);
}
