/*
 * One client connection: requests read by the frame reader, replies
 * written without blocking (a queue of frames, descriptors attached to
 * the right bytes), the deadline of a half-sent request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

#define FRAMES_PER_EVENT 16 /* then let the other clients have a turn */
#define OUT_RETRY_MS 10     /* a send the kernel lacked memory for */

/*
 * The peer's credentials.  Its pidfd only when a rule needs its cgroup:
 * otherwise two system calls per connection (SO_PEERPIDFD, close) for
 * nothing.
 */
static int peer_of(struct holder *h, int fd, struct fdshare_peer *p)
{
	return h->rules.need_cgroup ? fdshare_peer(fd, p) : peer_cred(fd, p);
}

/* No events until the retry timer (conn_retry_out) tries it again. */
static void retry_soon(struct holder *h, struct conn *c)
{
	c->waiting_out = OUT_RETRY;
	if (h->retry_at == 0)
		h->retry_at = mono_ms() + OUT_RETRY_MS;
}

/*
 * A connection joins the epoll set only once it must wait (conn_watch):
 * -1 when the kernel could not add it (ENOMEM, or ENOSPC past
 * fs.epoll.max_user_watches); the caller then retries it on the timer.
 */
static int set_events(struct holder *h, struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	c->events = ev;
	if (c->watched)
		return epoll_ctl(h->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0 ? -1 : 0;
	if (ev == 0)
		return 0;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
		return -1;
	c->watched = 1;
	return 0;
}

/*
 * After its first turn.  A client that sends its request, reads the
 * reply and hangs up before the holder looks again is served and closed
 * without the epoll set: two epoll_ctl calls saved.
 */
void conn_watch(struct holder *h, struct conn *c)
{
	if (c->dead || c->watched || c->waiting_out == OUT_RETRY)
		return;
	if (set_events(h, c, c->events) < 0)
		retry_soon(h, c);
}

struct conn *conn_new(struct holder *h, int fd)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->kind = W_CONN;
	c->fd = fd;
	c->peer.pidfd = -1;
	if (peer_of(h, fd, &c->peer) < 0) {
		free(c);
		return NULL;
	}
	if (uids_add(h, c->peer.uid) < 0) {
		if (errno == EUSERS)
			hlog(h, "uid %u has --max-clients-per-uid %zu connections: "
			     "one more was refused", (unsigned)c->peer.uid,
			     h->cf.max_uid_clients);
		close_keep_errno(c->peer.pidfd);
		free(c);
		return NULL;
	}
	c->rd.max_len = h->cf.max_request;
	/* The cgroup is read now, while the pidfd vouches for the pid. */
	if (h->rules.need_cgroup)
		acl_read_cgroup(h, c);
	close_keep_errno(c->peer.pidfd);
	c->peer.pidfd = -1;
	c->events = EPOLLIN;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	return c;
}

/* ---- the FIFO of connections inside a request: deadlines in order ---- */

static void timer_unlink(struct holder *h, struct conn *c)
{
	if (c->deadline == 0)
		return;
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		h->thead = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		h->ttail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->deadline = 0;
}

static void timer_start(struct holder *h, struct conn *c)
{
	if (c->deadline != 0 || h->cf.timeout_ms <= 0)
		return;
	c->deadline = mono_ms() + h->cf.timeout_ms;
	c->tprev = h->ttail;
	if (h->ttail)
		h->ttail->tnext = c;
	else
		h->thead = c;
	h->ttail = c;
}

void conn_timeout_sweep(struct holder *h, int64_t now)
{
	while (h->thead && h->thead->deadline <= now) {
		struct conn *c = h->thead;

		hlog(h, "client pid %d uid %u: request or reply stuck for %ld ms, dropped",
		     (int)c->peer.pid, (unsigned)c->peer.uid, h->cf.timeout_ms);
		conn_close(h, c);
	}
}

static void outframe_free(struct conn *c, struct outframe *o)
{
	if (o == &c->errframe) {
		c->err_busy = 0;
		return;
	}
	if (o->own == OUT_OWN)
		close_fds(o->fds + o->fds_sent, o->nfds - o->fds_sent);
	free(o->fds);
	free(o->buf);
	free(o);
}

