/*
 * Fault injection: each library operation runs again and again with the
 * Nth call to a libc function failing (N = 1, 2, ... until a run never
 * reaches the fault), once for each errno.  Every run must give success
 * or -1 with the injected errno (EINTR retried to success; EAGAIN waited
 * out by the framed calls), leave the fd count and the live allocations
 * as they were, and leave the peer a whole message or a clean end.
 *
 * The faults come from libfault.so (tests/fault/), which this program
 * loads by running itself again with LD_PRELOAD.  Each test prints
 * "# faults NAME: R runs, F faults" for tools/robustness-report.sh.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault/selfload.h"
#include "fdshare.h"
#include "t.h"

#define MAX_N 10000
#define PAYLOAD 5000    /* more than the first record of a frame */
#define MANY 300        /* more than one SCM_RIGHTS chunk */

/* ---- one run ---- */

struct run {
	unsigned long mask;
	long n;          /* 0: no fault */
	int err, any;
	int hit;         /* the function failed, -1 none */
	char where[160]; /* for failure messages */
};

#define VERIFY(rn, c)                                                     \
	do {                                                              \
		if (!(c))                                                 \
			t_fail(__FILE__, __LINE__, "%s: %s (errno %s)",    \
			       (rn)->where, #c,                            \
			       strerrorname_np(errno) ? strerrorname_np(errno) : "0"); \
	} while (0)

static void inject(struct run *rn)
{
	if (rn->n > 0)
		shim.arm(rn->mask, rn->n, rn->err, rn->any);
}

static void stop(struct run *rn)
{
	shim.disarm();
	rn->hit = rn->n > 0 ? shim.hit() : -1;
	if (rn->hit >= 0) {
		size_t k = strlen(rn->where);

		snprintf(rn->where + k, sizeof rn->where - k, " (%s failed)",
		         shim.fn_name(rn->hit));
	}
}

/*
 * The operation's outcome: r < 0 with errno e.  Without a fault it must
 * succeed; EINTR must not show; EAGAIN must not show when waited is set.
 */
static void judge(struct run *rn, long r, int e, int waited)
{
	errno = e;
	if (rn->hit < 0 || rn->err == EINTR || (rn->err == EAGAIN && waited))
		VERIFY(rn, r >= 0);
	if (r < 0)
		VERIFY(rn, e == rn->err);
}

/* ---- the operations ---- */

static char payload[PAYLOAD];
static int devnull = -1;
static int verbose; /* FAULT_VERBOSE=1: a line per fault */
static long runs, faults;

static void setup(void)
{
	selfload_need_shim();
	verbose = getenv("FAULT_VERBOSE") != NULL;
	runs = faults = 0;
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (char)(i * 7 + 1);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(devnull >= 0);
}

static void teardown(void)
{
	close(devnull);
	devnull = -1;
}

