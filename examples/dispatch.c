/*
 * dispatch - accept TCP connections in one process, serve them in others.
 *
 * usage: dispatch [-w WORKERS] [-n CONNECTIONS]
 *
 * The dispatcher listens on 127.0.0.1, port 0 (any free port), and starts
 * WORKERS processes (default 3), each joined to it by a socketpair.  It
 * accepts CONNECTIONS connections (default 12), hands each to the next
 * worker in turn with SCM_RIGHTS (fdshare_send) and closes its own copy:
 * the worker answers the client on the very connection the dispatcher
 * accepted.  A client process makes the connections one after another and
 * prints who served each.  Exit 0 when every connection was served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fdshare.h>

#define MAX_WORKERS 16
#define TIME_LIMIT 30   /* seconds: no process of this example outlives it */

static void die(const char *who, const char *what)
{
	fprintf(stderr, "dispatch: %s: %s: %s\n", who, what, strerror(errno));
	exit(1);
}

/* One line from a socket, without its newline; "" at end of stream. */
static void read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, buf + n, 1)) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
}

/* Serves each connection the dispatcher sends until it hangs up. */
static void worker(int id, int sock)
{
	char line[128], reply[192];
	int served = 0, conn;
	size_t nfds;
	ssize_t r;
	char c;

	for (;;) {
		nfds = 1;
		r = fdshare_recv(sock, &c, 1, &conn, &nfds, 0);
		if (r == 0)
			break;
		if (r < 0 || nfds != 1)
			die("worker", "receive");
		read_line(conn, line, sizeof line);
		snprintf(reply, sizeof reply, "worker %d (pid %d) got \"%s\"\n", id,
		         (int)getpid(), line);
		if (write(conn, reply, strlen(reply)) < 0)
			die("worker", "write");
		close(conn);
		served++;
	}
	printf("worker %d (pid %d): served %d connections\n", id, (int)getpid(), served);
}

/* Connects n times, one after another, and prints each answer. */
static void client(const struct sockaddr_in *addr, int n)
{
	char req[64], line[192];
	int i, s;

	for (i = 1; i <= n; i++) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, (const struct sockaddr *)addr, sizeof *addr) < 0)
			die("client", "connect");
		snprintf(req, sizeof req, "request %d\n", i);
		if (write(s, req, strlen(req)) < 0)
			die("client", "write");
		read_line(s, line, sizeof line);
		close(s);
		if (line[0] == '\0') {
			fprintf(stderr, "dispatch: client: request %d: no answer\n", i);
			exit(1);
		}
		printf("client: request %d: %s\n", i, line);
	}
}

static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof *addr;
	int s;

	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)addr, sizeof *addr) < 0 ||
	    listen(s, 64) < 0 || getsockname(s, (struct sockaddr *)addr, &len) < 0)
		die("dispatcher", "listen");
	return s;
}

/* Forks; the child closes the n descriptors of keep_out (not its own). */
static pid_t start(const int *keep_out, int n)
{
	pid_t pid = fork();
	int i;

	if (pid < 0)
		die("dispatcher", "fork");
	if (pid == 0)
		for (i = 0; i < n; i++)
			close(keep_out[i]);
	return pid;
}

int main(int argc, char **argv)
{
	int nworkers = 3, nconn = 12, opt, i, lsock, sv[2], ok = 1, status;
	int to_worker[MAX_WORKERS + 1];
	pid_t pids[MAX_WORKERS + 1];
	struct sockaddr_in addr;

	while ((opt = getopt(argc, argv, "w:n:")) != -1) {
		if (opt == 'w')
			nworkers = atoi(optarg);
		else if (opt == 'n')
			nconn = atoi(optarg);
		else
			goto usage;
	}
	if (optind != argc || nworkers < 1 || nworkers > MAX_WORKERS || nconn < 1)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(TIME_LIMIT);  /* inherited by every process forked below */
	lsock = listen_loopback(&addr);
	printf("dispatcher (pid %d): listening on 127.0.0.1:%d, %d workers\n",
	       (int)getpid(), ntohs(addr.sin_port), nworkers);
	for (i = 0; i < nworkers; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			die("dispatcher", "socketpair");
		to_worker[i] = sv[0];
		pids[i] = start(to_worker, i + 1);
		if (pids[i] == 0) {
			close(lsock);
			worker(i + 1, sv[1]);
			_exit(0);
		}
		close(sv[1]);
	}
	pids[nworkers] = start(to_worker, nworkers);
	if (pids[nworkers] == 0) {
		close(lsock);
		client(&addr, nconn);
		_exit(0);
	}

	for (i = 0; i < nconn; i++) {
		int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0)
			die("dispatcher", "accept");
		if (fdshare_send(to_worker[i % nworkers], "c", 1, &conn, 1, 0) != 1)
			die("dispatcher", "send");
		close(conn);  /* the worker has it now */
	}
	close(lsock);
	for (i = 0; i < nworkers; i++)
		close(to_worker[i]);  /* end of stream: the worker exits */
	for (i = 0; i <= nworkers; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			ok = 0;
	printf("dispatcher: handed %d connections to %d workers: %s\n", nconn, nworkers,
	       ok ? "all served" : "a process failed");
	return ok ? 0 : 1;
usage:
	fprintf(stderr, "usage: dispatch [-w WORKERS (1-%d)] [-n CONNECTIONS]\n", MAX_WORKERS);
	return 2;
}
