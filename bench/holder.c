/*
 * The holder through the library: store + fetch-with-remove cycles
 * against a running `fdshare holder`, as the anchors' s6-lib workloads.
 *
 * usage: holder WORKLOAD SOCKET N FILE
 *   store+fetch            one connection for all N cycles
 *   store+fetch-reconnect  a new connection for each operation (connect,
 *                          store, close, connect, fetch, close)
 * One cycle = fdshare_store(FILE's fd, "fdshare-bench", no TTL) +
 * fdshare_fetch(..., FDSHARE_FETCH_REMOVE) + close of the fd it returns.
 * One untimed warm-up cycle first.
 * Prints: fdshare-holder WORKLOAD fds_per_sec msgs_per_sec, counting 2 fds
 * (one in, one out) and 4 messages (2 requests, 2 replies) per cycle.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

#define NAME "fdshare-bench"

static void cycle(struct fdshare_holder **h, const char *path, int fd, int reconnect)
{
	int *got;
	size_t n;

	if (reconnect)
		*h = holder_dial(path);
	if (fdshare_store(*h, NAME, &fd, 1, 0, 0) < 0)
		die("fdshare_store");
	if (reconnect) {
		fdshare_holder_close(*h);
		*h = holder_dial(path);
	}
	if (fdshare_fetch(*h, NAME, &got, &n, FDSHARE_FETCH_REMOVE) < 0)
		die("fdshare_fetch");
	if (n != 1)
		die_proto("fdshare_fetch: wrong fd count");
	close(got[0]);
	free(got);
	if (reconnect) {
		fdshare_holder_close(*h);
		*h = NULL;
	}
}

int main(int argc, char **argv)
{
	struct fdshare_holder *h = NULL;
	const char *path;
	unsigned long long n;
	int reconnect, fd;
	double t0, secs;

	if (argc != 5)
		die_proto("usage: holder store+fetch|store+fetch-reconnect SOCKET N FILE");
	if (strcmp(argv[1], "store+fetch") == 0)
		reconnect = 0;
	else if (strcmp(argv[1], "store+fetch-reconnect") == 0)
		reconnect = 1;
	else
		die_proto("unknown workload");
	path = argv[2];
	n = arg_count(argv[3]);
	fd = open_payload(argv[4]);

	if (!reconnect)
		h = holder_dial(path);
	cycle(&h, path, fd, reconnect);
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++)
		cycle(&h, path, fd, reconnect);
	secs = mono_now() - t0;
	fdshare_holder_close(h);
	result("fdshare-holder", argv[1], 2.0 * (double)n, 4.0 * (double)n, secs, n);
	return 0;
}
