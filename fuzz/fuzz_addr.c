/*
 * libFuzzer harness: the ADDR[=NAME] parser of "fdshare listen" and
 * "fdshare run", addr_parse in src/cli/addr.c, on any string.
 *
 * Input: the operand, up to its first NUL byte, in a buffer of exactly
 * its size.
 *
 * Checked: 0 or -1, the descriptor count unchanged (it is pure); on -1 a
 * reason; on 0 a kind with its family and type, a NAME that satisfies
 * the FDNAME rule and is the text after the last '=' or else the address
 * with ':' made '-', a sockaddr of the right length (a path NUL-ended,
 * an abstract name not), addr_path exactly for a path; and the address
 * written back as text parses to the same struct addr.  Memory errors
 * are the sanitizers'.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/addr.h"
#include "../src/cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct { int kind, family, type; const char *prefix; } kinds[] = {
	{ ADDR_TCP, AF_INET, SOCK_STREAM, "tcp:" },
	{ ADDR_TCP6, AF_INET6, SOCK_STREAM, "tcp6:" },
	{ ADDR_UDP, AF_INET, SOCK_DGRAM, "udp:" },
	{ ADDR_UDP6, AF_INET6, SOCK_DGRAM, "udp6:" },
	{ ADDR_UNIX, AF_UNIX, SOCK_STREAM, "unix:" },
	{ ADDR_UNIX_DGRAM, AF_UNIX, SOCK_DGRAM, "unix-dgram:" },
	{ ADDR_SEQPACKET, AF_UNIX, SOCK_SEQPACKET, "seqpacket:" },
	{ ADDR_FD, 0, 0, "fd:" },
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void check_name(const struct addr *a, const char *arg)
{
	const char *eq = strrchr(arg, '=');
	size_t len = strlen(a->name), tlen = eq ? (size_t)(eq - arg) : strlen(arg);

	if (len == 0 || len > ADDR_NAME_MAX || !fdshare_fdname_valid(a->name))
		abort();
	if (eq) {
		if (strcmp(a->name, eq + 1) != 0)
			abort();
		return;
	}
	if (len != tlen)
		abort();
	for (size_t i = 0; i < len; i++)
		if (a->name[i] != (arg[i] == ':' ? '-' : arg[i]))
			abort();
}

static void check_sockaddr(const struct addr *a)
{
	const size_t base = offsetof(struct sockaddr_un, sun_path);

	switch (a->family) {
	case AF_INET:
		if (a->salen != sizeof a->sa.in || a->sa.in.sin_family != AF_INET)
			abort();
		break;
	case AF_INET6:
		if (a->salen != sizeof a->sa.in6 || a->sa.in6.sin6_family != AF_INET6)
			abort();
		break;
	case AF_UNIX:
		if (a->sa.un.sun_family != AF_UNIX || a->salen <= base ||
		    a->salen > sizeof a->sa.un)
			abort();
		if (a->sa.un.sun_path[0] != '\0') {
			if (a->salen != base + strlen(a->sa.un.sun_path) + 1 ||
			    addr_path(a) != a->sa.un.sun_path)
				abort();
		} else if (addr_path(a) != NULL || a->salen < base + 2) {
			abort();
		}
		break;
	default:
		if (a->fd < 0 || a->salen != 0 || addr_path(a) != NULL)
			abort();
	}
}

/* The address as an operand again, with its NAME given. */
static void write_addr(const struct addr *a, char *buf, size_t size)
{
	const char *prefix = kinds[a->kind].prefix;
	char host[INET6_ADDRSTRLEN];
	const size_t base = offsetof(struct sockaddr_un, sun_path);
	int n = 0;

	switch (a->family) {
	case AF_INET:
		inet_ntop(AF_INET, &a->sa.in.sin_addr, host, sizeof host);
		n = snprintf(buf, size, "%s%s:%u=%s", prefix, host,
		             ntohs(a->sa.in.sin_port), a->name);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &a->sa.in6.sin6_addr, host, sizeof host);
		n = snprintf(buf, size, "%s[%s]:%u=%s", prefix, host,
		             ntohs(a->sa.in6.sin6_port), a->name);
		break;
	case AF_UNIX:
		if (a->sa.un.sun_path[0])
			n = snprintf(buf, size, "%s%s=%s", prefix, a->sa.un.sun_path, a->name);
		else
			n = snprintf(buf, size, "%s@%.*s=%s", prefix, (int)(a->salen - base - 1),
			             a->sa.un.sun_path + 1, a->name);
		break;
	default:
		n = snprintf(buf, size, "%s%d=%s", prefix, a->fd, a->name);
	}
	if (n < 0 || (size_t)n >= size)
		abort();
}

static void check_round_trip(const struct addr *a)
{
	char text[1024];
	struct addr b;
	const char *why = NULL;

	write_addr(a, text, sizeof text);
	if (addr_parse(text, &b, &why) != 0)
		abort();
	if (b.kind != a->kind || b.family != a->family || b.type != a->type ||
	    b.salen != a->salen || b.fd != a->fd || strcmp(b.name, a->name) != 0 ||
	    memcmp(&b.sa, &a->sa, a->salen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = strnlen((const char *)data, size);
	char *arg = malloc(len + 1);
	const char *why = NULL;
	struct addr a;
	int before = count_fds(), r;

	if (arg == NULL)
		abort();
	memcpy(arg, data, len);
	arg[len] = '\0';
	r = addr_parse(arg, &a, &why);
	if (count_fds() != before)
		abort();
	if (r == -1) {
		if (why == NULL || *why == '\0')
			abort();
	} else if (r == 0) {
		if (a.kind < ADDR_TCP || a.kind > ADDR_FD ||
		    kinds[a.kind].kind != a.kind || kinds[a.kind].family != a.family ||
		    kinds[a.kind].type != a.type ||
		    strncmp(arg, kinds[a.kind].prefix, strlen(kinds[a.kind].prefix)) != 0)
			abort();
		check_name(&a, arg);
		check_sockaddr(&a);
		check_round_trip(&a);
	} else {
		abort();
	}
	free(arg);
	return 0;
}
