/* fdshare recv: take descriptors from one "fdshare send", run CMD with them. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../lib/internal.h"
#include "../lib/sockpath.h"

static const char recv_help[] =
"usage: fdshare recv [--timeout SEC] [--any-user] SOCKET -- CMD [ARG...]\n"
"\n"
"Create the Unix socket SOCKET, accept one 'fdshare send', receive its\n"
"descriptors and run CMD with them at fd 3, 4, ... and LISTEN_FDS,\n"
"LISTEN_PID and LISTEN_FDNAMES set.  SOCKET is removed before CMD runs and\n"
"on every error, timeout, SIGINT, SIGTERM or SIGHUP.  A stale socket file nobody\n"
"listens on is replaced; a live socket, a symbolic link or any other file\n"
"is an error, and so is a directory others may write to (unless sticky) or\n"
"another user's (not root's).\n"
"\n"
"SOCKET has mode 0600, and a sender whose uid is neither ours nor root is\n"
"refused (logged on stderr; recv keeps waiting), and so is one that sends\n"
"nothing for 10 s before its message is whole.  A CMD that cannot run is\n"
"found (126, 127) before SOCKET is made.\n"
"\n"
"  --timeout SEC  give up after SEC seconds without a sender (exit 1)\n"
"  --any-user     create SOCKET with mode 0666 and accept every uid\n";

#define SENDER_WAIT_MS 10000    /* for the message, once a sender connected */

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
#define NCAUGHT (sizeof caught / sizeof *caught)

static struct sockpath sock; /* static: the signal handler removes it */
static volatile sig_atomic_t bound;
static struct sigaction saved[NCAUGHT];

