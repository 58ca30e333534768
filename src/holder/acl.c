/*
 * Who may do what.  Root and the entry's owner may do anything with it;
 * anyone who can connect may store a new name; everything else needs a
 * grant in the rules file.  A cgroup is read from /proc/PID/cgroup and
 * believed only if the peer's pidfd shows the same process still alive
 * afterwards, so that a recycled pid cannot lend another process's
 * cgroup.  A sender on the notify socket has no pidfd: no cgroup.  A gid
 * rule matches the primary gid or a supplementary group, as they were
 * when the client connected (SO_PEERGROUPS); a notify sender's datagram
 * carries no groups, so for it the primary gid only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/*
 * The client's supplementary groups, read the first time its rights rest
 * on a rules file that has a gid rule: the kernel keeps them as they were
 * at connect(2), so reading late gives the same answer and costs nothing
 * to the connections that never need them.  Unreadable (before Linux
 * 4.13, no memory): the primary gid only.
 */
static void read_groups(struct holder *h, struct conn *c)
{
	socklen_t len = 0;
	gid_t *v = NULL;

	c->groups_read = 1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) == 0)
		return; /* none */
	if (errno == ERANGE && (v = malloc(len)) != NULL &&
	    getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) == 0) {
		c->groups = v;
		c->ngroups = len / sizeof *v;
		return;
	}
	if (!h->groups_unread++)
		hlog(h, "pid %d: its supplementary groups cannot be read (%s): gid rules "
		     "match the primary gid only of such a client (said once)",
		     (int)c->peer.pid, strerror(errno));
	free(v);
}

struct subject {
	const struct fdshare_peer *peer;
	const char *cgroup;   /* NULL: unknown */
	const gid_t *groups;
	size_t ngroups;
};

static int in_group(const struct subject *s, gid_t gid)
{
	if (s->peer->gid == gid)
		return 1;
	for (size_t i = 0; i < s->ngroups; i++)
		if (s->groups[i] == gid)
			return 1;
	return 0;
}

static int subject_matches(const struct subject *s, const struct rule *r)
{
	switch (r->subject) {
	case RS_UID:
		return s->peer->uid == r->id;
	case RS_GID:
		return in_group(s, r->id);
	case RS_CGROUP:
		return within(s->cgroup ? s->cgroup : "", r);
	}
	return 0;
}

/* Root and the owner may do anything with an entry; anyone may store a new one. */
static int needs_no_rule(const struct fdshare_peer *p, unsigned op, const struct entry *e)
{
	return p->uid == 0 || (e && e->owner == p->uid) || (e == NULL && op == OP_STORE);
}

static int granted(struct holder *h, const struct subject *s, unsigned op,
                   const char *name, size_t n)
{
	for (size_t i = 0; i < h->rules.n; i++) {
		const struct rule *r = &h->rules.v[i];

		if ((r->ops & op) != op)
			continue;
		if (r->prefix && (n < r->prefixlen || memcmp(name, r->prefix, r->prefixlen)))
			continue;
		if (subject_matches(s, r))
			return 1;
	}
	return 0;
}

int acl_allows_peer(struct holder *h, const struct fdshare_peer *p, const char *cgroup,
                    unsigned op, const struct entry *e, const char *name, size_t n)
{
	struct subject s = { .peer = p, .cgroup = cgroup };

	return needs_no_rule(p, op, e) || granted(h, &s, op, name, n);
}

int acl_allows(struct holder *h, struct conn *c, unsigned op,
               const struct entry *e, const char *name, size_t n)
{
	struct subject s = { .peer = &c->peer, .cgroup = c->cgroup };

	if (needs_no_rule(&c->peer, op, e))
		return 1;
	if (h->rules.need_groups && !c->groups_read)
		read_groups(h, c);
	s.groups = c->groups;
	s.ngroups = c->ngroups;
	return granted(h, &s, op, name, n);
}
