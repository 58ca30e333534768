/*
 * How the holder reads requests off a connection: several frames in one
 * recvmsg, a frame cut into pieces (byte by byte, descriptors on a later
 * piece), frames with descriptors back to back, refusals followed by a
 * valid frame in the same read.  To have frames arrive in one read, the
 * holder is stopped (SIGSTOP) while they are sent, then let go; to have
 * them arrive in pieces, each piece is sent once the holder has read the
 * one before (SIOCOUTQ back to 0).
 */
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "test_holder.h"

#define T_STORE 1
#define T_FETCH 2
#define T_PING 9
#define E_OK 0         /* the wire codes of docs/protocol.md 3.2 */
#define E_ENOENT 1
#define E_EMFILE 6
#define E_EMSGSIZE 8

struct frame {
	unsigned char b[32768];
	size_t n;
};

static void put32(struct frame *f, uint32_t v)
{
	put_le32(f->b + f->n, v);
	f->n += 4;
}

static void put_name(struct frame *f, const char *s)
{
	f->b[f->n++] = (unsigned char)strlen(s);
	memcpy(f->b + f->n, s, strlen(s));
	f->n += strlen(s);
}

/* A frame's header; its len is set by frame_end. */
static void frame_start(struct frame *f, uint32_t type, uint32_t nfds)
{
	static const unsigned char magic[8] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0 };

	memcpy(f->b, magic, 8);
	f->n = 8;
	put32(f, type);
	put32(f, 0);
	put32(f, nfds);
}

static void frame_end(struct frame *f)
{
	put_le32(f->b + 12, (uint32_t)(f->n - 20));
}

/* STORE of one item, name, with nfds fds (at most 253: no carriers). */
static void store_frame(struct frame *f, const char *name, uint32_t nfds)
{
	frame_start(f, T_STORE, nfds);
	put32(f, 1);
	put32(f, 0);    /* flags */
	put32(f, nfds);
	put32(f, 0);    /* ttl, u64 */
	put32(f, 0);
	put_name(f, name);
	frame_end(f);
}

static void fetch_frame(struct frame *f, const char *name, uint32_t nfds_hdr)
{
	frame_start(f, T_FETCH, nfds_hdr);
	put32(f, 1);
	put32(f, 0);
	put_name(f, name);
	frame_end(f);
}

static void ping_frame(struct frame *f)
{
	frame_start(f, T_PING, 0);
	frame_end(f);
}

static void send_piece(int s, const void *p, size_t len, const int *fds, size_t n)
{
	CHECK_EQ(fdshare_send(s, p, len, fds, n, 0), (ssize_t)len);
}

/* The next reply on s, to a request of type: its code (its fds closed). */
static long reply(int s, uint32_t type)
{
	struct pollfd pf = { .fd = s, .events = POLLIN };
	struct fdshare_msg m;
	long code;

	CHECK(poll(&pf, 1, 10000) == 1);
	CHECK_EQ(fdshare_msg_recv(s, &m), 1);
	CHECK_EQ(m.type, type | 0x80000000u);
	CHECK(m.len >= 8);
	code = ((unsigned char *)m.data)[0];
	fdshare_msg_free(&m);
	return code;
}

/* The holder's state letter in /proc/PID/stat. */
static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	CHECK(f != NULL);
	buf[0] = '\0';
	CHECK(fgets(buf, sizeof buf, f) != NULL);
	fclose(f);
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* The holder stopped (1) or running again (0), surely, within 10 s. */
static void hold(struct th *h, int stop)
{
	CHECK(kill(h->pid, stop ? SIGSTOP : SIGCONT) == 0);
	for (int i = 0; stop && i < 1000 && proc_state(h->pid) != 'T'; i++)
		th_sleep_ms(10);
	CHECK(!stop || proc_state(h->pid) == 'T');
}

/* Wait (10 s at most) until the holder has read everything s sent. */
static void consumed(int s)
{
	int n = -1;

	for (int i = 0; i < 1000; i++) {
		CHECK(ioctl(s, SIOCOUTQ, &n) == 0);
		if (n == 0)
			return;
		th_sleep_ms(10);
	}
	CHECK_EQ(n, 0);
}

/* name is held, and fetching it with REMOVE gives the file of want. */
static void fetch_is(struct th *h, const char *name, int want)
{
	struct fdshare_holder *c = th_connect(h);
	int *fds;
	size_t n;

	CHECK(fdshare_fetch(c, name, &fds, &n, FDSHARE_FETCH_REMOVE) == 0);
	CHECK_EQ(n, 1);
	CHECK(th_same_file(fds[0], want));
	CHECK_EQ(fcntl(fds[0], F_GETFL) & O_ACCMODE, fcntl(want, F_GETFL) & O_ACCMODE);
	close(fds[0]);
	free(fds);
	fdshare_holder_close(c);
}

