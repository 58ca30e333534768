/*
 * How a descriptor is shown: one text row ("ls", "grab") or one JSON
 * object ("ls --json").  The field names are documented in fdshare(1).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include "cli.h"

#define ROW_FORMAT "%-4s %-8s %-4s %-24s %8s  %s\n"
#define ROW_START "%-4s %-8s %-4s %-24s %8s  "

static size_t utf8_len(const unsigned char *s);

static const char *access_name(int flags)
{
	if (flags & O_PATH)
		return "path";
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return "r";
	case O_WRONLY:
		return "w";
	}
	return "rw";
}

static const struct { int flag; const char *name; } flag_names[] = {
	{ O_CLOEXEC, "cloexec" },
	{ O_NONBLOCK, "nonblock" },
	{ O_APPEND, "append" },
};
#define NFLAGS (sizeof flag_names / sizeof *flag_names)

static void flags_text(int flags, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NFLAGS; i++)
		if (flags & flag_names[i].flag)
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
			                      n ? "," : "", flag_names[i].name);
	if (n == 0)
		snprintf(buf, size, "-");
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_UNIX: return "unix";
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	case AF_NETLINK: return "netlink";
	case AF_PACKET: return "packet";
	case AF_VSOCK: return "vsock";
	}
	return NULL;
}

static const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	case SOCK_RAW: return "raw";
	case SOCK_RDM: return "rdm";
	}
	return NULL;
}

static const char *protocol_name(const struct fdshare_sockinfo *si)
{
	if (si->family != AF_INET && si->family != AF_INET6)
		return NULL;
	switch (si->protocol) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_RAW: return "raw";
	}
	return NULL;
}

/* "tcp", "udp6", "unix stream", "netlink raw", ... */
static void socket_proto(const struct fdshare_sockinfo *si, char *buf, size_t size)
{
	const char *proto = protocol_name(si), *fam = family_name(si->family);
	const char *type = type_name(si->type);

	if (proto)
		snprintf(buf, size, "%s%s", proto, si->family == AF_INET6 ? "6" : "");
	else if (fam)
		snprintf(buf, size, "%s%s%s", fam, type ? " " : "", type ? type : "");
	else
		snprintf(buf, size, "socket");
}

static void socket_target(const struct fdshare_fdinfo *info, char *buf, size_t size)
{
	const struct fdshare_sockinfo *si = &info->sock;
	char proto[32];
	size_t n;

	if (si->family == 0) { /* nothing learnt: what /proc says */
		snprintf(buf, size, "%s", info->path);
		return;
	}
	socket_proto(si, proto, sizeof proto);
	n = (size_t)snprintf(buf, size, "%s", proto);
	if (si->local[0] && n < size)
		n += (size_t)snprintf(buf + n, size - n, " %s", si->local);
	if (si->peer[0] && n < size)
		n += (size_t)snprintf(buf + n, size - n, " -> %s", si->peer);
	if (si->state[0] && n < size)
		n += (size_t)snprintf(buf + n, size - n, " %s", si->state);
	if (si->peer_pid > 0 && n < size)
		snprintf(buf + n, size - n, " peer pid %d", (int)si->peer_pid);
}

void fdrow_target(const struct fdshare_fdinfo *info, char *buf, size_t size)
{
	if (info->kind == FDSHARE_KIND_SOCKET)
		socket_target(info, buf, size);
	else
		snprintf(buf, size, "%s%s", info->path, info->deleted ? " (deleted)" : "");
}

void fdrow_header(FILE *f)
{
	fprintf(f, ROW_FORMAT, "FD", "KIND", "MODE", "FLAGS", "OFFSET", "TARGET");
}

/*
 * TARGET as text: a path is any bytes, and a newline or a terminal escape
 * in a file name must not forge a row or drive the terminal.  Control
 * characters (C0, DEL, C1), the backslash and bytes that are not UTF-8
 * are written as \n, \t, \\ or \xHH.
 */
