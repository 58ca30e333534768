/*
 * The holder under load and under attack at once: 200 clients with 5,000
 * operations each on their own names (store, fetch, remove, list; every
 * answer checked against the client's own model of what it holds), while
 * once a second a client is killed with SIGKILL in the middle of a
 * request, and hostile clients do what they can: connect and say nothing,
 * stall inside a header, send 253 fds with a FETCH, store past their
 * quota, send bad names, flood requests without reading the replies
 * (all but the first in tests/aux/storm_hostile.c).
 *
 * Passes when no well-behaved operation failed, every stored fd can still
 * be fetched, the holder's open fds are back to its baseline plus what it
 * holds, its RSS has stayed within 10% of where it settled, and every
 * hostile request was answered with an error or its client dropped after
 * --timeout.  The figures go to stderr.  Under SANITIZE=1 the operations
 * per client are fewer (the count is printed), not the clients.  (Clients
 * stalling with fds in flight, alone: test_holder_hostile.c.)
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "test_holder.h"

#define CLIENTS 200
#define PROCS 4                     /* the clients: PROCS x THREADS threads */
#define THREADS (CLIENTS / PROCS)
#define SLOTS 8                     /* names per client */
#define OPS_FULL 5000
#define OPS_SANITIZE 2500
#define TIMEOUT_MS 1000             /* the holder's --timeout */
#define QUOTA 2500                  /* the holder's --quota */
#define STORM_LIMIT_S 100           /* the whole storm, at most */
#define STR_(x) #x
#define STR(x) STR_(x)

/* What the worker processes report through shared memory. */
struct shared {
	atomic_long ops;                /* operations done, all clients */
	atomic_long failed;             /* operations whose answer was wrong */
	atomic_long held_entries;       /* what the clients hold at the end */
	atomic_long clients_done;
	char first_failure[256];
	atomic_int failure_taken;
};

static struct shared *shm;
static int ops_per_client;

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&shm->failed, 1);
	if (atomic_exchange(&shm->failure_taken, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(shm->first_failure, sizeof shm->first_failure, fmt, ap);
	va_end(ap);
}

/* ---- a well-behaved client: one thread, one connection ---- */

struct client {
	int id;
	const char *sock;
	int p[2];            /* stored ends: p[0] (read) or p[1] (write) */
	int slot[SLOTS];     /* -1: not held, else which end */
	uint64_t rnd;
};

static uint32_t next_rnd(struct client *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return (uint32_t)(w->rnd >> 16);
}

/* The fetched fd is the end stored: the same pipe, the same direction. */
static int same_end(int fd, int want)
{
	return th_same_file(fd, want) &&
	       (fcntl(fd, F_GETFL) & O_ACCMODE) == (fcntl(want, F_GETFL) & O_ACCMODE);
}

static int held_count(const struct client *w)
{
	int n = 0;

	for (int s = 0; s < SLOTS; s++)
		n += w->slot[s] >= 0;
	return n;
}

static void op_store(struct client *w, struct fdshare_holder *c, const char *name, int s)
{
	int end = (int)(next_rnd(w) & 1), replace = (int)(next_rnd(w) & 1);

	if (w->slot[s] < 0 || replace) {
		if (fdshare_store(c, name, &w->p[end], 1, 0,
		                  w->slot[s] < 0 ? 0 : FDSHARE_HOLD_REPLACE) < 0)
			failure("store %s: %s", name, strerror(errno));
		else
			w->slot[s] = end;
	} else if (fdshare_store(c, name, &w->p[end], 1, 0, 0) == 0 || errno != EBUSY) {
		failure("store of held %s: not EBUSY (%s)", name, strerror(errno));
	}
}

static void op_fetch(struct client *w, struct fdshare_holder *c, const char *name, int s)
{
	int flags = next_rnd(w) % 3 == 0 ? FDSHARE_FETCH_REMOVE : 0, *fds;
	size_t n;

	if (fdshare_fetch(c, name, &fds, &n, flags) < 0) {
		if (w->slot[s] >= 0 || errno != ENOENT)
			failure("fetch %s: %s", name, strerror(errno));
		return;
	}
	if (w->slot[s] < 0 || n != 1 || !same_end(fds[0], w->p[w->slot[s]]))
		failure("fetch %s: %zu fds, not the one stored", name, n);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	if (flags)
		w->slot[s] = -1;
}

static void op_remove(struct client *w, struct fdshare_holder *c, const char *name, int s)
{
	if (fdshare_remove(c, name) == 0) {
		if (w->slot[s] < 0)
			failure("remove %s: removed a name not held", name);
		w->slot[s] = -1;
	} else if (w->slot[s] >= 0 || errno != ENOENT) {
		failure("remove %s: %s", name, strerror(errno));
	}
}

static void op_list(struct client *w, struct fdshare_holder *c)
{
	struct fdshare_list l;
	char prefix[32];

	snprintf(prefix, sizeof prefix, "w%d-", w->id);
	if (fdshare_list(c, prefix, &l) < 0) {
		failure("list %s: %s", prefix, strerror(errno));
		return;
	}
	if ((int)l.n != held_count(w))
		failure("list %s: %zu entries, %d held", prefix, l.n, held_count(w));
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].nfds != 1)
			failure("list %s: %s has %zu fds", prefix, l.v[i].name, l.v[i].nfds);
	fdshare_list_free(&l);
}

