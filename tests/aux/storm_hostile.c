/*
 * storm_hostile SOCKET QUOTA TIMEOUT_MS: the hostile clients of
 * test_holder_storm.c, against the holder listening on SOCKET (started
 * with --quota QUOTA and --timeout TIMEOUT_MS) while well-behaved clients
 * load it.  One after the other: stall inside a header, send 253 fds
 * with a FETCH, send bad names, flood requests without reading the
 * replies; and beside them, as uid 1001, store up to the quota and past
 * it.  Each request must be answered with the error it deserves on a
 * connection still usable, or its client dropped after --timeout.
 *
 * Exit 0 when all were; else 2 (half header), 3 (FETCH with fds),
 * 4 (names), 5 (flood), 6 (quota), 1 (usage).  What was seen and what
 * went wrong go to stderr.  Done within 60 s (alarm).
 */
#include "../test_holder.h"

static int quota, timeout_ms;

/* ---- raw frames, for what the library would never send ---- */

/* The reply's code, or -1 (no reply within 10 s, or not a reply). */
static long reply_code(int s, size_t *nfds)
{
	struct pollfd pf = { .fd = s, .events = POLLIN };
	struct fdshare_msg m;
	long code;

	if (poll(&pf, 1, 10000) != 1 || fdshare_msg_recv(s, &m) != 1)
		return -1;
	code = m.len >= 8 && (m.type & 0x80000000u) ? (long)((unsigned char *)m.data)[0] : -1;
	if (nfds)
		*nfds = m.nfds;
	fdshare_msg_free(&m);
	return code;
}

/* A request whose reply must carry code want, on a connection still usable. */
static int expect_code(int s, uint32_t type, const void *p, size_t len, const int *fds,
                       size_t nfds, long want, const char *what)
{
	size_t got = 0;
	long code;

	if (fdshare_msg_send(s, type, p, len, fds, nfds) < 0) {
		fprintf(stderr, "hostile %s: send: %s\n", what, strerror(errno));
		return -1;
	}
	code = reply_code(s, &got);
	if (code != want || got != 0) {
		fprintf(stderr, "hostile %s: code %ld with %zu fds, want %ld\n", what, code,
		        got, want);
		return -1;
	}
	if (fdshare_msg_send(s, 9 /* PING */, NULL, 0, NULL, 0) < 0 || reply_code(s, NULL) != 0) {
		fprintf(stderr, "hostile %s: the connection is not usable after\n", what);
		return -1;
	}
	return 0;
}

/* A store item (count 1) of one fd under a name of n bytes. */
static size_t store_payload(unsigned char *b, const char *name, size_t n, unsigned lenbyte)
{
	put_le32(b, 1);
	put_le32(b + 4, 0);
	put_le32(b + 8, 1);
	memset(b + 12, 0, 8);
	b[20] = (unsigned char)lenbyte;
	memcpy(b + 21, name, n);
	return 21 + n;
}

static int hostile_half_header(const char *sock)
{
	unsigned char h[20] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 9 };
	int s = th_raw_connect(sock);
	long long ms;

	if (s < 0 || send(s, h, 7, MSG_NOSIGNAL) != 7)
		return -1;
	ms = th_wait_dropped(s);
	close(s);
	fprintf(stderr, "hostile half header: dropped after %lld ms (--timeout %d)\n", ms,
	        timeout_ms);
	return ms < 0 ? -1 : 0;
}

