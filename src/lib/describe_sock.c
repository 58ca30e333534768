/*
 * What a socket is: family, type, addresses, state and (Unix) the peer's
 * pid.  The caller's own sockets, and another process's through a
 * pidfd_getfd duplicate, are asked directly; when the duplicate is
 * refused, /proc/PID/net/{tcp,tcp6,udp,udp6,unix} are read instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "describe.h"

#ifndef SO_PROTOCOL
#define SO_PROTOCOL 38
#endif
#ifndef SO_DOMAIN
#define SO_DOMAIN 39
#endif

/* Kernel TCP states, 1 to 12, as /proc/net/tcp and TCP_INFO number them. */
static const char *const tcp_states[] = {
	"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	"NEW_SYN_RECV",
};

static void set_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static void tcp_state(unsigned int st, struct fdshare_sockinfo *si)
{
	if (st < sizeof tcp_states / sizeof *tcp_states)
		set_str(si->state, sizeof si->state, tcp_states[st]);
	si->listening = st == 10;
}

/* A Unix address: its path, "@name" when abstract, "" when unnamed. */
static void unix_addr(const struct sockaddr_un *sun, socklen_t len, char *out,
                      size_t size)
{
	size_t n, off = offsetof(struct sockaddr_un, sun_path);

	out[0] = '\0';
	if (len <= off)
		return;
	n = len - off;
	if (sun->sun_path[0] != '\0') {
		snprintf(out, size, "%.*s", (int)strnlen(sun->sun_path, n), sun->sun_path);
		return;
	}
	/* Abstract: NULs inside the name are shown as '@', as ss(8) does. */
	for (size_t i = 0; i < n && i + 1 < size; i++) {
		char c = sun->sun_path[i];

		out[i] = c == '\0' ? '@' : c;
		out[i + 1] = '\0';
	}
}

static void inet_addr_str(int family, const void *addr, unsigned int port,
                          char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, a, sizeof a) == NULL) {
		out[0] = '\0';
		return;
	}
	if (family == AF_INET6)
		snprintf(out, size, "[%s]:%u", a, port);
	else
		snprintf(out, size, "%s:%u", a, port);
}

static void format_addr(const struct sockaddr_storage *ss, socklen_t len,
                        char *out, size_t size)
{
	out[0] = '\0';
	if (ss->ss_family == AF_UNIX) {
		unix_addr((const struct sockaddr_un *)ss, len, out, size);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_addr_str(AF_INET, &in->sin_addr, ntohs(in->sin_port), out, size);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_addr_str(AF_INET6, &in6->sin6_addr, ntohs(in6->sin6_port), out, size);
	}
}

static int int_opt(int sock, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof v;

	if (getsockopt(sock, level, name, &v, &len) < 0)
		return 0;
	return v;
}

static void own_socket(int sock, struct fdshare_sockinfo *si)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int connected;

	si->family = int_opt(sock, SOL_SOCKET, SO_DOMAIN);
	si->type = int_opt(sock, SOL_SOCKET, SO_TYPE);
	si->protocol = int_opt(sock, SOL_SOCKET, SO_PROTOCOL);
	si->listening = int_opt(sock, SOL_SOCKET, SO_ACCEPTCONN) != 0;
	len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(sock, (struct sockaddr *)&ss, &len) == 0)
		format_addr(&ss, len, si->local, sizeof si->local);
	len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	connected = getpeername(sock, (struct sockaddr *)&ss, &len) == 0;
	if (connected)
		format_addr(&ss, len, si->peer, sizeof si->peer);
	if (si->protocol == IPPROTO_TCP &&
	    (si->family == AF_INET || si->family == AF_INET6)) {
		struct tcp_info ti;

		len = sizeof ti;
		if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
			tcp_state(ti.tcpi_state, si);
	} else if (si->listening) {
		set_str(si->state, sizeof si->state, "LISTEN");
	} else {
		set_str(si->state, sizeof si->state,
		        connected ? "CONNECTED" : "UNCONNECTED");
	}
	/* A listener's SO_PEERCRED names itself, not a peer. */
	if (si->family == AF_UNIX && connected) {
		struct ucred cred;

		len = sizeof cred;
		if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
		    cred.pid > 0) {
			si->peer_pid = cred.pid;
			si->peer_uid = cred.uid;
		}
	}
}

