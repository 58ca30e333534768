/* ADDR[=NAME] operands: parsing (pure), and making or checking the socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "../lib/sockpath.h"

#define TEXT_MAX 300    /* the longest ADDR: "seqpacket:" and a 107-byte path */

static const struct kind {
	const char *prefix;
	int kind, family, type;
} kinds[] = {
	{ "tcp:", ADDR_TCP, AF_INET, SOCK_STREAM },
	{ "tcp6:", ADDR_TCP6, AF_INET6, SOCK_STREAM },
	{ "udp:", ADDR_UDP, AF_INET, SOCK_DGRAM },
	{ "udp6:", ADDR_UDP6, AF_INET6, SOCK_DGRAM },
	{ "unix:", ADDR_UNIX, AF_UNIX, SOCK_STREAM },
	{ "unix-dgram:", ADDR_UNIX_DGRAM, AF_UNIX, SOCK_DGRAM },
	{ "seqpacket:", ADDR_SEQPACKET, AF_UNIX, SOCK_SEQPACKET },
	{ "fd:", ADDR_FD, 0, 0 },
};

/* A decimal number of at most max, digits only. */
static int decimal(const char *s, unsigned long max, unsigned long *v)
{
	unsigned long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	return 0;
}

static int parse_port(const char *s, in_port_t *port, const char **why)
{
	unsigned long v;

	if (decimal(s, 65535, &v) < 0) {
		*why = "PORT must be a number from 0 to 65535";
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

/* "HOST:PORT", HOST a dotted IPv4 address. */
static int parse_inet(char *rest, struct addr *a, const char **why)
{
	char *colon = strrchr(rest, ':');

	if (colon == NULL) {
		*why = "expected HOST:PORT";
		return -1;
	}
	*colon = '\0';
	a->sa.in.sin_family = AF_INET;
	if (inet_pton(AF_INET, rest, &a->sa.in.sin_addr) != 1) {
		*why = "HOST must be a numeric IPv4 address such as 127.0.0.1 "
		       "(tcp6:[HOST]:PORT for IPv6)";
		return -1;
	}
	a->salen = sizeof a->sa.in;
	return parse_port(colon + 1, &a->sa.in.sin_port, why);
}

/* "[HOST]:PORT", HOST a numeric IPv6 address. */
static int parse_inet6(char *rest, struct addr *a, const char **why)
{
	char *close = strchr(rest, ']');

	if (rest[0] != '[' || close == NULL || close[1] != ':') {
		*why = "expected [HOST]:PORT, the address in brackets";
		return -1;
	}
	*close = '\0';
	if (strchr(rest, '%')) {
		*why = "scope ids (%IFACE) are not supported";
		return -1;
	}
	a->sa.in6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, rest + 1, &a->sa.in6.sin6_addr) != 1) {
		*why = "HOST must be a numeric IPv6 address such as ::1";
		return -1;
	}
	a->salen = sizeof a->sa.in6;
	return parse_port(close + 2, &a->sa.in6.sin6_port, why);
}

