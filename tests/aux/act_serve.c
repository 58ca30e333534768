/*
 * act_serve: a socket-activated server built on fdshare_listen_fds.  It
 * accepts one connection on fd 3 (waiting at most 20 s) and answers with
 * one line:
 *   n=N names=A,B unset=0|1 cloexec=0|1
 * (unset: every LISTEN_* variable gone after the call; cloexec: fd 3 has
 * FD_CLOEXEC).  Exit 0 after answering, 2 when nothing was passed, 3 on
 * any other failure.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdshare.h"

static int all_unset(void)
{
	return !getenv("LISTEN_PID") && !getenv("LISTEN_PIDFDID") &&
	       !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

int main(void)
{
	char **names = NULL, line[1024];
	struct pollfd p = { .fd = 3, .events = POLLIN };
	size_t len;
	int n, conn, cloexec;

	n = fdshare_listen_fds(1, &names);
	if (n <= 0)
		return 2;
	len = (size_t)snprintf(line, sizeof line, "n=%d names=", n);
	for (int i = 0; names[i] && len < sizeof line; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
		                        i ? "," : "", names[i]);
	fdshare_strv_free(names);
	cloexec = (fcntl(3, F_GETFD) & FD_CLOEXEC) != 0;
	if (len < sizeof line)
		len += (size_t)snprintf(line + len, sizeof line - len,
		                        " unset=%d cloexec=%d\n", all_unset(), cloexec);
	if (len >= sizeof line || poll(&p, 1, 20000) != 1)
		return 3;
	conn = accept(3, NULL, NULL);
	if (conn < 0 || write(conn, line, len) != (ssize_t)len)
		return 3;
	close(conn);
	return 0;
}