/* Remove the socket, then die of the signal as if never caught. */
static void on_signal(int sig)
{
	if (bound)
		sockpath_unlink(&sock);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaddset(&set, caught[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NCAUGHT; i++) {
		sigaction(caught[i], NULL, &saved[i]);
		/* A signal the caller ignores (a background job) stays ignored. */
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(caught[i], &sa, NULL);
	}
}

/* Unlink the socket and give back the signals as they were, before exec. */
static void unbind(void)
{
	sigset_t old;

	block_signals(&old);
	if (bound)
		sockpath_unlink(&sock);
	bound = 0;
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &saved[i], NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * The socket, made safely (sockpath.h): a stale one replaced, a symlink,
 * a live socket or any other file refused; mode 0600 (0666) from the
 * start.  Signals wait until bound says whether there is one to remove.
 */
static int make_listener(const char *path, int any_user, int *lsock)
{
	sigset_t old;
	int r, err;

	if (sockpath_check(&sock, path, 0) < 0)
		return cli_sockpath_fail("recv", &sock, errno);
	block_signals(&old);
	r = sockpath_listen(&sock, any_user ? 0666 : 0600, (gid_t)-1, 16, 0);
	err = errno;
	bound = r == 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return cli_sockpath_fail("recv", &sock, err);
	*lsock = sock.fd;
	return 0;
}

/*
 * Wait for fd to be readable until deadline (< 0: none) and for at most
 * cap_ms (< 0: no cap): 1, 0 on timeout, -1 on error.
 */
static int wait_readable(int fd, long long deadline, int cap_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do {
		long long left = deadline < 0 ? -1 : deadline - mono_ms();

		if (deadline >= 0 && left < 0)
			left = 0;
		if (cap_ms >= 0 && (left < 0 || left > cap_ms))
			left = cap_ms;
		r = poll(&p, 1, (int)left);
	} while (r < 0 && errno == EINTR);
	return r;
}

/* The message must carry one valid name per descriptor. */
static int names_ok(const struct fdshare_msg *m)
{
	const char *p = m->data, *end = p + m->len;
	size_t count = 0;

	if (m->type != SEND_MSG_FDS || m->len == 0 || memchr(p, '\0', m->len))
		return 0;
	while (p <= end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *stop = colon ? colon : end;
		char name[256];

		if ((size_t)(stop - p) >= sizeof name)
			return 0;
		memcpy(name, p, (size_t)(stop - p));
		name[stop - p] = '\0';
		if (!fdshare_fdname_valid(name))
			return 0;
		count++;
		p = stop + 1;
	}
	return count == m->nfds;
}

/* A read on conn that waits ms without a byte fails (EAGAIN). */
static int bound_reads(int conn, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	return setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* One sender: 1 with its message taken, 0 when refused (logged). */
static int take_sender(int conn, int any_user, long long deadline,
                       struct fdshare_msg *msg)
{
	struct fdshare_peer peer;
	int r;

	if (fdshare_peer(conn, &peer) < 0) {
		cli_log("recv", "refused a sender: cannot learn its uid: %s", strerror(errno));
		return 0;
	}
	if (peer.pidfd >= 0)
		close(peer.pidfd);
	if (!any_user && peer.uid != geteuid() && peer.uid != 0) {
		cli_log("recv", "refused a sender of uid %u (pid %d): neither our uid nor "
		        "root (run recv with --any-user to accept it); still waiting",
		        (unsigned int)peer.uid, (int)peer.pid);
		return 0;
	}
	r = wait_readable(conn, deadline, SENDER_WAIT_MS);
	if (r <= 0 || bound_reads(conn, SENDER_WAIT_MS) < 0) {
		cli_log("recv", "dropped sender pid %d: no message in time; still waiting",
		        (int)peer.pid);
		return 0;
	}
	r = fdshare_msg_recv(conn, msg);
	if (r <= 0) {
		cli_log("recv", "dropped sender pid %d: %s; still waiting", (int)peer.pid,
		        r < 0 && errno == EAGAIN ? "its message stalled"
		        : r < 0 ? strerror(errno) : "it closed without a message");
		return 0;
	}
	if (!names_ok(msg)) {
		cli_log("recv", "dropped sender pid %d: not an 'fdshare send' message "
		        "with valid names; still waiting", (int)peer.pid);
		fdshare_msg_free(msg);
		return 0;
	}
	/* A sender that does not wait for the answer is no error. */
	fdshare_msg_send(conn, SEND_MSG_ACK, NULL, 0, NULL, 0);
	return 1;
}

static int accept_one(int lsock, int any_user, long long deadline,
                      struct fdshare_msg *msg)
{
	for (;;) {
		int conn, r = wait_readable(lsock, deadline, -1);

		if (r == 0)
			return cli_fail("recv", "no sender came in time", ETIMEDOUT,
			                "start 'fdshare send' sooner or raise --timeout");
		if (r < 0)
			return cli_fail("recv", "cannot wait for a sender", errno, "see fdshare(1)");
		conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == ECONNABORTED || errno == EINTR || errno == EAGAIN)
				continue;
			return cli_fail("recv", "cannot accept a sender", errno, "see fdshare(1)");
		}
		r = take_sender(conn, any_user, deadline, msg);
		close(conn);
		if (r)
			return 0;
	}
}

static int run(struct fdshare_msg *msg, char **cmd)
{
	struct fdshare_pass *pass = calloc(msg->nfds, sizeof *pass);
	char *names = malloc(msg->len + 1), *save = NULL;
	int rc;

	if (pass == NULL || names == NULL) {
		free(pass);
		free(names);
		return cli_fail("recv", "cannot hand over the descriptors", ENOMEM,
		                "free some memory");
	}
	/* names_ok checked: nfds names, none empty, no NUL inside. */
	memcpy(names, msg->data, msg->len);
	names[msg->len] = '\0';
	for (size_t i = 0; i < msg->nfds; i++) {
		pass[i].fd = msg->fds[i];
		pass[i].name = strtok_r(i == 0 ? names : NULL, ":", &save);
	}
	rc = cli_exec("recv", cmd, pass, msg->nfds);
	free(pass);
	free(names);
	return rc;
}

int cmd_recv(int argc, char **argv)
{
	const char *timeout = NULL;
	int any_user = 0, first, rc, lsock = -1;
	const struct cli_opt opts[] = {
		{ "--timeout", NULL, &timeout },
		{ "--any-user", &any_user, NULL },
		{ NULL, NULL, NULL },
	};
	struct fdshare_msg msg;
	struct sockaddr_un sun;
	long long deadline = -1;
	unsigned int sec;

	rc = cli_options(argc, argv, opts, recv_help, &first);
	if (rc >= 0)
		return rc;
	if (timeout && (rc = cli_uint("recv", "--timeout SEC", timeout, 2000000, &sec)))
		return rc;
	if (first >= argc || strcmp(argv[first], "--") == 0)
		return cli_usage("recv", "missing SOCKET");
	if ((rc = cli_sockaddr("recv", argv[first], &sun)) != 0)
		return rc;
	if (first + 1 >= argc || strcmp(argv[first + 1], "--") != 0)
		return cli_usage("recv", "%s", first + 1 < argc
		                 ? "expected '--' before CMD" : "missing '-- CMD'");
	if (first + 2 >= argc)
		return cli_usage("recv", "missing CMD after '--'");
	if ((rc = cli_cmd_runnable("recv", argv + first + 2)) != 0)
		return rc; /* before a sender's descriptors are taken */
	if (timeout)
		deadline = mono_ms() + 1000LL * sec;
	catch_signals();
	if (make_listener(sun.sun_path, any_user, &lsock) != 0)
		return 1;
	rc = accept_one(lsock, any_user, deadline, &msg);
	close(lsock);
	unbind();
	if (rc != 0)
		return rc;
	rc = run(&msg, argv + first + 2);
	fdshare_msg_free(&msg);
	return rc;
}
