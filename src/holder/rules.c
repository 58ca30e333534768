/*
 * The --rules file: one grant per line (fdshare-holder(8)),
 *
 *	SUBJECT OPERATIONS [NAME-PREFIX]
 *
 * SUBJECT is uid=N, gid=N or cgroup=/path; OPERATIONS a comma-separated
 * list of store, fetch, remove, list, or all; no NAME-PREFIX: every name.
 * '#' starts a comment.  Pure: a buffer in, rules out, for the fuzzer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holder.h"

#define LINE_MAX_BYTES 4096

void rules_free(struct rules *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].cgroup);
		free(r->v[i].prefix);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

struct tok {
	const char *p;
	size_t n;
};

/* Split a line into at most max whitespace-separated tokens; count out. */
static size_t tokens(const char *s, size_t len, struct tok *t, size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == len || s[i] == '#')
			return n;
		if (n == max)
			return max + 1;
		t[n].p = s + i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		       s[i] != '#')
			i++;
		t[n].n = (size_t)(s + i - t[n].p);
		n++;
	}
}

static int tok_is(const struct tok *t, size_t off, const char *w)
{
	size_t n = strlen(w);

	return t->n - off == n && memcmp(t->p + off, w, n) == 0;
}

static int parse_id(const char *s, size_t n, uint32_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x >= UINT32_MAX) /* (uid_t)-1 means "no uid" */
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static const char *parse_subject(const struct tok *t, struct rule *r)
{
	const char *eq = memchr(t->p, '=', t->n);
	size_t k = eq ? (size_t)(eq - t->p) : t->n, vn = eq ? t->n - k - 1 : 0;

	if (eq && k == 3 && memcmp(t->p, "uid", 3) == 0) {
		r->subject = RS_UID;
		return parse_id(eq + 1, vn, &r->id) < 0 ? "uid=N wants a number" : NULL;
	}
	if (eq && k == 3 && memcmp(t->p, "gid", 3) == 0) {
		r->subject = RS_GID;
		return parse_id(eq + 1, vn, &r->id) < 0 ? "gid=N wants a number" : NULL;
	}
	if (eq && k == 6 && memcmp(t->p, "cgroup", 6) == 0) {
		r->subject = RS_CGROUP;
		if (vn == 0 || eq[1] != '/')
			return "cgroup= wants an absolute path, as in /proc/PID/cgroup";
		/* "/a/b/" and "/a/b" are one cgroup. */
		while (vn > 1 && eq[vn] == '/')
			vn--;
		r->cglen = vn;
		r->cgroup = dup_n(eq + 1, vn);
		return r->cgroup ? NULL : "out of memory";
	}
	return "the subject must be uid=N, gid=N or cgroup=/path";
}

static const char *parse_ops(const struct tok *t, unsigned *ops)
{
	static const struct { const char *w; unsigned op; } words[] = {
		{ "store", OP_STORE }, { "fetch", OP_FETCH }, { "remove", OP_REMOVE },
		{ "list", OP_LIST }, { "all", OP_ALL },
	};
	size_t i = 0;

	*ops = 0;
	while (i <= t->n) {
		const char *c = memchr(t->p + i, ',', t->n - i);
		size_t end = c ? (size_t)(c - t->p) : t->n;
		struct tok w = { t->p + i, end - i };
		unsigned op = 0;

		for (size_t k = 0; k < sizeof words / sizeof *words; k++)
			if (tok_is(&w, 0, words[k].w))
				op = words[k].op;
		if (op == 0)
			return "operations are store, fetch, remove, list or all, "
			       "separated by commas";
		*ops |= op;
		i = end + 1;
	}
	return NULL;
}

static const char *parse_line(const char *s, size_t len, struct rule *r)
{
	struct tok t[3];
	size_t n = tokens(s, len, t, 3);
	const char *why;

	memset(r, 0, sizeof *r);
	if (n == 0)
		return "";
	if (n < 2)
		return "a rule is SUBJECT OPERATIONS [NAME-PREFIX]";
	if (n > 3)
		return "too many fields (SUBJECT OPERATIONS [NAME-PREFIX])";
	why = parse_subject(&t[0], r);
	if (why == NULL)
		why = parse_ops(&t[1], &r->ops);
	if (why == NULL && n == 3) {
		if (!hp_name_ok(t[2].p, t[2].n))
			why = "the name prefix must be printable ASCII without ':'";
		else if ((r->prefix = dup_n(t[2].p, t[2].n)) == NULL)
			why = "out of memory";
		r->prefixlen = t[2].n;
	}
	if (why) {
		free(r->cgroup);
		free(r->prefix);
	}
	return why;
}

int rules_parse(const char *buf, size_t len, struct rules *out, char *err,
                size_t errlen)
{
	size_t lineno = 0, cap = 0;

	memset(out, 0, sizeof *out);
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - buf) : len;
		struct rule r;
		const char *why;

		lineno++;
		if (end - off > LINE_MAX_BYTES || memchr(buf + off, '\0', end - off))
			why = end - off > LINE_MAX_BYTES ? "line too long" : "a NUL byte";
		else
			why = parse_line(buf + off, end - off, &r);
		off = end + 1;
		if (why && *why == '\0')
			continue;
		if (why == NULL && out->n == cap) {
			struct rule *v = realloc(out->v, (cap ? cap * 2 : 8) * sizeof *v);

			if (v == NULL) {
				free(r.cgroup);
				free(r.prefix);
				why = "out of memory";
			} else {
				out->v = v;
				cap = cap ? cap * 2 : 8;
			}
		}
		if (why) {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			rules_free(out);
			return -1;
		}
		out->v[out->n++] = r;
		out->need_cgroup |= r.subject == RS_CGROUP;
		out->need_groups |= r.subject == RS_GID;
	}
	return 0;
}
