/*
 * The buffered reader: framed messages (docs/protocol.md, section 1) taken
 * with fewer system calls than one a message.  The socket type is learned
 * once, not on every call.  On a stream the reader reads ahead, up to a
 * buffer at a time, and keeps what belongs to the next frames (section
 * 1.6); on SOCK_SEQPACKET one recvmmsg takes the records already there,
 * up to 16, and the frames they hold are returned one by one (batch.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "reader.h"
#include "rx.h"

#define READ_AHEAD 16384
#define READ_AHEAD_RECORDS 16 /* on SOCK_SEQPACKET, per recvmmsg */

void msgreader_init(struct fdshare_reader *r, int sock, int seqpacket)
{
	memset(r, 0, sizeof *r);
	r->sock = sock;
	r->seqpacket = seqpacket;
}

void msgreader_drop(struct fdshare_reader *r)
{
	close_fds(r->pend, r->npend);
	r->npend = 0;
	r->start = r->end = 0;
	batch_drop(r->batch);
	r->err = 0;
	r->eof = 0;
	r->sock = -1;
}

void msgreader_release(struct fdshare_reader *r)
{
	close_fds(r->pend, r->npend);
	free(r->pend);
	free(r->buf);
	batch_free(r->batch);
	memset(r, 0, sizeof *r);
	r->sock = -1;
}

API struct fdshare_reader *fdshare_reader_new(int sock)
{
	struct fdshare_reader *r;
	int type;
	socklen_t tl = sizeof type;

	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return NULL;
	if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
		errno = EPROTOTYPE;
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	msgreader_init(r, sock, type == SOCK_SEQPACKET);
	return r;
}

API void fdshare_reader_free(struct fdshare_reader *r)
{
	if (r == NULL)
		return;
	msgreader_release(r);
	free(r);
}

API size_t fdshare_reader_buffered(const struct fdshare_reader *r)
{
	return r->seqpacket ? batch_buffered(r->batch) : r->end - r->start;
}

/* Keep fds that came with bytes read ahead. */
static int pend_add(struct fdshare_reader *r, const int *fds, size_t n)
{
	if (r->npend + n > r->pcap) {
		size_t cap = r->npend + n > 2 * r->pcap ? r->npend + n : 2 * r->pcap;
		int *v = realloc(r->pend, cap * sizeof(int));

		if (v == NULL) {
			close_fds(fds, n);
			return -1;
		}
		r->pend = v;
		r->pcap = cap;
	}
	memcpy(r->pend + r->npend, fds, n * sizeof(int));
	r->npend += n;
	return 0;
}

static void pend_drop(struct fdshare_reader *r)
{
	close_fds(r->pend, r->npend);
	r->npend = 0;
}

/*
 * One read into the free end of the buffer, of at most max bytes; 0 is
 * end of stream.
 */
static ssize_t read_ahead(struct fdshare_reader *r, size_t max)
{
	int fds[FDSHARE_MAX_FDS];
	struct iovec iov;
	size_t got;
	ssize_t n;

	if (r->buf == NULL) {
		r->buf = malloc(READ_AHEAD);
		if (r->buf == NULL)
			return -1;
		r->cap = READ_AHEAD;
	}
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->pend_end -= r->pend_end > r->start ? r->start : r->pend_end;
		r->start = 0;
	}
	iov = (struct iovec){ .iov_base = r->buf + r->end,
	                      .iov_len = r->cap - r->end < max ? r->cap - r->end : max };
	while ((n = fds_recvmsg(r->sock, &iov, 1, fds, FDSHARE_MAX_FDS, &got,
	                        MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EAGAIN || wait_again(r->sock, POLLIN) < 0)
			return -1;
	r->end += (size_t)n;
	if (got > 0) {
		if (pend_add(r, fds, got) < 0)
			return -1;
		r->pend_end = r->end;
	}
	return n;
}

int msgreader_has_frame(const struct fdshare_reader *r)
{
	struct fdshare_msg m = { 0 };
	uint32_t type, len, nfds;

	if (r->seqpacket || r->end - r->start < FRAME_HDR_LEN ||
	    frame_parse_header(r->buf + r->start, &type, &len, &nfds) < 0)
		return 0;
	m.len = len;
	m.nfds = nfds;
	return r->end - r->start - FRAME_HDR_LEN >= rx_body_len(&m);
}

/*
 * A recvmsg returns at most one skb's descriptors, with the read that
 * touches that skb first, and a compliant sender attaches them to a record
 * of their own frame; so fds read ahead belong to the first frame, from
 * the buffer's start, that announces fds it has not received, and must
 * be taken before the frame the read ended in is over.
 */
static int claim_pending(struct fdshare_reader *r, struct rx *rx,
                         const struct fdshare_msg *msg, size_t frame_end)
{
	if (r->npend == 0)
		return 0;
	if (msg->nfds > 0) {
		int err = rx_keep(rx, r->pend, r->npend);

		r->npend = 0;
		return err;
	}
	if (r->pend_end <= frame_end) {
		pend_drop(r);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int next_from_stream(struct fdshare_reader *r, struct fdshare_msg *msg)
{
	struct rx rx = RX_INIT(r->sock);
	size_t avail, take, got = 0;

	/*
	 * Read ahead only from a frame's start: the rest of a header that
	 * the last read cut is read exactly, so that no read brings the fds
	 * of a frame beyond the one whose header is being completed.
	 */
	while (r->end - r->start < FRAME_HDR_LEN) {
		size_t have = r->end - r->start;
		ssize_t n = read_ahead(r, have ? FRAME_HDR_LEN - have : READ_AHEAD);

		if (n < 0)
			goto fail;
		if (n == 0) {
			if (r->end == r->start && r->npend == 0)
				return 0;
			errno = EPROTO;
			goto fail;
		}
	}
	if (rx_begin(&rx, msg, r->buf + r->start) < 0)
		goto fail;
	avail = r->end - r->start - FRAME_HDR_LEN;
	take = avail < rx_body_len(msg) ? avail : rx_body_len(msg);
	if (claim_pending(r, &rx, msg, r->start + FRAME_HDR_LEN + take) < 0 ||
	    rx_feed(msg, &got, r->buf + r->start + FRAME_HDR_LEN, take) < 0)
		goto fail;
	r->start += FRAME_HDR_LEN + take;
	if (r->start == r->end)
		r->start = r->end = 0;
	if (rx_finish(&rx, msg, got) < 0)
		goto fail;
	return 1;
fail:
	rx_fail(&rx, msg);
	r->start = r->end = 0;
	pend_drop(r);
	return -1;
}

int msgreader_next(struct fdshare_reader *r, struct fdshare_msg *msg)
{
	int got;

	memset(msg, 0, sizeof *msg);
	if (r->err) {
		errno = r->err;
		r->err = 0;
		return -1;
	}
	if (r->eof)
		return 0;
	got = r->seqpacket ? batch_next(r, msg, READ_AHEAD_RECORDS) : next_from_stream(r, msg);
	r->eof = got == 0;
	return got;
}

API int fdshare_reader_recv(struct fdshare_reader *r, struct fdshare_msg *msg)
{
	return msgreader_next(r, msg);
}
