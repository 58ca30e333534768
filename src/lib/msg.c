/*
 * Framed messages: a fixed header, a payload and any number of fds.
 * The wire format is in docs/protocol.md; keep the two in step.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "internal.h"

#define TOOMANYREFS_WAIT_MS 10000  /* in-flight fd cap: wait for the reader */

void frame_put_header(unsigned char *h, uint32_t type, uint32_t len, uint32_t nfds)
{
	put_le32(h, FRAME_MAGIC);
	h[4] = FRAME_VERSION;
	h[5] = h[6] = h[7] = 0;
	put_le32(h + 8, type);
	put_le32(h + 12, len);
	put_le32(h + 16, nfds);
}

int frame_parse_header(const unsigned char *h, uint32_t *type, uint32_t *len,
                       uint32_t *nfds)
{
	if (get_le32(h) != FRAME_MAGIC || h[4] != FRAME_VERSION || h[5] != 0 ||
	    h[6] != 0 || h[7] != 0 || get_le32(h + 12) > FDSHARE_MSG_MAX_LEN ||
	    get_le32(h + 16) > FDSHARE_MSG_MAX_FDS) {
		errno = EPROTO;
		return -1;
	}
	*type = get_le32(h + 8);
	*len = get_le32(h + 12);
	*nfds = get_le32(h + 16);
	return 0;
}

size_t frame_carriers(size_t nfds)
{
	return nfds > 0 ? (nfds - 1) / FDSHARE_MAX_FDS : 0;
}

