/*
 * fdshare.h - share open file descriptors between Linux processes.
 *
 * Every function returns -1 and sets errno on failure; no failure path
 * leaves a descriptor open or memory allocated.  Sends never raise
 * SIGPIPE: a closed peer gives EPIPE.
 */
#ifndef FDSHARE_H
#define FDSHARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FDSHARE_VERSION "0.1.0"

#define FDSHARE_MAX_FDS   253   /* the kernel's SCM_MAX_FD: fds in one sendmsg */
#define FDSHARE_NOCLOEXEC 0x1   /* received or grabbed fds without O_CLOEXEC */
#define FDSHARE_DONTWAIT  0x2   /* do not block: fail with EAGAIN */
#define FDSHARE_REOPEN    0x4   /* fdshare_grab may fall back to /proc/PID/fd/N */

/*
 * SCM_RIGHTS over a Unix domain socket.
 *
 * fdshare_send: one logical send of buf with fds attached to its first byte.
 * nfds <= FDSHARE_MAX_FDS and, when nfds > 0, len >= 1, else EINVAL and
 * nothing is sent.  On a blocking stream socket every byte is sent; with
 * FDSHARE_DONTWAIT the count may be short (the fds went with the first byte).
 *
 * fdshare_recv: one recvmsg.  *nfds is the capacity of fds on entry and the
 * count received on return (fds and nfds may both be NULL: none expected).
 * Received fds are O_CLOEXEC unless FDSHARE_NOCLOEXEC.  More fds than the
 * capacity, or MSG_CTRUNC for any reason: every fd that arrived is closed,
 * *nfds = 0, ECHRNG.  A cut datagram or record (MSG_TRUNC): fds closed,
 * EMSGSIZE.  Returns the bytes read, 0 at end of stream.
 */
ssize_t fdshare_send(int sock, const void *buf, size_t len,
                     const int *fds, size_t nfds, int flags);
ssize_t fdshare_recv(int sock, void *buf, size_t len,
                     int *fds, size_t *nfds, int flags);

/*
 * Framed messages over SOCK_STREAM or SOCK_SEQPACKET: a 32-bit type, a
 * payload and any number of fds (split over as many sendmsg calls as
 * needed).  Wire format: docs/protocol.md.  fdshare_msg_recv returns 1 with
 * a message (owned by the caller until fdshare_msg_free), 0 at a clean end
 * of stream, -1 on error: EPROTO for a malformed frame, fds not matching
 * the header or end of stream inside a frame; ECHRNG when the kernel
 * truncated the descriptors (RLIMIT_NOFILE).  After an error the stream is
 * out of step: close it.  Every fd delivered has O_CLOEXEC.
 * fdshare_msg_free closes every fd still >= 0 in msg->fds: take an fd by
 * copying it and setting its slot to -1.  fdshare_msg_freev frees
 * msgs[0..n-1] so.  Both close with as few system calls as they can: one
 * close_range(2) for each run of consecutive numbers.
 */
#define FDSHARE_MSG_MAX_LEN (16u * 1024 * 1024) /* payload bytes, inclusive */
#define FDSHARE_MSG_MAX_FDS 65536u              /* fds per message, inclusive */

struct fdshare_msg {
	uint32_t type;
	void *data;
	size_t len;
	int *fds;
	size_t nfds;
};

int  fdshare_msg_send(int sock, uint32_t type, const void *data, size_t len,
                      const int *fds, size_t nfds);
int  fdshare_msg_recv(int sock, struct fdshare_msg *msg);
void fdshare_msg_free(struct fdshare_msg *msg);
void fdshare_msg_freev(struct fdshare_msg *msgs, size_t n);

/*
 * The buffered reader: fdshare_msg_recv for one connection, cheaper.
 * It learns the socket type once and takes a frame that fits one record
 * (docs/protocol.md 1.3) with one recvmsg; on a stream it reads ahead and
 * keeps bytes and fds of the next frames for the next calls, so once a
 * reader has read from a socket, read that socket only through it.
 * fdshare_reader_new: EPROTOTYPE unless SOCK_STREAM or SOCK_SEQPACKET.
 * fdshare_reader_recv returns as fdshare_msg_recv does.
 * fdshare_reader_recvv fills msgs[0..n-1]: it blocks for the first frame
 * (and for the rest of a frame it has begun) and returns how many it
 * took (>= 1), 0 at a clean end (then 0 for good; on SOCK_SEQPACKET an
 * empty record is an end too), -1 on error;
 * an error met after some frames is returned by the next call.  On
 * SOCK_SEQPACKET it takes up to 64 records per recvmmsg(2).
 * fdshare_reader_buffered: bytes read ahead and not yet returned; poll(2)
 * cannot see them, so an event loop calls fdshare_reader_recv again
 * while this is non-zero.
 * fdshare_reader_free closes the fds it holds, frees it, keeps the socket.
 *
 * fdshare_msg_sendv sends msgs[0..n-1] as fdshare_msg_send would, on
 * SOCK_SEQPACKET up to 64 per sendmmsg(2) (those that fit one record;
 * others by fdshare_msg_send).  Returns 0 when all went, -1 on error
 * (EINVAL for any invalid message, and nothing sent); *sent (may be NULL)
 * counts the messages that went whole.
 */
