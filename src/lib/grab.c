/*
 * Taking a descriptor from another process: pidfd_getfd(2), which
 * duplicates the open file description, or reopening /proc/PID/fd/N,
 * which makes a new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define GRAB_FLAGS (FDSHARE_NOCLOEXEC | FDSHARE_REOPEN)

API int fdshare_pidfd_open(pid_t pid)
{
	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	return sys_pidfd_open(pid, 0); /* pidfds always have O_CLOEXEC */
}

static int getfd(int pidfd, int fd, int flags)
{
	int dup = sys_pidfd_getfd(pidfd, fd, 0); /* always O_CLOEXEC */

	if (dup >= 0 && (flags & FDSHARE_NOCLOEXEC) && set_cloexec(dup, 0) < 0) {
		close_keep_errno(dup);
		return -1;
	}
	return dup;
}

API int fdshare_grab_pidfd(int pidfd, int fd, int flags)
{
	if ((flags & ~FDSHARE_NOCLOEXEC) || fd < 0) {
		errno = fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	return getfd(pidfd, fd, flags);
}

/* The open flags of fd in pid, from the "flags:" line of its fdinfo. */
static int target_flags(pid_t pid, int fd)
{
	char path[64], line[256];
	FILE *f;
	int flags = -1;

	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? (errno = EBADF, -1) : -1;
	while (fgets(line, sizeof line, f)) {
		char *end;
		unsigned long v;

		if (strncmp(line, "flags:", 6) != 0)
			continue;
		errno = 0;
		v = strtoul(line + 6, &end, 8);
		if (errno == 0 && end != line + 6 && v <= INT_MAX)
			flags = (int)v;
		break;
	}
	fclose(f);
	if (flags < 0)
		errno = EIO;
	return flags;
}

static int reopen(pid_t pid, int pidfd, int fd, int flags)
{
	char path[64];
	int tflags, nfd, oflags;

	tflags = target_flags(pid, fd);
	if (tflags < 0)
		return -1;
	/* An O_PATH fd gives no access to the file: neither may its copy. */
	if (tflags & O_PATH)
		oflags = O_PATH;
	else
		oflags = (tflags & (O_ACCMODE | O_APPEND)) | O_NOCTTY;
	if (!(flags & FDSHARE_NOCLOEXEC))
		oflags |= O_CLOEXEC;
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	/* O_NONBLOCK: a FIFO must not wait here for its other end. */
	nfd = open(path, oflags & O_PATH ? oflags : oflags | O_NONBLOCK);
	if (nfd < 0)
		return errno == ENOENT ? (errno = EBADF, -1) : -1;
	if (!(oflags & O_PATH) && fcntl(nfd, F_SETFL, oflags & O_APPEND) < 0) {
		close_keep_errno(nfd);
		return -1;
	}
	/* The pid may have been reused while we read /proc: the pidfd knows. */
	if (pidfd >= 0 && sys_pidfd_send_signal(pidfd, 0) < 0) {
		close_keep_errno(nfd);
		errno = ESRCH;
		return -1;
	}
	return nfd;
}

API int fdshare_reopen(pid_t pid, int fd, int flags)
{
	int pidfd, nfd;

	if ((flags & ~GRAB_FLAGS) || pid <= 0 || fd < 0) {
		errno = fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0 && errno != ENOSYS)
		return -1;
	nfd = reopen(pid, pidfd, fd, flags);
	close_keep_errno(pidfd);
	return nfd;
}

API int fdshare_grab(pid_t pid, int fd, int flags)
{
	int pidfd, dup;

	if ((flags & ~GRAB_FLAGS) || pid <= 0 || fd < 0) {
		errno = fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0) {
		if (errno == ENOSYS && (flags & FDSHARE_REOPEN))
			return reopen(pid, -1, fd, flags);
		return -1;
	}
	dup = getfd(pidfd, fd, flags);
	if (dup < 0 && (flags & FDSHARE_REOPEN) && (errno == ENOSYS || errno == EPERM)) {
		int refused = errno;

		dup = reopen(pid, pidfd, fd, flags);
		/* Refused both ways: say so as pidfd_getfd did. */
		if (dup < 0 && refused == EPERM && errno == EACCES)
			errno = EPERM;
	}
	close_keep_errno(pidfd);
	return dup;
}