/*
 * The fds a request may bring: what --max-fds leaves once the store and
 * the other requests in flight are counted, and some of what the client's
 * uid holds (a REPLACE gives it back); and the fds the holder may receive
 * before it knows what for (FD_SLACK).  A client that stalls with fds in
 * flight cannot make the holder run out of descriptors.
 */
static void set_fd_room(struct holder *h, struct conn *c)
{
	size_t held = h->store.fds, max = h->cf.max_fds;
	size_t credit = store_uid_fds(&h->store, c->peer.uid);
	size_t used = held + h->claimed - c->claimed;

	if (credit > FD_SLACK)
		credit = FD_SLACK;
	c->rd.fd_room = used < max + credit ? max + credit - used : 0;
	used = held + h->claimed;
	c->rd.fd_allow = used < max + FD_SLACK ? max + FD_SLACK - used : 0;
}

static void claim_update(struct holder *h, struct conn *c)
{
	size_t now = reader_fds_claimed(&c->rd);

	h->claimed = h->claimed - c->claimed + now;
	c->claimed = now;
}

static void ready_unlink(struct holder *h, struct conn *c)
{
	struct conn **p = &h->ready;

	while (c->ready && *p) {
		if (*p == c) {
			*p = c->rnext;
			c->ready = 0;
		} else {
			p = &(*p)->rnext;
		}
	}
}

void conn_close(struct holder *h, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	ready_unlink(h, c); /* freed with the limbo */
	if (c->takeover)
		takeover_abort(h, c);
	timer_unlink(h, c);
	if (c->watched)
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	uids_del(h, c->peer.uid);
	close_keep_errno(c->peer.pidfd);
	reader_reset(&c->rd);
	claim_update(h, c);
	while (c->out) {
		struct outframe *o = c->out;

		c->out = o->next;
		outframe_free(c, o);
	}
	c->out_tail = NULL;
	free(c->cgroup);
	c->cgroup = NULL;
	free(c->groups);
	c->groups = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nconns--;
	c->limbo = h->limbo_c; /* freed after this round of events */
	h->limbo_c = c;
}

int conn_idle(const struct conn *c)
{
	return !reader_busy(&c->rd) && c->out == NULL;
}

/* The bytes that go in one sendmsg, and the fds attached to the first. */
static size_t chunk_at(const struct outframe *o, size_t *nfds, size_t *len)
{
	size_t hdr_payload = o->len - frame_carriers(o->nfds);
	size_t k = o->fds_sent / FDSHARE_MAX_FDS; /* next chunk to attach */
	size_t attach = k == 0 ? 0 : hdr_payload + k - 1;
	size_t left = o->nfds - o->fds_sent;

	*nfds = 0;
	if (o->fds_sent < o->nfds && o->off == attach)
		*nfds = left < FDSHARE_MAX_FDS ? left : FDSHARE_MAX_FDS;
	/* Stop before the next attachment point so its fds go with it. */
	if (o->fds_sent + *nfds < o->nfds) {
		size_t next = (o->fds_sent + *nfds) / FDSHARE_MAX_FDS;
		size_t at = next == 0 ? 0 : hdr_payload + next - 1;

		*len = at > o->off ? at - o->off : 1;
	} else {
		*len = o->len - o->off;
	}
	return attach;
}

enum { SEND_WAIT = 0, SEND_DONE = 1, SEND_RETRY = 2 };

/*
 * Send what the socket takes: SEND_DONE when the frame is out, SEND_WAIT
 * until the socket is writable, SEND_RETRY when the kernel lacked memory
 * (tried again shortly: the request is carried out, its reply must go).
 */
static int send_frame(struct outframe *o, int sock)
{
	while (o->off < o->len) {
		size_t nfds, len;
		struct iovec iov;
		ssize_t n;

		chunk_at(o, &nfds, &len);
		iov.iov_base = o->buf + o->off;
		iov.iov_len = len;
		n = fds_sendmsg(sock, &iov, 1, o->fds + o->fds_sent, nfds, MSG_DONTWAIT);
		if (n < 0 && (errno == ENOMEM || errno == ENOBUFS))
			return SEND_RETRY;
		if (n < 0)
			return errno == EAGAIN || errno == ETOOMANYREFS ? SEND_WAIT : -1;
		if (nfds && o->own == OUT_OWN)
			close_fds(o->fds + o->fds_sent, nfds);
		o->fds_sent += nfds;
		o->off += (size_t)n;
	}
	return SEND_DONE;
}

