/*
 * Many framed messages per system call on SOCK_SEQPACKET: sendmmsg(2) of
 * frames that fit one record, recvmmsg(2) into one slot a record.  On a
 * stream the same calls work without the batching system call: a stream
 * sender must not let a frame be cut by the next (sendmmsg goes on after
 * a short send), and the reader already reads ahead.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "reader.h"
#include "rx.h"

#define BATCH_MAX 64          /* messages per sendmmsg or recvmmsg */
#define SEND_CTL_ROOM 8192    /* control bytes for one sendmmsg */
#define RECV_CTL FDS_CTL_SPACE(FDSHARE_MAX_FDS)
/* A payload this small is copied behind its header: the kernel then
 * imports and copies one iovec a record, not two (128 bytes a slot). */
#define INLINE_MAX 108

static int valid(const struct fdshare_msg *m)
{
	return m->len <= FDSHARE_MSG_MAX_LEN && m->nfds <= FDSHARE_MSG_MAX_FDS &&
	       (m->len == 0 || m->data != NULL) && (m->nfds == 0 || m->fds != NULL);
}

struct out {
	struct mmsghdr mm[BATCH_MAX];
	struct iovec iov[BATCH_MAX][2];
	unsigned char rec[BATCH_MAX][FRAME_HDR_LEN + INLINE_MAX];
	union {
		struct cmsghdr align;
		char buf[SEND_CTL_ROOM];
	} ctl;
};

/* Lay out msgs[0..] that fit one record each, as many as fit the batch. */
static size_t build(struct out *o, const struct fdshare_msg *msgs, size_t n)
{
	size_t k = 0, ctl = 0;

	while (k < n && k < BATCH_MAX && FRAME_ONE_RECORD(msgs[k].len, msgs[k].nfds)) {
		const struct fdshare_msg *m = &msgs[k];
		struct msghdr *mh = &o->mm[k].msg_hdr;
		size_t need = m->nfds ? CMSG_SPACE(sizeof(int) * m->nfds) : 0;

		if (ctl + need > sizeof o->ctl.buf)
			break;
		frame_put_header(o->rec[k], m->type, (uint32_t)m->len, (uint32_t)m->nfds);
		memset(mh, 0, sizeof *mh);
		mh->msg_iov = o->iov[k];
		if (m->len <= INLINE_MAX) {
			if (m->len)
				memcpy(o->rec[k] + FRAME_HDR_LEN, m->data, m->len);
			o->iov[k][0] = (struct iovec){ .iov_base = o->rec[k],
			                               .iov_len = FRAME_HDR_LEN + m->len };
			mh->msg_iovlen = 1;
		} else {
			o->iov[k][0] = (struct iovec){ .iov_base = o->rec[k], .iov_len = FRAME_HDR_LEN };
			o->iov[k][1] = (struct iovec){ .iov_base = m->data, .iov_len = m->len };
			mh->msg_iovlen = 2;
		}
		if (need)
			cmsg_put_fds(mh, o->ctl.buf + ctl, m->fds, m->nfds);
		ctl += need;
		k++;
	}
	return k;
}

/* Send o's k records; *sent counts them as they go. */
static int flush(int sock, struct out *o, size_t k, size_t *sent)
{
	long waited = 0;

	for (size_t done = 0; done < k;) {
		int r = sendmmsg(sock, o->mm + done, (unsigned)(k - done), MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR || frame_send_wait(sock, &waited))
				continue;
			return -1;
		}
		done += (size_t)r;
		*sent += (size_t)r;
	}
	return 0;
}

static int send_seqpacket(int sock, const struct fdshare_msg *msgs, size_t n,
                          size_t *sent)
{
	struct out o;

	while (*sent < n) {
		const struct fdshare_msg *m = &msgs[*sent];
		size_t k = build(&o, m, n - *sent);

		if (k == 0) {
			if (fdshare_msg_send(sock, m->type, m->data, m->len, m->fds, m->nfds) < 0)
				return -1;
			++*sent;
		} else if (flush(sock, &o, k, sent) < 0) {
			return -1;
		}
	}
	return 0;
}