/* "0100007F:1F90" (IPv4) or 32 hex digits then ":port" (IPv6). */
static int parse_inet(const char *s, int family, char *out, size_t size)
{
	unsigned char addr[16];
	size_t words = family == AF_INET6 ? 4 : 1;
	unsigned int port;

	for (size_t i = 0; i < words; i++) {
		char word[9];
		uint32_t w;

		memcpy(word, s + 8 * i, 8);
		word[8] = '\0';
		if (strspn(word, "0123456789abcdefABCDEF") != 8)
			return -1;
		/* The kernel prints each 32-bit word in host byte order. */
		w = (uint32_t)strtoul(word, NULL, 16);
		memcpy(addr + 4 * i, &w, 4);
	}
	if (s[8 * words] != ':' || sscanf(s + 8 * words + 1, "%x", &port) != 1)
		return -1;
	inet_addr_str(family, addr, port, out, size);
	return 0;
}

static int proc_net_inet(pid_t pid, const char *table, int family, int type,
                         int protocol, ino_t ino, struct fdshare_sockinfo *si)
{
	char path[64], line[512], local[128], remote[128];
	unsigned int st;
	unsigned long long node;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/net/%s", (int)pid, table);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		if (sscanf(line, " %*u: %127s %127s %x %*s %*s %*s %*u %*u %llu",
		           local, remote, &st, &node) != 4 || node != (unsigned long long)ino)
			continue;
		found = 1;
		si->family = family;
		si->type = type;
		si->protocol = protocol;
		parse_inet(local, family, si->local, sizeof si->local);
		if (protocol == IPPROTO_TCP) {
			tcp_state(st, si);
			if (!si->listening)
				parse_inet(remote, family, si->peer, sizeof si->peer);
		} else if (st == 1) { /* a connected UDP socket */
			parse_inet(remote, family, si->peer, sizeof si->peer);
			set_str(si->state, sizeof si->state, "CONNECTED");
		} else {
			set_str(si->state, sizeof si->state, "UNCONNECTED");
		}
	}
	fclose(f);
	return found;
}

/*
 * "Num RefCount Protocol Flags Type St Inode Path".  The kernel prints a
 * path as it is, newlines too: anyone may bind a socket whose path forges
 * a further line naming another socket's inode.  So a socket is read only
 * from the one line that names it; a second is a forgery, and then
 * nothing is learnt.
 */
static int proc_net_unix(pid_t pid, ino_t ino, struct fdshare_sockinfo *si)
{
	static const char *const states[] = {
		"", "UNCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING",
	};
	char path[64], line[4096 + 128];
	unsigned int flags, type, st;
	unsigned long long node;
	int found = 0, off = 0;
	struct fdshare_sockinfo got;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/net/unix", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (found < 2 && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%*s %*x %*x %x %x %x %llu %n", &flags, &type, &st,
		           &node, &off) != 4 || node != (unsigned long long)ino)
			continue;
		if (found++)
			break;
		line[strcspn(line, "\n")] = '\0';
		got = *si;
		got.family = AF_UNIX;
		got.type = (int)type;
		set_str(got.local, sizeof got.local, line + off);
		got.listening = (flags & 0x10000) != 0; /* __SO_ACCEPTCON */
		if (got.listening)
			set_str(got.state, sizeof got.state, "LISTEN");
		else if (st < sizeof states / sizeof *states)
			set_str(got.state, sizeof got.state, states[st]);
	}
	fclose(f);
	if (found != 1)
		return 0;
	*si = got;
	return 1;
}

static void proc_net(pid_t pid, ino_t ino, struct fdshare_sockinfo *si)
{
	if (proc_net_inet(pid, "tcp", AF_INET, SOCK_STREAM, IPPROTO_TCP, ino, si) ||
	    proc_net_inet(pid, "tcp6", AF_INET6, SOCK_STREAM, IPPROTO_TCP, ino, si) ||
	    proc_net_inet(pid, "udp", AF_INET, SOCK_DGRAM, IPPROTO_UDP, ino, si) ||
	    proc_net_inet(pid, "udp6", AF_INET6, SOCK_DGRAM, IPPROTO_UDP, ino, si))
		return;
	proc_net_unix(pid, ino, si);
}

void describe_socket(pid_t pid, int fd, int self, ino_t ino,
                     struct fdshare_sockinfo *si)
{
	int saved = errno, dup;
	struct stat st;

	if (self) {
		own_socket(fd, si);
		return;
	}
	dup = fdshare_grab(pid, fd, 0);
	/* The fd may have been closed and reused since /proc was read. */
	if (dup >= 0 && fstat(dup, &st) == 0 && st.st_ino == ino)
		own_socket(dup, si);
	else
		proc_net(pid, ino, si);
	close_keep_errno(dup);
	errno = saved;
}
