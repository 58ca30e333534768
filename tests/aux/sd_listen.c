/*
 * sd_listen REPORT: libsystemd's own reading of the LISTEN_* variables,
 * written to the file REPORT:
 *   n N                            (sd_listen_fds_with_names' return)
 *   name I NAME                    (each name)
 *   fd N DEV INO ACCMODE           (each fd it counted)
 *   listen_pid_ok 0|1              (LISTEN_PID named this process)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

int main(int argc, char **argv)
{
	const char *lp = getenv("LISTEN_PID");
	int pid_ok = lp && atoi(lp) == (int)getpid();
	char **names = NULL;
	int n;
	FILE *f;

	if (argc != 2)
		return 1;
	n = sd_listen_fds_with_names(0, &names);
	f = fopen(argv[1], "we");
	if (f == NULL)
		return 1;
	fprintf(f, "n %d\nlisten_pid_ok %d\n", n, pid_ok);
	for (int i = 0; n > 0 && names && names[i]; i++)
		fprintf(f, "name %d %s\n", i, names[i]);
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		struct stat st;
		int fl = fcntl(fd, F_GETFL);

		if (fstat(fd, &st) == 0 && fl >= 0)
			fprintf(f, "fd %d %llu %llu %d\n", fd, (unsigned long long)st.st_dev,
			        (unsigned long long)st.st_ino, fl & O_ACCMODE);
	}
	for (int i = 0; n > 0 && names && names[i]; i++)
		free(names[i]);
	free(names);
	return fclose(f) == 0 ? 0 : 1;
}
