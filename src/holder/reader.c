/*
 * Frames (docs/protocol.md, section 1) read from a non-blocking stream
 * socket into a buffer per connection: a small request comes in one
 * recvmsg, and requests sent back to back may come in the same one.  The
 * header, the payload and the carrier bytes may each arrive in pieces,
 * and descriptors with any of them.  A frame over a limit is still read
 * to its end, its bytes and descriptors dropped as they come, so that the
 * refusal can be answered on a connection still in step.
 *
 * Which frame a read's descriptors belong to (docs/protocol.md, 1.6).
 * On a Unix stream socket one recvmsg returns the descriptors of at most
 * one sendmsg, with the first read that touches its bytes, and stops
 * right after them; a compliant sender attaches them to a record of
 * their own frame (chunk 1 to the record that begins with the header,
 * later chunks each to its carrier byte).  So the descriptors of a read
 * that went past a frame's end are kept aside (pend) and belong to the
 * first frame, from there on, that announces descriptors it has not
 * received: it takes them once its header is parsed.  A frame that takes
 * the last byte of that read without wanting them gets them all the same,
 * one too many (EPROTO, as for any descriptors a frame did not announce).
 * Reads stop at the end of a frame whose header is known and whose
 * descriptors have not all come, so that those that come later are its
 * own, as when the holder never read past a frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

#define READS_PER_STEP 64

int reader_buffered(const struct reader *r)
{
	return r->pos < r->end || r->npend > 0;
}

int reader_busy(const struct reader *r)
{
	return r->stage != R_IDLE || reader_buffered(r);
}

/* Past a header it accepted, the reader expects the fds it announced. */
static int announced(const struct reader *r)
{
	return !r->refuse && (r->stage == R_PAYLOAD || r->stage == R_CARRIERS);
}

/* A refused frame's fds are closed as they come: it claims none. */
size_t reader_fds_claimed(const struct reader *r)
{
	size_t n = r->npend;

	if (r->refuse)
		return n;
	return n + (announced(r) ? r->nfds : r->nfds_got);
}

/* Only STORE and RESTORE carry fds (and types unknown, refused later). */
static int carries_no_fds(uint32_t type)
{
	return type >= HP_FETCH && type <= HP_PING && type != HP_RESTORE;
}

/* The frame is over (taken or not): what was read past it stays. */
void reader_next(struct reader *r)
{
	close_fds(r->fds, r->nfds_got);
	free(r->fds);
	if (r->data_own)
		free(r->data);
	r->fds = NULL;
	r->data = NULL;
	r->data_own = 0;
	r->nfds_got = r->nseen = r->fds_cap = 0;
	r->hlen = r->dlen = r->carriers = r->len = r->nfds = 0;
	r->refuse = 0;
	r->stage = R_IDLE;
	r->keep = r->pos;
}

void reader_reset(struct reader *r)
{
	reader_next(r);
	close_fds(r->pend, r->npend);
	free(r->buf);
	r->buf = NULL;
	r->keep = r->pos = r->end = r->npend = 0;
}

/* Before the header is whole, only its first chunk may have come. */
static size_t fd_limit(const struct reader *r)
{
	return r->stage == R_PAYLOAD || r->stage == R_CARRIERS ? r->nfds : FDSHARE_MAX_FDS;
}

static int keep_fds(struct reader *r, const int *fds, size_t n)
{
	if (n == 0)
		return 0;
	if (r->nseen + n > fd_limit(r)) {
		close_fds(fds, n);
		errno = EPROTO;
		return -1;
	}
	r->nseen += n;
	if (r->refuse) {
		close_fds(fds, n); /* counted, not kept */
		return 0;
	}
	if (!announced(r))
		r->fd_allow -= n < r->fd_allow ? n : r->fd_allow;
	if (r->nfds_got + n > r->fds_cap) {
		size_t cap = r->nfds_got + n < 8 ? 8 : r->nfds_got + n;

		if (fd_limit(r) > cap)
			cap = fd_limit(r);
		int *v = realloc(r->fds, cap * sizeof(int));

		if (v == NULL) {
			close_fds(fds, n);
			return -1;
		}
		r->fds = v;
		r->fds_cap = cap;
	}
	memcpy(r->fds + r->nfds_got, fds, n * sizeof(int));
	r->nfds_got += n;
	return 0;
}