static int wait_for(int sock, short events)
{
	struct pollfd p = { .fd = sock, .events = events };
	int r;

	do
		r = poll(&p, 1, -1);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Send a whole record: fds go with its first byte.  A stream may take it in
 * parts; a non-blocking socket is waited for; a sender over its in-flight
 * descriptor quota (ETOOMANYREFS) waits a bounded time for the reader.
 */
static int send_record(int sock, struct iovec *iov, int iovcnt,
                       const int *fds, size_t nfds)
{
	long waited = 0;

	while (iovcnt > 0) {
		ssize_t n = fds_sendmsg(sock, iov, iovcnt, fds, nfds, 0);

		if (n < 0) {
			if (errno == EAGAIN && wait_for(sock, POLLOUT) == 0)
				continue;
			if (errno == ETOOMANYREFS && waited < TOOMANYREFS_WAIT_MS) {
				sleep_ms(1);
				waited++;
				continue;
			}
			return -1;
		}
		fds = NULL;
		nfds = 0;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

API int fdshare_msg_send(int sock, uint32_t type, const void *data, size_t len,
                         const int *fds, size_t nfds)
{
	unsigned char hdr[FRAME_HDR_LEN], carrier = 0;
	const char *p = data;
	size_t first = len < FRAME_FIRST_MAX - FRAME_HDR_LEN ? len : FRAME_FIRST_MAX - FRAME_HDR_LEN;
	size_t chunk = nfds < FDSHARE_MAX_FDS ? nfds : FDSHARE_MAX_FDS;
	struct iovec iov[2];

	if (len > FDSHARE_MSG_MAX_LEN || nfds > FDSHARE_MSG_MAX_FDS ||
	    (len > 0 && data == NULL) || (nfds > 0 && fds == NULL)) {
		errno = EINVAL;
		return -1;
	}
	frame_put_header(hdr, type, (uint32_t)len, (uint32_t)nfds);

	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = FRAME_HDR_LEN };
	iov[1] = (struct iovec){ .iov_base = (void *)p, .iov_len = first };
	if (send_record(sock, iov, first ? 2 : 1, fds, chunk) < 0)
		return -1;
	for (size_t off = first; off < len;) {
		size_t n = len - off < FRAME_RECORD_MAX ? len - off : FRAME_RECORD_MAX;

		iov[0] = (struct iovec){ .iov_base = (void *)(p + off), .iov_len = n };
		if (send_record(sock, iov, 1, NULL, 0) < 0)
			return -1;
		off += n;
	}
	for (size_t sent = chunk; sent < nfds; sent += chunk) {
		chunk = nfds - sent < FDSHARE_MAX_FDS ? nfds - sent : FDSHARE_MAX_FDS;
		iov[0] = (struct iovec){ .iov_base = &carrier, .iov_len = 1 };
		if (send_record(sock, iov, 1, fds + sent, chunk) < 0)
			return -1;
	}
	return 0;
}

/* The descriptors gathered while a frame is read. */
struct rx {
	int sock;
	int seqpacket;
	int *fds;
	size_t nfds, cap, limit;
};

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

static int rx_keep(struct rx *rx, const int *fds, size_t n)
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

/* One recvmsg into buf; 0 is end of stream. */
static ssize_t rx_once(struct rx *rx, void *buf, size_t len)
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
		if (errno != EAGAIN || wait_for(rx->sock, POLLIN) < 0)
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

static int parse_header(const unsigned char *h, struct fdshare_msg *msg)
{
	uint32_t type, len, nfds;

	if (frame_parse_header(h, &type, &len, &nfds) < 0)
		return -1;
	msg->type = type;
	msg->len = len;
	msg->nfds = nfds;
	return 0;
}

/*
 * The header, and on seqpacket the payload bytes of the first record.
 * Returns the payload bytes already in first[], 0 with *eof at a clean end.
 */
static ssize_t rx_header(struct rx *rx, unsigned char *first, int *eof)
{
	ssize_t n;

	*eof = 0;
	if (rx->seqpacket) {
		n = rx_once(rx, first, FRAME_FIRST_MAX);
		if (n == 0 && rx->nfds == 0) {
			*eof = 1;
			return 0;
		}
		if (n >= 0 && n < FRAME_HDR_LEN) {
			errno = EPROTO;
			return -1;
		}
		return n < 0 ? -1 : n - FRAME_HDR_LEN;
	}
	n = rx_once(rx, first, FRAME_HDR_LEN);
	if (n == 0 && rx->nfds == 0) {
		*eof = 1;
		return 0;
	}
	if (n <= 0) {
		if (n == 0)
			errno = EPROTO;
		return -1;
	}
	if (n < FRAME_HDR_LEN && rx_exact(rx, first + n, FRAME_HDR_LEN - (size_t)n) < 0)
		return -1;
	return 0;
}

static int rx_frame(struct rx *rx, struct fdshare_msg *msg)
{
	unsigned char first[FRAME_FIRST_MAX];
	int eof;
	ssize_t extra = rx_header(rx, first, &eof);

	if (extra < 0)
		return -1;
	if (eof)
		return 0;
	if (parse_header(first, msg) < 0)
		return -1;
	if ((size_t)extra > msg->len || rx->nfds > msg->nfds) {
		errno = EPROTO;
		return -1;
	}
	rx->limit = msg->nfds;
	if (rx_reserve(rx, msg->nfds) < 0)
		return -1;
	if (msg->len > 0) {
		msg->data = malloc(msg->len);
		if (msg->data == NULL)
			return -1;
		memcpy(msg->data, first + FRAME_HDR_LEN, (size_t)extra);
		if (rx_exact(rx, (char *)msg->data + extra, msg->len - (size_t)extra) < 0)
			return -1;
	}
	for (size_t i = frame_carriers(msg->nfds); i > 0; i--) {
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
	return 1;
}

API int fdshare_msg_recv(int sock, struct fdshare_msg *msg)
{
	struct rx rx = { .sock = sock, .limit = FDSHARE_MSG_MAX_FDS };
	int type;
	socklen_t tl = sizeof type;
	int r;

	memset(msg, 0, sizeof *msg);
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -1;
	rx.seqpacket = type == SOCK_SEQPACKET;
	r = rx_frame(&rx, msg);
	if (r <= 0) {
		close_fds(rx.fds, rx.nfds);
		free(rx.fds);
		free(msg->data);
		memset(msg, 0, sizeof *msg);
	}
	return r;
}

API void fdshare_msg_free(struct fdshare_msg *msg)
{
	if (msg == NULL)
		return;
	if (msg->fds)
		close_fds(msg->fds, msg->nfds);
	free(msg->fds);
	free(msg->data);
	memset(msg, 0, sizeof *msg);
}
