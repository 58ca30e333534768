/*
 * A Unix socket at a path, made safely: see sockpath.h.  The
 * directory is opened once per call and the checks and changes are made
 * relative to it (fstatat, unlinkat, renameat2), so that they concern the
 * directory that was checked; bind and connect take the whole path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "sockpath.h"

static int fail(struct sockpath *sp, int what, int err)
{
	sp->failed = what;
	errno = err;
	return -1;
}

static int same_socket(const struct stat *st, dev_t dev, ino_t ino)
{
	return S_ISSOCK(st->st_mode) && st->st_dev == dev && st->st_ino == ino;
}

/* The last name of path (not empty, not . or ..) and its directory. */
static const char *split(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;

	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return NULL;
	if (slash == NULL)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
	return name;
}

/*
 * The directory, opened and checked: ours or root's (its owner may always
 * swap what is in it, sticky or not), and writable by others only if
 * sticky.
 */
static int open_dir(struct sockpath *sp, const char **name)
{
	char dir[sizeof sp->path];
	struct stat st;
	int dfd;

	*name = split(sp->path, dir, sizeof dir);
	if (*name == NULL)
		return fail(sp, SP_PATH, EISDIR);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(sp, SP_DIR, errno);
	if (fstat(dfd, &st) < 0) {
		close_keep_errno(dfd);
		return fail(sp, SP_DIR, errno);
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))) {
		close(dfd);
		return fail(sp, SP_DIR, EPERM);
	}
	return dfd;
}

/*
 * 0 when nobody listens on path (ECONNREFUSED), else -1 with errno:
 * EADDRINUSE when a socket is bound there, of any type (a stream probe of
 * a datagram or seqpacket socket gets EPROTOTYPE).  Non-blocking: a
 * listener whose backlog is full (EAGAIN) would hold a blocking connect
 * until it accepts, forever if it is stopped.
 */
