/*
 * Clients that stall inside a request with hundreds of fds already sent:
 * those fds, in flight, count against the holder's --max-fds, so such
 * clients cannot make it run out of descriptors, and it serves the others
 * meanwhile.  (The storm of well-behaved and hostile clients at once is
 * in test_holder_storm.c.)
 */
#include "test_holder.h"

/*
 * A STORE of nfds fds (two chunks and more) sent but for its last carrier
 * byte: every fd of the chunks before it is in the holder, in flight.
 */
static void stalled_store(int s, int fd, size_t nfds)
{
	unsigned char b[20 + 26] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 1 };
	int fds[FDSHARE_MAX_FDS];
	size_t chunks = (nfds + FDSHARE_MAX_FDS - 1) / FDSHARE_MAX_FDS;

	CHECK(chunks >= 3);
	for (int i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = fd;
	put_le32(b + 12, 26);
	put_le32(b + 16, (uint32_t)nfds);
	put_le32(b + 20, 1);
	put_le32(b + 24, 0);
	put_le32(b + 28, (uint32_t)nfds);
	memset(b + 32, 0, 8);
	b[40] = 5;
	memcpy(b + 41, "stall", 5);
	CHECK_EQ(fdshare_send(s, b, sizeof b, fds, FDSHARE_MAX_FDS, 0), (ssize_t)sizeof b);
	for (size_t k = 1; k + 1 < chunks; k++)
		CHECK_EQ(fdshare_send(s, "", 1, fds, FDSHARE_MAX_FDS, 0), 1);
}

/*
 * The fds of requests still arriving count against --max-fds: clients
 * that stall with hundreds of fds in flight cannot make the holder run out
 * of descriptors; meanwhile the others get a clean EMFILE (or, asking for
 * more than the holder could even receive, are dropped), the holder
 * serves the rest, and once the stalled ones are dropped all is as before.
 */
TEST(fds_in_flight_count_against_max_fds)
{
	const char *args[] = { "--max-clients", "16", "--max-fds", "520", "--timeout", "1500",
	                       NULL };
	rlim_t nofile = 520 + 16 + 64 + 2 * FDSHARE_MAX_FDS; /* what the holder wants */
	size_t stall = 2 * FDSHARE_MAX_FDS + 4;             /* 506 of them sent */
	int fds[FDSHARE_MAX_FDS], p[2], a, b, base;
	struct fdshare_holder *c, *d;
	struct th h;
	pid_t pid;

	th_start_nofile(&h, args, nofile);
	c = th_connect(&h);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	base = th_count_fds(h.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (int i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = p[0];
	a = th_raw_connect(h.sock);
	CHECK(a >= 0);
	stalled_store(a, p[1], stall); /* claims 510 of the 520 */
	CHECK_EQ(th_fds_settle(h.pid, base + 1 + 2 * FDSHARE_MAX_FDS),
	         base + 1 + 2 * FDSHARE_MAX_FDS);
	CHECK_ERR(fdshare_store(c, "big", fds, 100, 0, 0), EMFILE);
	CHECK(fdshare_store(c, "small", fds, 2, 0, 0) == 0);
	/* Half a header with a whole chunk of fds: received, claimed. */
	b = th_raw_connect(h.sock);
	CHECK(b >= 0);
	CHECK_EQ(fdshare_send(b, "FDSH", 4, fds, FDSHARE_MAX_FDS, 0), 4);
	CHECK_EQ(th_fds_settle(h.pid, base + 2 + 2 + 3 * FDSHARE_MAX_FDS),
	         base + 2 + 2 + 3 * FDSHARE_MAX_FDS);
	d = th_connect(&h);
	CHECK_ERR(fdshare_store(d, "one", fds, 1, 0, 0), EMFILE);
	CHECK_ERR(fdshare_store(d, "big", fds, 100, 0, 0), ECONNRESET); /* dropped */
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	CHECK_EQ(th_list_count(c, NULL), 1);
	CHECK(th_count_fds(h.pid) < (int)nofile);
	CHECK(th_wait_dropped(a) >= 0 && th_wait_dropped(b) >= 0);
	close(a);
	close(b);
	CHECK(fdshare_store(d, "big", fds, 100, 0, 0) == 0);
	CHECK_EQ(th_fds_settle(h.pid, base + 1 + 102), base + 1 + 102);
	CHECK(fdshare_remove(c, "big") == 0 && fdshare_remove(c, "small") == 0);
	fdshare_holder_close(d);
	CHECK_EQ(th_fds_settle(h.pid, base), base);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
}
