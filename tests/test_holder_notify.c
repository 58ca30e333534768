/*
 * fdshare holder --notify-socket: systemd's fd store protocol, spoken here
 * byte by byte (tests/test_holder_notify.sh has libsystemd's own
 * sd_pid_notify_with_fds).  Datagrams are handled in the order they come,
 * so a barrier (BARRIER=1 with a pipe's write end, as sd_notify_barrier(3)
 * sends: the holder closes fds without FDSTORE=1 at once) tells when the
 * holder has handled everything sent before it.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_holder.h"
#include "../src/lib/samefile.h"

struct nh {
	struct th th;
	char nsock[128];
};

/* The notify socket's directory, left by a test that failed: removed at
 * the next start and at exit (its holder is killed by th_reap_all). */
static char nh_dir[64];

static void nh_dir_remove(void)
{
	char path[128];

	if (nh_dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/n.sock", nh_dir);
	unlink(path);
	rmdir(nh_dir);
	nh_dir[0] = '\0';
}

static void nh_start(struct nh *n, const char *const *more)
{
	static int registered;
	const char *args[16] = { "--notify-socket", n->nsock, "-v" };
	size_t k = 3;
	char dir[] = "/tmp/fdshare-nsock.XXXXXX";

	if (!registered) {
		atexit(nh_dir_remove);
		registered = 1;
	}
	th_reap_all();
	nh_dir_remove();
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chmod(dir, 0755) == 0);
	snprintf(nh_dir, sizeof nh_dir, "%s", dir);
	snprintf(n->nsock, sizeof n->nsock, "%s/n.sock", dir);
	for (; more && *more && k < 15; more++)
		args[k++] = *more;
	args[k] = NULL;
	th_start(&n->th, args);
}

static int nh_stop(struct nh *n)
{
	int st = th_stop(&n->th);

	nh_dir_remove();
	return st;
}

/* One datagram to path, fds attached: what sd_pid_notify_with_fds sends. */
static int say(const struct nh *n, const char *text, const int *fds, size_t nfds)
{
	return th_notify_send(n->nsock, text, strlen(text), fds, nfds);
}

/* Everything sent before has been handled: the barrier's fd was closed. */
static int barrier(const struct nh *n)
{
	struct pollfd p = { .events = POLLIN };
	int pp[2], r;

	if (pipe2(pp, O_CLOEXEC) < 0)
		return -1;
	r = say(n, "BARRIER=1", &pp[1], 1);
	close(pp[1]);
	p.fd = pp[0];
	if (r == 0)
		r = poll(&p, 1, 10000) == 1 && (p.revents & POLLHUP) ? 0 : -1;
	close(pp[0]);
	return r;
}

/* The fds held under name (-1 and errno when none), into fds. */
static long fetch(struct fdshare_holder *c, const char *name, int **fds)
{
	size_t n;

	if (fdshare_fetch(c, name, fds, &n, 0) < 0)
		return -1;
	return (long)n;
}

