/* Private to libfdshare: what the mechanism files share. */
#ifndef FDSHARE_INTERNAL_H
#define FDSHARE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdshare.h"

#define API __attribute__((visibility("default")))

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/*
 * Control space for n fds and room beside them for the control messages a
 * socket option may add (SCM_CREDENTIALS with SO_PASSCRED, SCM_PIDFD with
 * SO_PASSPIDFD, a short SCM_SECURITY label), so that they never truncate
 * the descriptors.
 */
#define FDS_CTL_EXTRA (CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) + 256)
#define FDS_CTL_SPACE(n) (CMSG_SPACE(sizeof(int) * (n)) + FDS_CTL_EXTRA)

/* Attach nfds (>= 1) fds to mh in buf, CMSG_SPACE(4 * nfds) bytes. */
void cmsg_put_fds(struct msghdr *mh, void *buf, const int *fds, size_t nfds);
/*
 * The fds a received mh carries, as fds_recvmsg takes them (its flags
 * checked, SCM_PIDFD closed); -1 with every fd closed on failure.
 */
int cmsg_take_fds(const struct msghdr *mh, int *fds, size_t cap, size_t *got);

/* One sendmsg of iov with fds attached, MSG_NOSIGNAL, EINTR retried. */
ssize_t fds_sendmsg(int sock, const struct iovec *iov, int iovcnt,
                    const int *fds, size_t nfds, int msgflags);

/*
 * One recvmsg into iov, EINTR retried.  Up to cap received fds are stored
 * in fds and counted in *got.  More than cap, MSG_CTRUNC (ECHRNG) or
 * MSG_TRUNC (EMSGSIZE): every fd that arrived is closed and -1 returned.
 * Descriptors carried by other control messages (SCM_PIDFD) are closed.
 */
ssize_t fds_recvmsg(int sock, struct iovec *iov, int iovcnt,
                    int *fds, size_t cap, size_t *got, int msgflags);

/* The frame of docs/protocol.md, section 1. */
#define FRAME_HDR_LEN 20
#define FRAME_MAGIC 0x48534446u /* "FDSH" */
#define FRAME_VERSION 1
#define FRAME_FIRST_MAX 4096    /* first record: header + first payload bytes */
#define FRAME_RECORD_MAX 65536  /* any later record */

void frame_put_header(unsigned char *h, uint32_t type, uint32_t len, uint32_t nfds);
/* -1/EPROTO for a bad magic, version, reserved byte or a limit exceeded. */
int frame_parse_header(const unsigned char *h, uint32_t *type, uint32_t *len,
                       uint32_t *nfds);
/* Carrier bytes after the payload, one per chunk of fds after the first. */
size_t frame_carriers(size_t nfds);
/* A frame's first record holds all of it: header, payload and fds. */
#define FRAME_ONE_RECORD(len, nfds) \
	((len) <= FRAME_FIRST_MAX - FRAME_HDR_LEN && (nfds) <= FDSHARE_MAX_FDS)
/*
 * After a failed send: 1 when another try is worth it (EAGAIN: waited for
 * POLLOUT, unless the socket is blocking with SO_SNDTIMEO set; ETOOMANYREFS:
 * a bounded wait for the reader, *waited_us, from 0, adding up the naps of
 * one record), else 0.
 */
int frame_send_wait(int sock, long *waited_us);

static inline void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* fdshare_peer without the pidfd (peer->pidfd = -1). */
int peer_cred(int sock, struct fdshare_peer *peer);

/* sun for path; ENAMETOOLONG when it does not fit in sun_path. */
int sockaddr_unix(const char *path, struct sockaddr_un *sun);

/* CLOCK_MONOTONIC, in milliseconds. */
int64_t mono_ms(void);
/* Close n descriptors, keeping errno. */
void close_fds(const int *fds, size_t n);
/* Close fd if >= 0, keeping errno. */
void close_keep_errno(int fd);
/* Set or clear FD_CLOEXEC. */
int set_cloexec(int fd, int on);

int sys_pidfd_open(pid_t pid, unsigned int flags);
int sys_pidfd_getfd(int pidfd, int fd, unsigned int flags);
int sys_pidfd_send_signal(int pidfd, int sig);

#endif
