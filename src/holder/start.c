/*
 * Starting the holder: descriptor limit, signals, rules, the socket and
 * the --notify-socket (checked and made by sockpath.h: bound under a
 * temporary name, then renamed over the path, so the path always leads to
 * a live holder), readiness, then the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder.h"
#include "../cli/cli.h"
#include "../lib/internal.h"

#define RULES_MAX (1024 * 1024)
#define FD_RESERVE 64 /* for the loop, the log, /proc reads */

int holder_load_rules(struct holder *h, int at_start)
{
	struct rules r;
	char err[256], *buf;
	ssize_t n;
	int fd;

	if (h->cf.rules_path == NULL)
		return 0;
	fd = open(h->cf.rules_path, O_RDONLY | O_CLOEXEC);
	buf = malloc(RULES_MAX + 1);
	if (fd < 0 || buf == NULL) {
		hlog(h, "%s: %s%s", h->cf.rules_path, strerror(errno),
		     at_start ? "" : "; the old rules stay");
		close_keep_errno(fd);
		free(buf);
		return -1;
	}
	n = read(fd, buf, RULES_MAX + 1);
	close(fd);
	if (n < 0 || n > RULES_MAX ||
	    rules_parse(buf, (size_t)n, &r, err, sizeof err) < 0) {
		hlog(h, "%s: %s%s", h->cf.rules_path,
		     n < 0 ? strerror(errno) : n > RULES_MAX ? "over 1 MiB" : err,
		     at_start ? "" : "; the old rules stay");
		free(buf);
		return -1;
	}
	free(buf);
	rules_free(&h->rules);
	h->rules = r;
	hlog(h, "%s: %zu rule%s %s", h->cf.rules_path, r.n, r.n == 1 ? "" : "s",
	     at_start ? "loaded" : "reloaded");
	return 0;
}

/* Soft limit to the hard one, raising the hard one when --max-fds needs it. */
static int raise_nofile(struct holder *h)
{
	struct rlimit rl;
	size_t reserve = h->cf.max_clients + FD_RESERVE + 2 * FD_SLACK;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (h->cf.max_fds && h->cf.max_fds + reserve > rl.rlim_max) {
		struct rlimit want = { h->cf.max_fds + reserve, h->cf.max_fds + reserve };

		if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
			hlog(h, "--max-fds %zu needs RLIMIT_NOFILE %zu, the hard limit is %llu "
			     "(raise it, or lower --max-fds)", h->cf.max_fds,
			     h->cf.max_fds + reserve, (unsigned long long)rl.rlim_max);
			return -1;
		}
		rl = want;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (h->cf.max_fds == 0)
		h->cf.max_fds = rl.rlim_cur > reserve * 2 ? rl.rlim_cur - reserve :
		                rl.rlim_cur / 2;
	if (h->cf.quota == 0 || h->cf.quota > h->cf.max_fds)
		h->cf.quota = h->cf.max_fds;
	hlog(h, "RLIMIT_NOFILE %llu: can hold %zu fds (per uid %zu), %zu clients",
	     (unsigned long long)rl.rlim_cur, h->cf.max_fds, h->cf.quota,
	     h->cf.max_clients);
	return 0;
}

static int setup_signals(struct holder *h)
{
	sigset_t set;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &h->signal_kind };

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	h->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (h->sigfd < 0)
		return -1;
	return epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->sigfd, &e);
}

/*
 * The path checked before anything else (sockpath.h): no symlink, nothing
 * but a stale socket, no holder answering there, unless taking over.
 */
static int check_socket(struct holder *h)
{
	int flags = h->cf.takeover ? SOCKPATH_TAKEOVER : 0;

	if (sockpath_check(&h->sp, h->cf.socket, flags) == 0)
		return 0;
	if (errno == EADDRINUSE && h->sp.failed == SP_PATH)
		hlog(h, "%s: a holder already answers there (use --takeover to replace it)",
		     h->cf.socket);
	else
		cli_sockpath_fail("holder", &h->sp, errno);
	return -1;
}

/*
 * Bound as PATH.PID with its mode and group, listening, renamed over PATH;
 * watched by epoll first, so that nothing can fail once the path is ours
 * (taking over, the old holder would thaw where nobody reaches it).
 */
