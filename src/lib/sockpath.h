/*
 * Private to fdshare: a Unix socket at a filesystem path, made safely (the
 * holder and its --notify-socket, fdshare recv, fdshare listen unix:PATH,
 * unix-dgram:PATH and seqpacket:PATH).
 *
 *   - The path's directory must be ours or root's, and may not be
 *     writable by others unless it has the sticky bit (EPERM): whoever can
 *     write there, and its owner even when it is sticky, could swap the
 *     socket.
 *   - A symbolic link at the path is refused (ELOOP), anything else but a
 *     socket too (EEXIST), and left as it is; a socket someone listens on
 *     or is bound to (of any type) is refused (EADDRINUSE) unless it is
 *     being taken over.
 *   - A stale socket (nobody bound to it) is replaced, and only if it is
 *     still the same inode when it goes.
 *   - The socket never has looser permissions than asked, not even for a
 *     moment: bound under a umask that gives exactly the mode (group bits
 *     only once the group is set).
 *
 * Use: sockpath_check, then (maybe after other work) sockpath_listen, or
 * sockpath_bind for a socket of another type; on the way out sockpath_unlink, which removes the socket only if the path
 * still leads to it.  The process's umask is changed for the bind: the
 * callers are single-threaded.
 */
#ifndef FDSHARE_SOCKPATH_H
#define FDSHARE_SOCKPATH_H

#include <sys/types.h>
#include <sys/un.h>

/* What failed, for the error line and its hint. */
enum {
	SP_DIR = 1,   /* the directory: cannot be opened, or unsafe (EPERM) */
	SP_PATH,      /* what is at the path: ELOOP, EEXIST, EADDRINUSE, ... */
	SP_SOCKET,    /* making the socket: bind, group, listen, rename */
};

#define SOCKPATH_NONBLOCK 0x1 /* the listening socket is non-blocking */
#define SOCKPATH_RENAME 0x2   /* bind PATH.PID, rename it over the path:
                                 the path always leads to a live socket */
#define SOCKPATH_TAKEOVER 0x4 /* with RENAME: the path is a live socket,
                                 replaced (a holder taking over) */

struct sockpath {
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	int fd;           /* the listening socket (SOCK_CLOEXEC), or -1 */
	int failed;       /* SP_*, when a call returned -1 */
	int found;        /* a socket was at the path: replaced by listen */
	dev_t old_dev, dev;
	ino_t old_ino, ino; /* the socket found; the socket made */
};

/* The path checked, what is there classified; 0, or -1 with errno and
 * sp->failed.  Flags: SOCKPATH_TAKEOVER (no probe: a live socket is
 * expected). */
int sockpath_check(struct sockpath *sp, const char *path, int flags);

/*
 * Bind and listen at sp->path with exactly mode (and group gid, unless
 * (gid_t)-1), replacing the socket sockpath_check found.  0 with sp->fd,
 * or -1 with errno and sp->failed (nothing left behind).
 */
int sockpath_listen(struct sockpath *sp, mode_t mode, gid_t gid, int backlog,
                    int flags);

/*
 * The same for a Unix socket the caller made (SOCK_DGRAM, SOCK_SEQPACKET,
 * options already set): bound at sp->path, listening with backlog unless
 * backlog < 0.  0 with sp->fd = fd, or -1 with errno and sp->failed, fd
 * still open (the caller's).  SOCKPATH_NONBLOCK means nothing here.
 */
int sockpath_bind(struct sockpath *sp, int fd, mode_t mode, gid_t gid, int backlog,
                  int flags);

/* Remove the socket if the path still leads to it; async-signal-safe. */
int sockpath_unlink(const struct sockpath *sp);

/*
 * A private directory for sockets: created with mode, or if it exists it
 * must be a directory (not a symlink) owned by us, writable by nobody
 * else.  0, or -1 with errno (EPERM: exists and is not private).
 */
int sockpath_mkdir(const char *dir, mode_t mode);

#endif
