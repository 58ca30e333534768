/*
 * The holder's pure parts, called directly: the request decoder and the
 * rules-file parser (the two a fuzzer will call), and the wire codes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "t.h"
#include "../src/holder/request.c"
#include "../src/holder/rules.c"

struct buf {
	unsigned char b[1024];
	size_t n;
};

static void u32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->b[b->n++] = (unsigned char)(v >> (8 * i));
}

static void u64(struct buf *b, uint64_t v)
{
	u32(b, (uint32_t)v);
	u32(b, (uint32_t)(v >> 32));
}

static void name(struct buf *b, const char *s)
{
	b->b[b->n++] = (unsigned char)strlen(s);
	memcpy(b->b + b->n, s, strlen(s));
	b->n += strlen(s);
}

static void store_item(struct buf *b, uint32_t flags, uint32_t nfds, uint64_t ttl,
                       const char *s)
{
	u32(b, flags);
	u32(b, nfds);
	u64(b, ttl);
	name(b, s);
}

TEST(decode_store_batch)
{
	struct buf b = { .n = 0 };
	struct hreq r;

	u32(&b, 2);
	store_item(&b, HP_F_REPLACE, 2, 1500, "web");
	store_item(&b, HP_F_DROP_ON_HANGUP, 1, 0, "db");
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 3, &r), HP_OK);
	CHECK_EQ(r.n, 2);
	CHECK(r.items[0].namelen == 3 && memcmp(r.items[0].name, "web", 3) == 0);
	CHECK_EQ(r.items[0].ttl_ms, 1500);
	CHECK_EQ(r.items[0].fd_off, 0);
	CHECK_EQ(r.items[1].fd_off, 2);
	CHECK_EQ(r.items[1].flags, HP_F_DROP_ON_HANGUP);
	hreq_free(&r);
	/* The fd counts must add up to the frame's. */
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 2, &r), HP_EPROTO);
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 4, &r), HP_EPROTO);
	/* Cut anywhere: a protocol error, never a read past the end. */
	for (size_t n = 0; n < b.n; n++) {
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, b.b, n);
		CHECK(hreq_decode(HP_STORE, copy, n, 3, &r) != HP_OK);
		free(copy);
	}
	/* Trailing bytes too. */
	b.b[b.n++] = 0;
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 3, &r), HP_EPROTO);
}

TEST(decode_bad_items)
{
	struct buf b = { .n = 0 };
	struct hreq r;

	u32(&b, 2);
	store_item(&b, 0, 1, 0, "ok");
	store_item(&b, 0, 1, 0, "a:b");
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 2, &r), HP_EINVAL);
	CHECK_EQ(r.bad, 1);
	b.n = 0;
	u32(&b, 1);
	store_item(&b, HP_F_REPLACE | HP_F_APPEND, 1, 0, "x");
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 1, &r), HP_EINVAL);
	b.n = 0;
	u32(&b, 1);
	store_item(&b, 0x100, 1, 0, "x");
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 1, &r), HP_EINVAL);
	b.n = 0;
	u32(&b, 1);
	store_item(&b, 0, 0, 0, "x"); /* an item without fds */
	CHECK_EQ(hreq_decode(HP_STORE, b.b, b.n, 0, &r), HP_EINVAL);
	/* A huge count with few bytes is refused before any allocation. */
	b.n = 0;
	u32(&b, 0xffffffffu);
	name(&b, "x");
	CHECK_EQ(hreq_decode(HP_FETCH, b.b, b.n, 0, &r), HP_EPROTO);
	b.n = 0;
	u32(&b, 0);
	CHECK_EQ(hreq_decode(HP_REMOVE, b.b, b.n, 0, &r), HP_EPROTO);
	CHECK_EQ(hreq_decode(12345, b.b, b.n, 0, &r), HP_ENOTSUP);
	CHECK_EQ(hreq_decode(HP_PING, b.b, b.n, 0, &r), HP_EPROTO);
	CHECK_EQ(hreq_decode(HP_PING, NULL, 0, 0, &r), HP_OK);
}