struct fdshare_reader;

struct fdshare_reader *fdshare_reader_new(int sock);
int    fdshare_reader_recv(struct fdshare_reader *r, struct fdshare_msg *msg);
int    fdshare_reader_recvv(struct fdshare_reader *r, struct fdshare_msg *msgs,
                            size_t n);
size_t fdshare_reader_buffered(const struct fdshare_reader *r);
void   fdshare_reader_free(struct fdshare_reader *r);
int    fdshare_msg_sendv(int sock, const struct fdshare_msg *msgs, size_t n,
                         size_t *sent);

/*
 * The peer of a connected Unix socket (SO_PEERCRED; ENOTCONN when there
 * is none); pidfd from
 * SO_PEERPIDFD where the kernel has it (Linux 6.5+), else -1.  The caller
 * closes a pidfd it got.
 */
struct fdshare_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int pidfd;
};
int fdshare_peer(int sock, struct fdshare_peer *peer);

/*
 * Taking a descriptor from another process, without its cooperation.
 *
 * fdshare_pidfd_open: pidfd_open(2); the pidfd has O_CLOEXEC.
 *
 * fdshare_grab: a duplicate of descriptor fd of process pid, by
 * pidfd_open + pidfd_getfd(2) (Linux 5.6+, needs ptrace access: the same
 * uid or CAP_SYS_PTRACE).  It is the SAME open file description: offset
 * and status flags are shared with the target.  O_CLOEXEC unless
 * FDSHARE_NOCLOEXEC.  Errors keep the kernel's errno: ESRCH no such
 * process, EBADF no such fd, EPERM no ptrace access.
 *
 * With FDSHARE_REOPEN, when pidfd_getfd is unavailable (ENOSYS) or refused
 * (EPERM), fdshare_grab falls back to fdshare_reopen (EPERM stays EPERM
 * when the /proc path is refused too).
 *
 * fdshare_grab_pidfd: the same from a pidfd already open (no pidfd_open);
 * flags: FDSHARE_NOCLOEXEC only (no fallback: EINVAL for FDSHARE_REOPEN).
 *
 * fdshare_reopen: opens /proc/PID/fd/N again with the target's access mode
 * (and O_APPEND), read from /proc/PID/fdinfo/N.  This is a NEW open file
 * description: its own offset, its own status flags, and a fresh
 * permission check on the file.  A socket cannot be reopened: ENXIO; nor
 * the write end of a FIFO nobody reads (ENXIO, it never blocks).  An
 * O_PATH descriptor is reopened O_PATH: no access the target lacks.
 */
int fdshare_pidfd_open(pid_t pid);
int fdshare_grab(pid_t pid, int fd, int flags);
int fdshare_grab_pidfd(int pidfd, int fd, int flags);
int fdshare_reopen(pid_t pid, int fd, int flags);