/* PATH, or "@NAME" for an abstract socket. */
static int parse_unix(const char *rest, struct addr *a, const char **why)
{
	size_t len = strlen(rest);

	a->sa.un.sun_family = AF_UNIX;
	if (len == 0 || (rest[0] == '@' && len == 1)) {
		*why = "missing PATH";
		return -1;
	}
	/* an abstract name takes the place of the path's final NUL: 107 bytes too */
	if (len > sizeof a->sa.un.sun_path - (rest[0] != '@')) {
		*why = rest[0] == '@' ? "@NAME is longer than the 107 bytes an abstract "
		                        "Unix socket address holds"
		       : "PATH is longer than the 107 bytes a Unix socket address holds";
		return -1;
	}
	memcpy(a->sa.un.sun_path, rest, len);
	if (rest[0] == '@') {
		a->sa.un.sun_path[0] = '\0';
		a->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		a->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	return 0;
}

static int parse_fd(const char *rest, struct addr *a, const char **why)
{
	unsigned long v;

	if (decimal(rest, 0x7fffffff, &v) < 0) {
		*why = "N must be a descriptor number";
		return -1;
	}
	a->fd = (int)v;
	return 0;
}

/* The name: given after '=', else made from text. */
static int set_name(struct addr *a, const char *text, const char *given, const char **why)
{
	size_t len = strlen(given ? given : text);

	if (len > ADDR_NAME_MAX) {
		*why = given ? "NAME is longer than 255 bytes"
		             : "it is too long to be a NAME: give one as ADDR=NAME";
		return -1;
	}
	memcpy(a->name, given ? given : text, len + 1);
	for (char *p = a->name; !given && *p; p++)
		if (*p == ':')
			*p = '-';
	if (!fdshare_fdname_valid(a->name)) {
		*why = given ? "NAME must be 1 to 255 printable ASCII characters "
		               "without ':' or '\\'"
		             : "it makes no valid NAME (it has a '\\' or a character that "
		               "is not printable ASCII): give one as ADDR=NAME";
		return -1;
	}
	return 0;
}

int addr_parse(const char *arg, struct addr *a, const char **why)
{
	const char *eq = strrchr(arg, '=');
	size_t tlen = eq ? (size_t)(eq - arg) : strlen(arg);
	char text[TEXT_MAX + 1], rest[TEXT_MAX + 1];
	const struct kind *k = NULL;
	int r;

	memset(a, 0, sizeof *a);
	a->fd = -1;
	if (tlen > TEXT_MAX) {
		*why = "it is too long";
		return -1;
	}
	memcpy(text, arg, tlen);
	text[tlen] = '\0';
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds && k == NULL; i++)
		if (strncmp(text, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
			k = &kinds[i];
	if (k == NULL) {
		*why = "it must start with tcp:, tcp6:, udp:, udp6:, unix:, "
		       "unix-dgram:, seqpacket: or fd:";
		return -1;
	}
	a->kind = k->kind;
	a->family = k->family;
	a->type = k->type;
	strcpy(rest, text + strlen(k->prefix));
	if (k->kind == ADDR_FD)
		r = parse_fd(rest, a, why);
	else if (k->family == AF_INET)
		r = parse_inet(rest, a, why);
	else if (k->family == AF_INET6)
		r = parse_inet6(rest, a, why);
	else
		r = parse_unix(rest, a, why);
	if (r < 0)
		return -1;
	if (eq && eq[1] == '\0') {
		*why = "an empty NAME after '='";
		return -1;
	}
	return set_name(a, text, eq ? eq + 1 : NULL, why);
}

const char *addr_path(const struct addr *a)
{
	if (a->family != AF_UNIX || a->sa.un.sun_path[0] == '\0')
		return NULL;
	return a->sa.un.sun_path;
}

static const char *bind_hint(const struct addr *a, int err)
{
	switch (err) {
	case EADDRINUSE:
		return "another socket is bound there: stop its owner or choose another address";
	case EACCES:
	case EPERM:
		return a->family == AF_UNIX ? "check the directory's permissions"
		       : "ports below 1024 need root or CAP_NET_BIND_SERVICE";
	case EADDRNOTAVAIL:
		return "HOST is not an address of this machine";
	case ENOENT:
	case ENOTDIR:
		return "the directory of PATH does not exist";
	case EAFNOSUPPORT:
		return "this kernel does not have that address family (IPv6?)";
	}
	return "see fdshare(1)";
}

static void close_saving_errno(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
}

static int set_options(const struct addr *a, int s)
{
	int on = 1;

	if (a->type == SOCK_STREAM && a->family != AF_UNIX &&
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
		return -1;
	/* tcp6:[::]:80 then means IPv6 only, and tcp:0.0.0.0:80 may live beside it */
	if (a->family == AF_INET6 &&
	    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0)
		return -1;
	return 0;
}

/* Why sockpath.h refused or failed to make a's path, and what to do. */
static const char *path_hint(const struct addr *a, const struct sockpath *sp, int err)
{
	if (sp->failed == SP_DIR)
		return err == EPERM ? "the directory of PATH is another user's, or writable "
		       "by others and not sticky: use a directory only you (or root) can "
		       "write to" :
		       err == ENOENT || err == ENOTDIR ? "the directory of PATH does not exist" :
		       "check the directory's permissions";
	switch (err) {
	case ELOOP:
		return "PATH is a symbolic link: remove it or choose another path";
	case EEXIST:
		return sp->failed == SP_PATH ? "PATH exists and is not a socket: remove it "
		       "or choose another path" : "PATH changed meanwhile: try again";
	case EADDRINUSE:
		return sp->failed == SP_PATH ? "a process is using PATH: stop it or choose "
		       "another path" : "PATH was created meanwhile: try again";
	case EISDIR:
		return "give the path of a socket file, not of a directory";
	}
	return bind_hint(a, err);
}

/*
 * A Unix socket at a path, made by sockpath.h: a stale socket replaced; a
 * symbolic link, a file that is not a socket, a socket in use and a
 * directory others may write to (unless sticky) refused; exactly mode.
 */
static int open_path(const struct addr *a, int backlog, mode_t mode, const char **hint)
{
	struct sockpath sp;
	int s;

	if (sockpath_check(&sp, a->sa.un.sun_path, 0) < 0) {
		*hint = path_hint(a, &sp, errno);
		return -1;
	}
	s = socket(AF_UNIX, a->type | SOCK_CLOEXEC, 0);
	if (s < 0) {
		*hint = bind_hint(a, errno);
		return -1;
	}
	if (sockpath_bind(&sp, s, mode, (gid_t)-1, a->type == SOCK_DGRAM ? -1 : backlog,
	                  0) < 0) {
		*hint = path_hint(a, &sp, errno);
		close_saving_errno(s);
		return -1;
	}
	return s;
}

int addr_open(const struct addr *a, int backlog, mode_t mode, const char **hint)
{
	int s, fd;

	*hint = "see fdshare(1)";
	if (a->kind == ADDR_FD) {
		fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 && errno == EBADF)
			*hint = "fd:N must be open in this process (as with 3<FILE in a shell)";
		return fd;
	}
	if (addr_path(a))
		return open_path(a, backlog, mode, hint);
	s = socket(a->family, a->type | SOCK_CLOEXEC, 0);
	if (s < 0) {
		*hint = bind_hint(a, errno);
		return -1;
	}
	if (set_options(a, s) < 0 || bind(s, &a->sa.sa, a->salen) < 0) {
		*hint = bind_hint(a, errno);
		close_saving_errno(s);
		return -1;
	}
	if (a->type != SOCK_DGRAM && listen(s, backlog) < 0) {
		close_saving_errno(s);
		return -1;
	}
	return s;
}

static const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "datagram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	}
	return "other";
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_INET:
		return "IPv4";
	case AF_INET6:
		return "IPv6";
	case AF_UNIX:
		return "Unix";
	}
	return "other";
}

