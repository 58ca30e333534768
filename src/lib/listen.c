/*
 * The receiving side of socket activation: what libsystemd's
 * sd_listen_fds_with_names() returns, with -1 and errno for its negative
 * codes.  The numbers are read as systemd reads them (leading whitespace,
 * 0x, 0o, 0b and C's leading-0 octal); LISTEN_FDNAMES is split at ':'
 * with a backslash making the next character literal.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"

#define WHITESPACE " \t\n\r"

static const char *number_start(const char *s, int *base)
{
	s += strspn(s, WHITESPACE);
	*base = 0;
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		*base = 2;
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		*base = 8;
	return *base ? s + 2 : s;
}

static int parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;
	int base;

	s = number_start(s, &base);
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno != 0)
		return -1;
	if (end == s || *end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (x != 0 && s[0] == '-') { /* strtoull negates silently */
		errno = ERANGE;
		return -1;
	}
	*v = x;
	return 0;
}

static int parse_int(const char *s, int *v)
{
	long x;
	char *end;
	int base;

	s = number_start(s, &base);
	errno = 0;
	x = strtol(s, &end, base);
	if (errno != 0)
		return -1;
	if (end == s || *end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (x < INT_MIN || x > INT_MAX) {
		errno = ERANGE;
		return -1;
	}
	*v = (int)x;
	return 0;
}

/* The count of sd_listen_fds(): 0 when the variables are not ours. */
static int listen_count(const struct listen_vars *v, pid_t self,
                        const uint64_t *self_id, int (*claim)(int fd))
{
	uint64_t pid, id;
	int n;

	if (v->pid == NULL)
		return 0;
	if (parse_u64(v->pid, &pid) < 0)
		return -1;
	if (pid == 0 || pid > INT_MAX) {
		errno = ERANGE;
		return -1;
	}
	if ((pid_t)pid != self)
		return 0;
	if (v->pidfdid) {
		if (parse_u64(v->pidfdid, &id) < 0)
			return -1;
		if (self_id && id != *self_id)
			return 0; /* the same pid, another process */
	}
	if (v->fds == NULL)
		return 0;
	if (parse_int(v->fds, &n) < 0)
		return -1;
	if (n <= 0 || n > INT_MAX - LISTEN_START) {
		errno = EINVAL;
		return -1;
	}
	for (int fd = LISTEN_START; claim && fd < LISTEN_START + n; fd++)
		if (claim(fd) < 0)
			return -1;
	return n;
}

/* The name at *p; *p moves past its ':', or to NULL after the last. */
static char *next_name(const char **p)
{
	const char *s = *p, *e = s;
	char *name, *o;

	while (*e && *e != ':') {
		if (*e == '\\' && *++e == '\0') {
			errno = EINVAL;
			return NULL;
		}
		e++;
	}
	name = o = malloc((size_t)(e - s) + 1);
	if (name == NULL)
		return NULL;
	for (; s < e; s++) {
		if (*s == '\\')
			s++;
		*o++ = *s;
	}
	*o = '\0';
	*p = *e ? e + 1 : NULL;
	return name;
}

/* "" is one empty name, "a:" two names. */
static char **split_names(const char *s, size_t *count)
{
	size_t cap = 2, n = 0;
	char **list;

	for (const char *c = s; *c; c++)
		cap += *c == ':';
	list = calloc(cap, sizeof *list);
	if (list == NULL)
		return NULL;
	while (s) {
		list[n] = next_name(&s);
		if (list[n++] == NULL) {
			fdshare_strv_free(list);
			return NULL;
		}
	}
	*count = n;
	return list;
}

static char **unknown_names(size_t n)
{
	char **list = calloc(n + 1, sizeof *list);

	for (size_t i = 0; list && i < n; i++)
		if ((list[i] = strdup("unknown")) == NULL) {
			fdshare_strv_free(list);
			return NULL;
		}
	return list;
}

int listen_parse(const struct listen_vars *v, pid_t self, const uint64_t *self_id,
                 int (*claim)(int fd), char ***names)
{
	char **list = NULL;
	size_t count = 0;
	int n;

	/* libsystemd splits the names first: a bad one fails even when unset */
	if (names && v->fdnames && (list = split_names(v->fdnames, &count)) == NULL)
		return -1;
	n = listen_count(v, self, self_id, claim);
	if (n <= 0 || names == NULL) {
		fdshare_strv_free(list);
		return n;
	}
	if (list && count != (size_t)n) {
		fdshare_strv_free(list);
		errno = EINVAL;
		return -1;
	}
	if (list == NULL && (list = unknown_names((size_t)n)) == NULL)
		return -1;
	*names = list;
	return n;
}

static int claim_fd(int fd)
{
	return set_cloexec(fd, 1);
}

API int fdshare_listen_fds(int unset_env, char ***names)
{
	struct listen_vars v = {
		.pid = getenv("LISTEN_PID"),
		.pidfdid = getenv("LISTEN_PIDFDID"),
		.fds = getenv("LISTEN_FDS"),
		.fdnames = getenv("LISTEN_FDNAMES"),
	};
	uint64_t id;
	int have_id = v.pidfdid && self_pidfd_id(&id) == 0;
	int n = listen_parse(&v, getpid(), have_id ? &id : NULL, claim_fd, names);

	if (unset_env) {
		int saved = errno;

		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_PIDFDID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		errno = saved;
	}
	return n;
}

API void fdshare_strv_free(char **strv)
{
	int saved = errno;

	for (size_t i = 0; strv && strv[i]; i++)
		free(strv[i]);
	free(strv);
	errno = saved;
}
