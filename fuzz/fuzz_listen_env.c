/*
 * libFuzzer harness: the LISTEN_* parser behind fdshare_listen_fds
 * (listen_parse in src/lib/listen.c), on the variables' values alone.
 *
 * Input: byte 0 says which variables are set (bit 0 LISTEN_PID, 1
 * LISTEN_PIDFDID, 2 LISTEN_FDS, 3 LISTEN_FDNAMES) and bit 4 whether this
 * process's pidfd id is known; the rest is split at NUL bytes into the
 * four values in that order.  This process is pid 4242 with pidfd id 77.
 *
 * Checked: the count is the same asked with names or without (or the
 * names alone fail, with EINVAL or ENOMEM); errors are EINVAL, ERANGE or
 * ENOMEM; *names is touched only on success and holds exactly n names,
 * "unknown" without LISTEN_FDNAMES, else what a plain split at unescaped
 * ':' gives.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF_PID 4242
#define SELF_ID 77u
#define MAX_UNKNOWN 4096 /* names made up without LISTEN_FDNAMES */

/* The i-th name of s (escapes undone) into out; 0 when s has fewer. */
static int nth_name(const char *s, size_t i, char *out)
{
	for (; i > 0; s++) {
		if (*s == '\0')
			return 0;
		if (*s == '\\') {
			if (*++s == '\0')
				return 0;
			continue;
		}
		if (*s == ':')
			i--;
	}
	while (*s && *s != ':') {
		if (*s == '\\' && *++s == '\0')
			return 0;
		*out++ = *s++;
	}
	*out = '\0';
	return 1;
}

static void check_names(char **names, int n, const char *fdnames, char *scratch)
{
	for (int i = 0; i < n; i++) {
		if (names[i] == NULL)
			abort();
		if (fdnames == NULL && strcmp(names[i], "unknown") != 0)
			abort();
		if (fdnames && (!nth_name(fdnames, (size_t)i, scratch) ||
		                strcmp(names[i], scratch) != 0))
			abort();
	}
	if (names[n] != NULL || (fdnames && nth_name(fdnames, (size_t)n, scratch)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *field[4] = { NULL }, *p, *scratch, **names = NULL;
	const char **slot[4];
	struct listen_vars v = { 0 };
	uint64_t id = SELF_ID;
	const uint64_t *self_id;
	int r1, r2, e1, e2;

	if (size == 0)
		return 0;
	buf = malloc(size + 4);          /* the values, NUL-terminated */
	scratch = malloc(size + 1);
	if (buf == NULL || scratch == NULL)
		abort();
	memcpy(buf, data + 1, size - 1);
	memset(buf + size - 1, 0, 5);
	p = buf;
	for (int i = 0; i < 4; i++) {
		field[i] = p;
		p += strlen(p) + 1;
		if (p > buf + size - 1)
			p = buf + size - 1; /* an empty string from here on */
	}
	slot[0] = &v.pid;
	slot[1] = &v.pidfdid;
	slot[2] = &v.fds;
	slot[3] = &v.fdnames;
	for (int i = 0; i < 4; i++)
		if (data[0] & (1u << i))
			*slot[i] = field[i];
	self_id = (data[0] & 0x10) ? &id : NULL;

	errno = 0;
	r1 = listen_parse(&v, SELF_PID, self_id, NULL, NULL);
	e1 = errno;
	if (r1 < -1 || (r1 == -1 && e1 != EINVAL && e1 != ERANGE && e1 != ENOMEM))
		abort();
	if (v.fdnames || r1 <= MAX_UNKNOWN) {
		errno = 0;
		r2 = listen_parse(&v, SELF_PID, self_id, NULL, &names);
		e2 = errno;
		if (r2 > 0) {
			if (r2 != r1)
				abort();
			check_names(names, r2, v.fdnames, scratch);
			fdshare_strv_free(names);
		} else if (names != NULL) {
			abort();
		} else if (r2 == 0 && r1 != 0) {
			abort();
		} else if (r2 < 0 && (r2 != -1 || (e2 != EINVAL && e2 != ERANGE && e2 != ENOMEM))) {
			abort();
		} else if (r2 < 0 && r1 >= 0 && e2 != EINVAL && e2 != ENOMEM) {
			abort();
		}
	}
	free(scratch);
	free(buf);
	return 0;
}