/* Payload and carrier bytes the frame still lacks (its header known). */
static size_t frame_left(const struct reader *r)
{
	return r->len - r->dlen + r->carriers;
}

/* Past the header: the payload stays in buf (it fits there, carriers
 * and all) unless it has a buffer of its own or is dropped. */
static int payload_in_buf(const struct reader *r)
{
	return r->stage != R_HEADER && !r->refuse && r->len > 0 && !r->data_own;
}

static int take_pending(struct reader *r)
{
	size_t n = r->npend;

	r->npend = 0;
	return keep_fds(r, r->pend, n);
}

static int got_header(struct reader *r)
{
	if (frame_parse_header(r->buf + r->keep, &r->type, &r->len, &r->nfds) < 0)
		return -1;
	if (r->nseen > r->nfds) {
		errno = EPROTO;
		return -1;
	}
	if (r->len > r->max_len)
		r->refuse = HP_EMSGSIZE;
	else if (r->nfds > 0 && carries_no_fds(r->type))
		r->refuse = HP_EPROTO;
	else if (r->nfds > r->fd_room)
		r->refuse = HP_EMFILE;
	r->carriers = frame_carriers(r->nfds);
	if (!r->refuse && r->len > 0 && r->len + r->carriers > RBUF_SIZE) {
		r->data = malloc(r->len);
		if (r->data == NULL)
			r->refuse = HP_ENOMEM;
		r->data_own = r->data != NULL;
	}
	if (r->refuse) {
		close_fds(r->fds, r->nfds_got);
		free(r->fds);
		r->fds = NULL;
		r->fds_cap = r->nfds_got = 0;
	}
	r->keep = r->pos; /* the header is parsed: its bytes may go */
	r->stage = R_PAYLOAD;
	if (r->npend > 0 && r->nseen < r->nfds)
		return take_pending(r);
	return 0;
}

/* The frame takes n more bytes of buf: if the read that brought the fds
 * set aside ended there, they are the frame's, or too many for it. */
