/*
 * zd_client PORT SECONDS STOPFILE [WORKERS]: the client of the
 * zero-downtime tests.  WORKERS processes (default 2) each connect to
 * 127.0.0.1:PORT over and over, send "req W.N", and expect "PID req W.N"
 * back, pausing half a millisecond in between, until STOPFILE exists,
 * SECONDS have passed or MAX_REQUESTS were made.  Then one line:
 *   requests R ok O refused X failed F servers S
 * (S: how many server pids answered), and the first few errors on stderr.
 * Exit 0 when every request was answered, 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUESTS 20000      /* per worker */
#define MAX_WORKERS 16
#define MAX_PIDS 200
#define CONNECT_WAIT_MS 5000
#define ANSWER_WAIT_MS 10000
#define ERRORS_SHOWN 5

struct result {
	long ok, refused, failed;
	int npids;
	int pids[MAX_PIDS];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_for(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r == 1 ? 0 : -1;
}

/* A connection, or -1 with errno (ECONNREFUSED: refused). */
static int dial(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof err;

	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&in, sizeof in) == 0)
		return s;
	if (errno != EINPROGRESS || wait_for(s, POLLOUT, CONNECT_WAIT_MS) < 0 ||
	    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		if (err)
			errno = err;
		err = errno;
		close(s);
		errno = err;
		return -1;
	}
	return s;
}

/* One exchange: the answering pid, or -1 (errno set) on failure. */
static int exchange(int s, const char *req)
{
	char buf[256];
	size_t got = 0;
	int pid, off;

	if (write(s, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	while (got < sizeof buf - 1 && memchr(buf, '\n', got) == NULL) {
		ssize_t r;

		if (wait_for(s, POLLIN, ANSWER_WAIT_MS) < 0)
			return -1;
		r = read(s, buf + got, sizeof buf - 1 - got);
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (sscanf(buf, "%d %n", &pid, &off) != 1 || pid <= 0 ||
	    strcmp(buf + off, req) != 0) {
		errno = EPROTO;
		return -1;
	}
	return pid;
}

static void note_pid(struct result *res, int pid)
{
	for (int i = 0; i < res->npids; i++)
		if (res->pids[i] == pid)
			return;
	if (res->npids < MAX_PIDS)
		res->pids[res->npids++] = pid;
}

static void worker(int w, int port, long long end, const char *stopfile, int out)
{
	struct result res = { 0 };
	struct timespec pause = { 0, 500000 };
	struct stat st;

	for (long n = 0; n < MAX_REQUESTS && now_ms() < end && stat(stopfile, &st) < 0; n++) {
		char req[64];
		int s, pid = -1;

		snprintf(req, sizeof req, "req %d.%ld\n", w, n);
		s = dial(port);
		if (s >= 0) {
			pid = exchange(s, req);
			close(s);
		}
		if (pid > 0) {
			res.ok++;
			note_pid(&res, pid);
		} else {
			if (res.refused + res.failed < ERRORS_SHOWN)
				fprintf(stderr, "zd_client: worker %d request %ld: %s%s\n", w, n,
				        s < 0 ? "connect: " : "", strerror(errno));
			if (s < 0 && errno == ECONNREFUSED)
				res.refused++;
			else
				res.failed++;
		}
		nanosleep(&pause, NULL);
	}
	_exit(write(out, &res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
}

int main(int argc, char **argv)
{
	struct result total = { 0 }, res;
	int port, workers = argc > 4 ? atoi(argv[4]) : 2, p[2], bad = 0, reported = 0;
	long long end;

	if (argc < 4 || argc > 5 || (port = atoi(argv[1])) <= 0 || port > 65535 ||
	    workers < 1 || workers > MAX_WORKERS || atoi(argv[2]) <= 0)
		return 2;
	end = now_ms() + 1000LL * atoi(argv[2]);
	if (pipe(p) < 0)
		return 1;
	for (int w = 0; w < workers; w++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(p[0]);
			worker(w, port, end, argv[3], p[1]);
		}
		bad |= pid < 0;
	}
	close(p[1]);
	while (read(p[0], &res, sizeof res) == (ssize_t)sizeof res) {
		reported++;
		total.ok += res.ok;
		total.refused += res.refused;
		total.failed += res.failed;
		for (int i = 0; i < res.npids; i++)
			note_pid(&total, res.pids[i]);
	}
	close(p[0]);
	while (wait(NULL) > 0)
		;
	printf("requests %ld ok %ld refused %ld failed %ld servers %d\n",
	       total.ok + total.refused + total.failed, total.ok, total.refused,
	       total.failed, total.npids);
	return bad || reported != workers || total.ok == 0 || total.refused + total.failed > 0;
}