/* The end: every name held is fetched back and checked. */
static void verify_held(struct client *w, struct fdshare_holder *c)
{
	for (int s = 0; s < SLOTS; s++) {
		char name[32];
		int *fds;
		size_t n;

		if (w->slot[s] < 0)
			continue;
		snprintf(name, sizeof name, "w%d-%d", w->id, s);
		if (fdshare_fetch(c, name, &fds, &n, 0) < 0) {
			failure("final fetch %s: %s", name, strerror(errno));
			continue;
		}
		if (n != 1 || !same_end(fds[0], w->p[w->slot[s]]))
			failure("final fetch %s: not the fd stored", name);
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		free(fds);
	}
	atomic_fetch_add(&shm->held_entries, held_count(w));
}

static void *client_main(void *arg)
{
	struct client *w = arg;
	struct fdshare_holder *c = fdshare_holder_connect(w->sock);

	if (c == NULL) {
		failure("client %d: connect: %s", w->id, strerror(errno));
		return NULL;
	}
	for (int k = 0; k < ops_per_client; k++) {
		uint32_t op = next_rnd(w) % 100;
		int s = (int)(next_rnd(w) % SLOTS);
		char name[32];

		snprintf(name, sizeof name, "w%d-%d", w->id, s);
		if (op < 35)
			op_store(w, c, name, s);
		else if (op < 70)
			op_fetch(w, c, name, s);
		else if (op < 90)
			op_remove(w, c, name, s);
		else
			op_list(w, c);
		atomic_fetch_add_explicit(&shm->ops, 1, memory_order_relaxed);
	}
	verify_held(w, c);
	fdshare_holder_close(c);
	atomic_fetch_add(&shm->clients_done, 1);
	return NULL;
}

/* A worker process: THREADS clients; exits 0 (failures are counted). */
static pid_t spawn_workers(const char *sock, int proc)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		static struct client w[THREADS];
		pthread_t t[THREADS];

		alarm(STORM_LIMIT_S + 20);
		for (int i = 0; i < THREADS; i++) {
			w[i].id = proc * THREADS + i;
			w[i].sock = sock;
			w[i].rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(w[i].id + 1);
			for (int s = 0; s < SLOTS; s++)
				w[i].slot[s] = -1;
			if (pipe2(w[i].p, O_CLOEXEC) < 0)
				_exit(10);
		}
		for (int i = 0; i < THREADS; i++)
			if (pthread_create(&t[i], NULL, client_main, &w[i]) != 0)
				_exit(11);
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		_exit(0);
	}
	return pid;
}

/* ---- the hostile clients: tests/aux/storm_hostile, in a child ---- */

static pid_t spawn_hostile(const char *sock)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		execl(t_aux("storm_hostile"), "storm_hostile", sock, STR(QUOTA), STR(TIMEOUT_MS),
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* ---- killed in the middle of a request ---- */

/* A header and 2 fds of a STORE of 100 bytes, 10 of them sent. */
static int half_store(int s)
{
	unsigned char b[30] = { 'F', 'D', 'S', 'H', 1, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 0, 2 };
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), fds[2] = { null, null }, r;

	if (null < 0)
		return -1;
	r = fdshare_send(s, b, sizeof b, fds, 2, 0) == (ssize_t)sizeof b ? 0 : -1;
	close(null);
	return r;
}

/*
 * A client killed with SIGKILL in the middle of a request: either one that
 * sent half a STORE with its fds, or one busy storing and fetching, killed
 * at some moment of its loop.  Returns once it is dead and reaped.
 */