static int take(struct reader *r, size_t n)
{
	r->pos += n;
	if (r->stage != R_HEADER && !payload_in_buf(r))
		r->keep = r->pos;
	if (r->npend > 0 && r->pend_at < r->pos)
		return take_pending(r);
	return 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The frame through the bytes in buf: 1 when it is whole, 0 when it
 * needs more, -1 on an error. */
static int parse(struct reader *r)
{
	for (;;) {
		size_t avail = r->end - r->pos, n;

		if (r->stage == R_IDLE || r->stage == R_HEADER) {
			n = min_size(avail, FRAME_HDR_LEN - r->hlen);
			if (n == 0)
				return 0;
			r->stage = R_HEADER;
			if (take(r, n) < 0)
				return -1;
			r->hlen += n;
			if (r->hlen < FRAME_HDR_LEN)
				return 0;
			if (got_header(r) < 0)
				return -1;
		} else if (r->dlen < r->len) {
			n = min_size(avail, r->len - r->dlen);
			if (n == 0)
				return 0;
			if (r->data_own)
				memcpy(r->data + r->dlen, r->buf + r->pos, n);
			r->dlen += n;
			if (take(r, n) < 0)
				return -1;
		} else if (r->carriers > 0) {
			r->stage = R_CARRIERS;
			n = min_size(avail, r->carriers);
			if (n == 0)
				return 0;
			r->carriers -= n;
			if (take(r, n) < 0)
				return -1;
		} else {
			break;
		}
	}
	if (r->nseen != r->nfds) {
		errno = EPROTO;
		return -1;
	}
	if (payload_in_buf(r))
		r->data = r->buf + r->keep;
	return 1;
}

/* Room in buf from its start: the frame's bytes still needed move there. */
static int make_room(struct reader *r)
{
	if (r->buf == NULL) {
		r->buf = malloc(RBUF_SIZE);
		if (r->buf == NULL)
			return -1;
	}
	if (r->keep > 0) {
		memmove(r->buf, r->buf + r->keep, r->end - r->keep);
		r->pos -= r->keep;
		r->end -= r->keep;
		if (r->npend > 0)
			r->pend_at -= r->keep;
		r->keep = 0;
	}
	return 0;
}

/*
 * Where the next read goes and how much it may bring: straight into the
 * frame's own payload buffer, or into buf, cut at the end of a frame that
 * may still receive fds.  *cap: how many fds it may bring.
 */
static void read_target(struct reader *r, unsigned char **to, size_t *want, size_t *cap)
{
	size_t room = fd_limit(r) - r->nseen;

	/* More than that: the chunk is cut (ECHRNG), the client dropped. */
	if (!announced(r) && room > r->fd_allow)
		room = r->fd_allow;
	*cap = min_size(room, FDSHARE_MAX_FDS);
	if (r->data_own && r->dlen < r->len) {
		*to = r->data + r->dlen;
		*want = r->len - r->dlen;
		return;
	}
	*to = r->buf + r->end;
	*want = RBUF_SIZE - r->end;
	if (r->stage == R_PAYLOAD || r->stage == R_CARRIERS) {
		if (r->nseen < r->nfds)
			*want = min_size(*want, frame_left(r));
		else /* the fds, if any, are for a later frame */
			*cap = min_size(r->fd_allow, FDSHARE_MAX_FDS);
	}
}

/* One recvmsg: its byte count, -1 with errno (EAGAIN: nothing there). */
static ssize_t read_some(struct reader *r, int sock)
{
	unsigned char *to;
	size_t want, cap, got;
	struct iovec iov;
	int *fds = r->pend, direct = r->data_own && r->dlen < r->len;
	ssize_t n;

	if (!direct && make_room(r) < 0)
		return -1;
	read_target(r, &to, &want, &cap);
	if (want == 0) { /* cannot be: a whole frame would be in buf */
		errno = EPROTO;
		return -1;
	}
	iov.iov_base = to;
	iov.iov_len = want;
	n = fds_recvmsg(sock, &iov, 1, fds, cap, &got, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == ENOMEM || errno == ENOBUFS)) {
		r->nomem = 1; /* nothing was taken: tried again later */
		errno = EAGAIN;
	}
	if (n <= 0)
		return n;
	r->short_read = (size_t)n < want;
	if (direct) { /* within the frame's payload: its fds */
		r->dlen += (size_t)n;
		return keep_fds(r, fds, got) < 0 ? -1 : n;
	}
	r->npend = got;
	r->pend_at = r->end + (size_t)n - 1;
	r->end += (size_t)n;
	return n;
}

/*
 * Returns READ_FRAME with a whole frame in r, READ_MORE when the socket has
 * nothing more for now, READ_EOF at a clean end of stream, -1 on an error
 * (EPROTO: malformed or cut frame; the caller closes the connection).
 * Once a read got less than it asked for, the socket is likely empty: no
 * other read until the caller clears short_read (epoll says there is more).
 */
int reader_step(struct reader *r, int sock)
{
	/* A bounded number of reads per call: one big request does not keep
	 * the loop from the other clients (epoll reports the rest again). */
	for (int reads = 0;; reads++) {
		int whole = parse(r);
		ssize_t n;

		if (whole != 0)
			return whole < 0 ? -1 : READ_FRAME;
		if (reads == READS_PER_STEP || r->short_read)
			return READ_MORE;
		n = read_some(r, sock);
		if (n < 0) {
			if (errno == EAGAIN)
				return READ_MORE;
			if (errno == ECONNRESET && r->stage == R_IDLE)
				return READ_EOF;
			return -1;
		}
		if (n == 0) {
			if (r->stage == R_IDLE && r->nseen == 0)
				return READ_EOF;
			errno = EPROTO;
			return -1;
		}
	}
}
