/*
 * The "Scale" figures of issue 8: a holder holding many entries, many
 * clients at once, and an unprivileged sender of large framed messages.
 *
 * usage: scale WORKLOAD ARGS...
 *   memory SOCKET FILE COUNT
 *       the holder's VmRSS before and after COUNT entries of 1 fd (FILE's)
 *       are stored, 100 a request (then removed); prints
 *       "# fig fdshare-holder memory entries=.. rss_before_kb=.. ..."
 *   store+fetch-heldCOUNT SOCKET N FILE COUNT  (e.g. -held100, -heldmax)
 *       COUNT entries stored beforehand (untimed), then N cycles of
 *       fdshare_store + fdshare_fetch(REMOVE) + close on one connection,
 *       as holder.c's store+fetch: 2 fds and 4 msgs a cycle
 *   store+fetch-clientsK SOCKET N FILE K  (e.g. -clients1, -clients64)
 *       K processes, each with its own connection and name, run N/K such
 *       cycles each, all released at once; the clock runs from the
 *       release to the last one's end.  Every store and every fetch is
 *       timed by its client; prints "# fig ... p50_us=.. p99_us=.."
 *   msg10000-unpriv-stream|msg10000-unpriv-seqpacket N FILE
 *       a child at uid and gid 1001 (no groups, no capabilities, soft
 *       RLIMIT_NOFILE 1024) sends N frames of 10,000 fds (fdshare_msg_send,
 *       FILE's fd in every slot) to its root parent, which can hold them
 *       (soft limit raised to the hard one).  The kernel refuses the
 *       child's sendmsg with ETOOMANYREFS past its limit of fds in flight,
 *       measured first and printed ("refused_at"); fdshare_msg_send waits
 *       and retries.  The clock runs from the child's 'R' to the last
 *       frame received, checked whole and closed: 10,000 fds, 1 msg each.
 * Prints: NAME WORKLOAD fds_per_sec msgs_per_sec (and the "# fig" line).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

#define PER_REQUEST 100         /* entries per store_many when filling */
#define UNPRIV_ID 1001
#define UNPRIV_NOFILE 1024
#define FRAME_FDS 10000
#define FRAME_TYPE 9

/* ---------------------------------------------------------------- holder */

static void cycle(struct fdshare_holder *h, const char *name, int fd, float *lat)
{
	double t0 = mono_now(), t1;
	size_t n;
	int *got;

	if (fdshare_store(h, name, &fd, 1, 0, 0) < 0)
		die("fdshare_store");
	t1 = mono_now();
	if (fdshare_fetch(h, name, &got, &n, FDSHARE_FETCH_REMOVE) < 0)
		die("fdshare_fetch");
	if (lat) {
		lat[0] = (float)((t1 - t0) * 1e6);
		lat[1] = (float)((mono_now() - t1) * 1e6);
	}
	if (n != 1)
		die_proto("fdshare_fetch: wrong fd count");
	close(got[0]);
	free(got);
}

static pid_t holder_pid(struct fdshare_holder *h)
{
	pid_t pid;

	if (fdshare_holder_ping(h, &pid) < 0)
		die("fdshare_holder_ping");
	if (pid <= 0)
		die_proto("the holder did not say its pid");
	return pid;
}

static void memory(const char *sock, int fd, size_t count)
{
	struct fdshare_holder *h = holder_dial(sock);
	const char **names = names_make("bench-mem", count);
	pid_t pid = holder_pid(h);
	size_t warm = count < PER_REQUEST ? count : PER_REQUEST;
	long before, after;

	/* the holder's buffers grow to a request's size once: not per entry */
	holder_fill(h, names, warm, fd, PER_REQUEST, FDSHARE_HOLD_REPLACE);
	holder_drain(h, names, warm, PER_REQUEST);
	before = rss_kb(pid);
	holder_fill(h, names, count, fd, PER_REQUEST, FDSHARE_HOLD_REPLACE);
	after = rss_kb(pid);
	holder_drain(h, names, count, PER_REQUEST);
	printf("# fig fdshare-holder memory entries=%zu rss_before_kb=%ld "
	       "rss_after_kb=%ld bytes_per_entry=%.1f\n", count, before, after,
	       (double)(after - before) * 1024.0 / (double)count);
	fflush(stdout);
	fdshare_holder_close(h);
	free(names);
}

