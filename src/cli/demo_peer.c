/*
 * The other processes of "fdshare demo": this binary re-executed as
 * "fdshare _demo_peer ROLE DEMOPID [ARG...]", so that the peers are real
 * programs, not forks sharing the demo's memory.  They die with the demo.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "demo.h"

#define HOLD_MAX_MS 30000

static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

/* fd moved to at least min, close-on-exec; the old number is closed. */
static int move_up(int fd, int min)
{
	int high;

	if (fd < 0)
		return -1;
	high = fcntl(fd, F_DUPFD_CLOEXEC, min);
	close(fd);
	return high;
}

static int expect_fds(size_t want)
{
	int n = fdshare_listen_fds(1, NULL);

	return n == (int)want ? 0 : -1;
}

static int unix_socket(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof sun->sun_path, "%s", path);
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int peer_inherit(void)
{
	if (expect_fds(1) < 0)
		return 2;
	dprintf(3, "child pid %d wrote through its fd 3\n", (int)getpid());
	return 0;
}

static int peer_take(const char *path)
{
	struct sockaddr_un sun;
	struct fdshare_msg msg;
	int s, conn = -1, rc = 2;

	if (expect_fds(1) < 0 || (s = unix_socket(path, &sun)) < 0)
		return 2;
	if (bind(s, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(s, 1) < 0 ||
	    write(3, "r", 1) != 1)
		goto out;
	close(3);
	if (wait_in(s, DEMO_WAIT_MS) < 0 ||
	    (conn = accept4(s, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
	    wait_in(conn, DEMO_WAIT_MS) < 0 || fdshare_msg_recv(conn, &msg) != 1)
		goto out;
	if (msg.nfds == 1) {
		dprintf(msg.fds[0], "taker pid %d received it as its fd %d and wrote "
		        "through it\n", (int)getpid(), msg.fds[0]);
		fdshare_msg_send(conn, SEND_MSG_ACK, NULL, 0, NULL, 0);
		rc = 0;
	}
	fdshare_msg_free(&msg);
out:
	if (conn >= 0)
		close(conn);
	close(s);
	unlink(path);
	return rc;
}

static int peer_give(const char *path, const char *log)
{
	struct sockaddr_un sun;
	struct fdshare_msg msg;
	int s, fd, rc = 2;

	fd = move_up(open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), 10);
	if (fd < 0 || (s = unix_socket(path, &sun)) < 0)
		return 2;
	dprintf(fd, "giver pid %d opened it as its fd %d, wrote, sent it\n",
	        (int)getpid(), fd);
	if (connect(s, (struct sockaddr *)&sun, sizeof sun) == 0 &&
	    fdshare_msg_send(s, SEND_MSG_FDS, "log", 3, &fd, 1) == 0 &&
	    wait_in(s, DEMO_WAIT_MS) == 0 && fdshare_msg_recv(s, &msg) == 1) {
		rc = msg.type == SEND_MSG_ACK ? 0 : 2;
		fdshare_msg_free(&msg);
	}
	close(s);
	close(fd);
	return rc;
}

/* Holds a file and a socket, tells nobody anything, waits to be stopped. */
static int peer_hold(const char *log)
{
	int fd, sv[2], a, b;
	char buf[16];

	if (expect_fds(2) < 0)
		return 2;
	fd = move_up(open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), 20);
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 2;
	a = move_up(sv[0], 21);
	b = move_up(sv[1], 21);
	if (a < 0 || b < 0)
		return 2;
	dprintf(fd, "holder pid %d opened it as its fd %d and shares nothing\n",
	        (int)getpid(), fd);
	if (write(3, "r", 1) != 1)
		return 2;
	close(3);
	while (wait_in(4, HOLD_MAX_MS) == 0 && read(4, buf, sizeof buf) > 0)
		;
	return 0;
}

int cmd_demo_peer(int argc, char **argv)
{
	long demo;

	if (argc < 3)
		return cli_usage("_demo_peer", "internal to 'fdshare demo'");
	demo = strtol(argv[2], NULL, 10);
	/* Die with the demo, and only ever serve one that is still there. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != (pid_t)demo)
		return 3;
	if (strcmp(argv[1], "inherit") == 0)
		return peer_inherit();
	if (strcmp(argv[1], "take") == 0 && argc == 4)
		return peer_take(argv[3]);
	if (strcmp(argv[1], "give") == 0 && argc == 5)
		return peer_give(argv[3], argv[4]);
	if (strcmp(argv[1], "hold") == 0 && argc == 4)
		return peer_hold(argv[3]);
	return cli_usage("_demo_peer", "unknown role '%s'", argv[1]);
}