/*
 * Inheritance across fork and exec, with systemd's socket-activation
 * convention (LISTEN_FDS, LISTEN_PID, LISTEN_PIDFDID, LISTEN_FDNAMES).
 *
 * fdshare_spawn: runs argv[0] in a new process, looked up in the caller's
 * PATH as execvp does when it has no '/' (/bin:/usr/bin without PATH;
 * a shell script without #! is not run by /bin/sh: ENOEXEC), and stores
 * its pid in *pid (pid may be NULL).  The new program finds:
 *  - fds[i].fd at descriptor 3 + i, without FD_CLOEXEC (the same open file
 *    description as the caller's), 0-2 as the caller has them, and every
 *    other descriptor closed.  Any mapping works: sources among 0-2 or
 *    among the targets in any order (swaps, cycles), the same fd twice.
 *  - envp (NULL: environ) without any LISTEN_PID, LISTEN_PIDFDID,
 *    LISTEN_FDS or LISTEN_FDNAMES entry; then, when nfds > 0, as systemd
 *    sets them: LISTEN_FDS=nfds, LISTEN_PID=its own pid, LISTEN_FDNAMES=
 *    the names joined by ':' ("unknown" for a NULL name) and, where pidfds
 *    have inode ids (pidfs, Linux 6.9+), LISTEN_PIDFDID=that id for it.
 *  - an empty signal mask; handlers the caller set are back to default
 *    (never run in the child), ignored signals stay ignored: posix_spawn's
 *    behaviour.
 * The caller's descriptors, their flags and its signal mask are left as
 * they were.  Failures, with nothing started: EINVAL for flags other than
 * 0, argv or argv[0] NULL, fds NULL with nfds > 0, nfds > 65536, or a
 * name that is empty, longer than 255 or holds other than printable ASCII
 * or holds ':' or '\' (libsystemd reads a '\' as an escape); EBADF for a
 * source that is not open; ENOENT, EACCES, ... for a program execvp would
 * not find.  An exec that fails in the child (ENOEXEC, ENOENT for a
 * missing #! interpreter, EMFILE, ...) is returned as errno, the child
 * reaped.  The child needs about 2 * nfds + 4 free descriptor numbers.
 *
 * fdshare_exec: the same in place of the calling process (LISTEN_PID is
 * getpid()); returns only on failure.  The program is looked up before
 * anything changes, and if execve still fails everything is put back:
 * each descriptor number names the same open file description with the
 * same FD_CLOEXEC flag as before, and the signal mask is restored (it is
 * emptied for the exec).  POSIX record locks on a file open at 3 ..
 * 3+nfds-1 may be lost on the way, as with any close.  Not safe while
 * other threads open or close descriptors.
 *
 * fdshare_listen_fds: the receiving side; returns what libsystemd's
 * sd_listen_fds_with_names() returns, with -1 and errno for its negative
 * codes: n, the number of fds passed to this process (3 .. 3+n-1, each
 * then given FD_CLOEXEC); 0 when LISTEN_PID or LISTEN_FDS is unset or
 * LISTEN_PID (or LISTEN_PIDFDID, where pidfs can check it) names another
 * process; -1 with EINVAL or ERANGE for a malformed number (systemd's
 * syntax: leading blanks, 0x, 0o, 0b, C octal) and EINVAL for LISTEN_FDS
 * <= 0; EBADF when a passed fd is not open.  When names is not NULL,
 * LISTEN_FDNAMES is split at ':' ('\' escapes the next character) before
 * anything else, giving EINVAL for a trailing '\' or a count other than
 * n; on success *names is a NULL-terminated array of n names ("unknown"
 * for each without LISTEN_FDNAMES) to free with fdshare_strv_free.  With
 * unset_env non-zero the four variables are unset whatever the outcome.
 * Not thread-safe (getenv, unsetenv).
 *
 * fdshare_fdname_valid: 1 when name may name a passed fd (1 to 255 bytes
 * of printable ASCII, no ':' nor '\'), else 0; name NULL: 0.
 */
struct fdshare_pass {
	int fd;
	const char *name;
};
int fdshare_spawn(pid_t *pid, char *const argv[], char *const envp[],
                  const struct fdshare_pass *fds, size_t nfds, int flags);
int fdshare_exec(char *const argv[], char *const envp[],
                 const struct fdshare_pass *fds, size_t nfds, int flags);
int fdshare_listen_fds(int unset_env, char ***names);
int fdshare_fdname_valid(const char *name);
/* Frees each string, then the array; NULL is fine. */
void fdshare_strv_free(char **strv);

/*
 * What a descriptor is.
 *
 * fdshare_describe: what descriptor fd of process pid is (pid 0: the
 * calling process), from /proc/PID/fd/N, /proc/PID/fdinfo/N and, for a
 * socket, the socket itself (getsockname, SO_PEERCRED, TCP_INFO ...).  For
 * another process's socket that takes a duplicate by pidfd_getfd, closed
 * at once; when that is refused, /proc/PID/net/{tcp,tcp6,udp,udp6,unix}
 * give the addresses and state but not the peer's pid.  Needs the same
 * access as reading /proc/PID/fd: the same uid or CAP_SYS_PTRACE.  Errors:
 * ESRCH no such process, EBADF fd not open, EACCES/EPERM no access.
 * fdshare_describe_fd(fd, info) is fdshare_describe(0, fd, info).
 *
 * Strings are NUL-terminated and cut to fit.  fdshare_kind_name gives the
 * short name of a kind ("file", "socket", ...), "other" when out of range.
 */
