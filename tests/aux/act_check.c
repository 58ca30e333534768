/*
 * act_check REPORT: writes to the file REPORT what a started program sees,
 * one fact a line, without using libfdshare:
 *   pid P
 *   pidfdid ID | pidfdid -          (st_ino of a pidfd of itself, on pidfs)
 *   mask SIG,SIG | mask -           (blocked signals)
 *   ign SIG,SIG | ign -             (ignored signals)
 *   env NAME=VALUE                  (each LISTEN_* or FDSHARE_TEST_* entry)
 *   fd N DEV INO ACCMODE CLOEXEC    (each open descriptor)
 * Exit status 0, or 1 when the report cannot be written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PIDFS_MAGIC 0x50494446

extern char **environ;

static void put_pidfdid(FILE *f)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	struct statfs sfs;
	struct stat st;

	if (pidfd >= 0 && fstatfs(pidfd, &sfs) == 0 && sfs.f_type == PIDFS_MAGIC &&
	    fstat(pidfd, &st) == 0)
		fprintf(f, "pidfdid %llu\n", (unsigned long long)st.st_ino);
	else
		fprintf(f, "pidfdid -\n");
	if (pidfd >= 0)
		close(pidfd);
}

static void put_signals(FILE *f)
{
	sigset_t mask;
	const char *sep = "";

	sigprocmask(SIG_SETMASK, NULL, &mask);
	fprintf(f, "mask ");
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&mask, s) == 1) {
			fprintf(f, "%s%d", sep, s);
			sep = ",";
		}
	fprintf(f, "%s\nign ", *sep ? "" : "-");
	sep = "";
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			fprintf(f, "%s%d", sep, s);
			sep = ",";
		}
	}
	fprintf(f, "%s\n", *sep ? "" : "-");
}

int main(int argc, char **argv)
{
	int fds[1024], n = 0;
	DIR *d;
	struct dirent *e;
	FILE *f;

	if (argc != 2)
		return 1;
	/* The descriptors first, before fopen adds one. */
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL && n < 1024)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			fds[n++] = atoi(e->d_name);
	closedir(d);
	f = fopen(argv[1], "we");
	if (f == NULL)
		return 1;
	fprintf(f, "pid %d\n", (int)getpid());
	put_pidfdid(f);
	put_signals(f);
	for (char **v = environ; *v; v++)
		if (strncmp(*v, "LISTEN_", 7) == 0 || strncmp(*v, "FDSHARE_TEST_", 13) == 0)
			fprintf(f, "env %s\n", *v);
	for (int i = 0; i < n; i++) {
		struct stat st;
		int fl = fcntl(fds[i], F_GETFL), fdfl = fcntl(fds[i], F_GETFD);

		if (fstat(fds[i], &st) == 0 && fl >= 0 && fdfl >= 0)
			fprintf(f, "fd %d %llu %llu %d %d\n", fds[i],
			        (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			        fl & O_ACCMODE, !!(fdfl & FD_CLOEXEC));
	}
	return fclose(f) == 0 ? 0 : 1;
}
