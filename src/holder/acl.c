/*
 * Who may do what.  Root and the entry's owner may do anything with it;
 * anyone who can connect may store a new name; everything else needs a
 * grant in the rules file.  A cgroup is read from /proc/PID/cgroup and
 * believed only if the peer's pidfd shows the same process still alive
 * afterwards, so that a recycled pid cannot lend another process's
 * cgroup.  A sender on the notify socket has no pidfd: no cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "holder.h"
#include "../lib/internal.h"

int acl_is_admin(struct holder *h, const struct conn *c)
{
	return c->peer.uid == 0 || c->peer.uid == h->self_uid;
}

/* The "0::/path" line of a cgroup file (cgroup v2), into buf. */
static int v2_path(const char *text, char *buf, size_t size)
{
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, "0::", 3) == 0) {
			size_t n = strcspn(p + 3, "\n");

			if (n == 0 || n >= size)
				return -1;
			memcpy(buf, p + 3, n);
			buf[n] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * The peer's cgroup, confirmed through its pidfd; "" when unknown.  Read
 * once, when the client connects: cgroup rules loaded later apply to
 * connections made after them.
 */
void acl_read_cgroup(struct holder *h, struct conn *c)
{
	char path[64], text[8192], cg[4096];

	cg[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)c->peer.pid);
	if (c->peer.pidfd < 0) {
		hlog(h, "pid %d: no pidfd (SO_PEERPIDFD), its cgroup cannot be trusted",
		     (int)c->peer.pid);
	} else if (read_small(path, text, sizeof text) < 0 ||
	           v2_path(text, cg, sizeof cg) < 0) {
		cg[0] = '\0';
	} else if (sys_pidfd_send_signal(c->peer.pidfd, 0) < 0 && errno != EPERM) {
		/* Gone, so the pid may have been someone else's by then. */
		cg[0] = '\0';
	}
	c->cgroup = strdup(cg);
}

/* "/a/b" is within "/a" and "/a/b", not "/a/bc"; "/" holds everything. */
static int within(const char *cg, const struct rule *r)
{
	size_t n = strlen(cg);

	if (cg[0] != '/' || n < r->cglen || memcmp(cg, r->cgroup, r->cglen) != 0)
		return 0;
	return r->cglen == 1 || n == r->cglen || cg[r->cglen] == '/';
}

static int subject_matches(const struct fdshare_peer *p, const char *cgroup,
                           const struct rule *r)
{
	switch (r->subject) {
	case RS_UID:
		return p->uid == r->id;
	case RS_GID:
		return p->gid == r->id;
	case RS_CGROUP:
		return within(cgroup ? cgroup : "", r);
	}
	return 0;
}

int acl_allows_peer(struct holder *h, const struct fdshare_peer *p, const char *cgroup,
                    unsigned op, const struct entry *e, const char *name, size_t n)
{
	if (p->uid == 0 || (e && e->owner == p->uid))
		return 1;
	if (e == NULL && op == OP_STORE)
		return 1;
	for (size_t i = 0; i < h->rules.n; i++) {
		const struct rule *r = &h->rules.v[i];

		if ((r->ops & op) != op)
			continue;
		if (r->prefix && (n < r->prefixlen || memcmp(name, r->prefix, r->prefixlen)))
			continue;
		if (subject_matches(p, cgroup, r))
			return 1;
	}
	return 0;
}

int acl_allows(struct holder *h, struct conn *c, unsigned op,
               const struct entry *e, const char *name, size_t n)
{
	return acl_allows_peer(h, &c->peer, c->cgroup, op, e, name, n);
}
