/*
 * sd_fdstore DIR NAME COUNT [wait|exit|remove]: a service written against
 * libsystemd's fd store, for "fdshare run" (and any other receiver of
 * sd_notify on $NOTIFY_SOCKET).
 *
 * It reads what it was passed with sd_listen_fds_with_names(); when no fd
 * is named NAME, it makes COUNT memfds holding "NAME.I by PID" and stores
 * them with sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=NAME", ...).
 * Then READY=1, and DIR/report.PID (made whole by rename):
 *   n N                    (sd_listen_fds_with_names' return)
 *   name I NAME            (each passed fd's name)
 *   got NAME TEXT          (the text of each passed memfd named NAME)
 *   stored COUNT           (when it stored its own)
 * wait (the default): then wait for SIGTERM, exit 0.  exit: exit 0 at
 * once.  remove: send FDSTOREREMOVE=1 with FDNAME=NAME first, then wait.
 * Exit 1 on any failure.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define MAX_COUNT 16

static int store(FILE *f, const char *name, int count)
{
	int fds[MAX_COUNT], r;
	char state[300];

	for (int i = 0; i < count; i++) {
		char text[300];
		int len = snprintf(text, sizeof text, "%s.%d by %d", name, i, (int)getpid());

		fds[i] = memfd_create("sd_fdstore", MFD_CLOEXEC);
		if (fds[i] < 0 || write(fds[i], text, (size_t)len) != len)
			return -1;
	}
	snprintf(state, sizeof state, "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, state, fds, (unsigned)count);
	for (int i = 0; i < count; i++)
		close(fds[i]);
	if (r <= 0)
		return -1;
	fprintf(f, "stored %d\n", count);
	return 0;
}

static void report_got(FILE *f, int fd, const char *name)
{
	char text[300];
	ssize_t n = pread(fd, text, sizeof text - 1, 0);

	text[n > 0 ? n : 0] = '\0';
	fprintf(f, "got %s %s\n", name, text);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 4 ? argv[4] : "wait";
	char tmp[4096], path[4096], **names = NULL, state[300];
	int n, count, have = 0;
	sigset_t term;
	FILE *f;

	if (argc < 4 || argc > 5 || (count = atoi(argv[3])) < 1 || count > MAX_COUNT)
		return 1;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	snprintf(tmp, sizeof tmp, "%s/.report.%d", argv[1], (int)getpid());
	snprintf(path, sizeof path, "%s/report.%d", argv[1], (int)getpid());
	f = fopen(tmp, "we");
	if (f == NULL)
		return 1;
	n = sd_listen_fds_with_names(1, &names);
	fprintf(f, "n %d\n", n);
	for (int i = 0; i < n; i++) {
		fprintf(f, "name %d %s\n", i, names[i]);
		if (strcmp(names[i], argv[2]) == 0) {
			report_got(f, SD_LISTEN_FDS_START + i, names[i]);
			have = 1;
		}
	}
	if (!have && store(f, argv[2], count) < 0)
		return 1;
	snprintf(state, sizeof state, "FDSTOREREMOVE=1\nFDNAME=%s", argv[2]);
	if (strcmp(mode, "remove") == 0 && sd_notify(0, state) <= 0)
		return 1;
	if (sd_notify(0, "READY=1") <= 0 || fclose(f) != 0 || rename(tmp, path) < 0)
		return 1;
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	if (strcmp(mode, "exit") != 0) {
		int sig;

		sigwait(&term, &sig);
	}
	return 0;
}
