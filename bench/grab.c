/*
 * fdshare_grab and fdshare_grab_pidfd: a copy of another process's fd
 * without its cooperation, as the anchors' grab workloads.
 *
 * usage: grab WORKLOAD N FILE
 *   grab        N x (fdshare_grab(pid, 100, 0) + close): a pidfd each time
 *   grab-pidfd  N x (fdshare_grab_pidfd(pidfd, 100, 0) + close), the pidfd
 *               opened once before the clock starts
 * The target is a forked child holding FILE at fd 100 until the parent
 * hangs up.  Prints: fdshare WORKLOAD ops_per_sec 0
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdshare.h"
#include "bench.h"

static void hold(int sock, const void *arg)
{
	int fd = open(arg, O_RDONLY);
	char c;

	if (fd < 0 || dup2(fd, BENCH_TARGET_FD) < 0)
		die("target: open");
	close(fd);
	byte_put(sock, 'R');
	while (read(sock, &c, 1) > 0)
		;
}

int main(int argc, char **argv)
{
	unsigned long long n;
	int by_pidfd, pidfd, sock;
	pid_t pid;
	double t0, secs;

	if (argc != 4)
		die_proto("usage: grab grab|grab-pidfd N FILE");
	if (strcmp(argv[1], "grab") == 0)
		by_pidfd = 0;
	else if (strcmp(argv[1], "grab-pidfd") == 0)
		by_pidfd = 1;
	else
		die_proto("unknown workload");
	n = arg_count(argv[2]);

	sock = fork_child(SOCK_STREAM | SOCK_CLOEXEC, hold, argv[3], &pid);
	pidfd = fdshare_pidfd_open(pid);
	if (pidfd < 0)
		die("fdshare_pidfd_open");
	t0 = mono_now();
	for (unsigned long long i = 0; i < n; i++) {
		int fd = by_pidfd ? fdshare_grab_pidfd(pidfd, BENCH_TARGET_FD, 0)
		                  : fdshare_grab(pid, BENCH_TARGET_FD, 0);

		if (fd < 0)
			die("fdshare_grab");
		close(fd);
	}
	secs = mono_now() - t0;
	close(pidfd);
	close(sock);
	reap(pid);
	result("fdshare", argv[1], (double)n, 0.0, secs, n);
	return 0;
}