/* The holder's fds with no client: those with one, but its socket. */
static int holder_base(struct th *h)
{
	struct fdshare_holder *c = th_connect(h);
	pid_t pid;
	int n;

	CHECK(fdshare_holder_ping(c, &pid) == 0);
	n = th_count_fds(h->pid);
	fdshare_holder_close(c);
	CHECK(n > 1);
	return n - 1;
}

/* A holder, its fds with no client, and a pipe whose ends are passed. */
struct rig {
	struct th h;
	int base;
	int p[2];
};

static void rig_start(struct rig *r, const char *const *args)
{
	th_start(&r->h, args);
	r->base = holder_base(&r->h);
	CHECK(pipe2(r->p, O_CLOEXEC) == 0);
}

static void rig_stop(struct rig *r)
{
	close(r->p[0]);
	close(r->p[1]);
	CHECK_EQ(th_stop(&r->h), 0);
}

TEST(pipelined_frames_in_one_read)
{
	struct frame a, b;
	unsigned char all[256];
	size_t n = 0;
	struct rig r;
	int s;

	rig_start(&r, NULL);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	ping_frame(&a);
	memcpy(all + n, a.b, a.n);
	n += a.n;
	fetch_frame(&a, "nothing", 0);
	memcpy(all + n, a.b, a.n);
	n += a.n;
	ping_frame(&a);
	memcpy(all + n, a.b, a.n);
	n += a.n;
	send_piece(s, all, n, NULL, 0);        /* three frames, one sendmsg */
	store_frame(&b, "piped", 1);
	send_piece(s, b.b, b.n, &r.p[0], 1);   /* then one with an fd */
	hold(&r.h, 0);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_FETCH), E_ENOENT);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	fetch_is(&r.h, "piped", r.p[0]);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}

/* Byte by byte, the fd on byte at (0: with the header's first byte;
 * past the end: with the last byte). */
static void store_by_bytes(struct th *h, size_t at)
{
	struct frame f;
	int p[2], s, base = holder_base(h);

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	store_frame(&f, "bytes", 1);
	if (at >= f.n)
		at = f.n - 1;
	CHECK((s = th_raw_connect(h->sock)) >= 0);
	for (size_t i = 0; i < f.n; i++) {
		send_piece(s, f.b + i, 1, &p[1], i == at);
		consumed(s);
	}
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	fetch_is(h, "bytes", p[1]);
	CHECK_EQ(th_fds_settle(h->pid, base), base);
	close(p[0]);
	close(p[1]);
}

TEST(frame_cut_byte_by_byte)
{
	struct th h;

	th_start(&h, NULL);
	store_by_bytes(&h, 0);
	store_by_bytes(&h, 10); /* the fd inside the header */
	store_by_bytes(&h, 30); /* in the payload */
	store_by_bytes(&h, (size_t)-1); /* with the last byte */
	CHECK_EQ(th_stop(&h), 0);
}

/* Header and half the payload, then the rest with the fd: read at once
 * (the holder stopped) or piece by piece. */
TEST(fds_with_a_later_piece)
{
	struct frame f;
	struct rig r;
	int s;

	rig_start(&r, NULL);
	store_frame(&f, "later", 1);
	for (int stopped = 0; stopped < 2; stopped++) {
		CHECK((s = th_raw_connect(r.h.sock)) >= 0);
		if (stopped)
			hold(&r.h, 1);
		send_piece(s, f.b, 30, NULL, 0);
		if (!stopped)
			consumed(s);
		send_piece(s, f.b + 30, f.n - 30, &r.p[stopped], 1);
		if (stopped)
			hold(&r.h, 0);
		CHECK_EQ(reply(s, T_STORE), E_OK);
		close(s);
		fetch_is(&r.h, "later", r.p[stopped]);
	}
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}

/* Two STOREs with fds, then a PING and a third STORE, sent while the
 * holder is stopped: each frame gets its own fds. */
