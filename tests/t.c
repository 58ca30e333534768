#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"

#define MAX_TESTS 256

static struct { const char *name; t_fn fn; } tests[MAX_TESTS];
static int ntests;
static jmp_buf jump;
static pid_t harness_pid;
static const char *prog;
static char reason[1024];

void t_register(const char *name, t_fn fn)
{
	if (ntests == MAX_TESTS)
		abort();
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

_Noreturn static void leave(int code, const char *fmt, va_list ap)
{
	vsnprintf(reason, sizeof reason, fmt, ap);
	if (getpid() != harness_pid) { /* a forked child of a test */
		fprintf(stderr, "child %d: %s\n", (int)getpid(), reason);
		_exit(99);
	}
	longjmp(jump, code);
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	char f[900];
	va_list ap;

	snprintf(f, sizeof f, "%s:%d: %s", file, line, fmt);
	va_start(ap, fmt);
	leave(1, f, ap);
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	leave(2, fmt, ap);
}

int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

int t_tmpfile(char *path, size_t size)
{
	char dir[] = "/tmp/fdshare-test.XXXXXX";
	int fd;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, size, "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	return fd;
}

int t_wait(int pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *t_aux(const char *name)
{
	static char path[4096];
	const char *build = getenv("BUILD");

	snprintf(path, sizeof path, "%s/tests/aux/%s", build ? build : "build", name);
	return path;
}

const char *t_python(void)
{
	static const char *cands[] = { "/usr/bin/python3", "/usr/local/bin/python3" };
	const char *env = getenv("PYTHON");

	if (env && strchr(env, '/') && access(env, X_OK) == 0)
		return env;
	for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* 0 passed, 1 failed, 2 skipped; reason says why. */
static int run_one(int i)
{
	volatile int before = t_count_fds();
	int r = setjmp(jump);

	if (r == 0) {
		int after;

		tests[i].fn();
		after = t_count_fds();
		if (after != before) {
			snprintf(reason, sizeof reason, "open fds %d before, %d after",
			         (int)before, after);
			r = 1;
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	int failed = 0;

	harness_pid = getpid();
	prog = base(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < ntests; i++) {
		int r;

		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		r = run_one(i);
		if (r == 0)
			printf("PASS %s.%s\n", prog, tests[i].name);
		else if (r == 2)
			printf("SKIP %s.%s: %s\n", prog, tests[i].name, reason);
		else
			printf("FAIL %s.%s: %s\n", prog, tests[i].name, reason);
		failed |= r == 1;
	}
	return failed;
}