static int kill_one(const char *sock, int n)
{
	int ready[2], busy = n & 1;
	pid_t pid;
	char x;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int s = th_raw_connect(sock), null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		alarm(10);
		if (s < 0 || null < 0)
			_exit(20);
		if (!busy) {
			if (half_store(s) < 0 || write(ready[1], "x", 1) != 1)
				_exit(21);
			pause();
		} else {
			struct fdshare_holder *c = fdshare_holder_connect(sock);
			char name[32];

			snprintf(name, sizeof name, "v%d", n);
			if (c == NULL || write(ready[1], "x", 1) != 1)
				_exit(22);
			for (;;) {
				int *fds;
				size_t k;

				if (fdshare_store(c, name, &null, 1, 0, 0) < 0 ||
				    fdshare_fetch(c, name, &fds, &k, FDSHARE_FETCH_REMOVE) < 0)
					_exit(23);
				close(fds[0]);
				free(fds);
			}
		}
		_exit(24);
	}
	close(ready[1]);
	{
		struct pollfd pf = { .fd = ready[0], .events = POLLIN };

		if (poll(&pf, 1, 5000) != 1 || read(ready[0], &x, 1) != 1) {
			close(ready[0]);
			kill(pid, SIGKILL);
			t_wait(pid);
			return -1;
		}
	}
	close(ready[0]);
	th_sleep_ms(busy ? 1 + n % 20 : 5);
	kill(pid, SIGKILL);
	return t_wait(pid) == 128 + SIGKILL ? 0 : -1;
}

/* ---- the holder's figures ---- */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

struct storm {
	pid_t workers[PROCS], hostile;
	int nworkers, hostile_rc, kills, kill_failures;
	long rss_settled, rss_max, ms;
	int timed_out;
};

