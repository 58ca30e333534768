/*
 * zd_server DIR [DELAY_MS]: the server of the zero-downtime tests, started
 * by "fdshare listen" or "fdshare run" with a listening TCP socket at fd 3
 * (fdshare_listen_fds).  After DELAY_MS (default 0, a slow start) it sends
 * READY=1 to $NOTIFY_SOCKET when there is one, and makes DIR/ready.PID
 * holding its port; after its first answer, DIR/served.PID.
 *
 * Each connection: one line in ("req N"), one line out ("PID req N"),
 * closed.  SIGTERM: the connection at hand is answered, then exit 0.
 * Exit 2 without a socket at fd 3, 3 on any other failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdshare.h"

#define LINE_MAX_LEN 256
#define READ_WAIT_MS 10000

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* sd_notify("READY=1") by hand: this program does not use libsystemd. */
static int notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int s, r;

	if (path == NULL)
		return 0;
	if (strlen(path) >= sizeof sun.sun_path)
		return -1;
	strcpy(sun.sun_path, path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	if (path[0] == '@') {
		sun.sun_path[0] = '\0';
		len--;
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	r = sendto(s, "READY=1", 7, 0, (struct sockaddr *)&sun, len) == 7 ? 0 : -1;
	close(s);
	return r;
}

/* An empty file DIR/WHAT.PID, or one holding text, made whole by rename. */
static int mark(const char *dir, const char *what, const char *text)
{
	char tmp[4096], path[4096];
	int fd, ok;

	snprintf(tmp, sizeof tmp, "%s/.%s.%d", dir, what, (int)getpid());
	snprintf(path, sizeof path, "%s/%s.%d", dir, what, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static int port_of(int fd)
{
	struct sockaddr_in in;
	socklen_t len = sizeof in;

	if (getsockname(fd, (struct sockaddr *)&in, &len) < 0 || in.sin_family != AF_INET)
		return -1;
	return ntohs(in.sin_port);
}

/* One request line, one answer: 0, or -1 when the client misbehaved. */
static int serve(int conn)
{
	char line[LINE_MAX_LEN], out[LINE_MAX_LEN + 32];
	size_t got = 0;
	int n;

	while (got < sizeof line - 1 && memchr(line, '\n', got) == NULL) {
		struct pollfd p = { .fd = conn, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, READ_WAIT_MS) != 1)
			return -1;
		r = read(conn, line + got, sizeof line - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	n = snprintf(out, sizeof out, "%d %s\n", (int)getpid(), line);
	return write(conn, out, (size_t)n) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t term, none;
	char port[16];
	int served = 0;

	if (argc < 2 || argc > 3)
		return 3;
	if (fdshare_listen_fds(1, NULL) < 1 || port_of(3) < 0)
		return 2;
	/* instances share the socket: one woken by poll may find nothing */
	if (fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK) < 0)
		return 3;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL); /* taken only while waiting */
	sigemptyset(&none);
	sigaction(SIGTERM, &sa, NULL);
	if (argc == 3)
		sleep_ms(atol(argv[2]));
	snprintf(port, sizeof port, "%d", port_of(3));
	if (notify_ready() < 0 || mark(argv[1], "ready", port) < 0)
		return 3;
	while (!stop) {
		struct pollfd p = { .fd = 3, .events = POLLIN };
		int conn;

		if (ppoll(&p, 1, NULL, &none) < 0) {
			if (errno == EINTR)
				continue;
			return 3;
		}
		conn = accept4(3, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (conn < 0)
			continue; /* another instance took it */
		if (serve(conn) == 0 && !served++ && mark(argv[1], "served", "") < 0)
			return 3;
		close(conn);
	}
	return 0;
}