TEST(decode_fetch_and_list)
{
	struct buf b = { .n = 0 };
	struct hreq r;

	u32(&b, 1);
	u32(&b, HP_F_REMOVE);
	name(&b, "web");
	CHECK_EQ(hreq_decode(HP_FETCH, b.b, b.n, 0, &r), HP_OK);
	CHECK(r.n == 1 && r.items[0].flags == HP_F_REMOVE);
	hreq_free(&r);
	CHECK_EQ(hreq_decode(HP_REMOVE, b.b, b.n, 0, &r), HP_EINVAL); /* flag */
	CHECK_EQ(hreq_decode(HP_FETCH, b.b, b.n, 1, &r), HP_EPROTO);  /* an fd */
	b.n = 0;
	name(&b, "we");
	CHECK_EQ(hreq_decode(HP_LIST, b.b, b.n, 0, &r), HP_OK);
	CHECK(r.prefixlen == 2 && memcmp(r.prefix, "we", 2) == 0);
	CHECK_EQ(hreq_decode(HP_LIST, NULL, 0, 0, &r), HP_OK);
	CHECK_EQ(r.prefixlen, 0);
}

TEST(decode_many_items)
{
	size_t n = 5000, len = 4 + n * 6;
	unsigned char *p = malloc(len);
	struct hreq r;

	CHECK(p != NULL);
	p[0] = (unsigned char)n;
	p[1] = (unsigned char)(n >> 8);
	p[2] = p[3] = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char *q = p + 4 + i * 6;

		memset(q, 0, 4);
		q[4] = 1;
		q[5] = 'a';
	}
	CHECK_EQ(hreq_decode(HP_FETCH, p, len, 0, &r), HP_OK);
	CHECK_EQ(r.n, n);
	hreq_free(&r);
	free(p);
}

static int parse(const char *text, struct rules *r, char *err)
{
	return rules_parse(text, strlen(text), r, err, 128);
}

TEST(rules_good)
{
	struct rules r;
	char err[128];

	CHECK(parse("# a comment\n\n  uid=1001  fetch,list  web   # trailing\n"
	            "gid=33\tall\ncgroup=/system.slice/x.service/ store\n", &r, err) == 0);
	CHECK_EQ(r.n, 3);
	CHECK(r.v[0].subject == RS_UID && r.v[0].id == 1001);
	CHECK_EQ(r.v[0].ops, OP_FETCH | OP_LIST);
	CHECK(r.v[0].prefixlen == 3 && memcmp(r.v[0].prefix, "web", 3) == 0);
	CHECK(r.v[1].subject == RS_GID && r.v[1].ops == OP_ALL && r.v[1].prefix == NULL);
	CHECK(r.v[2].subject == RS_CGROUP);
	CHECK(strcmp(r.v[2].cgroup, "/system.slice/x.service") == 0);
	CHECK(r.need_cgroup);
	rules_free(&r);
	CHECK(parse("", &r, err) == 0 && r.n == 0);
	rules_free(&r);
	CHECK(parse("uid=0 all", &r, err) == 0 && r.n == 1); /* no final newline */
	rules_free(&r);
}

TEST(rules_bad_with_line_numbers)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "uid=x fetch\n", "line 1:" },
		{ "\n\nuid=1\n", "line 3:" },
		{ "uid=1 fetch\nuser=1 fetch\n", "line 2:" },
		{ "uid=1 fetch,\n", "line 1:" },
		{ "uid=1 take\n", "line 1:" },
		{ "uid=1 fetch web extra\n", "line 1:" },
		{ "uid=1 fetch a:b\n", "line 1:" },
		{ "cgroup=rel fetch\n", "line 1:" },
		{ "uid=4294967295 fetch\n", "line 1:" },
		{ "uid=99999999999 fetch\n", "line 1:" },
	};
	struct rules r;
	char err[128];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		CHECK(parse(cases[i].text, &r, err) == -1);
		CHECK(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0);
		CHECK(r.n == 0 && r.v == NULL);
	}
	CHECK(rules_parse("uid=1 fetch\0x", 13, &r, err, sizeof err) == -1);
}

TEST(wire_codes_map_to_errno)
{
	CHECK_EQ(hp_errno(HP_ENOENT), ENOENT);
	CHECK_EQ(hp_errno(HP_EBUSY), EBUSY);
	CHECK_EQ(hp_errno(HP_EACCES), EACCES);
	CHECK_EQ(hp_errno(HP_EDQUOT), EDQUOT);
	CHECK_EQ(hp_errno(HP_EMFILE), EMFILE);
	CHECK_EQ(hp_errno(HP_EMOVED), EAGAIN);
	CHECK_EQ(hp_errno(9999), EPROTO);
	CHECK(hp_name_ok("a", 1) && !hp_name_ok("", 0) && !hp_name_ok("a\x7f", 2));
}
