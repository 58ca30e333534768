/*
 * One frame (docs/protocol.md, section 1) read from a non-blocking stream
 * socket in as many steps as it takes: the header, the payload and the
 * carrier bytes may each arrive in pieces, and descriptors with any of
 * them.  Reads never cross the end of the frame.  A frame over a limit is
 * still read to its end, its bytes and descriptors dropped as they come,
 * so that the refusal can be answered on a connection still in step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

#define READS_PER_STEP 64

int reader_busy(const struct reader *r)
{
	return r->stage != R_IDLE || r->hlen > 0;
}

/* Past a header it accepted, the reader expects the fds it announced. */
static int announced(const struct reader *r)
{
	return !r->refuse && (r->stage == R_PAYLOAD || r->stage == R_CARRIERS);
}

/* A refused frame's fds are closed as they come: it claims none. */
size_t reader_fds_claimed(const struct reader *r)
{
	if (r->refuse)
		return 0;
	return announced(r) ? r->nfds : r->nfds_got;
}

/* Only STORE and RESTORE carry fds (and types unknown, refused later). */
static int carries_no_fds(uint32_t type)
{
	return type >= HP_FETCH && type <= HP_PING && type != HP_RESTORE;
}

void reader_reset(struct reader *r)
{
	close_fds(r->fds, r->nfds_got);
	free(r->fds);
	free(r->data);
	r->fds = NULL;
	r->data = NULL;
	r->nfds_got = r->nseen = r->fds_cap = 0;
	r->hlen = r->dlen = r->carriers = 0;
	r->refuse = 0;
	r->stage = R_IDLE;
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

/* One recvmsg of at most len bytes; READ_MORE on EAGAIN. */
static ssize_t read_some(struct reader *r, int sock, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int fds[FDSHARE_MAX_FDS];
	size_t room = fd_limit(r) - r->nseen, got;
	ssize_t n;

	/* More than that: the chunk is cut (ECHRNG), the client dropped. */
	if (!announced(r) && room > r->fd_allow)
		room = r->fd_allow;

	n = fds_recvmsg(sock, &iov, 1, fds, room < FDSHARE_MAX_FDS ? room : FDSHARE_MAX_FDS,
	                &got, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == ENOMEM || errno == ENOBUFS)) {
		r->nomem = 1; /* nothing was taken: tried again later */
		errno = EAGAIN;
	}
	if (n < 0)
		return -1;
	if (keep_fds(r, fds, got) < 0)
		return -1;
	return n;
}

static int got_header(struct reader *r)
{
	if (frame_parse_header(r->hdr, &r->type, &r->len, &r->nfds) < 0)
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
	if (!r->refuse && r->len > 0) {
		r->data = malloc(r->len);
		if (r->data == NULL)
			r->refuse = HP_ENOMEM;
	}
	if (r->refuse) {
		close_fds(r->fds, r->nfds_got);
		free(r->fds);
		r->fds = NULL;
		r->fds_cap = r->nfds_got = 0;
	}
	r->stage = R_PAYLOAD;
	return 0;
}

static int frame_end(struct reader *r)
{
	if (r->nseen != r->nfds) {
		errno = EPROTO;
		return -1;
	}
	r->stage = R_IDLE;
	r->hlen = 0;
	return READ_FRAME;
}

/*
 * Returns READ_FRAME with a whole frame in r, READ_MORE when the socket has
 * nothing more for now, READ_EOF at a clean end of stream, -1 on an error
 * (EPROTO: malformed or cut frame; the caller closes the connection).
 */
int reader_step(struct reader *r, int sock)
{
	unsigned char scratch[4096];

	/* A bounded number of reads per call: one big request does not keep
	 * the loop from the other clients (epoll reports the rest again). */
	for (int reads = 0;; reads++) {
		ssize_t n;

		if (reads == READS_PER_STEP)
			return READ_MORE;
		if (r->stage == R_IDLE || r->stage == R_HEADER) {
			n = read_some(r, sock, r->hdr + r->hlen, FRAME_HDR_LEN - r->hlen);
			if (n > 0 && r->hlen == 0 && r->stage == R_IDLE)
				r->stage = R_HEADER;
		} else if (r->stage == R_PAYLOAD && r->dlen < r->len) {
			size_t want = r->len - r->dlen;
			void *to = r->data ? r->data + r->dlen : scratch;

			if (r->data == NULL && want > sizeof scratch)
				want = sizeof scratch;
			n = read_some(r, sock, to, want);
		} else if (r->carriers > 0) {
			r->stage = R_CARRIERS;
			n = read_some(r, sock, scratch, 1);
		} else {
			return frame_end(r);
		}
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
		if (r->stage == R_HEADER) {
			r->hlen += (size_t)n;
			if (r->hlen == FRAME_HDR_LEN && got_header(r) < 0)
				return -1;
		} else if (r->stage == R_PAYLOAD) {
			r->dlen += (size_t)n;
		} else {
			r->carriers--;
		}
	}
}