enum fdshare_kind {
	FDSHARE_KIND_OTHER,     /* an anonymous inode of another kind */
	FDSHARE_KIND_FILE,
	FDSHARE_KIND_DIR,
	FDSHARE_KIND_PIPE,
	FDSHARE_KIND_FIFO,
	FDSHARE_KIND_SOCKET,
	FDSHARE_KIND_TTY,
	FDSHARE_KIND_CHAR,
	FDSHARE_KIND_BLOCK,
	FDSHARE_KIND_EVENTFD,
	FDSHARE_KIND_TIMERFD,
	FDSHARE_KIND_SIGNALFD,
	FDSHARE_KIND_EPOLL,
	FDSHARE_KIND_INOTIFY,
	FDSHARE_KIND_MEMFD,
	FDSHARE_KIND_PIDFD,
	FDSHARE_KIND_COUNT
};

#define FDSHARE_PATH_MAX 4096
#define FDSHARE_ADDR_MAX 256

struct fdshare_sockinfo {
	int family;             /* AF_UNIX, AF_INET, AF_INET6, ...; 0 unknown */
	int type;               /* SOCK_STREAM, SOCK_DGRAM, ...; 0 unknown */
	int protocol;           /* IPPROTO_TCP, IPPROTO_UDP, ...; 0 unknown */
	int listening;          /* 1 when listen(2) was called */
	char state[16];         /* "LISTEN", "ESTABLISHED", "CONNECTED",
	                           "UNCONNECTED", ...; "" unknown */
	char local[FDSHARE_ADDR_MAX];   /* "127.0.0.1:8080", "[::1]:53",
	                                   "/run/x.sock", "@abstract"; "" none */
	char peer[FDSHARE_ADDR_MAX];    /* the same for the peer; "" none */
	pid_t peer_pid;         /* Unix sockets: SO_PEERCRED; 0 unknown */
	uid_t peer_uid;         /* valid when peer_pid > 0 */
};

struct fdshare_fdinfo {
	pid_t pid;              /* the process (never 0: getpid() for self) */
	int fd;
	int kind;               /* enum fdshare_kind */
	int flags;              /* open flags (O_ACCMODE, O_APPEND, O_NONBLOCK,
	                           O_CLOEXEC, O_PATH, ...) from fdinfo */
	int64_t offset;         /* file position; -1 where it means nothing
	                           (pipe, socket, anonymous inode) */
	dev_t dev;              /* stat of the open file; 0 when not known */
	ino_t ino;
	mode_t mode;
	dev_t rdev;
	int deleted;            /* the file was unlinked: path is its old name */
	char path[FDSHARE_PATH_MAX]; /* what /proc/PID/fd/N names, without
	                                " (deleted)"; "pipe:[123]" for a pipe,
	                                "anon_inode:[eventfd]", ...; "" for a
	                                file deeper than PATH_MAX */
	struct fdshare_sockinfo sock; /* kind FDSHARE_KIND_SOCKET only */
};

int fdshare_describe(pid_t pid, int fd, struct fdshare_fdinfo *info);
int fdshare_describe_fd(int fd, struct fdshare_fdinfo *info);
const char *fdshare_kind_name(int kind);