static void pair(struct run *rn, int type, int sv[2])
{
	VERIFY(rn, socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
}

static void close2(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* fd is another /dev/null: the same device, the CLOEXEC asked for. */
static void check_null(struct run *rn, int fd, int cloexec)
{
	struct stat a, b;
	int fl = fcntl(fd, F_GETFD);

	VERIFY(rn, fstat(fd, &a) == 0 && fstat(devnull, &b) == 0);
	VERIFY(rn, a.st_rdev == b.st_rdev && S_ISCHR(a.st_mode));
	VERIFY(rn, fl >= 0 && !!(fl & FD_CLOEXEC) == cloexec);
}

static void fill(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = devnull;
}

/* Read what is left on a raw socket to the end, closing what arrives. */
static void drain_raw(struct run *rn, int s)
{
	char buf[512];
	int fds[FDSHARE_MAX_FDS];
	ssize_t r;

	do {
		size_t n = FDSHARE_MAX_FDS;

		r = fdshare_recv(s, buf, sizeof buf, fds, &n, 0);
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
	} while (r > 0);
	VERIFY(rn, r == 0);
}

static void op_send(struct run *rn, int type, size_t nfds)
{
	int sv[2], fds[FDSHARE_MAX_FDS], got[FDSHARE_MAX_FDS];
	char buf[128];
	size_t ngot = FDSHARE_MAX_FDS;
	ssize_t r;
	int e;

	pair(rn, type, sv);
	fill(fds, nfds);
	inject(rn);
	r = fdshare_send(sv[0], payload, 100, fds, nfds, 0);
	e = errno;
	stop(rn);
	judge(rn, r, e, 0);
	if (r == 100) {
		VERIFY(rn, fdshare_recv(sv[1], buf, sizeof buf, got, &ngot, 0) == 100);
		VERIFY(rn, memcmp(buf, payload, 100) == 0 && ngot == nfds);
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
	}
	/* whatever went is whole or nothing; then a clean end */
	shutdown(sv[0], SHUT_WR);
	drain_raw(rn, sv[1]);
	close2(sv);
}

static void op_recv(struct run *rn, int type, size_t nfds)
{
	int sv[2], fds[FDSHARE_MAX_FDS], got[FDSHARE_MAX_FDS];
	char buf[128];
	size_t ngot = FDSHARE_MAX_FDS;
	ssize_t r;
	int e;

	pair(rn, type, sv);
	fill(fds, nfds);
	VERIFY(rn, fdshare_send(sv[0], payload, 100, fds, nfds, 0) == 100);
	inject(rn);
	r = fdshare_recv(sv[1], buf, sizeof buf, got, &ngot, 0);
	e = errno;
	stop(rn);
	judge(rn, r, e, 0);
	if (r < 0) { /* nothing was taken: the reader can carry on */
		ngot = FDSHARE_MAX_FDS;
		r = fdshare_recv(sv[1], buf, sizeof buf, got, &ngot, 0);
	}
	VERIFY(rn, r == 100 && memcmp(buf, payload, 100) == 0 && ngot == nfds);
	for (size_t i = 0; i < ngot; i++)
		check_null(rn, got[i], 1);
	for (size_t i = 0; i < ngot; i++)
		close(got[i]);
	close2(sv);
}

static void check_msg(struct run *rn, const struct fdshare_msg *m, size_t nfds)
{
	VERIFY(rn, m->type == 7 && m->len == PAYLOAD && m->nfds == nfds);
	VERIFY(rn, memcmp(m->data, payload, PAYLOAD) == 0);
	for (size_t i = 0; i < nfds; i++)
		check_null(rn, m->fds[i], 1);
}

static void op_msg_send(struct run *rn, int type, size_t nfds)
{
	int sv[2], fds[MANY];
	struct fdshare_msg m;
	int r, e;

	pair(rn, type, sv);
	fill(fds, nfds);
	inject(rn);
	r = fdshare_msg_send(sv[0], 7, payload, PAYLOAD, fds, nfds);
	e = errno;
	stop(rn);
	judge(rn, r, e, 1);
	close(sv[0]);
	/* the peer: the whole message, then a clean end; or a clean error */
	r = fdshare_msg_recv(sv[1], &m);
	if (r == 1) {
		check_msg(rn, &m, nfds);
		fdshare_msg_free(&m);
		r = fdshare_msg_recv(sv[1], &m);
		VERIFY(rn, r == 0);
	} else {
		VERIFY(rn, r == 0 || errno == EPROTO);
		VERIFY(rn, m.data == NULL && m.fds == NULL);
	}
	close(sv[1]);
}

static void op_msg_recv(struct run *rn, int type, size_t nfds)
{
	int sv[2], fds[MANY];
	struct fdshare_msg m;
	int r, e;

	pair(rn, type, sv);
	fill(fds, nfds);
	VERIFY(rn, fdshare_msg_send(sv[0], 7, payload, PAYLOAD, fds, nfds) == 0);
	close(sv[0]);
	inject(rn);
	r = fdshare_msg_recv(sv[1], &m);
	e = errno;
	stop(rn);
	judge(rn, r, e, 1);
	if (r == 1) {
		check_msg(rn, &m, nfds);
		fdshare_msg_free(&m);
	} else {
		VERIFY(rn, m.data == NULL && m.fds == NULL && m.nfds == 0);
	}
	close(sv[1]);
}

/*
 * Two received messages freed at once: their fds go by runs of
 * close_range, one by one if it fails; none may stay open.
 */
static void op_msg_free(struct run *rn, int type, size_t nfds)
{
	int sv[2], fds[MANY];
	struct fdshare_msg m[2];

	pair(rn, type, sv);
	fill(fds, nfds);
	for (int i = 0; i < 2; i++)
		VERIFY(rn, fdshare_msg_send(sv[0], 7, payload, PAYLOAD, fds, nfds) == 0);
	close(sv[0]);
	for (int i = 0; i < 2; i++) {
		VERIFY(rn, fdshare_msg_recv(sv[1], &m[i]) == 1);
		check_msg(rn, &m[i], nfds);
	}
	close(sv[1]);
	inject(rn);
	fdshare_msg_freev(m, 2);
	stop(rn);
	VERIFY(rn, m[0].fds == NULL && m[1].fds == NULL && m[1].data == NULL);
}

/* Grab flavours; the target is this process's /dev/null. */
enum { GRAB, GRAB_NOCLOEXEC, GRAB_REOPEN, GRAB_PIDFD, PIDFD_OPEN, REOPEN,
       REOPEN_NOCLOEXEC };

static void op_grab(struct run *rn, int how, size_t unused)
{
	int pidfd = -1, r, e, cloexec = 1;

	(void)unused;
	if (how == GRAB_PIDFD)
		VERIFY(rn, (pidfd = fdshare_pidfd_open(getpid())) >= 0);
	inject(rn);
	switch (how) {
	case GRAB: r = fdshare_grab(getpid(), devnull, 0); break;
	case GRAB_NOCLOEXEC: r = fdshare_grab(getpid(), devnull, FDSHARE_NOCLOEXEC); break;
	case GRAB_REOPEN: r = fdshare_grab(getpid(), devnull, FDSHARE_REOPEN); break;
	case GRAB_PIDFD: r = fdshare_grab_pidfd(pidfd, devnull, 0); break;
	case PIDFD_OPEN: r = fdshare_pidfd_open(getpid()); break;
	case REOPEN: r = fdshare_reopen(getpid(), devnull, 0); break;
	default: r = fdshare_reopen(getpid(), devnull, FDSHARE_NOCLOEXEC); break;
	}
	e = errno;
	stop(rn);
	judge(rn, r, e, 0);
	if (how == GRAB_NOCLOEXEC || how == REOPEN_NOCLOEXEC)
		cloexec = 0;
	if (r >= 0 && how != PIDFD_OPEN)
		check_null(rn, r, cloexec);
	if (r >= 0)
		close(r);
	if (pidfd >= 0)
		close(pidfd);
}

static void op_peer(struct run *rn, int unused_a, size_t unused_b)
{
	struct fdshare_peer p;
	int sv[2], r, e;

	(void)unused_a;
	(void)unused_b;
	pair(rn, SOCK_STREAM, sv);
	inject(rn);
	r = fdshare_peer(sv[0], &p);
	e = errno;
	stop(rn);
	judge(rn, r, e, 0);
	if (r == 0) {
		VERIFY(rn, p.pid == getpid() && p.uid == getuid());
		if (p.pidfd >= 0)
			close(p.pidfd);
	}
	close2(sv);
}

static void op_refuse(struct run *rn, int unused_a, size_t unused_b)
{
	int sv[2], r, e;

	(void)unused_a;
	(void)unused_b;
	pair(rn, SOCK_STREAM, sv);
	inject(rn);
	r = fdshare_refuse_fds(sv[0]);
	e = errno;
	stop(rn);
	if (r < 0 && e == ENOPROTOOPT && rn->hit < 0)
		r = 0; /* a kernel before 6.16 */
	judge(rn, r, e, 0);
	close2(sv);
}

/* ---- the sweep ---- */

/* An operation and its variant: socket type and fd count, or a flavour. */
typedef void (*op_fn)(struct run *, int, size_t);

/* N = 1, 2, ... until a run passes by the fault. */
static void sweep(const char *name, op_fn op, int a, size_t b,
                  unsigned long mask, int err, int any)
{
	for (long n = 1; n <= MAX_N; n++) {
		struct run rn = { .mask = mask, .n = n, .err = err, .any = any };
		int before = t_count_fds();
		long live;

		snprintf(rn.where, sizeof rn.where, "%s, %s%s at call %ld", name,
		         strerrorname_np(err), any ? " (any call)" : "", n);
		shim.track(1);
		op(&rn, a, b);
		live = shim.live();
		shim.track(0);
		runs++;
		VERIFY(&rn, live == 0);
		VERIFY(&rn, t_count_fds() == before);
		if (rn.hit < 0)
			return;
		if (verbose)
			printf("# %s\n", rn.where);
		faults++;
	}
	t_fail(__FILE__, __LINE__, "%s: still faulting after %d calls", name, MAX_N);
}

static const int errs[] = { EINTR, EAGAIN, ENOMEM, EMFILE, ENOBUFS, EPIPE, ENOSYS, EPERM };

/*
 * A sanitizer runtime linked into the program (clang's) serves malloc
 * before the shim can: then only the system calls fail, and its leak
 * checker stands in for the tracking.
 */
static int alloc_faults(void)
{
	static int known, works;
	void *(*volatile alloc)(size_t) = malloc;
	void *p;

	if (!known) {
		shim.arm(FAULT_ALLOC, 1, ENOMEM, 0);
		p = alloc(16);
		shim.disarm();
		works = p == NULL;
		free(p);
		known = 1;
		if (!works)
			printf("# faults: the allocator is not interposed here (a sanitizer's comes first)\n");
	}
	return works;
}

/*
 * Every errno on the system calls, ENOMEM on the allocators, and EIO on
 * every call whatever it may really return (the error just has to come
 * back whole).  A warm-up run first: it must succeed.
 */
static void sweep_all(const char *name, op_fn op, int a, size_t b)
{
	struct run rn = { .n = 0 };

	snprintf(rn.where, sizeof rn.where, "%s without faults", name);
	shim.track(0);
	op(&rn, a, b);
	for (size_t i = 0; i < sizeof errs / sizeof *errs; i++)
		sweep(name, op, a, b, FAULT_SYSCALLS, errs[i], 0);
	if (alloc_faults())
		sweep(name, op, a, b, FAULT_ALLOC, ENOMEM, 0);
	sweep(name, op, a, b, FAULT_ALL, EIO, 1);
}

static void report(const char *test)
{
	printf("# faults test_fault.%s: %ld runs, %ld faults\n", test, runs, faults);
	runs = faults = 0;
	teardown();
}

static const size_t raw_counts[] = { 0, 1, FDSHARE_MAX_FDS };
static const size_t msg_counts[] = { 0, 1, MANY };
static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };

static const char *type_name(int type)
{
	return type == SOCK_STREAM ? "stream" : "seqpacket";
}

static void raw(const char *test, op_fn op)
{
	char name[64];

	setup();
	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "%s %s %zu fds", test,
			         type_name(types[t]), raw_counts[i]);
			sweep_all(name, op, types[t], raw_counts[i]);
		}
	report(test);
}