static void row_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t n = *s >= 0x80 ? utf8_len(s) : 1;

		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || *s == 0x7f || n == 0)
			fprintf(f, "\\x%02x", *s);
		else if (*s == 0xc2 && s[1] < 0xa0) /* U+0080 to U+009F */
			fprintf(f, "\\x%02x\\x%02x", s[0], s[1]);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
}

void fdrow_print(FILE *f, const struct fdshare_fdinfo *info)
{
	char fd[16], flags[64], offset[24], target[FDSHARE_PATH_MAX + 64];

	snprintf(fd, sizeof fd, "%d", info->fd);
	flags_text(info->flags, flags, sizeof flags);
	if (info->offset >= 0)
		snprintf(offset, sizeof offset, "%" PRId64, info->offset);
	else
		snprintf(offset, sizeof offset, "-");
	fdrow_target(info, target, sizeof target);
	fprintf(f, ROW_START, fd, fdshare_kind_name(info->kind),
	        access_name(info->flags), flags, offset);
	row_text(f, target);
	fputc('\n', f);
}

/* Bytes of a valid UTF-8 sequence at s, 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 :
	           s[0] >= 0xe0 && s[0] <= 0xef ? 3 :
	           s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* A JSON string; a byte that is not UTF-8 (a file name may have one) as \u00XX. */
void json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n = *s >= 0x80 ? utf8_len(s) : 1;

		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f || n == 0)
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

/* A string member, or null when s is NULL or empty. */
static void json_member(FILE *f, const char *name, const char *s)
{
	fprintf(f, ",\"%s\":", name);
	if (s && *s)
		json_string(f, s);
	else
		fputs("null", f);
}

static void json_socket(FILE *f, const struct fdshare_sockinfo *si)
{
	fprintf(f, "{\"family\":");
	if (family_name(si->family))
		json_string(f, family_name(si->family));
	else
		fputs("null", f);
	json_member(f, "type", type_name(si->type));
	json_member(f, "protocol", protocol_name(si));
	json_member(f, "local", si->local);
	json_member(f, "peer", si->peer);
	json_member(f, "state", si->state);
	fprintf(f, ",\"listening\":%s", si->listening ? "true" : "false");
	if (si->peer_pid > 0)
		fprintf(f, ",\"peer_pid\":%d,\"peer_uid\":%u}", (int)si->peer_pid,
		        (unsigned int)si->peer_uid);
	else
		fputs(",\"peer_pid\":null,\"peer_uid\":null}", f);
}

void fdjson_print(FILE *f, const struct fdshare_fdinfo *info)
{
	char target[FDSHARE_PATH_MAX + 64];
	int first = 1;

	fprintf(f, "{\"fd\":%d,\"pid\":%d", info->fd, (int)info->pid);
	json_member(f, "kind", fdshare_kind_name(info->kind));
	json_member(f, "access", access_name(info->flags));
	fputs(",\"flags\":[", f);
	for (size_t i = 0; i < NFLAGS; i++)
		if (info->flags & flag_names[i].flag) {
			fprintf(f, "%s\"%s\"", first ? "" : ",", flag_names[i].name);
			first = 0;
		}
	fputc(']', f);
	if (info->offset >= 0)
		fprintf(f, ",\"offset\":%" PRId64, info->offset);
	else
		fputs(",\"offset\":null", f);
	json_member(f, "path", info->path);
	fprintf(f, ",\"deleted\":%s", info->deleted ? "true" : "false");
	fprintf(f, ",\"dev\":\"%u:%u\",\"ino\":%ju", major(info->dev), minor(info->dev),
	        (uintmax_t)info->ino);
	fdrow_target(info, target, sizeof target);
	json_member(f, "target", target);
	fputs(",\"socket\":", f);
	if (info->kind == FDSHARE_KIND_SOCKET)
		json_socket(f, &info->sock);
	else
		fputs("null", f);
	fputc('}', f);
}
