/*
 * libFuzzer harness: the sd_notify(3) message parser of "fdshare run" and
 * "fdshare holder --notify-socket", notify_parse in src/lib/notify.c, on
 * any datagram.
 *
 * Input: the datagram, in a buffer of exactly its size.
 *
 * Checked against a plain model of notify.h's description (lines split
 * at '\n' or '\r'; whole-line READY=1, STOPPING=1, RELOADING=1,
 * FDSTORE=1, FDSTOREREMOVE=1; the first FDNAME= and FDPOLL= lines): the
 * result, errno (EMSGSIZE over NOTIFY_MAX, EBADMSG for a NUL before the
 * last byte), every flag, and the name, which is "" or satisfies the
 * FDNAME rule and is a line of the input after "FDNAME="; on failure the
 * message is empty (FDPOLL's default aside); notify_store_name agrees.
 * Memory errors are the sanitizers'.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "launch.h"
#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct model {
	int ready, stopping, reloading, fdstore, fdstoreremove;
	int fdpoll, bad_fdname, bad_fdpoll;
	const char *name;
	size_t namelen;
};

static int is(const char *line, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(line, w, n) == 0;
}

static int starts(const char *line, size_t n, const char *w)
{
	return n >= strlen(w) && memcmp(line, w, strlen(w)) == 0;
}

static int boolean(const char *v, size_t n)
{
	static const char *const t[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const f[] = { "0", "no", "n", "false", "f", "off" };

	for (int i = 0; i < 6; i++) {
		if (n == strlen(t[i]) && strncasecmp(v, t[i], n) == 0)
			return 1;
		if (n == strlen(f[i]) && strncasecmp(v, f[i], n) == 0)
			return 0;
	}
	return -1;
}

static int name_ok(const char *s, size_t n)
{
	if (n < 1 || n > NOTIFY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ':' || s[i] == '\\')
			return 0;
	return 1;
}

static void model_line(struct model *m, const char *l, size_t n, int *name_seen,
                       int *poll_seen)
{
	if (is(l, n, "READY=1"))
		m->ready = 1;
	else if (is(l, n, "STOPPING=1"))
		m->stopping = 1;
	else if (is(l, n, "RELOADING=1"))
		m->reloading = 1;
	else if (is(l, n, "FDSTORE=1"))
		m->fdstore = 1;
	else if (is(l, n, "FDSTOREREMOVE=1"))
		m->fdstoreremove = 1;
	else if (!*name_seen && starts(l, n, "FDNAME=")) {
		*name_seen = 1;
		if (name_ok(l + 7, n - 7)) {
			m->name = l + 7;
			m->namelen = n - 7;
		} else {
			m->bad_fdname = 1;
		}
	} else if (!*poll_seen && starts(l, n, "FDPOLL=")) {
		int b = boolean(l + 7, n - 7);

		*poll_seen = 1;
		if (b < 0)
			m->bad_fdpoll = 1;
		else
			m->fdpoll = b;
	}
}

/* 0, or the errno notify_parse must give. */
static int model(const char *p, size_t len, struct model *m)
{
	int name_seen = 0, poll_seen = 0;
	size_t start = 0;

	memset(m, 0, sizeof *m);
	m->fdpoll = 1;
	if (len > NOTIFY_MAX)
		return EMSGSIZE;
	if (len > 0 && p[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0')
			return EBADMSG;
	for (size_t i = 0; i <= len; i++)
		if (i == len || p[i] == '\n' || p[i] == '\r') {
			if (i > start)
				model_line(m, p + start, i - start, &name_seen, &poll_seen);
			start = i + 1;
		}
	return 0;
}

static void check_same(const struct notify_msg *got, const struct model *m)
{
	size_t n = strlen(got->fdname);

	if (got->ready != m->ready || got->stopping != m->stopping ||
	    got->reloading != m->reloading || got->fdstore != m->fdstore ||
	    got->fdstoreremove != m->fdstoreremove || got->fdpoll != m->fdpoll ||
	    got->bad_fdname != m->bad_fdname || got->bad_fdpoll != m->bad_fdpoll)
		abort();
	if (n != m->namelen || (n && memcmp(got->fdname, m->name, n) != 0))
		abort();
	if (n && (!fdshare_fdname_valid(got->fdname) || got->bad_fdname))
		abort();
	if (strcmp(notify_store_name(got), n ? got->fdname : "stored") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	struct notify_msg got;
	struct model m;
	int want, r;

	if (p == NULL)
		abort();
	memcpy(p, data, size);
	want = model(p, size, &m);
	errno = 0;
	r = notify_parse(p, size, &got);
	if (want ? r != -1 || errno != want : r != 0)
		abort();
	check_same(&got, &m);
	free(p);
	return 0;
}
