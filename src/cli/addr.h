/*
 * The ADDR[=NAME] operands of "fdshare listen" and "fdshare run": a pure
 * parser (a fuzzer's entry point), then the socket it describes.
 *
 *   tcp:HOST:PORT      tcp6:[HOST]:PORT    (numeric HOST; PORT 0: any free)
 *   udp:HOST:PORT      udp6:[HOST]:PORT
 *   unix:PATH          unix-dgram:PATH     seqpacket:PATH
 *                      (PATH "@NAME": the abstract name NAME)
 *   fd:N               (descriptor N, already open here)
 *
 * NAME is what follows the last '='; without one, the ADDR text with each
 * ':' replaced by '-' ("tcp:127.0.0.1:80" -> "tcp-127.0.0.1-80").
 */
#ifndef FDSHARE_ADDR_H
#define FDSHARE_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

enum addr_kind {
	ADDR_TCP, ADDR_TCP6, ADDR_UDP, ADDR_UDP6,
	ADDR_UNIX, ADDR_UNIX_DGRAM, ADDR_SEQPACKET, ADDR_FD,
};

#define ADDR_NAME_MAX 255

struct addr {
	int kind;               /* enum addr_kind */
	int family;             /* socket(2)'s domain and type; 0 for fd:N */
	int type;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} sa;
	socklen_t salen;
	int fd;                 /* fd:N */
	char name[ADDR_NAME_MAX + 1];
};

/*
 * Parse arg, with no side effect.  0, or -1 with *why saying what is
 * wrong (a static string, for "bad ADDR 'arg': WHY").
 */
int addr_parse(const char *arg, struct addr *a, const char **why);

/* Unix sockets on a path (not abstract): the path, else NULL. */
const char *addr_path(const struct addr *a);

/*
 * The socket of a: bound, listening with backlog when it is a stream or
 * seqpacket socket, O_CLOEXEC, blocking; a Unix path made through the
 * shared socket-path helper (src/lib/sockpath.h): with mode, never looser,
 * replacing only a stale socket file nobody listens on.  fd:N returns N after checking it is open.  -1 and errno on
 * failure, with *hint saying what to do.
 */
int addr_open(const struct addr *a, int backlog, mode_t mode, const char **hint);

/*
 * Whether fd (fetched from the holder under a's name) is a's socket: the
 * same family, type and bound address (any port when a's is 0).  1 yes,
 * 0 no with what it is in buf, -1 and errno when fd cannot be examined.
 */
int addr_matches(const struct addr *a, int fd, char *buf, size_t size);

#endif