TEST(fd_frames_back_to_back)
{
	struct frame f;
	struct rig r;
	int q[2], s;

	rig_start(&r, NULL);
	CHECK(pipe2(q, O_CLOEXEC) == 0);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	store_frame(&f, "one", 1);
	send_piece(s, f.b, f.n, &r.p[0], 1);
	store_frame(&f, "two", 1);
	send_piece(s, f.b, f.n, &r.p[1], 1);
	ping_frame(&f);
	send_piece(s, f.b, f.n, NULL, 0);
	store_frame(&f, "three", 2);
	send_piece(s, f.b, f.n, q, 2);
	hold(&r.h, 0);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base + 4), r.base + 4);
	fetch_is(&r.h, "one", r.p[0]);
	fetch_is(&r.h, "two", r.p[1]);
	{
		struct fdshare_holder *c = th_connect(&r.h);
		int *fds;
		size_t n;

		CHECK(fdshare_fetch(c, "three", &fds, &n, FDSHARE_FETCH_REMOVE) == 0);
		CHECK_EQ(n, 2);
		CHECK(th_same_file(fds[0], q[0]) && th_same_file(fds[1], q[1]));
		CHECK_EQ(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_WRONLY);
		close(fds[0]);
		close(fds[1]);
		free(fds);
		fdshare_holder_close(c);
	}
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	close(q[0]);
	close(q[1]);
	rig_stop(&r);
}

/* Over --max-request (with fds, then without), each followed in the same
 * read by a valid frame: refused, fds closed, the connection in step. */
TEST(oversize_then_valid_in_one_read)
{
	const char *args[] = { "--max-request", "200", NULL };
	struct frame f, g;
	struct rig r;
	int s;

	rig_start(&r, args);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	frame_start(&f, T_STORE, 2);
	memset(f.b + 20, 'x', 300);
	f.n += 300;
	frame_end(&f);
	send_piece(s, f.b, f.n, r.p, 2);
	ping_frame(&g);
	send_piece(s, g.b, g.n, NULL, 0);
	frame_start(&f, T_FETCH, 0);
	memset(f.b + 20, 'y', 3000);
	f.n += 3000;
	frame_end(&f);
	memcpy(f.b + f.n, g.b, g.n); /* a PING in the same sendmsg */
	f.n += g.n;
	send_piece(s, f.b, f.n, NULL, 0);
	store_frame(&f, "valid", 1);
	send_piece(s, f.b, f.n, &r.p[0], 1);
	hold(&r.h, 0);
	CHECK_EQ(reply(s, T_STORE), E_EMSGSIZE);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_FETCH), E_EMSGSIZE);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base + 1), r.base + 1);
	fetch_is(&r.h, "valid", r.p[0]);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}

/* More frames in one read than a connection's turn (16): all answered,
 * though the socket is empty once they are read. */
TEST(many_frames_in_one_read)
{
	enum { N = 150 };
	static unsigned char all[N * 20];
	struct frame f;
	int s, base;
	struct th h;

	th_start(&h, NULL);
	base = holder_base(&h);
	ping_frame(&f);
	for (int i = 0; i < N; i++)
		memcpy(all + 20 * i, f.b, 20);
	CHECK((s = th_raw_connect(h.sock)) >= 0);
	hold(&h, 1);
	send_piece(s, all, sizeof all, NULL, 0);
	hold(&h, 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(reply(s, T_PING), E_OK);
	close(s);
	CHECK_EQ(th_fds_settle(h.pid, base), base);
	CHECK_EQ(th_stop(&h), 0);
}

/* A frame announcing no fds that brings one: the client is dropped, the
 * fd closed; the frame after it, read at the same time, is not answered. */
TEST(fds_on_a_frame_without)
{
	struct frame f, g;
	struct rig r;
	int s;
	char c;

	rig_start(&r, NULL);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	fetch_frame(&f, "x", 0);
	send_piece(s, f.b, f.n, &r.p[0], 1);
	ping_frame(&g);
	send_piece(s, g.b, g.n, NULL, 0);
	hold(&r.h, 0);
	{
		struct pollfd pf = { .fd = s, .events = POLLIN };

		CHECK(poll(&pf, 1, 10000) == 1);
	}
	CHECK(recv(s, &c, 1, 0) <= 0);
	close(s);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}

/* Payloads bigger than the holder's buffer, and a frame of 300 fds (two
 * chunks), each behind a small frame in the same read. */
TEST(big_frames_behind_small_ones)
{
	enum { ITEMS = 300 };
	static struct frame f;
	struct frame g;
	struct rig r;
	int s, fds[ITEMS];

	rig_start(&r, NULL);
	for (int i = 0; i < ITEMS; i++)
		fds[i] = r.p[i & 1];
	frame_start(&f, T_STORE, ITEMS);
	put32(&f, ITEMS);
	for (int i = 0; i < ITEMS; i++) {
		char name[64];

		snprintf(name, sizeof name, "big-%03d-%040d", i, 0);
		put32(&f, 0);
		put32(&f, 1);
		put32(&f, 0);
		put32(&f, 0);
		put_name(&f, name);
	}
	frame_end(&f);
	CHECK(f.n - 20 > 4096);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	ping_frame(&g);
	send_piece(s, g.b, g.n, NULL, 0);
	CHECK(fdshare_msg_send(s, T_STORE, f.b + 20, f.n - 20, fds, ITEMS) == 0);
	send_piece(s, g.b, g.n, NULL, 0);
	hold(&r.h, 0);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	CHECK_EQ(reply(s, T_PING), E_OK);
	close(s);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base + ITEMS), r.base + ITEMS);
	{
		char name[64];

		snprintf(name, sizeof name, "big-%03d-%040d", 299, 0);
		fetch_is(&r.h, name, r.p[1]);
	}
	rig_stop(&r);
}

