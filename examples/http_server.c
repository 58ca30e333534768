/*
 * http_server - a tiny HTTP server that can be restarted without
 * refusing a single request, and without forgetting its state.
 *
 * usage: fdshare run --ready tcp:127.0.0.1:8080 -- http_server
 *
 * It takes its listening socket from whoever started it (fd 3, by
 * fdshare_listen_fds: 'fdshare run', 'fdshare listen' or systemd), so a
 * new instance accepts on the very socket the old one did, and clients
 * wait in its backlog meanwhile.  Its state, a count of the requests
 * answered, lives in a memfd kept by the holder (fdshare-holder(8)) under
 * the name "http_server.hits": every instance, old or new, counts in the
 * same memory, and the count survives a restart.  Without a holder it
 * keeps a count of its own (and says so).
 *
 * Each answer: "request N, served by pid P".  It sends READY=1 to
 * $NOTIFY_SOCKET once it serves, and on SIGTERM finishes the request at
 * hand and exits 0.  Exit 2 without a listening socket, 1 on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fdshare.h>

#define STATE_NAME "http_server.hits"
#define READ_WAIT_MS 5000

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The memfd holding the count, as the holder keeps it; made if absent. */
static int state_from_holder(struct fdshare_holder *h)
{
	size_t n;
	int *fds, fd;

	for (;;) {
		if (fdshare_fetch(h, STATE_NAME, &fds, &n, 0) == 0) {
			fd = fds[0];
			free(fds);  /* n is 1: this program stores one */
			return fd;
		}
		if (errno != ENOENT)
			return -1;
		fd = memfd_create("http_server.hits", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) < 0)
			return -1;
		if (fdshare_store(h, STATE_NAME, &fd, 1, 0, 0) == 0)
			return fd;
		close(fd);
		if (errno != EBUSY)
			return -1;
		/* another instance stored it first: fetch theirs */
	}
}

static uint64_t *open_state(void)
{
	struct fdshare_holder *h = fdshare_holder_connect(NULL);
	uint64_t *hits;
	int fd = -1;

	if (h) {
		fd = state_from_holder(h);
		fdshare_holder_close(h);
	}
	if (fd < 0) {
		fprintf(stderr, "http_server: no state from the holder (%s): "
		        "counting from 0\n", strerror(errno));
		fd = memfd_create("http_server.hits", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, sizeof *hits) < 0)
			return NULL;
	}
	hits = mmap(NULL, sizeof *hits, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return hits == MAP_FAILED ? NULL : hits;
}

/* sd_notify("READY=1"), by hand. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int s;

	if (!path || strlen(path) >= sizeof sun.sun_path)
		return;
	strcpy(sun.sun_path, path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';  /* an abstract socket */
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (sendto(s, "READY=1", 7, 0, (struct sockaddr *)&sun, len) < 0)
		fprintf(stderr, "http_server: READY=1: %s\n", strerror(errno));
	close(s);
}

/* Reads the request head; 0 once it is complete, -1 if it never is. */
static int read_request(int conn)
{
	char buf[4096];
	size_t got = 0;

	while (got < sizeof buf - 1) {
		struct pollfd p = { .fd = conn, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, READ_WAIT_MS) != 1)
			return -1;
		r = read(conn, buf + got, sizeof buf - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return 0;
	}
	return -1;
}

static void serve(int conn, uint64_t *hits)
{
	char body[128], out[512];
	int blen, n;

	if (read_request(conn) < 0)
		return;
	blen = snprintf(body, sizeof body, "request %llu, served by pid %d\n",
	                (unsigned long long)__atomic_add_fetch(hits, 1, __ATOMIC_SEQ_CST),
	                (int)getpid());
	n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	             "Content-Length: %d\r\nConnection: close\r\n\r\n%s", blen, body);
	if (write(conn, out, (size_t)n) != n)
		fprintf(stderr, "http_server: write: %s\n", strerror(errno));
}

static int print_address(int fd)
{
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	char ip[INET_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&in, &len) < 0 || in.sin_family != AF_INET ||
	    !inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip))
		return -1;
	fprintf(stderr, "http_server: pid %d serves http://%s:%d/\n", (int)getpid(), ip,
	        ntohs(in.sin_port));
	return 0;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t term, none;
	uint64_t *hits;
	int lsock = 3;

	if (fdshare_listen_fds(1, NULL) < 1 || print_address(lsock) < 0) {
		fprintf(stderr, "http_server: no listening TCP socket at fd 3: "
		        "run it under 'fdshare run tcp:HOST:PORT -- http_server'\n");
		return 2;
	}
	/* Old and new instances poll the same socket: the one that loses the
	 * race to accept must not block, so the socket is non-blocking. */
	if (fcntl(lsock, F_SETFL, fcntl(lsock, F_GETFL) | O_NONBLOCK) < 0)
		return 1;
	hits = open_state();
	if (!hits)
		return 1;
	/* SIGTERM is let in only while waiting, so it never cuts a request. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	sigemptyset(&none);
	sigaction(SIGTERM, &sa, NULL);
	notify_ready();
	while (!stopping) {
		struct pollfd p = { .fd = lsock, .events = POLLIN };
		int conn;

		if (ppoll(&p, 1, NULL, &none) < 0 && errno != EINTR)
			return 1;
		conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;  /* SIGTERM, or the other instance took it */
		serve(conn, hits);
		close(conn);
	}
	fprintf(stderr, "http_server: pid %d stops (%llu requests answered in all)\n",
	        (int)getpid(),
	        (unsigned long long)__atomic_load_n(hits, __ATOMIC_SEQ_CST));
	return 0;
}
