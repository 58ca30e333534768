/*
 * Framed messages: a fixed header, a payload and any number of fds.
 * The wire format is in docs/protocol.md; keep the two in step.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "internal.h"
#include "rx.h"

#define TOOMANYREFS_WAIT_US 10000000L /* in-flight fd cap: wait for the reader */
#define FREEV_CHUNK 256               /* fds sorted and closed at a time */

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

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * After a failed send: 1 when another try is worth it.  A non-blocking
 * socket is waited for; a blocking one's EAGAIN is its SO_SNDTIMEO, which
 * holds.  A sender over its in-flight descriptor quota
 * (ETOOMANYREFS, RLIMIT_NOFILE for an unprivileged user) naps while the
 * reader takes some: 20 us first, a quarter more each time up to 1 ms, in
 * all at most TOOMANYREFS_WAIT_US for one record.
 */
int frame_send_wait(int sock, long *waited_us)
{
	long nap;

	if (errno == EAGAIN)
		return wait_again(sock, POLLOUT) == 0;
	if (errno != ETOOMANYREFS || *waited_us >= TOOMANYREFS_WAIT_US)
		return 0;
	nap = *waited_us / 4;
	nap = nap < 20 ? 20 : nap > 1000 ? 1000 : nap;
	sleep_us(nap);
	*waited_us += nap;
	return 1;
}

/* Send a whole record: fds go with its first byte; a stream may take it in parts. */
static int frame_send_record(int sock, struct iovec *iov, int iovcnt,
                             const int *fds, size_t nfds)
{
	long waited = 0;

	while (iovcnt > 0) {
		ssize_t n = fds_sendmsg(sock, iov, iovcnt, fds, nfds, 0);

		if (n < 0) {
			if (frame_send_wait(sock, &waited))
				continue;
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
	if (frame_send_record(sock, iov, first ? 2 : 1, fds, chunk) < 0)
		return -1;
	for (size_t off = first; off < len;) {
		size_t n = len - off < FRAME_RECORD_MAX ? len - off : FRAME_RECORD_MAX;

		iov[0] = (struct iovec){ .iov_base = (void *)(p + off), .iov_len = n };
		if (frame_send_record(sock, iov, 1, NULL, 0) < 0)
			return -1;
		off += n;
	}
	for (size_t sent = chunk; sent < nfds; sent += chunk) {
		chunk = nfds - sent < FDSHARE_MAX_FDS ? nfds - sent : FDSHARE_MAX_FDS;
		iov[0] = (struct iovec){ .iov_base = &carrier, .iov_len = 1 };
		if (frame_send_record(sock, iov, 1, fds + sent, chunk) < 0)
			return -1;
	}
	return 0;
}

API int fdshare_msg_recv(int sock, struct fdshare_msg *msg)
{
	int type;
	socklen_t tl = sizeof type;

	memset(msg, 0, sizeof *msg);
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -1;
	if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
		errno = EPROTOTYPE;
		return -1;
	}
	return rx_frame(sock, type == SOCK_SEQPACKET, msg);
}

/* Insertion sort: received fds come mostly in ascending order already. */
static void sort_fds(int *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * Close v[0..n), sorted: each run of consecutive numbers by one
 * close_range(2), which closes exactly those, a number there twice once.
 * Without close_range (before Linux 5.9), one by one.
 */
static void close_sorted(const int *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && v[j] - v[j - 1] <= 1)
			j++;
		if (v[j - 1] == v[i] || close_range((unsigned)v[i], (unsigned)v[j - 1], 0) < 0)
			for (size_t k = i; k < j; k++)
				if (k == i || v[k] != v[k - 1])
					close(v[k]);
		i = j;
	}
}

API void fdshare_msg_freev(struct fdshare_msg *msgs, size_t n)
{
	int v[FREEV_CHUNK], saved = errno;
	size_t nv = 0;

	for (size_t i = 0; msgs && i < n; i++) {
		for (size_t k = 0; msgs[i].fds && k < msgs[i].nfds; k++) {
			if (msgs[i].fds[k] < 0)
				continue;
			if (nv == FREEV_CHUNK) {
				sort_fds(v, nv);
				close_sorted(v, nv);
				nv = 0;
			}
			v[nv++] = msgs[i].fds[k];
		}
		free(msgs[i].fds);
		free(msgs[i].data);
		memset(&msgs[i], 0, sizeof msgs[i]);
	}
	sort_fds(v, nv);
	close_sorted(v, nv);
	errno = saved;
}

API void fdshare_msg_free(struct fdshare_msg *msg)
{
	fdshare_msg_freev(msg, 1);
}