static int reap_workers(struct storm *st, int *rcs)
{
	int alive = 0;

	for (int i = 0; i < PROCS; i++) {
		int status;

		if (st->workers[i] <= 0)
			continue;
		if (waitpid(st->workers[i], &status, WNOHANG) == st->workers[i]) {
			rcs[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			st->workers[i] = 0;
		} else {
			alive++;
		}
	}
	return alive;
}

/*
 * The storm: clients and hostile ones started, a kill a second, the RSS
 * read where the load has settled (a quarter of the operations done) and
 * then all along.  No CHECK in here: everything started is reaped first.
 */
static void run_storm(const struct th *h, struct storm *st, int *rcs)
{
	long long t0 = mono_ms(), next_kill = t0 + 1000;
	long total = (long)CLIENTS * ops_per_client;

	for (int i = 0; i < PROCS; i++)
		st->workers[i] = spawn_workers(h->sock, i);
	st->hostile = spawn_hostile(h->sock);
	st->rss_settled = -1;
	while (reap_workers(st, rcs) > 0) {
		long long now = mono_ms();
		long rss = rss_kb(h->pid);

		if (now - t0 > STORM_LIMIT_S * 1000) {
			st->timed_out = 1;
			for (int i = 0; i < PROCS; i++)
				if (st->workers[i] > 0)
					kill(st->workers[i], SIGKILL);
			continue;
		}
		if (st->rss_settled < 0 && atomic_load(&shm->ops) >= total / 4)
			st->rss_settled = rss;
		if (st->rss_settled >= 0 && rss > st->rss_max)
			st->rss_max = rss;
		if (now >= next_kill) {
			st->kill_failures += kill_one(h->sock, st->kills++) < 0;
			next_kill += 1000;
		}
		th_sleep_ms(20);
	}
	st->ms = (long)(mono_ms() - t0);
	st->hostile_rc = t_wait(st->hostile);
}

/* Every entry fetched once; the number of fds held in all. */
static long fetch_all(struct fdshare_holder *c, long *entries)
{
	struct fdshare_list l;
	long fds = 0;

	CHECK(fdshare_list(c, NULL, &l) == 0);
	*entries = (long)l.n;
	for (size_t i = 0; i < l.n; i++) {
		int *v;
		size_t n;

		CHECK(fdshare_fetch(c, l.v[i].name, &v, &n, 0) == 0);
		CHECK_EQ(n, l.v[i].nfds);
		for (size_t k = 0; k < n; k++)
			close(v[k]);
		free(v);
		fds += (long)n;
	}
	fdshare_list_free(&l);
	return fds;
}

static void remove_all(struct fdshare_holder *c)
{
	struct fdshare_list l;

	CHECK(fdshare_list(c, NULL, &l) == 0);
	for (size_t i = 0; i < l.n; i++)
		CHECK(fdshare_remove(c, l.v[i].name) == 0);
	fdshare_list_free(&l);
}

/*
 * Under ASan the holder's freed memory waits in a quarantine of 256 MiB
 * before reuse, so its RSS would grow for most of the run: a small one
 * lets it settle (use after free is still caught within it).
 */
static void small_quarantine(void)
{
	static char opts[512];
	const char *old = getenv("ASAN_OPTIONS");

	snprintf(opts, sizeof opts, "%s%squarantine_size_mb=4", old ? old : "",
	         old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	fprintf(stderr, "sanitizer build: %d operations per client; the holder runs with "
	        "ASAN_OPTIONS=%s\n", OPS_SANITIZE, opts);
}

TEST(storm_of_clients_and_hostiles)
{
	const char *args[] = { "--mode", "0666", "--timeout", STR(TIMEOUT_MS),
	                       "--quota", STR(QUOTA), NULL };
	const char *san = getenv("SANITIZE");
	struct storm st = { 0 };
	struct th h;
	struct fdshare_holder *c;
	int rcs[PROCS], idle, base, fds_after;
	long entries, held_fds, rss_final, rss_checked;
	pid_t pid;

	CHECK(access(t_aux("storm_hostile"), X_OK) == 0);
	ops_per_client = san && strcmp(san, "1") == 0 ? OPS_SANITIZE : OPS_FULL;
	if (ops_per_client == OPS_SANITIZE)
		small_quarantine();
	shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shm != MAP_FAILED);
	memset(shm, 0, sizeof *shm);
	th_start(&h, args);
	c = th_connect(&h);
	CHECK(fdshare_holder_ping(c, &pid) == 0);
	base = th_count_fds(h.pid);
	/* The client that connects and sends nothing, there all along. */
	idle = th_raw_connect(h.sock);
	CHECK(idle >= 0);
	run_storm(&h, &st, rcs);
	rss_final = rss_kb(h.pid); /* the load is over, the holder's state as it left it */
	fprintf(stderr, "storm: %d clients x %d operations = %ld in %ld ms (%ld/s); "
	        "%d clients killed mid-request; %ld failed\n", CLIENTS, ops_per_client,
	        atomic_load(&shm->ops), st.ms,
	        st.ms ? atomic_load(&shm->ops) * 1000 / st.ms : 0, st.kills,
	        atomic_load(&shm->failed));
	CHECK(!st.timed_out);
	for (int i = 0; i < PROCS; i++)
		CHECK_EQ(rcs[i], 0);
	if (atomic_load(&shm->failed))
		fprintf(stderr, "first failed operation: %s\n", shm->first_failure);
	CHECK_EQ(atomic_load(&shm->failed), 0);
	CHECK_EQ(atomic_load(&shm->clients_done), CLIENTS);
	CHECK_EQ(atomic_load(&shm->ops), (long)CLIENTS * ops_per_client);
	CHECK_EQ(st.hostile_rc, 0);
	CHECK_EQ(st.kill_failures, 0);
	CHECK(st.kills >= 1);
	/* The silent client was kept (nothing in flight) and is served. */
	{
		struct pollfd pf = { .fd = idle, .events = POLLIN };
		struct fdshare_msg m;
		long code;

		CHECK_EQ(poll(&pf, 1, 0), 0);
		CHECK(fdshare_msg_send(idle, 9 /* PING */, NULL, 0, NULL, 0) == 0);
		CHECK_EQ(poll(&pf, 1, 10000), 1);
		CHECK_EQ(fdshare_msg_recv(idle, &m), 1);
		code = m.len >= 8 && (m.type & 0x80000000u) ? (long)((unsigned char *)m.data)[0]
		                                            : -1;
		fdshare_msg_free(&m);
		CHECK_EQ(code, 0);
		close(idle);
	}
	/* What the clients said they hold is there, and nothing of the bad names. */
	CHECK_EQ(th_list_count(c, "w"), atomic_load(&shm->held_entries));
	CHECK_EQ(th_list_count(c, "q-"), 2);
	CHECK_EQ(th_list_count(c, "a"), 0);
	held_fds = fetch_all(c, &entries);
	fds_after = th_fds_settle(h.pid, base + (int)held_fds);
	rss_checked = rss_kb(h.pid);
	fprintf(stderr, "holder: %ld entries, %ld fds held; open fds %d = baseline %d + %ld "
	        "held; RSS settled %ld kB, at most %ld kB during, %ld kB after (%ld kB once "
	        "all was listed and fetched)\n", entries, held_fds, fds_after, base, held_fds,
	        st.rss_settled, st.rss_max, rss_final, rss_checked);
	CHECK_EQ(fds_after, base + held_fds);
	CHECK(st.rss_settled > 0);
	CHECK(rss_final * 10 <= st.rss_settled * 11);
	CHECK(st.rss_max * 10 <= st.rss_settled * 11);
	remove_all(c);
	CHECK_EQ(th_fds_settle(h.pid, base), base);
	fdshare_holder_close(c);
	CHECK_EQ(th_stop(&h), 0);
	munmap(shm, sizeof *shm);
}
