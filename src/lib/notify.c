/*
 * The receiving side of sd_notify(3): a pure parser of one message, and
 * the recvmsg that brings it with its sender's credentials and fds.
 *
 * fds_recvmsg does not fit the receiver: it throws the SCM_CREDENTIALS
 * away, and the sender's pid is what a notify socket goes by.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "launch.h"
#include "notify.h"

/* Room for every fd one sendmsg may carry, credentials, a pidfd, a label. */
#define NOTIFY_CTL (CMSG_SPACE(sizeof(int) * FDSHARE_MAX_FDS) + \
                    CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) + 256)

/* systemd's booleans: 1 true, 0 false, -1 neither. */
static int boolean(const char *s, size_t n)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0)
			return 1;
		if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0)
			return 0;
	}
	return -1;
}

static int line_is(const char *line, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(line, want, n) == 0;
}

/* The value of line when it is KEY=..., else NULL. */
static const char *value_of(const char *line, size_t n, const char *key, size_t *vlen)
{
	size_t k = strlen(key);

	if (n <= k || memcmp(line, key, k) != 0 || line[k] != '=')
		return NULL;
	*vlen = n - k - 1;
	return line + k + 1;
}

static void take_fdname(struct notify_msg *m, const char *v, size_t n)
{
	char name[NOTIFY_NAME_MAX + 1];

	if (n == 0 || n > NOTIFY_NAME_MAX) {
		m->bad_fdname = 1;
		return;
	}
	memcpy(name, v, n);
	name[n] = '\0';
	if (!fdshare_fdname_valid(name)) {
		m->bad_fdname = 1;
		return;
	}
	memcpy(m->fdname, name, n + 1);
}

static void take_line(struct notify_msg *m, const char *line, size_t n,
                      int *seen_name, int *seen_poll)
{
	const char *v;
	size_t vlen;

	if (line_is(line, n, "READY=1"))
		m->ready = 1;
	else if (line_is(line, n, "STOPPING=1"))
		m->stopping = 1;
	else if (line_is(line, n, "RELOADING=1"))
		m->reloading = 1;
	else if (line_is(line, n, "FDSTORE=1"))
		m->fdstore = 1;
	else if (line_is(line, n, "FDSTOREREMOVE=1"))
		m->fdstoreremove = 1;
	else if (!*seen_name && (v = value_of(line, n, "FDNAME", &vlen))) {
		*seen_name = 1;
		take_fdname(m, v, vlen);
	} else if (!*seen_poll && (v = value_of(line, n, "FDPOLL", &vlen))) {
		int b = boolean(v, vlen);

		*seen_poll = 1;
		if (b < 0)
			m->bad_fdpoll = 1;
		else
			m->fdpoll = (unsigned)b;
	}
}

int notify_parse(const char *buf, size_t len, struct notify_msg *m)
{
	int seen_name = 0, seen_poll = 0;
	size_t i = 0;

	memset(m, 0, sizeof *m);
	m->fdpoll = 1;
	if (len > NOTIFY_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len > 0 && buf[len - 1] == '\0')
		len--; /* one trailing NUL is tolerated, as by systemd */
	if (memchr(buf, '\0', len)) {
		errno = EBADMSG;
		return -1;
	}
	while (i < len) {
		size_t n = 0;

		while (i + n < len && buf[i + n] != '\n' && buf[i + n] != '\r')
			n++;
		if (n > 0)
			take_line(m, buf + i, n, &seen_name, &seen_poll);
		i += n + 1;
	}
	return 0;
}

const char *notify_store_name(const struct notify_msg *m)
{
	return m->fdname[0] ? m->fdname : "stored";
}

int notify_socket_new(void)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;

	if (s >= 0 && setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
		close_keep_errno(s);
		return -1;
	}
	return s;
}

int notify_socket_open(const char *path)
{
	struct sockaddr_un sun;
	int s;

	if (*path == '\0') {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sockaddr_unix(path, &sun) < 0)
		return -1;
	s = notify_socket_new();
	if (s >= 0 && bind(s, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close_keep_errno(s);
		return -1;
	}
	return s;
}

/* The fds of one control message into fds[*n...], closed past cap. */
static void collect_fds(const struct cmsghdr *c, int *fds, size_t *n, size_t cap)
{
	size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

	for (size_t i = 0; i < k; i++) {
		int fd;

		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
		if (*n < cap)
			fds[(*n)++] = fd;
		else
			close_keep_errno(fd);
	}
}

/* Fds into rx->fds, credentials into rx; pidfds closed. */
static void read_control(struct msghdr *mh, struct notify_rx *rx, int *have_cred)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			collect_fds(c, rx->fds, &rx->nfds, FDSHARE_MAX_FDS);
		} else if (c->cmsg_type == SCM_PIDFD) {
			size_t none = 0;

			collect_fds(c, NULL, &none, 0);
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
		           c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cr;

			memcpy(&cr, CMSG_DATA(c), sizeof cr);
			rx->pid = cr.pid;
			rx->uid = cr.uid;
			rx->gid = cr.gid;
			*have_cred = cr.pid > 0;
		}
	}
}

static int drop(struct notify_rx *rx, int err)
{
	close_fds(rx->fds, rx->nfds);
	rx->nfds = 0;
	errno = err;
	return -1;
}

int notify_recv(int sock, struct notify_rx *rx)
{
	union {
		struct cmsghdr align;
		char buf[NOTIFY_CTL];
	} ctl;
	char buf[NOTIFY_MAX];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	int have_cred = 0;
	ssize_t n;

	memset(rx, 0, offsetof(struct notify_rx, fds));
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	read_control(&mh, rx, &have_cred);
	if (mh.msg_flags & MSG_CTRUNC)
		return drop(rx, ECHRNG);
	if (mh.msg_flags & MSG_TRUNC)
		return drop(rx, EMSGSIZE);
	if (!have_cred)
		return drop(rx, EPROTO);
	if (notify_parse(buf, (size_t)n, &rx->msg) < 0)
		return drop(rx, errno);
	if (!rx->msg.fdstore) {
		close_fds(rx->fds, rx->nfds);
		rx->nfds = 0;
	}
	return 1;
}