static void close_all(int *fds, long n)
{
	for (long i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

/* The owner of the entry name, or -1. */
static long owner_of(struct fdshare_holder *c, const char *name)
{
	struct fdshare_list l;
	long owner = -1;

	if (fdshare_list(c, name, &l) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, name) == 0)
			owner = (long)l.v[i].owner;
	fdshare_list_free(&l);
	return owner;
}

static int memfd_with(const char *text)
{
	int fd = memfd_create("notify-test", MFD_CLOEXEC);

	if (fd >= 0 && write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int log_has(const struct nh *n, const char *what)
{
	return th_log_has(&n->th, what);
}

/* FDSTORE=1 keeps the very open files: same file, shared offset. */
TEST(fdstore_keeps_the_open_files)
{
	struct nh n;
	struct fdshare_holder *c;
	int mine[2], *got;
	struct stat st;

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	mine[0] = memfd_with("hello");
	CHECK(mine[0] >= 0);
	mine[1] = memfd_with("world!");
	CHECK(mine[1] >= 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=x", mine, 2) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "x", &got), 2);
	CHECK(fd_same_file(got[0], mine[0]) && fd_same_file(got[1], mine[1]));
	CHECK_EQ(lseek(got[1], 0, SEEK_CUR), 6); /* where the writer left it */
	CHECK(lseek(mine[1], 1, SEEK_SET) == 1);
	CHECK_EQ(lseek(got[1], 0, SEEK_CUR), 1);
	CHECK(fstat(got[0], &st) == 0 && st.st_size == 5);
	CHECK_EQ(owner_of(c, "x"), (long)getuid());
	close_all(got, 2);
	close(mine[0]);
	close(mine[1]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* Without FDNAME= (or with one systemd would refuse): "stored", as systemd. */
TEST(no_fdname_is_stored)
{
	struct nh n;
	struct fdshare_holder *c;
	int p[2], *got;

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(say(&n, "FDSTORE=1", &p[0], 1) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=a:b", &p[1], 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "stored", &got), 2);
	CHECK(fd_same_file(got[0], p[0]) && fd_same_file(got[1], p[1]));
	close_all(got, 2);
	CHECK(log_has(&n, "FDNAME= is not a valid name"));
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* Again under the same name: added, each open file once (systemd's rule). */
TEST(same_name_appends_without_duplicates)
{
	struct nh n;
	struct fdshare_holder *c;
	int p[2], q[2], *got, two[2], dup1;

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=x", &p[0], 1) == 0);
	two[0] = p[0];
	two[1] = dup1 = fcntl(p[0], F_DUPFD_CLOEXEC, 0); /* another fd, same file */
	CHECK(dup1 >= 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=x", two, 2) == 0);
	CHECK(pipe2(q, O_CLOEXEC) == 0);
	two[0] = p[1];
	two[1] = q[0];
	CHECK(say(&n, "FDSTORE=1\nFDNAME=x", two, 2) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "x", &got), 3);
	CHECK(fd_same_file(got[0], p[0]) && fd_same_file(got[1], p[1]) &&
	      fd_same_file(got[2], q[0]));
	close_all(got, 3);
	close(dup1);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* FDSTOREREMOVE=1 with FDNAME=x: gone, its fds closed in the holder. */
TEST(fdstoreremove)
{
	struct nh n;
	struct fdshare_holder *c;
	int p[2], *got, before;

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(barrier(&n) == 0);
	before = th_count_fds(n.th.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=x", p, 2) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=y", &p[0], 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(th_count_fds(n.th.pid), before + 3);
	CHECK(say(&n, "FDSTOREREMOVE=1\nFDNAME=x", NULL, 0) == 0);
	CHECK(say(&n, "FDSTOREREMOVE=1", NULL, 0) == 0); /* no name: ignored */
	CHECK(barrier(&n) == 0);
	CHECK_ERR(fetch(c, "x", &got), ENOENT);
	CHECK_EQ(fetch(c, "y", &got), 1);
	close_all(got, 1);
	CHECK_EQ(th_count_fds(n.th.pid), before + 1);
	/* Removed and stored again in one message: renewed. */
	CHECK(say(&n, "FDSTOREREMOVE=1\nFDSTORE=1\nFDNAME=y", &p[1], 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "y", &got), 1);
	CHECK(fd_same_file(got[0], p[1]));
	close_all(got, 1);
	close(p[0]);
	close(p[1]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* Watched for hang-up unless FDPOLL=0: the entry goes with its peer. */
TEST(fdpoll_and_hangup)
{
	struct nh n;
	struct fdshare_holder *c;
	int a[2], b[2], f, *got;
	char path[256];

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=kept\nFDPOLL=0", &b[0], 1) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=hup", &a[0], 1) == 0);
	/* A regular file cannot be watched: kept all the same, as by systemd. */
	f = t_tmpfile(path, sizeof path);
	CHECK(f >= 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=file", &f, 1) == 0);
	CHECK(barrier(&n) == 0);
	close(a[0]);
	close(b[0]);
	CHECK_EQ(fetch(c, "hup", &got), 1); /* its peer is still there */
	close_all(got, 1);
	close(b[1]); /* first: were it watched, its hang-up would come first */
	close(a[1]);
	for (int i = 0; i < 1000 && fetch(c, "hup", &got) == 1; i++) {
		close_all(got, 1);
		th_sleep_ms(10);
	}
	CHECK_ERR(fetch(c, "hup", &got), ENOENT);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "kept", &got), 1);
	close_all(got, 1);
	CHECK_EQ(fetch(c, "file", &got), 1);
	close_all(got, 1);
	/* FDPOLL=0 onto a watched entry: refused (as a STORE --append would be). */
	CHECK(pipe2(a, O_CLOEXEC) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=file\nFDPOLL=0", &a[0], 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "file", &got), 1);
	close_all(got, 1);
	CHECK(log_has(&n, "FDPOLL differs"));
	close(a[0]);
	close(a[1]);
	close(f);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* Fds that come without FDSTORE=1 are closed at once; nothing is kept. */
TEST(fds_without_fdstore_are_closed)
{
	struct nh n;
	struct fdshare_holder *c;
	int p[2], four[4], *got, before;

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(barrier(&n) == 0);
	before = th_count_fds(n.th.pid);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	for (int i = 0; i < 4; i++)
		four[i] = memfd_with("x");
	CHECK(four[3] >= 0);
	CHECK(say(&n, "READY=1", four, 4) == 0);
	CHECK(say(&n, "FDNAME=x\nSTATUS=up", four, 2) == 0);
	CHECK(say(&n, "FDSTORE=0\nFDNAME=x", &p[0], 1) == 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=empty", NULL, 0) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(th_count_fds(n.th.pid), before);
	CHECK_ERR(fetch(c, "x", &got), ENOENT);
	CHECK_ERR(fetch(c, "empty", &got), ENOENT);
	CHECK_EQ(th_list_count(c, NULL), 0);
	CHECK(log_has(&n, "READY=1"));
	/* The pipe's read end is closed in the holder: a write fails. */
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(write(p[1], "x", 1), EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	for (int i = 0; i < 4; i++)
		close(four[i]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* Over 4096 bytes, or a NUL inside: dropped with its fds, and logged. */
TEST(malformed_datagrams_dropped)
{
	static char big[5000];
	struct nh n;
	struct fdshare_holder *c;
	int fd, *got, before;
	const char head[] = "FDSTORE=1\nFDNAME=big\nX=";

	nh_start(&n, NULL);
	c = th_connect(&n.th);
	CHECK(barrier(&n) == 0);
	before = th_count_fds(n.th.pid);
	fd = memfd_with("x");
	CHECK(fd >= 0);
	memset(big, 'a', sizeof big);
	memcpy(big, head, sizeof head - 1);
	CHECK(th_notify_send(n.nsock, big, sizeof big, &fd, 1) == 0);
	CHECK(th_notify_send(n.nsock, "FDSTORE=1\0FDNAME=nul", 21, &fd, 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(th_count_fds(n.th.pid), before);
	CHECK_ERR(fetch(c, "big", &got), ENOENT);
	CHECK_ERR(fetch(c, "stored", &got), ENOENT);
	CHECK(log_has(&n, "datagram dropped: over 4096 bytes"));
	CHECK(log_has(&n, "datagram dropped: a NUL byte inside"));
	/* 4096 bytes exactly is a message. */
	CHECK(th_notify_send(n.nsock, big, 4096, &fd, 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(fetch(c, "big", &got), 1);
	close_all(got, 1);
	close(fd);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* In a child as uid u: one datagram with nfds fds; exit 0 once handled. */
static pid_t send_as(uid_t u, const struct nh *n, const char *text, const int *fds,
                     size_t nfds)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		th_become(u);
		_exit(say(n, text, fds, nfds) == 0 && barrier(n) == 0 ? 0 : 10);
	}
	return pid;
}

/* The sender's uid owns what it stores; another uid may not touch it. */
TEST(owner_is_the_sender)
{
	const char *args[] = { "--mode", "0666", "--quota", "2", NULL };
	struct nh n;
	struct fdshare_holder *c;
	int p[2], q[2], *got, before;

	nh_start(&n, args);
	c = th_connect(&n.th);
	CHECK(barrier(&n) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(pipe2(q, O_CLOEXEC) == 0);
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTORE=1\nFDNAME=u1", &p[0], 1)), 0);
	CHECK_EQ(owner_of(c, "u1"), 1001);
	before = th_count_fds(n.th.pid);
	/* uid 1002 may neither add to it nor remove it */
	CHECK_EQ(t_wait(send_as(1002, &n, "FDSTORE=1\nFDNAME=u1", &q[0], 1)), 0);
	CHECK_EQ(t_wait(send_as(1002, &n, "FDSTOREREMOVE=1\nFDNAME=u1", NULL, 0)), 0);
	CHECK_EQ(th_count_fds(n.th.pid), before);
	CHECK_EQ(fetch(c, "u1", &got), 1);
	close_all(got, 1);
	CHECK(log_has(&n, "FDSTORE=1 'u1' refused, 1 fd closed: Permission denied"));
	/* uid 1001 may, within its --quota of 2 */
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTORE=1\nFDNAME=u1", &q[0], 1)), 0);
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTORE=1\nFDNAME=u1b", &p[1], 1)), 0);
	CHECK(log_has(&n, "FDSTORE=1 'u1b' refused, 1 fd closed: Disk quota exceeded"));
	CHECK_EQ(fetch(c, "u1", &got), 2);
	close_all(got, 2);
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTOREREMOVE=1\nFDNAME=u1", NULL, 0)), 0);
	CHECK_ERR(fetch(c, "u1", &got), ENOENT);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* --max-fds counts what the notify socket brings, whoever sends it. */
TEST(max_fds)
{
	const char *args[] = { "--max-fds", "3", "--mode", "0666", NULL };
	struct nh n;
	struct fdshare_holder *c;
	int fds[4], *got, before;

	nh_start(&n, args);
	c = th_connect(&n.th);
	for (int i = 0; i < 4; i++)
		CHECK((fds[i] = memfd_with("m")) >= 0);
	CHECK(say(&n, "FDSTORE=1\nFDNAME=root", fds, 2) == 0);
	CHECK(barrier(&n) == 0);
	before = th_count_fds(n.th.pid);
	/* uid 1001: within its quota (3), not within what is left (1) */
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTORE=1\nFDNAME=u", fds + 2, 2)), 0);
	CHECK_EQ(th_count_fds(n.th.pid), before);
	CHECK(log_has(&n, "FDSTORE=1 'u' refused, 2 fds closed: Too many open files"));
	CHECK_ERR(fetch(c, "u", &got), ENOENT);
	CHECK_EQ(t_wait(send_as(1001, &n, "FDSTORE=1\nFDNAME=u", fds + 2, 1)), 0);
	CHECK_EQ(fetch(c, "u", &got), 1);
	close_all(got, 1);
	/* Full, but what is held already takes no room: kept once, no refusal. */
	CHECK(say(&n, "FDSTORE=1\nFDNAME=u", fds + 2, 1) == 0);
	CHECK(barrier(&n) == 0);
	CHECK_EQ(th_count_fds(n.th.pid), before + 1);
	CHECK(log_has(&n, "FDSTORE=1 'u': 0 fds kept, 1 duplicate closed"));
	CHECK_EQ(fetch(c, "u", &got), 1);
	close_all(got, 1);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	fdshare_holder_close(c);
	CHECK_EQ(nh_stop(&n), 0);
}

/* The socket has the holder's --mode, and goes when the holder does. */
TEST(socket_mode_and_removal)
{
	const char *args[] = { "--mode", "0640", NULL };
	struct nh n;
	struct stat st;
	char path[128];

	nh_start(&n, args);
	CHECK(lstat(n.nsock, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0640);
	snprintf(path, sizeof path, "%s", n.nsock);
	CHECK_EQ(th_stop(&n.th), 0);
	CHECK_ERR(lstat(path, &st), ENOENT);
	nh_dir_remove();
}
