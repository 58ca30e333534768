/*
 * fdshare_msg_send / fdshare_msg_recv between a parent and a forked child:
 * framed messages, timed and counted as the anchors' one-way workloads.
 *
 * usage: msg WORKLOAD N FILE
 *   msg-stream1         N frames of 16 payload bytes + 1 fd, then 'D'
 *   msg-seqpacket1      the same over SOCK_SEQPACKET
 *   msg10000-stream     N frames of 10,000 fds (the same fd number) and no
 *                       payload: the library splits each into 40 chunks
 *   msg10000-seqpacket  the same over SOCK_SEQPACKET
 *   msg-reader-stream1  msg-stream1 received by fdshare_reader_recv
 *   msg-reader-seqpacket1  the same over SOCK_SEQPACKET
 *   msg-batch-seqpacket1   msg-seqpacket1 sent by fdshare_msg_sendv and
 *                       received by fdshare_reader_recvv, 64 per call
 * The child checks each frame and releases it with fdshare_msg_free, the
 * batched row each batch with fdshare_msg_freev: both close a run of
 * consecutive fds with one close_range(2), a lone fd with close().
 * Prints: fdshare WORKLOAD fds_per_sec msgs_per_sec
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fdshare.h"
#include "bench.h"

#define MSG_TYPE 7
#define PAYLOAD "fdshare-bench-16"      /* 16 bytes */

#define BATCH 64

enum api { STATELESS, READER, BATCHED };

struct plan {
	const char *name;
	int type;
	size_t len, nfds;
	enum api api;
	unsigned long long n;
};

static void check(const struct plan *p, const struct fdshare_msg *m)
{
	if (m->type != MSG_TYPE || m->len != p->len || m->nfds != p->nfds)
		die_proto("unexpected frame");
}

static void receive(int sock, const void *arg)
{
	const struct plan *p = arg;
	struct fdshare_reader *r = NULL;
	struct fdshare_msg m[BATCH];

	if (p->api != STATELESS && (r = fdshare_reader_new(sock)) == NULL)
		die("fdshare_reader_new");
	byte_put(sock, 'R');
	for (unsigned long long i = 0; i < p->n;) {
		int k;

		if (p->api == STATELESS)
			k = fdshare_msg_recv(sock, m);
		else if (p->api == READER)
			k = fdshare_reader_recv(r, m);
		else
			k = fdshare_reader_recvv(r, m, p->n - i < BATCH ? p->n - i : BATCH);
		if (k <= 0)
			die("fdshare_msg_recv");
		for (int j = 0; j < k; j++)
			check(p, &m[j]);
		if (p->api == BATCHED)
			fdshare_msg_freev(m, (size_t)k);
		else
			for (int j = 0; j < k; j++)
				fdshare_msg_free(&m[j]);
		i += (unsigned long long)k;
	}
	fdshare_reader_free(r);
	byte_put(sock, 'D');
}

static void send_batched(int sock, const struct plan *p, const int *fds)
{
	struct fdshare_msg m[BATCH];

	for (size_t j = 0; j < BATCH; j++)
		m[j] = (struct fdshare_msg){ .type = MSG_TYPE, .data = PAYLOAD,
		                             .len = p->len, .fds = (int *)fds,
		                             .nfds = p->nfds };
	for (unsigned long long i = 0; i < p->n;) {
		size_t k = p->n - i < BATCH ? p->n - i : BATCH;

		if (fdshare_msg_sendv(sock, m, k, NULL) < 0)
			die("fdshare_msg_sendv");
		i += k;
	}
}

static double send_all(int sock, const struct plan *p, const int *fds)
{
	double t0 = mono_now();

	if (p->api == BATCHED)
		send_batched(sock, p, fds);
	else
		for (unsigned long long i = 0; i < p->n; i++)
			if (fdshare_msg_send(sock, MSG_TYPE, PAYLOAD, p->len, fds, p->nfds) < 0)
				die("fdshare_msg_send");
	if (byte_get(sock) != 'D')
		die_proto("bad done byte");
	return mono_now() - t0;
}

int main(int argc, char **argv)
{
	static const struct plan plans[] = {
		{ "msg-stream1", SOCK_STREAM, sizeof PAYLOAD - 1, 1, STATELESS, 0 },
		{ "msg-seqpacket1", SOCK_SEQPACKET, sizeof PAYLOAD - 1, 1, STATELESS, 0 },
		{ "msg10000-stream", SOCK_STREAM, 0, 10000, STATELESS, 0 },
		{ "msg10000-seqpacket", SOCK_SEQPACKET, 0, 10000, STATELESS, 0 },
		{ "msg-reader-stream1", SOCK_STREAM, sizeof PAYLOAD - 1, 1, READER, 0 },
		{ "msg-reader-seqpacket1", SOCK_SEQPACKET, sizeof PAYLOAD - 1, 1, READER, 0 },
		{ "msg-batch-seqpacket1", SOCK_SEQPACKET, sizeof PAYLOAD - 1, 1, BATCHED, 0 },
	};
	struct plan p = { 0 };
	int *fds, payload, sock;
	pid_t pid;
	double secs;

	if (argc != 4)
		die_proto("usage: msg WORKLOAD N FILE (see bench/msg.c)");
	for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
		if (strcmp(argv[1], plans[i].name) == 0)
			p = plans[i];
	if (p.name == NULL)
		die_proto("unknown workload");
	p.n = arg_count(argv[2]);
	payload = open_payload(argv[3]);
	fds = malloc(p.nfds * sizeof *fds);
	if (fds == NULL)
		die("malloc");
	for (size_t k = 0; k < p.nfds; k++)
		fds[k] = payload;

	sock = fork_child(p.type, receive, &p, &pid);
	secs = send_all(sock, &p, fds);
	reap(pid);
	result("fdshare", p.name, (double)p.n * (double)p.nfds, (double)p.n, secs, p.n);
	free(fds);
	return 0;
}