API int fdshare_msg_sendv(int sock, const struct fdshare_msg *msgs, size_t n,
                          size_t *sent)
{
	size_t count = 0;
	int type, r = 0;
	socklen_t tl = sizeof type;

	if (sent)
		*sent = 0;
	if (n > 0 && msgs == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!valid(&msgs[i])) {
			errno = EINVAL;
			return -1;
		}
	if (n == 0)
		return 0;
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -1;
	if (type == SOCK_SEQPACKET) {
		r = send_seqpacket(sock, msgs, n, &count);
	} else {
		for (; count < n && r == 0; count += r == 0) {
			const struct fdshare_msg *m = &msgs[count];

			r = fdshare_msg_send(sock, m->type, m->data, m->len, m->fds, m->nfds);
		}
	}
	if (sent)
		*sent = count;
	return r;
}

/*
 * recvmmsg's slots: any record fits one (docs/protocol.md, section 1.3).
 * Records [next, count) were read and not yet taken: the frames read
 * ahead, their fds already ours.
 */
struct batch {
	struct mmsghdr mm[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	unsigned char *data;  /* cap records; pages are touched as used */
	char *ctl;
	size_t cap, next, count;
};

/* Room for k records; none is kept (next == count). */
static int reserve(struct batch *b, size_t k)
{
	unsigned char *data;
	char *ctl;

	if (b->cap >= k)
		return 0;
	data = malloc(k * FRAME_RECORD_MAX);
	ctl = malloc(k * RECV_CTL);
	if (data == NULL || ctl == NULL) {
		free(data);
		free(ctl);
		return -1;
	}
	free(b->data);
	free(b->ctl);
	b->data = data;
	b->ctl = ctl;
	b->cap = k;
	return 0;
}

static int receive_slots(int sock, struct batch *b, size_t k)
{
	int r;

	if (reserve(b, k) < 0)
		return -1;
	for (size_t i = 0; i < k; i++) {
		b->iov[i] = (struct iovec){ b->data + i * FRAME_RECORD_MAX, FRAME_RECORD_MAX };
		b->mm[i].msg_hdr = (struct msghdr){
			.msg_iov = &b->iov[i],
			.msg_iovlen = 1,
			.msg_control = b->ctl + i * RECV_CTL,
			.msg_controllen = RECV_CTL,
		};
	}
	for (;;) {
		r = recvmmsg(sock, b->mm, (unsigned)k, MSG_WAITFORONE | MSG_CMSG_CLOEXEC, NULL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_again(sock, POLLIN) < 0)
			return -1;
	}
}

/* Slot i's record: its fds into rx, its length. */
static ssize_t slot_take(struct batch *b, size_t i, struct rx *rx)
{
	int fds[FDSHARE_MAX_FDS];
	size_t got;

	if (cmsg_take_fds(&b->mm[i].msg_hdr, fds, FDSHARE_MAX_FDS, &got) < 0) {
		if (errno == EMSGSIZE)
			errno = EPROTO;
		return -1;
	}
	if (rx_keep(rx, fds, got) < 0)
		return -1;
	return (ssize_t)b->mm[i].msg_len;
}

/* The fds of slots a failure left unread. */
static void slots_drop(struct batch *b, size_t from, size_t k)
{
	for (size_t i = from; i < k; i++) {
		struct rx rx = RX_INIT(-1);

		if (slot_take(b, i, &rx) >= 0)
			close_fds(rx.fds, rx.nfds);
		free(rx.fds);
	}
}

/* Forget the records read ahead, closing their fds. */
void batch_drop(struct batch *b)
{
	if (b == NULL)
		return;
	slots_drop(b, b->next, b->count);
	b->next = b->count = 0;
}

void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	batch_drop(b);
	free(b->data);
	free(b->ctl);
	free(b);
}

