/*
 * A process per operation: each cycle runs command A, then command B, each
 * to completion (posix_spawn + waitpid; both must exit 0), with FILE
 * (opened once) as their stdin.  One untimed warm-up cycle first.
 *
 * usage: cycle NAME WORKLOAD N FDS_PER_CYCLE MSGS_PER_CYCLE FILE -- A... -- B...
 *   A and B are absolute paths (no PATH search).
 * Prints: NAME WORKLOAD N*FDS_PER_CYCLE/s N*MSGS_PER_CYCLE/s
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"

extern char **environ;

static void run(char *const argv[], const posix_spawn_file_actions_t *fa)
{
	pid_t pid;
	int st, e = posix_spawn(&pid, argv[0], fa, NULL, argv, environ);
	pid_t r;

	if (e) {
		errno = e;
		die(argv[0]);
	}
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench: %s: exit status %d\n", argv[0],
		        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		exit(111);
	}
}

/* Cut argv at the next "--"; returns what follows it, NULL without one. */
static char **split(char **argv)
{
	for (; *argv; argv++)
		if (strcmp(*argv, "--") == 0) {
			*argv = NULL;
			return argv + 1;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	unsigned long long n;
	char **a, **b;
	double fpc, mpc, t0, secs;
	int fd;

	if (argc < 10 || strcmp(argv[7], "--") != 0)
		die_proto("usage: cycle NAME WORKLOAD N FDS MSGS FILE -- A... -- B...");
	n = arg_count(argv[3]);
	fpc = atof(argv[4]);
	mpc = atof(argv[5]);
	a = argv + 8;
	b = split(a);
	if (b == NULL || *a == NULL || *b == NULL)
		die_proto("cycle: need two commands separated by --");
	fd = open_payload(argv[6]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);

	run(a, &fa);
	run(b, &fa);
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++) {
		run(a, &fa);
		run(b, &fa);
	}
	secs = mono_now() - t0;
	result(argv[1], argv[2], fpc * (double)n, mpc * (double)n, secs, n);
	return 0;
}