static int same_inet(const struct addr *a, const struct sockaddr *got, socklen_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)got;

	return len >= sizeof *in && in->sin_addr.s_addr == a->sa.in.sin_addr.s_addr &&
	       (a->sa.in.sin_port == 0 || in->sin_port == a->sa.in.sin_port);
}

static int same_inet6(const struct addr *a, const struct sockaddr *got, socklen_t len)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)got;

	return len >= sizeof *in6 &&
	       memcmp(&in6->sin6_addr, &a->sa.in6.sin6_addr, sizeof in6->sin6_addr) == 0 &&
	       (a->sa.in6.sin6_port == 0 || in6->sin6_port == a->sa.in6.sin6_port);
}

/* The same path (its NUL aside), or the same abstract name. */
static int same_unix(const struct addr *a, const struct sockaddr *got, socklen_t len)
{
	const size_t base = offsetof(struct sockaddr_un, sun_path);
	const char *path = ((const struct sockaddr_un *)got)->sun_path;
	size_t want = a->salen - base, have;

	if (len <= base)
		return 0;
	have = len - base;
	if (addr_path(a))
		return strnlen(path, have) == want - 1 &&
		       memcmp(path, a->sa.un.sun_path, want - 1) == 0;
	return have == want && memcmp(path, a->sa.un.sun_path, want) == 0;
}

static int same_address(const struct addr *a, const struct sockaddr *got, socklen_t len)
{
	if (a->family == AF_INET)
		return same_inet(a, got, len);
	if (a->family == AF_INET6)
		return same_inet6(a, got, len);
	return same_unix(a, got, len);
}

int addr_matches(const struct addr *a, int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss, olen = sizeof(int);
	struct fdshare_fdinfo info;
	int family, type;

	if (a->kind == ADDR_FD)
		return 1;
	if (fdshare_describe_fd(fd, &info) < 0)
		return -1;
	if (info.kind != FDSHARE_KIND_SOCKET) {
		snprintf(buf, size, "a %s, not a socket", fdshare_kind_name(info.kind));
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &olen) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (family == a->family && type == a->type &&
	    same_address(a, (struct sockaddr *)&ss, len))
		return 1;
	snprintf(buf, size, "a %s socket (%s) bound to '%s'", type_name(type),
	         family_name(family), info.sock.local[0] ? info.sock.local : "nothing");
	return 0;
}
