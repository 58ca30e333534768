/*
 * A small test harness.  Each TEST runs in turn; a test fails on its first
 * failed CHECK, and also when it leaves the process's open-fd count changed.
 * Output, one line per test: "PASS file.name", "FAIL file.name: why",
 * "SKIP file.name: reason" (tests/run.sh counts them).
 */
#ifndef T_H
#define T_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn);

#define TEST(name)                                                        \
	static void name(void);                                           \
	__attribute__((constructor)) static void name##_register(void)    \
	{                                                                 \
		t_register(#name, name);                                  \
	}                                                                 \
	static void name(void)

_Noreturn void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c))                                                 \
			t_fail(__FILE__, __LINE__, "%s (errno %s)", #c,    \
			       strerrorname_np(errno) ? strerrorname_np(errno) : "0"); \
	} while (0)

#define CHECK_EQ(a, b)                                                    \
	do {                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);       \
		if (a_ != b_)                                             \
			t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld (errno %s)", \
			       #a, #b, a_, b_,                             \
			       strerrorname_np(errno) ? strerrorname_np(errno) : "0"); \
	} while (0)

/* expr must return -1 with errno e. */
#define CHECK_ERR(expr, e)                                                \
	do {                                                              \
		errno = 0;                                                \
		long long r_ = (long long)(expr);                         \
		int e_ = errno;                                           \
		if (r_ != -1 || e_ != (e))                                \
			t_fail(__FILE__, __LINE__, "%s: want -1/%s, got %lld/%s", \
			       #expr, strerrorname_np(e), r_,              \
			       strerrorname_np(e_) ? strerrorname_np(e_) : "0"); \
	} while (0)

/* Open descriptors of this process. */
int t_count_fds(void);
/* A file of the given content in a fresh temporary directory; path out. */
int t_tmpfile(char *path, size_t size);
/* Wait for a child, return its exit status (or 128 + signal). */
int t_wait(int pid);
/* Path of a helper program built from tests/aux/NAME.c. */
const char *t_aux(const char *name);
/* The python3 to use, or NULL (the caller skips with a reason). */
const char *t_python(void);

#endif
