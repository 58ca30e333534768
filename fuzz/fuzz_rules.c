/*
 * libFuzzer harness: the holder's --rules parser, rules_parse in
 * src/holder/rules.c (fdshare-holder(8)), on any file contents.
 *
 * Input: the file, in a buffer of exactly its size.
 *
 * Checked: 0 or -1; on -1 the rules are empty and the message is "line
 * N: WHY" with N a line of the input, the lines before N parse, and line
 * N alone fails as "line 1"; on 0 no more rules than lines, each with a
 * known subject, operations within OP_ALL, an id below UINT32_MAX, a
 * cgroup that is an absolute path of cglen bytes without a trailing '/',
 * a prefix NULL or of prefixlen bytes that satisfy the name rule,
 * need_cgroup exactly when a cgroup rule is there; and the rules written
 * back as text parse to the same rules.  Leaks and memory errors are the
 * sanitizers'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/holder/holder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *p, size_t n)
{
	size_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines + (n > 0 && p[n - 1] != '\n');
}

static void check_rule(const struct rule *r)
{
	if (r->ops == 0 || (r->ops & ~OP_ALL))
		abort();
	switch (r->subject) {
	case RS_UID:
	case RS_GID:
		if (r->id == UINT32_MAX || r->cgroup != NULL)
			abort();
		break;
	case RS_CGROUP:
		if (r->cgroup == NULL || r->cgroup[0] != '/' ||
		    strlen(r->cgroup) != r->cglen ||
		    (r->cglen > 1 && r->cgroup[r->cglen - 1] == '/'))
			abort();
		break;
	default:
		abort();
	}
	if (r->prefix == NULL ? r->prefixlen != 0 :
	    strlen(r->prefix) != r->prefixlen || !hp_name_ok(r->prefix, r->prefixlen))
		abort();
}

static const char *const op_words[] = { "store", "fetch", "remove", "list" };

/* The rules as a --rules file; malloc'd, its length in *len. */
static char *write_rules(const struct rules *rs, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		abort();
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->v[i];
		const char *sep = " ";

		if (r->subject == RS_CGROUP)
			fprintf(f, "cgroup=%s", r->cgroup);
		else
			fprintf(f, "%s=%u", r->subject == RS_UID ? "uid" : "gid", r->id);
		for (int k = 0; k < 4; k++)
			if (r->ops & (1u << k)) {
				fprintf(f, "%s%s", sep, op_words[k]);
				sep = ",";
			}
		if (r->prefix)
			fprintf(f, " %s", r->prefix);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		abort();
	return buf;
}

static int same_rule(const struct rule *a, const struct rule *b)
{
	return a->subject == b->subject && a->id == b->id && a->ops == b->ops &&
	       a->cglen == b->cglen && a->prefixlen == b->prefixlen &&
	       (a->cgroup == NULL) == (b->cgroup == NULL) &&
	       (a->cgroup == NULL || strcmp(a->cgroup, b->cgroup) == 0) &&
	       (a->prefix == NULL) == (b->prefix == NULL) &&
	       (a->prefix == NULL || strcmp(a->prefix, b->prefix) == 0);
}

static void check_round_trip(const struct rules *rs)
{
	struct rules again;
	char err[256];
	size_t len;
	char *text = write_rules(rs, &len);

	if (rules_parse(text, len, &again, err, sizeof err) != 0 || again.n != rs->n ||
	    again.need_cgroup != rs->need_cgroup)
		abort();
	for (size_t i = 0; i < rs->n; i++)
		if (!same_rule(&rs->v[i], &again.v[i]))
			abort();
	rules_free(&again);
	free(text);
}

/* The offset where line n (1-based) starts, or len. */
static size_t line_start(const char *p, size_t len, size_t n)
{
	size_t off = 0;

	while (--n > 0) {
		const char *nl = memchr(p + off, '\n', len - off);

		if (nl == NULL)
			return len;
		off = (size_t)(nl - p) + 1;
	}
	return off;
}

static void check_error(const char *p, size_t len, const char *err)
{
	struct rules rs;
	char err2[256];
	size_t line, start, end;
	const char *nl;
	int used;

	if (sscanf(err, "line %zu: %n", &line, &used) != 1 || used <= 0 || err[used] == '\0')
		abort();
	if (line < 1 || line > count_lines(p, len))
		abort();
	start = line_start(p, len, line);
	if (rules_parse(p, start, &rs, err2, sizeof err2) != 0)
		abort();
	rules_free(&rs);
	nl = memchr(p + start, '\n', len - start);
	end = nl ? (size_t)(nl - p) : len;
	if (rules_parse(p + start, end - start, &rs, err2, sizeof err2) != -1 ||
	    strncmp(err2, "line 1: ", 8) != 0 || strcmp(err2 + 8, err + used) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules rs;
	char err[256] = "";
	char *p = malloc(size ? size : 1);
	int r, cg = 0;

	if (p == NULL)
		abort();
	memcpy(p, data, size);
	r = rules_parse(p, size, &rs, err, sizeof err);
	if (r == 0) {
		if (rs.n > count_lines(p, size) || (rs.n > 0) != (rs.v != NULL))
			abort();
		for (size_t i = 0; i < rs.n; i++) {
			check_rule(&rs.v[i]);
			cg |= rs.v[i].subject == RS_CGROUP;
		}
		if (rs.need_cgroup != cg)
			abort();
		check_round_trip(&rs);
		rules_free(&rs);
	} else if (r == -1) {
		if (rs.n != 0 || rs.v != NULL || rs.need_cgroup)
			abort();
		check_error(p, size, err);
	} else {
		abort();
	}
	free(p);
	return 0;
}