/* Borrowed fds that must wait for the socket: keep copies of our own. */
static int own_rest(struct outframe *o)
{
	for (size_t i = o->fds_sent; i < o->nfds; i++) {
		int d = fcntl(o->fds[i], F_DUPFD_CLOEXEC, 3);

		if (d < 0) {
			close_fds(o->fds + o->fds_sent, i - o->fds_sent);
			o->nfds = o->fds_sent;
			return -1;
		}
		o->fds[i] = d;
	}
	o->own = OUT_OWN;
	return 0;
}

static int flush(struct holder *h, struct conn *c)
{
	int progress = 0;

	while (c->out) {
		struct outframe *o = c->out;
		size_t before = o->off;
		int r = send_frame(o, c->fd);

		progress |= o->off != before;
		if (r < 0)
			return -1;
		if (r != SEND_DONE) {
			int want = r == SEND_RETRY ? OUT_RETRY : OUT_WAIT;

			if (o->own == OUT_BORROW && own_rest(o) < 0)
				return -1;
			/* A client that stops reading is dropped too, after
			 * --timeout without progress. */
			if (progress)
				timer_unlink(h, c);
			timer_start(h, c);
			/* Retrying: no events (a writable socket would spin),
			 * the loop calls conn_retry_out on a short timer. */
			if (c->waiting_out != want &&
			    set_events(h, c, want == OUT_RETRY ? 0 : EPOLLOUT) < 0)
				want = OUT_RETRY;
			c->waiting_out = want;
			if (want == OUT_RETRY)
				retry_soon(h, c);
			return 0;
		}
		c->out = o->next;
		if (c->out == NULL)
			c->out_tail = NULL;
		outframe_free(c, o);
	}
	if (c->waiting_out) {
		timer_unlink(h, c);
		c->waiting_out = OUT_IDLE;
		if (set_events(h, c, EPOLLIN) < 0)
			retry_soon(h, c);
	}
	return 0;
}

static void enqueue(struct conn *c, struct outframe *o)
{
	o->next = NULL;
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out = o;
	c->out_tail = o;
}

int conn_queue(struct conn *c, uint32_t type, const void *data, size_t len,
               int *fds, size_t nfds, int own)
{
	struct outframe *o = calloc(1, sizeof *o);
	size_t carriers = frame_carriers(nfds);

	if (o == NULL || (o->buf = malloc(FRAME_HDR_LEN + len + carriers)) == NULL ||
	    (nfds && (o->fds = malloc(nfds * sizeof(int))) == NULL)) {
		if (o)
			free(o->buf);
		free(o);
		errno = ENOMEM;
		return -1;
	}
	frame_put_header(o->buf, type | HP_REPLY, (uint32_t)len, (uint32_t)nfds);
	if (len)
		memcpy(o->buf + FRAME_HDR_LEN, data, len);
	memset(o->buf + FRAME_HDR_LEN + len, 0, carriers);
	o->len = FRAME_HDR_LEN + len + carriers;
	if (nfds)
		memcpy(o->fds, fds, nfds * sizeof(int));
	o->nfds = nfds;
	o->own = own;
	/* Waiting behind another frame: the store may change meanwhile. */
	if (c->out && own == OUT_BORROW && own_rest(o) < 0) {
		free(o->fds);
		free(o->buf);
		free(o);
		return -1;
	}
	enqueue(c, o);
	return 0;
}

void conn_send(struct holder *h, struct conn *c)
{
	if (c->dead)
		return;
	if (flush(h, c) < 0 || (c->closing && c->out == NULL))
		conn_close(h, c);
}

int conn_reply(struct holder *h, struct conn *c, uint32_t type,
               const void *data, size_t len, int *fds, size_t nfds, int own)
{
	if (conn_queue(c, type, data, len, fds, nfds, own) < 0)
		return -1;
	conn_send(h, c);
	return 0;
}