size_t batch_buffered(const struct batch *b)
{
	size_t n = 0;

	if (b == NULL)
		return 0;
	for (size_t i = b->next; i < b->count; i++)
		n += b->mm[i].msg_len;
	return n;
}

/* One frame from slots *i.. (and the socket, if it runs on); 0 at an end. */
static int frame_from_slots(struct fdshare_reader *r, size_t *i, size_t k,
                            struct fdshare_msg *msg)
{
	struct batch *b = r->batch;
	struct rx rx = RX_INIT(r->sock);
	unsigned char *rec = b->data + *i * FRAME_RECORD_MAX;
	ssize_t n = slot_take(b, (*i)++, &rx);
	size_t got = 0;

	memset(msg, 0, sizeof *msg);
	if (n < 0)
		goto fail;
	if (n == 0 && rx.nfds == 0)
		return 0;
	if (n < FRAME_HDR_LEN || n > FRAME_FIRST_MAX) {
		errno = EPROTO;
		goto fail;
	}
	if (rx_begin(&rx, msg, rec) < 0 ||
	    rx_feed(msg, &got, rec + FRAME_HDR_LEN, (size_t)n - FRAME_HDR_LEN) < 0)
		goto fail;
	while (got < rx_body_len(msg) && *i < k) {
		rec = b->data + *i * FRAME_RECORD_MAX;
		n = slot_take(b, (*i)++, &rx);
		if (n == 0)
			errno = EPROTO;  /* the end inside a frame */
		if (n <= 0 || rx_feed(msg, &got, rec, (size_t)n) < 0)
			goto fail;
	}
	if (rx_finish(&rx, msg, got) < 0)
		goto fail;
	return 1;
fail:
	rx_fail(&rx, msg);
	return -1;
}

/*
 * The next frame from the records read ahead, after a recvmmsg of up to
 * k records when none is left: 1, 0 at the end, -1 (errno).  An end or
 * an error drops the records read after it.
 */
int batch_next(struct fdshare_reader *r, struct fdshare_msg *msg, size_t k)
{
	struct batch *b;
	int e;

	memset(msg, 0, sizeof *msg);
	if (r->batch == NULL && (r->batch = calloc(1, sizeof *r->batch)) == NULL)
		return -1;
	b = r->batch;
	if (b->next == b->count) {
		int got = receive_slots(r->sock, b, k < BATCH_MAX ? k : BATCH_MAX);

		if (got < 0)
			return -1;
		b->next = 0;
		b->count = (size_t)got;
	}
	e = frame_from_slots(r, &b->next, b->count, msg);
	if (e <= 0) {
		int err = errno;

		batch_drop(b);
		errno = err;
		r->eof = e == 0;
	}
	return e;
}

/* Frames from one recvmmsg at most: those read ahead, or a new batch. */
static int recv_seqpacket(struct fdshare_reader *r, struct fdshare_msg *msgs, size_t n)
{
	size_t out = 0;

	while (out < n && out < INT32_MAX) {
		int e;

		if (out > 0 && r->batch->next == r->batch->count)
			break;
		e = batch_next(r, &msgs[out], n - out);
		if (e == 1) {
			out++;
			continue;
		}
		if (e < 0 && out == 0)
			return -1;
		if (e < 0)
			r->err = errno;
		break;
	}
	return (int)out;
}

API int fdshare_reader_recvv(struct fdshare_reader *r, struct fdshare_msg *msgs,
                             size_t n)
{
	int e;
	size_t out = 0;

	if (n == 0 || msgs == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (r->seqpacket && !r->err && !r->eof)
		return recv_seqpacket(r, msgs, n);
	e = msgreader_next(r, &msgs[0]);
	if (e <= 0)
		return e;
	for (out = 1; out < n && out < INT32_MAX && msgreader_has_frame(r); out++) {
		e = msgreader_next(r, &msgs[out]);
		if (e < 0)
			r->err = errno;
		if (e <= 0)
			break;
	}
	return (int)out;
}
