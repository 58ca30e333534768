/*
 * Assembling one frame from reads that may bring it in pieces, with its
 * descriptors on any of them (docs/protocol.md, section 1.4).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "internal.h"
#include "rx.h"

int wait_for(int sock, short events)
{
	struct pollfd p = { .fd = sock, .events = events };
	int r;

	do
		r = poll(&p, 1, -1);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* Whether sock, blocking, has the timeout that bounds waits for events. */
static int has_timeout(int sock, short events)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof tv;

	if (getsockopt(sock, SOL_SOCKET, events & POLLOUT ? SO_SNDTIMEO : SO_RCVTIMEO,
	               &tv, &len) < 0)
		return -1;
	return tv.tv_sec != 0 || tv.tv_usec != 0;
}

int wait_again(int sock, short events)
{
	int fl = fcntl(sock, F_GETFL), timed;

	if (fl < 0)
		return -1;
	if (!(fl & O_NONBLOCK)) {
		timed = has_timeout(sock, events);
		if (timed < 0)
			return -1;
		if (timed) {
			errno = EAGAIN;
			return -1;
		}
	}
	return wait_for(sock, events);
}

/* Room for cap fds in all; the frame's own count once its header is read. */
static int rx_reserve(struct rx *rx, size_t cap)
{
	int *v;

	if (cap <= rx->cap)
		return 0;
	v = realloc(rx->fds, cap * sizeof(int));
	if (v == NULL)
		return -1;
	rx->fds = v;
	rx->cap = cap;
	return 0;
}

int rx_keep(struct rx *rx, const int *fds, size_t n)
{
	if (n == 0)
		return 0;
	if (rx->nfds + n > rx->limit) {
		close_fds(fds, n);
		errno = EPROTO;
		return -1;
	}
	if (rx->nfds + n > rx->cap &&
	    rx_reserve(rx, rx->cap * 2 > rx->nfds + n ? rx->cap * 2 : rx->nfds + n) < 0) {
		close_fds(fds, n);
		return -1;
	}
	memcpy(rx->fds + rx->nfds, fds, n * sizeof(int));
	rx->nfds += n;
	return 0;
}

ssize_t rx_once(struct rx *rx, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int fds[FDSHARE_MAX_FDS];
	size_t got;
	ssize_t n;

	for (;;) {
		n = fds_recvmsg(rx->sock, &iov, 1, fds, FDSHARE_MAX_FDS, &got,
		                MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno == EMSGSIZE)
			errno = EPROTO; /* a record longer than the frame says */
		if (errno != EAGAIN || wait_again(rx->sock, POLLIN) < 0)
			return -1;
	}
	if (rx_keep(rx, fds, got) < 0)
		return -1;
	return n;
}

/*
 * Read exactly len bytes of the frame: on a stream as many reads as it
 * takes, on seqpacket whole records that must not cross the frame's end.
 * An end of stream here is inside a frame: EPROTO.
 */
static int rx_exact(struct rx *rx, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = rx_once(rx, (char *)buf + off, len - off);

		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPROTO;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

ssize_t rx_first(struct rx *rx, unsigned char *first, int seqpacket)
{
	ssize_t n = rx_once(rx, first, seqpacket ? FRAME_FIRST_MAX : FRAME_HDR_LEN);

	if (n == 0 && rx->nfds == 0)
		return 0;
	if (n < 0)
		return -1;
	if (seqpacket || n == 0) {
		if (n < FRAME_HDR_LEN) {
			errno = EPROTO;
			return -1;
		}
		return n;
	}
	if (rx_exact(rx, first + n, FRAME_HDR_LEN - (size_t)n) < 0)
		return -1;
	return FRAME_HDR_LEN;
}

size_t rx_body_len(const struct fdshare_msg *msg)
{
	return msg->len + frame_carriers(msg->nfds);
}

int rx_begin(struct rx *rx, struct fdshare_msg *msg, const unsigned char *hdr)
{
	uint32_t type, len, nfds;

	if (frame_parse_header(hdr, &type, &len, &nfds) < 0)
		return -1;
	msg->type = type;
	msg->len = len;
	msg->nfds = nfds;
	if (rx->nfds > nfds) {
		errno = EPROTO;
		return -1;
	}
	rx->limit = nfds;
	if (rx_reserve(rx, nfds) < 0)
		return -1;
	if (len > 0) {
		msg->data = malloc(len);
		if (msg->data == NULL)
			return -1;
	}
	return 0;
}

int rx_feed(struct fdshare_msg *msg, size_t *got, const void *p, size_t n)
{
	if (n > rx_body_len(msg) - *got) {
		errno = EPROTO;
		return -1;
	}
	if (*got < msg->len) {
		size_t k = msg->len - *got < n ? msg->len - *got : n;

		memcpy((char *)msg->data + *got, p, k);
	}
	*got += n;
	return 0;
}

int rx_finish(struct rx *rx, struct fdshare_msg *msg, size_t got)
{
	if (got < msg->len &&
	    rx_exact(rx, (char *)msg->data + got, msg->len - got) < 0)
		return -1;
	for (size_t i = got > msg->len ? got - msg->len : 0;
	     i < frame_carriers(msg->nfds); i++) {
		unsigned char carrier;

		if (rx_exact(rx, &carrier, 1) < 0)
			return -1;
	}
	if (rx->nfds != msg->nfds) {
		errno = EPROTO;
		return -1;
	}
	msg->fds = rx->fds;
	rx->fds = NULL;
	rx->nfds = rx->cap = 0;
	return 1;
}

void rx_fail(struct rx *rx, struct fdshare_msg *msg)
{
	close_fds(rx->fds, rx->nfds);
	free(rx->fds);
	rx->fds = NULL;
	rx->nfds = rx->cap = 0;
	free(msg->data);
	memset(msg, 0, sizeof *msg);
}

int rx_frame(int sock, int seqpacket, struct fdshare_msg *msg)
{
	struct rx rx = RX_INIT(sock);
	unsigned char first[FRAME_FIRST_MAX];
	size_t got = 0;
	ssize_t n = rx_first(&rx, first, seqpacket);

	if (n == 0)
		return 0;
	if (n < 0 || rx_begin(&rx, msg, first) < 0 ||
	    rx_feed(msg, &got, first + FRAME_HDR_LEN, (size_t)n - FRAME_HDR_LEN) < 0 ||
	    rx_finish(&rx, msg, got) < 0) {
		rx_fail(&rx, msg);
		return -1;
	}
	return 1;
}
