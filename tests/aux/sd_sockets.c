/*
 * sd_sockets REPORT: what libsystemd makes of the sockets it was passed,
 * written to the file REPORT:
 *   n N                                  (sd_listen_fds_with_names' return)
 *   fd N NAME FAMILY TYPE LISTENING      (each fd, by sd_is_socket())
 *   at N ADDRESS                         (inet: sd_is_socket_inet() agrees
 *                                         with getsockname's port; unix:
 *                                         sd_is_socket_unix() with its path,
 *                                         '@' for an abstract name)
 * FAMILY is inet, inet6, unix or ?; TYPE stream, dgram, seqpacket or ?;
 * LISTENING 1 or 0.  Exit status 0, or 1 when the report cannot be written.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

static const struct { int v; const char *name; } families[] = {
	{ AF_INET, "inet" }, { AF_INET6, "inet6" }, { AF_UNIX, "unix" },
}, types[] = {
	{ SOCK_STREAM, "stream" }, { SOCK_DGRAM, "dgram" }, { SOCK_SEQPACKET, "seqpacket" },
};

/* libsystemd's own verdict: the family, type and listening that match. */
static void classify(FILE *f, int fd, const char *name, int *family)
{
	*family = 0;
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++)
			for (int l = 0; l <= 1; l++)
				if (sd_is_socket(fd, families[i].v, types[j].v, l) > 0) {
					fprintf(f, "fd %d %s %s %s %d\n", fd, name, families[i].name,
					        types[j].name, l);
					*family = families[i].v;
					return;
				}
	fprintf(f, "fd %d %s ? ? ?\n", fd, name);
}

static void inet_at(FILE *f, int fd, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	const void *a;

	if (ss->ss_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	} else {
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
	inet_ntop(ss->ss_family, a, host, sizeof host);
	if (sd_is_socket_inet(fd, ss->ss_family, 0, -1, port) > 0)
		fprintf(f, "at %d %s:%u\n", fd, host, port);
}

static void unix_at(FILE *f, int fd, const struct sockaddr_un *un, socklen_t len)
{
	size_t n = len - offsetof(struct sockaddr_un, sun_path);

	if (n == 0)
		return;
	if (un->sun_path[0] == '\0') {
		if (sd_is_socket_unix(fd, 0, -1, un->sun_path, n) > 0)
			fprintf(f, "at %d @%.*s\n", fd, (int)n - 1, un->sun_path + 1);
	} else if (sd_is_socket_unix(fd, 0, -1, un->sun_path, 0) > 0) {
		fprintf(f, "at %d %s\n", fd, un->sun_path);
	}
}

int main(int argc, char **argv)
{
	char **names = NULL;
	int n;
	FILE *f;

	if (argc != 2)
		return 1;
	n = sd_listen_fds_with_names(1, &names);
	f = fopen(argv[1], "we");
	if (f == NULL)
		return 1;
	fprintf(f, "n %d\n", n);
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i, family;
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;

		classify(f, fd, names ? names[i] : "-", &family);
		if (family == 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (family == AF_UNIX)
			unix_at(f, fd, (struct sockaddr_un *)&ss, len);
		else
			inet_at(f, fd, &ss);
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return fclose(f) == 0 ? 0 : 1;
}