static void held(const char *workload, const char *sock, unsigned long long n,
                 int fd, size_t count)
{
	struct fdshare_holder *h = holder_dial(sock);
	const char **names = names_make("bench-held", count);
	double t0, secs;

	holder_fill(h, names, count, fd, PER_REQUEST, FDSHARE_HOLD_REPLACE);
	cycle(h, "bench-held-cycle", fd, NULL);
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++)
		cycle(h, "bench-held-cycle", fd, NULL);
	secs = mono_now() - t0;
	holder_drain(h, names, count, PER_REQUEST);
	fdshare_holder_close(h);
	free(names);
	result("fdshare-holder", workload, 2.0 * (double)n, 4.0 * (double)n, secs, n);
	printf("# fig fdshare-holder %s held=%zu\n", workload, count);
}

/* ---------------------------------------------------------------- clients */

struct crowd {
	const char *sock;
	int fd, ready[2], go[2];
	unsigned long long per;     /* cycles per client */
	float *lat;                 /* 2 * per a client, shared */
};

static _Noreturn void client(const struct crowd *c, size_t k)
{
	struct fdshare_holder *h;
	const char **name;
	char b;

	close(c->go[1]);
	close(c->ready[0]);
	h = holder_dial(c->sock);
	name = names_make("bench-client", 1);
	cycle(h, name[0], c->fd, NULL);
	byte_put(c->ready[1], 'R');
	if (read(c->go[0], &b, 1) != 0)
		die_proto("client: no go");
	for (unsigned long long i = 0; i < c->per; i++)
		cycle(h, name[0], c->fd, c->lat + 2 * (k * c->per + i));
	byte_put(c->ready[1], 'D');
	fdshare_holder_close(h);
	_exit(0);
}

static int by_value(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of them at or below. */
static float percentile(const float *v, size_t n, double p)
{
	size_t r = (size_t)(p * (double)n + 0.999999);

	return v[r > 0 ? r - 1 : 0];
}

static void clients(const char *workload, const char *sock, unsigned long long n,
                    int fd, size_t k)
{
	struct crowd c = { .sock = sock, .fd = fd };
	size_t ops, bytes;
	pid_t *pids = calloc(k, sizeof *pids);
	double t0, secs;

	c.per = n / k ? n / k : 1;
	ops = 2 * c.per * k;
	bytes = ops * sizeof *c.lat;
	c.lat = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pids == NULL || c.lat == MAP_FAILED)
		die("memory for the clients");
	if (pipe2(c.ready, O_CLOEXEC) < 0 || pipe2(c.go, O_CLOEXEC) < 0)
		die("pipe2");
	for (size_t i = 0; i < k; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0)
			client(&c, i);
	}
	close(c.ready[1]);
	close(c.go[0]);
	for (size_t i = 0; i < k; i++)
		if (byte_get(c.ready[0]) != 'R')
			die_proto("client: not ready");
	t0 = mono_now();
	close(c.go[1]);
	for (size_t i = 0; i < k; i++)
		if (byte_get(c.ready[0]) != 'D')
			die_proto("client: not done");
	secs = mono_now() - t0;
	for (size_t i = 0; i < k; i++)
		reap(pids[i]);
	close(c.ready[0]);

	qsort(c.lat, ops, sizeof *c.lat, by_value);
	n = c.per * k;
	result("fdshare-holder", workload, 2.0 * (double)n, 4.0 * (double)n, secs, n);
	printf("# fig fdshare-holder %s clients=%zu ops=%zu p50_us=%.1f p99_us=%.1f "
	       "max_us=%.1f\n", workload, k, ops, (double)percentile(c.lat, ops, 0.50),
	       (double)percentile(c.lat, ops, 0.99), (double)c.lat[ops - 1]);
	munmap(c.lat, bytes);
	free(pids);
}

/* ---------------------------------------------------------------- unprivileged */

struct unpriv {
	const int *fds;
	unsigned long long n;
	long *refused_at;       /* shared: fds in flight when the kernel said no */
};

static int no_capabilities(void)
{
	char line[256];
	unsigned long long eff = ~0ULL;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		die("/proc/self/status");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff == 0;
}