static int bind_socket(struct holder *h)
{
	int flags = SOCKPATH_RENAME | (h->cf.takeover ? SOCKPATH_TAKEOVER : 0);
	gid_t gid = h->cf.have_group ? h->cf.group : (gid_t)-1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		hlog(h, "socket: %s", strerror(errno));
		return -1;
	}
	h->lfd = fd;
	if (holder_listen_add(h) < 0) {
		hlog(h, "epoll: %s", strerror(errno));
		h->lfd = -1;
		close(fd);
		return -1;
	}
	if (sockpath_bind(&h->sp, fd, h->cf.mode, gid, 4096, flags) < 0) {
		cli_sockpath_fail("holder", &h->sp, errno);
		h->lfd = -1;
		close(fd); /* and out of the epoll set */
		return -1;
	}
	return 0;
}

/*
 * --ready-fd must be open before the holder opens anything: else its
 * number goes to one of the holder's own descriptors, which readiness
 * would then close.
 */
static int check_ready_fd(struct holder *h)
{
	if (h->cf.ready_fd < 0 || fcntl(h->cf.ready_fd, F_GETFD) >= 0)
		return 0;
	hlog(h, "--ready-fd %d: %s", h->cf.ready_fd, strerror(errno));
	return -1;
}

/*
 * Done with the --ready-fd.  Standard error, or a number below it, stays
 * taken (by /dev/null): a client accepted there would get the log.
 */
static void close_ready_fd(int fd)
{
	int null = fd <= 2 ? open("/dev/null", O_RDWR | O_CLOEXEC) : -1;

	if (null < 0 || dup2(null, fd) < 0)
		close(fd);
	close_keep_errno(null);
}

static void notify_ready(struct holder *h)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;

	if (h->cf.ready_fd >= 0) {
		if (write(h->cf.ready_fd, "\n", 1) != 1)
			hlog(h, "--ready-fd %d: %s", h->cf.ready_fd, strerror(errno));
		close_ready_fd(h->cf.ready_fd);
	}
	if (ns && (ns[0] == '/' || ns[0] == '@') && sockaddr_unix(ns, &sun) == 0) {
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));

		if (ns[0] == '@')
			sun.sun_path[0] = '\0';
		if (fd >= 0) {
			sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
			close(fd);
		}
	}
}

static int setup(struct holder *h, int *oldfd)
{
	if (check_ready_fd(h) < 0 || check_socket(h) < 0 || hnotify_check(h) < 0 ||
	    raise_nofile(h) < 0 || holder_load_rules(h, 1) < 0)
		return -1;
	if (store_init(&h->store) < 0)
		return -1;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0 || setup_signals(h) < 0) {
		hlog(h, "epoll or signalfd: %s", strerror(errno));
		return -1;
	}
	if (h->cf.takeover && takeover_fetch(h, oldfd) < 0)
		return -1;
	/* The notify socket first: it fails before the path is taken over. */
	if (hnotify_open(h) < 0 || bind_socket(h) < 0)
		return -1;
	h->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

int holder_start(const struct config *cf)
{
	struct holder h = { .cf = *cf, .epfd = -1, .lfd = -1, .sigfd = -1,
	                    .reserve_fd = -1, .listen_kind = W_LISTEN,
	                    .signal_kind = W_SIGNAL, .nfd = -1,
	                    .notify_kind = W_NOTIFY };
	int oldfd = -1, rc = 1;

	h.self_uid = getuid();
	if (setup(&h, &oldfd) == 0) {
		if (oldfd >= 0)
			takeover_finish(&h, oldfd);
		oldfd = -1; /* closed */
		hlog(&h, "listening on %s (mode %04o)", h.cf.socket, (unsigned)h.cf.mode);
		notify_ready(&h);
		rc = holder_run(&h);
		hlog(&h, "exiting: %zu entries, %zu fds closed", h.store.count,
		     h.store.fds);
	}
	/* The paths go first: the old holder, thawed once oldfd closes,
	 * takes back whatever we leave at them. */
	holder_listen_stop(&h);
	close_keep_errno(oldfd);
	store_free(&h.store);
	free(h.uids);
	rules_free(&h.rules);
	close_keep_errno(h.epfd);
	close_keep_errno(h.sigfd);
	close_keep_errno(h.reserve_fd);
	return rc;
}
