/* Private to libfdshare: what the mechanism files share. */
#ifndef FDSHARE_INTERNAL_H
#define FDSHARE_INTERNAL_H

#include <stddef.h>
#include <sys/socket.h>
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
