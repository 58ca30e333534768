/*
 * Batch requests to the holder against single ones, one connection to a
 * running `fdshare holder` (issue 8, "Beyond the anchors").
 *
 * usage: many WORKLOAD SOCKET N FILE
 *   fetch100-many    100 names stored beforehand (untimed), 1 fd each; a
 *                    cycle is one fdshare_fetch_many of the 100 names,
 *                    without removal, then 100 closes: 100 fds, 2 msgs
 *   fetch100-single  the same with 100 fdshare_fetch: 100 fds, 200 msgs
 *   store100-many    one fdshare_store_many of 100 names (FILE's fd under
 *                    each), then one fdshare_remove_many: 100 fds, 4 msgs
 *   store100-single  100 fdshare_store, then 100 fdshare_remove: 100 fds,
 *                    400 msgs
 * fds counts the fds installed in the receiving process (the client for a
 * fetch, the holder for a store); msgs every request and every reply.
 * One untimed warm-up cycle first; the names are removed at the end.
 * Prints: fdshare-holder WORKLOAD fds_per_sec msgs_per_sec
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

#define K 100

struct plan {
	const char *name;
	int fetch, many;
};

static void fetch_many(struct fdshare_holder *h, const char **names)
{
	size_t counts[K];
	int *fds;

	if (fdshare_fetch_many(h, names, K, 0, &fds, counts) < 0)
		die("fdshare_fetch_many");
	for (size_t i = 0; i < K; i++) {
		if (counts[i] != 1)
			die_proto("fdshare_fetch_many: wrong fd count");
		close(fds[i]);
	}
	free(fds);
}

static void fetch_single(struct fdshare_holder *h, const char **names)
{
	for (size_t i = 0; i < K; i++) {
		size_t n;
		int *fds;

		if (fdshare_fetch(h, names[i], &fds, &n, 0) < 0)
			die("fdshare_fetch");
		if (n != 1)
			die_proto("fdshare_fetch: wrong fd count");
		close(fds[0]);
		free(fds);
	}
}

static void store_single(struct fdshare_holder *h, const char **names, int fd)
{
	for (size_t i = 0; i < K; i++)
		if (fdshare_store(h, names[i], &fd, 1, 0, 0) < 0)
			die("fdshare_store");
	for (size_t i = 0; i < K; i++)
		if (fdshare_remove(h, names[i]) < 0)
			die("fdshare_remove");
}

static void cycle(const struct plan *p, struct fdshare_holder *h,
                  const char **names, int fd)
{
	if (p->fetch && p->many)
		fetch_many(h, names);
	else if (p->fetch)
		fetch_single(h, names);
	else if (p->many) {
		holder_fill(h, names, K, fd, K, 0);
		holder_drain(h, names, K, K);
	} else
		store_single(h, names, fd);
}

int main(int argc, char **argv)
{
	static const struct plan plans[] = {
		{ "fetch100-many", 1, 1 },
		{ "fetch100-single", 1, 0 },
		{ "store100-many", 0, 1 },
		{ "store100-single", 0, 0 },
	};
	const struct plan *p = NULL;
	struct fdshare_holder *h;
	const char **names;
	unsigned long long n;
	double t0, secs, msgs;
	int fd;

	if (argc != 5)
		die_proto("usage: many fetch100-many|fetch100-single|store100-many|"
		          "store100-single SOCKET N FILE");
	for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
		if (strcmp(argv[1], plans[i].name) == 0)
			p = &plans[i];
	if (p == NULL)
		die_proto("unknown workload");
	n = arg_count(argv[3]);
	fd = open_payload(argv[4]);
	h = holder_dial(argv[2]);
	names = names_make("bench-many", K);

	if (p->fetch)
		holder_fill(h, names, K, fd, K, FDSHARE_HOLD_REPLACE);
	cycle(p, h, names, fd);
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++)
		cycle(p, h, names, fd);
	secs = mono_now() - t0;
	if (p->fetch)
		holder_drain(h, names, K, K);

	/* a request and its reply: 2 messages; a store cycle also removes */
	msgs = (p->many ? 2.0 : 2.0 * K) * (p->fetch ? 1 : 2);
	result("fdshare-holder", p->name, (double)K * (double)n, msgs * (double)n, secs, n);
	fdshare_holder_close(h);
	free(names);
	close(fd);
	return 0;
}