/* Never allocates (but for a second error queued behind the first). */
int conn_reply_err(struct holder *h, struct conn *c, uint32_t type,
                   uint32_t code, uint32_t index)
{
	struct outframe *o = &c->errframe;
	unsigned char *b = c->errbuf + FRAME_HDR_LEN;

	c->last_code = code;
	if (c->err_busy) {
		unsigned char v[8];

		put_le32(v, code);
		put_le32(v + 4, index);
		if (conn_reply(h, c, type, v, sizeof v, NULL, 0, OUT_OWN) == 0)
			return 0;
		conn_close(h, c);
		return -1;
	}
	memset(o, 0, sizeof *o);
	frame_put_header(c->errbuf, type | HP_REPLY, 8, 0);
	put_le32(b, code);
	put_le32(b + 4, index);
	o->buf = c->errbuf;
	o->len = sizeof c->errbuf;
	o->own = OUT_OWN;
	c->err_busy = 1;
	enqueue(c, o);
	conn_send(h, c);
	return 0;
}

/* Replies, reads and watches the kernel lacked memory for: tried again. */
void conn_retry_out(struct holder *h)
{
	struct conn *c, *next;

	h->retry_at = 0;
	for (c = h->conns; c; c = next) {
		next = c->next;
		if (c->dead || c->waiting_out != OUT_RETRY)
			continue;
		if (c->out == NULL) { /* a read to try again */
			c->waiting_out = OUT_IDLE;
			if (set_events(h, c, EPOLLIN) < 0)
				retry_soon(h, c); /* and read meanwhile */
		}
		conn_event(h, c, EPOLLOUT);
	}
}

/* Frames left in c's buffer after its turn: read at the end of the round. */
static void ready_later(struct holder *h, struct conn *c)
{
	if (c->ready || c->dead || !reader_buffered(&c->rd))
		return;
	c->ready = 1;
	c->rnext = h->ready;
	h->ready = c;
}

void conn_run_ready(struct holder *h)
{
	struct conn *c = h->ready;

	h->ready = NULL;
	while (c) {
		struct conn *next = c->rnext;

		c->ready = 0;
		c->rnext = NULL;
		conn_event(h, c, 0); /* dead ones wait in limbo, untouched */
		c = next;
	}
}

static void read_requests(struct holder *h, struct conn *c)
{
	int i;

	c->rd.short_read = 0; /* epoll said there is something to read */
	for (i = 0; i < FRAMES_PER_EVENT && !c->dead && c->out == NULL; i++) {
		int r;

		set_fd_room(h, c); /* the handlers check precisely */
		r = reader_step(&c->rd, c->fd);
		claim_update(h, c);

		if (r == READ_MORE && c->rd.nomem) {
			/* No events until a retry: the input would spin. */
			c->rd.nomem = 0;
			set_events(h, c, 0);
			retry_soon(h, c);
		}
		if (r == READ_MORE) {
			if (reader_busy(&c->rd))
				timer_start(h, c);
			else
				timer_unlink(h, c);
			return;
		}
		timer_unlink(h, c);
		if (r != READ_FRAME) {
			if (r < 0 && errno == ECHRNG)
				hlog(h, "client pid %d uid %u: more fds than the holder has "
				     "room for, dropped", (int)c->peer.pid,
				     (unsigned)c->peer.uid);
			else if (r < 0)
				hlog(h, "client pid %d uid %u: bad request: %s, dropped",
				     (int)c->peer.pid, (unsigned)c->peer.uid,
				     strerror(errno));
			conn_close(h, c);
			return;
		}
		ops_dispatch(h, c);
		c->served = 1;
		if (!c->dead) {
			reader_next(&c->rd);
			claim_update(h, c);
		}
	}
	/* Its turn is over with frames still in its buffer: the socket may
	 * be empty, so that epoll would not come back to them. */
	if (i == FRAMES_PER_EVENT)
		ready_later(h, c);
}

void conn_event(struct holder *h, struct conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (c->out && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
		if (flush(h, c) < 0) {
			conn_close(h, c);
			return;
		}
		if (c->out == NULL && c->closing) {
			conn_close(h, c);
			return;
		}
	}
	/* EPOLLOUT too: input may have waited for the output to drain. */
	if (c->out == NULL)
		read_requests(h, c);
}