/* --max-fds with a frame's fds read while the frame before it is handled:
 * they count, and the refused frame's fds are closed. */
TEST(max_fds_with_frames_in_flight)
{
	const char *args[] = { "--max-fds", "3", NULL };
	struct frame f, g;
	struct rig r;
	int s;

	rig_start(&r, args);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	store_frame(&f, "first", 2);
	send_piece(s, f.b, f.n, r.p, 2);
	ping_frame(&g);
	send_piece(s, g.b, g.n, NULL, 0);
	store_frame(&f, "second", 2);
	send_piece(s, f.b, f.n, r.p, 2);
	send_piece(s, g.b, g.n, NULL, 0);
	store_frame(&f, "third", 1);
	send_piece(s, f.b, f.n, r.p, 1);
	hold(&r.h, 0);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_EMFILE);
	CHECK_EQ(reply(s, T_PING), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base + 3), r.base + 3);
	rig_stop(&r);
}

/* A sendmsg that runs from the end of a STORE into a PING, with the
 * STORE's fd: the STORE announces an fd it lacks, so the fd is its own
 * (section 1.6), whether the two come in one read or not. */
TEST(fd_glued_across_frames_goes_to_the_frame_wanting_it)
{
	struct frame f, g;
	struct rig r;
	int s;

	rig_start(&r, NULL);
	store_frame(&f, "glued", 1);
	ping_frame(&g);
	memcpy(f.b + f.n, g.b, g.n);
	for (int stopped = 0; stopped < 2; stopped++) {
		CHECK((s = th_raw_connect(r.h.sock)) >= 0);
		if (stopped)
			hold(&r.h, 1);
		send_piece(s, f.b, 30, NULL, 0);
		if (!stopped)
			consumed(s);
		send_piece(s, f.b + 30, f.n + g.n - 30, &r.p[stopped], 1);
		if (stopped)
			hold(&r.h, 0);
		CHECK_EQ(reply(s, T_STORE), E_OK);
		CHECK_EQ(reply(s, T_PING), E_OK);
		close(s);
		fetch_is(&r.h, "glued", r.p[stopped]);
	}
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}

/*
 * The holder's first read (a whole buffer) ends 10 bytes into a STORE's
 * header and brings its fd; the rest of the header must be read exactly,
 * or the same read would bring the next STORE's fd too.
 */
TEST(read_cut_inside_a_header)
{
	enum { PINGS = 190, NAME = 114 };  /* 190 * 20 + 2 * (29 + 114) = 4086 */
	static unsigned char pad[PINGS * 20 + 2 * (29 + NAME)];
	char name[NAME + 1];
	struct frame f, a, b;
	struct rig r;
	size_t n = 0;
	int s;

	rig_start(&r, NULL);
	ping_frame(&f);
	for (int i = 0; i < PINGS; i++, n += 20)
		memcpy(pad + n, f.b, 20);
	memset(name, 'n', NAME);
	name[NAME] = '\0';
	fetch_frame(&f, name, 0);
	for (int i = 0; i < 2; i++, n += f.n)
		memcpy(pad + n, f.b, f.n);
	CHECK_EQ(n, sizeof pad);
	CHECK_EQ(n + 10, 4096);
	store_frame(&a, "cut-a", 1);
	store_frame(&b, "cut-b", 1);
	CHECK((s = th_raw_connect(r.h.sock)) >= 0);
	hold(&r.h, 1);
	send_piece(s, pad, n, NULL, 0);
	send_piece(s, a.b, a.n, &r.p[0], 1);
	send_piece(s, b.b, b.n, &r.p[1], 1);
	hold(&r.h, 0);
	for (int i = 0; i < PINGS; i++)
		CHECK_EQ(reply(s, T_PING), E_OK);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(reply(s, T_FETCH), E_ENOENT);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	CHECK_EQ(reply(s, T_STORE), E_OK);
	close(s);
	fetch_is(&r.h, "cut-a", r.p[0]);
	fetch_is(&r.h, "cut-b", r.p[1]);
	CHECK_EQ(th_fds_settle(r.h.pid, r.base), r.base);
	rig_stop(&r);
}