/*
 * The holder: a daemon that keeps descriptors under names while their
 * users come and go (fdshare-holder(8); wire protocol: fdshare-protocol(7),
 * section 3).
 *
 * fdshare_holder_path: the default socket path into buf: $FDSHARE_SOCKET,
 * else $XDG_RUNTIME_DIR/fdshare/holder.sock, else /run/fdshare/holder.sock.
 * ENAMETOOLONG when it does not fit (a Unix socket path: 107 bytes).
 *
 * fdshare_holder_connect: a connection (path NULL: the default), kept for
 * any number of requests; NULL and errno on failure.  Each call sends one
 * request and waits for its reply.  When the holder is being replaced
 * (fdshare holder --takeover) the call reconnects to the same path and
 * retries by itself, for up to 10 seconds.  A connection serves one
 * thread at a time.
 *
 * Names are 1 to 255 bytes of printable ASCII without ':' or whitespace
 * (else EINVAL, before anything is sent).  A call on several names is all
 * or nothing; on failure fdshare_holder_errindex tells which name failed.
 * Errors: ENOENT no such name, EBUSY name taken (store without REPLACE or
 * APPEND), EACCES refused by the holder's rules, EDQUOT the owner's quota
 * (an APPEND counts for the entry's owner), EMFILE the holder's --max-fds,
 * ENFILE the holder is out of descriptors, EMSGSIZE request over the
 * holder's size limit or a fetch of more than FDSHARE_MSG_MAX_FDS fds in
 * all, EUSERS too many clients, EINVAL bad name, flags or count, an APPEND
 * past FDSHARE_MSG_MAX_FDS fds in the entry, or drop-on-hangup of a fd
 * that cannot be polled, EAGAIN the holder kept answering "moved", ESHUTDOWN stopping.
 *
 * fdshare_store: nfds >= 1 fds under name; ttl_ms 0: kept until removed.
 * Flags FDSHARE_HOLD_*: REPLACE swaps an existing entry atomically, APPEND
 * adds to it (and restarts its TTL if ttl_ms > 0), DROP_ON_HANGUP closes
 * the entry when one of its fds reports EPOLLHUP/EPOLLERR.  The caller's
 * fds stay open (the holder has its own).
 *
 * fdshare_fetch: the entry's fds in *fds (malloc'd, O_CLOEXEC, the same
 * open files), count in *nfds; FDSHARE_FETCH_REMOVE takes the entry out.
 * fdshare_fetch_many: several names at once; *fds holds every fd in
 * order, counts[i] how many belong to names[i].
 *
 * fdshare_list: the entries the caller may see (prefix NULL: all), with
 * what each fd is; fdshare_list_fdinfo decodes fd i of entry e.
 */
#define FDSHARE_HOLD_REPLACE        0x1
#define FDSHARE_HOLD_APPEND         0x2
#define FDSHARE_HOLD_DROP_ON_HANGUP 0x4
#define FDSHARE_FETCH_REMOVE        0x1

struct fdshare_holder;

struct fdshare_store_item {
	const char *name;
	const int *fds;
	size_t nfds;
	uint64_t ttl_ms;
	int flags;
};

struct fdshare_entry {
	const char *name;
	uid_t owner;
	int flags;              /* FDSHARE_HOLD_DROP_ON_HANGUP */
	uint64_t age_ms;
	int64_t left_ms;        /* time to live left; -1: none */
	size_t nfds;
	size_t desc_;           /* private */
};

struct fdshare_list {
	struct fdshare_entry *v;
	size_t n;
	void *priv_;
};

int fdshare_holder_path(char *buf, size_t size);
struct fdshare_holder *fdshare_holder_connect(const char *path);
void fdshare_holder_close(struct fdshare_holder *h);
int fdshare_holder_fd(const struct fdshare_holder *h);
size_t fdshare_holder_errindex(const struct fdshare_holder *h);
int fdshare_holder_ping(struct fdshare_holder *h, pid_t *pid);

int fdshare_store(struct fdshare_holder *h, const char *name, const int *fds,
                  size_t nfds, uint64_t ttl_ms, int flags);
int fdshare_store_many(struct fdshare_holder *h,
                       const struct fdshare_store_item *items, size_t n);
int fdshare_fetch(struct fdshare_holder *h, const char *name, int **fds,
                  size_t *nfds, int flags);
int fdshare_fetch_many(struct fdshare_holder *h, const char *const *names,
                       size_t n, int flags, int **fds, size_t *counts);
int fdshare_remove(struct fdshare_holder *h, const char *name);
int fdshare_remove_many(struct fdshare_holder *h, const char *const *names,
                        size_t n);
int fdshare_list(struct fdshare_holder *h, const char *prefix,
                 struct fdshare_list *list);
int fdshare_list_fdinfo(const struct fdshare_list *list, size_t entry, size_t i,
                        struct fdshare_fdinfo *info);
void fdshare_list_free(struct fdshare_list *list);

/*
 * Refusing descriptors at the door.
 *
 * fdshare_refuse_fds: turns SO_PASSRIGHTS off on a Unix socket (Linux
 * 6.16+): from then on a peer's send with descriptors attached fails with
 * EPERM in the peer (nothing is sent, nothing is in flight towards this
 * socket), while sends without descriptors go through.  Set on a
 * listening socket, every connection accepted from it refuses too.
 * Errors: ENOPROTOOPT on an older kernel (the caller carries on: its
 * receives close any descriptor that arrives anyway), EOPNOTSUPP for a
 * socket that is not AF_UNIX, ENOTSOCK, EBADF.
 */
int fdshare_refuse_fds(int sock);

#ifdef __cplusplus
}
#endif

#endif