static void drop_privileges(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = UNPRIV_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	if (setgroups(0, NULL) < 0 || setresgid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID) < 0 ||
	    setresuid(UNPRIV_ID, UNPRIV_ID, UNPRIV_ID) < 0)
		die("dropping privileges");
	if (geteuid() != UNPRIV_ID || !no_capabilities())
		die_proto("still privileged");
}

/* The fds this user may have in flight: 253-fd messages to nobody reading. */
static long probe_refusal(const int *fds)
{
	long inflight = 0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	for (int i = 0; i < 1000; i++) {
		if (fdshare_send(sv[0], "F", 1, fds, FDSHARE_MAX_FDS, FDSHARE_DONTWAIT) == 1) {
			inflight += FDSHARE_MAX_FDS;
			continue;
		}
		if (errno != ETOOMANYREFS)
			inflight = -1;
		break;
	}
	close(sv[0]);
	close(sv[1]);
	return inflight;
}

static void unpriv_send(int sock, const void *arg)
{
	const struct unpriv *u = arg;

	drop_privileges();
	*u->refused_at = probe_refusal(u->fds);
	byte_put(sock, 'R');
	for (unsigned long long i = 0; i < u->n; i++)
		if (fdshare_msg_send(sock, FRAME_TYPE, NULL, 0, u->fds, FRAME_FDS) < 0)
			die("fdshare_msg_send");
}

static void unprivileged(const char *workload, unsigned long long n, int fd)
{
	int type = strstr(workload, "seqpacket") ? SOCK_SEQPACKET : SOCK_STREAM;
	int *fds = malloc(FRAME_FDS * sizeof *fds);
	long *refused = mmap(NULL, sizeof *refused, PROT_READ | PROT_WRITE,
	                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct unpriv u = { fds, n, refused };
	struct fdshare_msg m;
	struct rlimit rl;
	double t0, secs;
	int sock;
	pid_t pid;

	if (fds == NULL || refused == MAP_FAILED)
		die("memory for the frame");
	for (size_t i = 0; i < FRAME_FDS; i++)
		fds[i] = fd;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < FRAME_FDS + 64)
		die_proto("the receiver cannot hold a frame of 10,000 fds");

	sock = fork_child(type, unpriv_send, &u, &pid);
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++) {
		if (fdshare_msg_recv(sock, &m) != 1)
			die("fdshare_msg_recv");
		if (m.type != FRAME_TYPE || m.len != 0 || m.nfds != FRAME_FDS)
			die_proto("fdshare_msg_recv: a frame not whole");
		fdshare_msg_free(&m);
	}
	secs = mono_now() - t0;
	reap(pid);
	close(sock);
	result("fdshare", workload, (double)n * FRAME_FDS, (double)n, secs, n);
	printf("# fig fdshare %s uid=%d nofile_soft=%d refused_at=%ld frames=%llu "
	       "whole=%llu\n", workload, UNPRIV_ID, UNPRIV_NOFILE, *refused, n, n);
	munmap(refused, sizeof *refused);
	free(fds);
}

/* ---------------------------------------------------------------- main */

static size_t arg_size(const char *s)
{
	return (size_t)arg_count(s);
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "-";

	if (strcmp(w, "memory") == 0 && argc == 5)
		memory(argv[2], open_payload(argv[3]), arg_size(argv[4]));
	else if (starts(w, "store+fetch-held") && argc == 6)
		held(w, argv[2], arg_count(argv[3]), open_payload(argv[4]), arg_size(argv[5]));
	else if (starts(w, "store+fetch-clients") && argc == 6)
		clients(w, argv[2], arg_count(argv[3]), open_payload(argv[4]), arg_size(argv[5]));
	else if (starts(w, "msg10000-unpriv-") && argc == 4)
		unprivileged(w, arg_count(argv[2]), open_payload(argv[3]));
	else
		die_proto("usage: scale memory SOCKET FILE COUNT | "
		          "store+fetch-held* SOCKET N FILE COUNT | "
		          "store+fetch-clients* SOCKET N FILE K | "
		          "msg10000-unpriv-stream|msg10000-unpriv-seqpacket N FILE");
	return 0;
}
