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
 * copying it and setting its slot to -1.
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

/*
 * The peer of a connected Unix socket (SO_PEERCRED); pidfd from
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
 * (EPERM), fdshare_grab falls back to fdshare_reopen.
 *
 * fdshare_grab_pidfd: the same from a pidfd already open (no pidfd_open).
 *
 * fdshare_reopen: opens /proc/PID/fd/N again with the target's access mode
 * (and O_APPEND), read from /proc/PID/fdinfo/N.  This is a NEW open file
 * description: its own offset, its own status flags, and a fresh
 * permission check on the file.  A socket cannot be reopened: ENXIO.
 */
int fdshare_pidfd_open(pid_t pid);
int fdshare_grab(pid_t pid, int fd, int flags);
int fdshare_grab_pidfd(int pidfd, int fd, int flags);
int fdshare_reopen(pid_t pid, int fd, int flags);

/*
 * Inheritance across fork and exec, with systemd's socket-activation
 * convention (LISTEN_FDS, LISTEN_PID, LISTEN_PIDFDID, LISTEN_FDNAMES).
 * [section owned by src/lib/spawn.c and src/lib/listen.c]
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
void fdshare_strv_free(char **strv);

/*
 * What a descriptor is.
 * [section owned by src/lib/describe.c]
 */

#ifdef __cplusplus
}
#endif

#endif
