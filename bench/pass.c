/*
 * fdshare_send / fdshare_recv between a parent and a forked child: the
 * anchors' raw-c workloads, through the library.
 *
 * usage: pass WORKLOAD N FILE
 *   stream1     N messages of 1 byte + 1 fd, back to back, then 'D'
 *   seqpacket1  stream1 over SOCK_SEQPACKET
 *   batch253    stream1 with 253 fds (the same fd number) per message
 *   pingpong1   N round trips: 1 byte + 1 fd, then a 1-byte reply (write)
 * The child closes every fd it receives, one close() each.  Receiving uses
 * the library's default flags (O_CLOEXEC on every fd).
 * Prints: fdshare WORKLOAD fds_per_sec msgs_per_sec
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

struct plan {
	const char *name;
	int type;
	size_t per_msg;
	int pingpong;
	unsigned long long n;
};

static void receive(int sock, const void *arg)
{
	const struct plan *p = arg;
	int fds[FDSHARE_MAX_FDS];
	char c;

	byte_put(sock, 'R');
	for (unsigned long long i = 0; i < p->n; i++) {
		size_t got = p->per_msg;

		if (fdshare_recv(sock, &c, 1, fds, &got, 0) != 1)
			die("fdshare_recv");
		if (got != p->per_msg)
			die_proto("fdshare_recv: wrong fd count");
		for (size_t k = 0; k < got; k++)
			close(fds[k]);
		if (p->pingpong)
			byte_put(sock, 'A');
	}
	if (!p->pingpong)
		byte_put(sock, 'D');
}

static double send_all(int sock, const struct plan *p, const int *fds)
{
	double t0 = mono_now();

	for (unsigned long long i = 0; i < p->n; i++) {
		if (fdshare_send(sock, "F", 1, fds, p->per_msg, 0) != 1)
			die("fdshare_send");
		if (p->pingpong && byte_get(sock) != 'A')
			die_proto("bad reply");
	}
	if (!p->pingpong && byte_get(sock) != 'D')
		die_proto("bad done byte");
	return mono_now() - t0;
}

int main(int argc, char **argv)
{
	static const struct plan plans[] = {
		{ "stream1", SOCK_STREAM, 1, 0, 0 },
		{ "seqpacket1", SOCK_SEQPACKET, 1, 0, 0 },
		{ "batch253", SOCK_STREAM, FDSHARE_MAX_FDS, 0, 0 },
		{ "pingpong1", SOCK_STREAM, 1, 1, 0 },
	};
	struct plan p = { 0 };
	int fds[FDSHARE_MAX_FDS], payload, sock;
	pid_t pid;
	double secs;

	if (argc != 4)
		die_proto("usage: pass stream1|seqpacket1|batch253|pingpong1 N FILE");
	for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
		if (strcmp(argv[1], plans[i].name) == 0)
			p = plans[i];
	if (p.name == NULL)
		die_proto("unknown workload");
	p.n = arg_count(argv[2]);
	payload = open_payload(argv[3]);
	for (size_t k = 0; k < p.per_msg; k++)
		fds[k] = payload;

	sock = fork_child(p.type, receive, &p, &pid);
	secs = send_all(sock, &p, fds);
	reap(pid);
	result("fdshare", p.name, (double)p.n * (double)p.per_msg,
	       (double)p.n * (p.pingpong ? 2.0 : 1.0), secs, p.n);
	return 0;
}