static int hostile_fetch_with_fds(const char *sock)
{
	unsigned char p[4 + 4 + 1 + 1] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x' };
	int fds[FDSHARE_MAX_FDS], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int s = th_raw_connect(sock), r;

	if (s < 0 || null < 0)
		return -1;
	for (int i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = null;
	r = expect_code(s, 2 /* FETCH */, p, sizeof p, fds, FDSHARE_MAX_FDS, 7 /* EPROTO */,
	                "FETCH with 253 fds");
	close(null);
	close(s);
	return r;
}

static int hostile_names(const char *sock)
{
	static unsigned char b[21 + 10000];
	static char big[10000];
	int s = th_raw_connect(sock), null = open("/dev/null", O_RDONLY | O_CLOEXEC), r = 0;
	size_t n;

	if (s < 0 || null < 0)
		return -1;
	memset(big, 'a', sizeof big);
	n = store_payload(b, "a:b", 3, 3);
	r |= expect_code(s, 1, b, n, &null, 1, 5 /* EINVAL */, "name with ':'");
	n = store_payload(b, "a\nb", 3, 3);
	r |= expect_code(s, 1, b, n, &null, 1, 5, "name with a newline");
	/* A name's length is one byte: 10,000 bytes cannot be one name. */
	n = store_payload(b, big, sizeof big, sizeof big & 0xff);
	r |= expect_code(s, 1, b, n, &null, 1, 7 /* EPROTO */, "name of 10,000 bytes");
	n = store_payload(b, big, sizeof big, 0xff);
	r |= expect_code(s, 1, b, n, &null, 1, 7, "name of 10,000 bytes, length 255");
	b[0] = 0xff;
	memcpy(b + 1, big, sizeof big);
	r |= expect_code(s, 4 /* LIST */, b, 1 + sizeof big, NULL, 0, 7,
	                 "LIST prefix of 10,000 bytes");
	memcpy(b, "\x01\x00\x00\x00\x00\x00\x00\x00\x03x:y", 12);
	r |= expect_code(s, 2 /* FETCH */, b, 12, NULL, 0, 5, "FETCH of a name with ':'");
	close(null);
	close(s);
	return r;
}

/*
 * Requests without ever reading a reply, as fast as the socket takes them:
 * once the replies fill the socket the holder stops reading, and drops
 * the client after --timeout.
 */
static int hostile_flood(const char *sock)
{
	unsigned char ping[20] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 9 };
	int s = th_raw_connect(sock);
	long long t0 = mono_ms(), last = t0;
	long sent = 0;

	if (s < 0)
		return -1;
	while (mono_ms() - t0 < 20000) {
		struct pollfd pf = { .fd = s, .events = POLLOUT };

		if (send(s, ping, sizeof ping, MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof ping) {
			sent++;
			last = mono_ms();
			continue;
		}
		if (errno != EAGAIN || poll(&pf, 1, 100) < 0 || (pf.revents & (POLLHUP | POLLERR)))
			break;
	}
	close(s);
	fprintf(stderr, "hostile flood: %ld requests sent, no reply read, dropped %lld ms "
	        "after the last could be sent\n", sent, mono_ms() - last);
	return mono_ms() - t0 < 20000 ? 0 : -1;
}

/* As uid 1001: its quota, then one fd more. */
static int hostile_quota(const char *sock)
{
	struct fdshare_holder *c;
	int *fds = calloc((size_t)quota, sizeof *fds), null, r = 0;

	th_become(1001);
	c = fdshare_holder_connect(sock);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fds == NULL || c == NULL || null < 0)
		return -1;
	for (int i = 0; i < quota; i++)
		fds[i] = null;
	if (fdshare_store(c, "q-a", fds, (size_t)quota - 1, 0, 0) < 0 ||
	    fdshare_store(c, "q-b", fds, 1, 0, 0) < 0) {
		fprintf(stderr, "hostile quota: storing up to the quota: %s\n", strerror(errno));
		r = -1;
	} else if (fdshare_store(c, "q-c", fds, 1, 0, 0) == 0 || errno != EDQUOT) {
		fprintf(stderr, "hostile quota: past the quota: not EDQUOT (%s)\n",
		        strerror(errno));
		r = -1;
	} else if (fdshare_store(c, "q-d", fds, (size_t)quota, 0, 0) == 0 || errno != EDQUOT) {
		fprintf(stderr, "hostile quota: %d fds at once: not EDQUOT (%s)\n", quota,
		        strerror(errno));
		r = -1;
	}
	close(null);
	fdshare_holder_close(c);
	free(fds);
	return r;
}

/* The exit status of child pid, or -1. */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	const char *sock;
	pid_t q;
	int r;

	if (argc != 4 || (quota = atoi(argv[2])) < 2 || (timeout_ms = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: storm_hostile SOCKET QUOTA TIMEOUT_MS\n");
		return 1;
	}
	sock = argv[1];
	alarm(60);
	q = fork();
	if (q == 0) {
		alarm(60);
		_exit(hostile_quota(sock) == 0 ? 0 : 1);
	}
	r = hostile_half_header(sock) < 0 ? 2 : hostile_fetch_with_fds(sock) < 0 ? 3 :
	    hostile_names(sock) < 0 ? 4 : hostile_flood(sock) < 0 ? 5 : 0;
	if (q < 0 || reap(q) != 0)
		r = r ? r : 6;
	return r;
}

