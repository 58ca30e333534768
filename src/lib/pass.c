/* SCM_RIGHTS: one sendmsg or recvmsg with descriptors attached. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define CTL_MAX FDS_CTL_SPACE(FDSHARE_MAX_FDS)

void cmsg_put_fds(struct msghdr *mh, void *buf, const int *fds, size_t nfds)
{
	struct cmsghdr *c;

	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	/* the padding, which the kernel copies too */
	memset((char *)buf + c->cmsg_len, 0, mh->msg_controllen - c->cmsg_len);
}

ssize_t fds_sendmsg(int sock, const struct iovec *iov, int iovcnt,
                    const int *fds, size_t nfds, int msgflags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FDSHARE_MAX_FDS)];
	} ctl;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	if (nfds > 0)
		cmsg_put_fds(&mh, ctl.buf, fds, nfds);
	do
		n = sendmsg(sock, &mh, msgflags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

static void close_cmsg_fds(const struct cmsghdr *c)
{
	size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

	for (size_t i = 0; i < k; i++) {
		int fd;

		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
		close_keep_errno(fd);
	}
}

int cmsg_take_fds(const struct msghdr *mh, int *fds, size_t cap, size_t *got)
{
	size_t count = 0;
	int err = 0;

	*got = 0;
	if (mh->msg_controllen == 0 && !(mh->msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_PIDFD) {
			close_cmsg_fds(c);
			continue;
		}
		if (c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++, count++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (count < cap) {
				fds[count] = fd;
			} else {
				close_keep_errno(fd);
				err = ECHRNG;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = ECHRNG;
	else if (!err && (mh->msg_flags & MSG_TRUNC))
		err = EMSGSIZE;
	if (err) {
		close_fds(fds, count < cap ? count : cap);
		errno = err;
		return -1;
	}
	*got = count;
	return 0;
}

ssize_t fds_recvmsg(int sock, struct iovec *iov, int iovcnt,
                    int *fds, size_t cap, size_t *got, int msgflags)
{
	union {
		struct cmsghdr align;
		char buf[CTL_MAX];
	} ctl;
	size_t room = cap < FDSHARE_MAX_FDS ? cap : FDSHARE_MAX_FDS;
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = (size_t)iovcnt,
		.msg_control = ctl.buf,
		.msg_controllen = FDS_CTL_SPACE(room),
	};
	ssize_t n;

	*got = 0;
	do
		n = recvmsg(sock, &mh, msgflags);
	while (n < 0 && errno == EINTR);
	if (n < 0 || cmsg_take_fds(&mh, fds, cap, got) < 0)
		return -1;
	return n;
}

#define SEND_FLAGS (FDSHARE_DONTWAIT)
#define RECV_FLAGS (FDSHARE_NOCLOEXEC | FDSHARE_DONTWAIT)

API ssize_t fdshare_send(int sock, const void *buf, size_t len,
                         const int *fds, size_t nfds, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int mf = (flags & FDSHARE_DONTWAIT) ? MSG_DONTWAIT : 0;
	size_t done;
	ssize_t n;

	if ((flags & ~SEND_FLAGS) || nfds > FDSHARE_MAX_FDS ||
	    (nfds > 0 && (fds == NULL || len == 0))) {
		errno = EINVAL;
		return -1;
	}
	n = fds_sendmsg(sock, &iov, 1, fds, nfds, mf);
	if (n < 0 || (size_t)n == len || (flags & FDSHARE_DONTWAIT))
		return n;
	/* Only a stream socket sends part of a message: finish it. */
	for (done = (size_t)n; done < len; done += (size_t)n) {
		iov.iov_base = (char *)buf + done;
		iov.iov_len = len - done;
		n = fds_sendmsg(sock, &iov, 1, NULL, 0, 0);
		if (n < 0)
			return errno == EAGAIN ? (ssize_t)done : -1;
	}
	return (ssize_t)len;
}

API ssize_t fdshare_recv(int sock, void *buf, size_t len,
                         int *fds, size_t *nfds, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	size_t cap = nfds ? *nfds : 0, got = 0;
	int mf = 0;
	ssize_t n;

	if ((flags & ~RECV_FLAGS) || (cap > 0 && fds == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (!(flags & FDSHARE_NOCLOEXEC))
		mf |= MSG_CMSG_CLOEXEC;
	if (flags & FDSHARE_DONTWAIT)
		mf |= MSG_DONTWAIT;
	n = fds_recvmsg(sock, &iov, 1, fds, cap, &got, mf);
	if (nfds)
		*nfds = got;
	return n;
}