static void framed(const char *test, op_fn op)
{
	char name[64];

	setup();
	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "%s %s %zu fds", test,
			         type_name(types[t]), msg_counts[i]);
			sweep_all(name, op, types[t], msg_counts[i]);
		}
	report(test);
}

TEST(raw_send)
{
	raw("raw_send", op_send);
}

TEST(raw_recv)
{
	raw("raw_recv", op_recv);
}

TEST(msg_send)
{
	framed("msg_send", op_msg_send);
}

TEST(msg_recv)
{
	framed("msg_recv", op_msg_recv);
}

TEST(msg_free)
{
	framed("msg_free", op_msg_free);
}

TEST(grab)
{
	static const char *const names[] = { "grab", "grab NOCLOEXEC", "grab REOPEN",
	                                     "grab_pidfd", "pidfd_open" };
	int probe = fdshare_pidfd_open(getpid());

	if (probe < 0)
		t_skip("no pidfd_open here (%s)", strerrorname_np(errno));
	close(probe);
	setup();
	for (int how = GRAB; how <= PIDFD_OPEN; how++)
		sweep_all(names[how], op_grab, how, 0);
	report("grab");
}

TEST(reopen)
{
	setup();
	sweep_all("reopen", op_grab, REOPEN, 0);
	sweep_all("reopen NOCLOEXEC", op_grab, REOPEN_NOCLOEXEC, 0);
	report("reopen");
}

TEST(peer)
{
	setup();
	sweep_all("peer", op_peer, 0, 0);
	report("peer");
}

TEST(refuse_fds)
{
	setup();
	sweep_all("refuse_fds", op_refuse, 0, 0);
	report("refuse_fds");
}