static int probe_stale(const char *path)
{
	struct sockaddr_un sun;
	int fd, r;

	if (sockaddr_unix(path, &sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close_keep_errno(fd);
	if (r == 0 || errno == EAGAIN || errno == EPROTOTYPE) {
		errno = EADDRINUSE;
		return -1;
	}
	return errno == ECONNREFUSED ? 0 : -1;
}

int sockpath_check(struct sockpath *sp, const char *path, int flags)
{
	const char *name;
	struct stat st;
	int dfd, r = 0;

	memset(sp, 0, sizeof *sp);
	sp->fd = -1;
	if (strlen(path) >= sizeof sp->path)
		return fail(sp, SP_PATH, ENAMETOOLONG);
	strcpy(sp->path, path);
	dfd = open_dir(sp, &name);
	if (dfd < 0)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			r = fail(sp, SP_PATH, errno);
	} else if (S_ISLNK(st.st_mode)) {
		r = fail(sp, SP_PATH, ELOOP);
	} else if (!S_ISSOCK(st.st_mode)) {
		r = fail(sp, SP_PATH, EEXIST);
	} else if (!(flags & SOCKPATH_TAKEOVER) && probe_stale(path) < 0) {
		r = fail(sp, SP_PATH, errno);
	} else {
		sp->found = 1;
		sp->old_dev = st.st_dev;
		sp->old_ino = st.st_ino;
	}
	close(dfd);
	return r;
}

/*
 * Bind fd at path (name in dfd) with exactly mode: the umask gives the
 * mode at once; with a group, its bits come only after the chown.
 */
static int bind_exact(int fd, const char *path, int dfd, const char *name, mode_t mode,
                      gid_t gid)
{
	mode_t first = gid == (gid_t)-1 ? mode : mode & ~(mode_t)070, mask;
	struct sockaddr_un sun;
	struct stat st;
	int r;

	if (sockaddr_unix(path, &sun) < 0)
		return -1;
	mask = umask(~first & 0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(mask);
	if (r < 0)
		return -1;
	if ((gid != (gid_t)-1 && fchownat(dfd, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    ((st.st_mode & 07777) != mode && fchmodat(dfd, name, mode, 0) < 0)) {
		unlinkat(dfd, name, 0);
		return -1;
	}
	return 0;
}

/*
 * Whether name (path) is still the stale socket that was checked: the
 * same inode, and still nobody listening (a filesystem may give a freed
 * inode number to the next file at once).  0, or -1 with errno.
 */
static int still_stale(int dfd, const char *name, const char *path,
                       const struct sockpath *sp, int takeover)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!same_socket(&st, sp->old_dev, sp->old_ino)) {
		errno = EEXIST;
		return -1;
	}
	return takeover ? 0 : probe_stale(path);
}

/* Unlink name if it is still the stale socket that was checked. */
static int unlink_stale(int dfd, const char *name, const struct sockpath *sp)
{
	if (still_stale(dfd, name, sp->path, sp, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

/* tmp over name, when nothing is there: never over something new. */
static int move_in(int dfd, const char *tmp, const char *name)
{
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_NOREPLACE on this filesystem: a link fails the same way. */
	if (linkat(dfd, tmp, dfd, name, 0) < 0)
		return -1;
	unlinkat(dfd, tmp, 0);
	return 0;
}

/*
 * tmp (tmppath) over name, which was the socket sp found: exchanged, and
 * what came out must still be that socket, stale unless taken over (then
 * it goes), else it is put back.
 */
static int move_over(int dfd, const char *tmp, const char *tmppath, const char *name,
                     const struct sockpath *sp, int takeover)
{
	int err;

	if (renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == 0) {
		if (still_stale(dfd, tmp, tmppath, sp, takeover) == 0)
			return unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT ? -1 : 0;
		err = errno == ENOENT ? EEXIST : errno;
		renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE);
		errno = err;
		return -1;
	}
	if (errno == ENOENT) /* it went meanwhile */
		return move_in(dfd, tmp, name);
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_EXCHANGE here: check again, then rename over it. */
	if (still_stale(dfd, name, sp->path, sp, takeover) < 0 && errno != ENOENT)
		return -1;
	return renameat(dfd, tmp, dfd, name);
}

/* 1 once a stale socket at name (path) is gone, else 0 with EADDRINUSE. */
static int removed_leftover(int dfd, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
	    probe_stale(path) == 0 && unlinkat(dfd, name, 0) == 0)
		return 1;
	errno = EADDRINUSE;
	return 0;
}

/* Bind PATH.PID (a stale one of a dead namesake replaced), then move it. */
static int listen_renamed(struct sockpath *sp, int fd, int dfd, const char *name,
                          mode_t mode, gid_t gid, int backlog, int flags)
{
	char tmp[sizeof sp->path + 16];
	const char *tname;
	struct stat mine;
	int r;

	snprintf(tmp, sizeof tmp, "%s.%d", sp->path, (int)getpid());
	if (strlen(tmp) >= sizeof sp->path)
		return fail(sp, SP_SOCKET, ENAMETOOLONG);
	tname = tmp + (name - sp->path);
	r = bind_exact(fd, tmp, dfd, tname, mode, gid);
	if (r < 0 && errno == EADDRINUSE && removed_leftover(dfd, tname, tmp))
		r = bind_exact(fd, tmp, dfd, tname, mode, gid);
	if (r < 0 || fstatat(dfd, tname, &mine, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(sp, SP_SOCKET, errno);
	if ((backlog >= 0 && listen(fd, backlog) < 0) ||
	    (sp->found ? move_over(dfd, tname, tmp, name, sp, flags & SOCKPATH_TAKEOVER) :
	     move_in(dfd, tname, name)) < 0) {
		int err = errno;
		struct stat st;

		/* Ours, unless an exchange could not be undone. */
		if (fstatat(dfd, tname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_socket(&st, mine.st_dev, mine.st_ino))
			unlinkat(dfd, tname, 0);
		return fail(sp, SP_SOCKET, err);
	}
	return 0;
}

/* Bind the path itself (a stale socket unlinked first), then listen. */
static int listen_direct(struct sockpath *sp, int fd, int dfd, const char *name,
                         mode_t mode, gid_t gid, int backlog)
{
	if (sp->found && unlink_stale(dfd, name, sp) < 0)
		return fail(sp, SP_SOCKET, errno);
	if (bind_exact(fd, sp->path, dfd, name, mode, gid) < 0)
		return fail(sp, SP_SOCKET, errno);
	if (backlog >= 0 && listen(fd, backlog) < 0) {
		int err = errno;

		unlinkat(dfd, name, 0);
		return fail(sp, SP_SOCKET, err);
	}
	return 0;
}

int sockpath_bind(struct sockpath *sp, int fd, mode_t mode, gid_t gid, int backlog,
                  int flags)
{
	const char *name;
	struct stat st;
	int dfd, r;

	dfd = open_dir(sp, &name);
	if (dfd < 0)
		return -1;
	if (flags & SOCKPATH_RENAME)
		r = listen_renamed(sp, fd, dfd, name, mode, gid, backlog, flags);
	else
		r = listen_direct(sp, fd, dfd, name, mode, gid, backlog);
	if (r == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = fail(sp, SP_SOCKET, errno);
	close_keep_errno(dfd);
	if (r < 0)
		return -1;
	sp->fd = fd;
	sp->dev = st.st_dev;
	sp->ino = st.st_ino;
	return 0;
}

int sockpath_listen(struct sockpath *sp, mode_t mode, gid_t gid, int backlog, int flags)
{
	int type = SOCK_STREAM | SOCK_CLOEXEC | (flags & SOCKPATH_NONBLOCK ? SOCK_NONBLOCK : 0);
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0)
		return fail(sp, SP_SOCKET, errno);
	if (sockpath_bind(sp, fd, mode, gid, backlog < 0 ? 0 : backlog, flags) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return 0;
}

int sockpath_unlink(const struct sockpath *sp)
{
	struct stat st;

	if (sp->ino == 0 || lstat(sp->path, &st) < 0 || !same_socket(&st, sp->dev, sp->ino)) {
		errno = ENOENT;
		return -1;
	}
	return unlink(sp->path);
}

int sockpath_mkdir(const char *dir, mode_t mode)
{
	struct stat st;
	mode_t mask = umask(077);
	int r = mkdir(dir, mode & 0700);

	umask(mask);
	if (r < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		errno = EPERM;
		return -1;
	}
	/* Made now: the search bits asked for others come last. */
	if (r == 0 && (st.st_mode & 07777) != mode && chmod(dir, mode) < 0)
		return -1;
	return 0;
}
