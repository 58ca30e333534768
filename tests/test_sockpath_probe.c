/*
 * The socket path helper (src/lib/sockpath.h) asks whether a socket file
 * is live by connecting to it.  A listener that does not accept (stopped,
 * hung, busy) with its backlog full must still be found live at once:
 * EADDRINUSE, not a connect that waits for it forever.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "t.h"
#include "../src/lib/sockpath.h"

#define MAX_PENDING 64

static char dir[64];
static char path[128];

static int connect_nb(const struct sockaddr_un *sun)
{
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	CHECK(c >= 0);
	if (connect(c, (const struct sockaddr *)sun, sizeof *sun) == 0)
		return c;
	CHECK_EQ(errno, EAGAIN);
	close(c);
	return -1;
}

TEST(live_listener_with_full_backlog_is_in_use)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int l, pending[MAX_PENDING], n = 0;
	pid_t pid;

	snprintf(dir, sizeof dir, "/tmp/fdshare-spprobe.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/s", dir);
	strcpy(sun.sun_path, path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	CHECK_EQ(bind(l, (struct sockaddr *)&sun, sizeof sun), 0);
	CHECK_EQ(listen(l, 0), 0);
	/* Nobody accepts: fill the backlog until a connect would wait. */
	while (n < MAX_PENDING && (pending[n] = connect_nb(&sun)) >= 0)
		n++;
	CHECK(n < MAX_PENDING);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sockpath sp;

		alarm(10); /* a bound: before the fix the check never returns */
		CHECK_ERR(sockpath_check(&sp, path, 0), EADDRINUSE);
		CHECK_EQ(sp.failed, SP_PATH);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	for (int i = 0; i < n; i++)
		close(pending[i]);
	close(l);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(dir), 0);
}
