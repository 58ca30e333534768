/*
 * libFuzzer harness: the holder's request decoder, hreq_decode in
 * src/holder/request.c (docs/protocol.md, section 3), on any payload.
 *
 * Input: byte 0 is the frame type (0..11: every request type and a few
 * unknown ones; bit 7 set: the type is 0x80000000 | b, a reply's); byte 1
 * the frame's descriptor count (b < 0xf0: b % 16, else (b & 0xf) * 64);
 * the rest is the payload, in a buffer of exactly its size.
 *
 * Checked: the code is OK, EPROTO, EINVAL, ENOMEM or ENOTSUP, ENOTSUP
 * exactly for the unknown types; a failure leaves no items and, for a
 * batch, bad indexes an item of it; a success gives names (and a LIST
 * prefix) that point inside the payload and satisfy the name rule, item
 * flags the type allows, fd counts that add up to the frame's in order,
 * and a request that the client's codec (holder_proto.h) encodes back
 * into exactly the payload; decoding twice gives the same.  Leaks and
 * memory errors are the sanitizers'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/holder/holder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_batch(uint32_t type)
{
	return type == HP_STORE || type == HP_RESTORE || type == HP_FETCH ||
	       type == HP_REMOVE;
}

static int known(uint32_t type)
{
	return type >= HP_STORE && type <= HP_PING;
}

static int inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
	const uint8_t *q = p;

	return n == 0 || (q >= buf && q <= buf + len && n <= (size_t)(buf + len - q));
}

static void check_item(uint32_t type, const struct hitem *it, const uint8_t *p,
                       size_t len)
{
	if (!inside(it->name, it->namelen, p, len) || !hp_name_ok(it->name, it->namelen))
		abort();
	if (type == HP_STORE || type == HP_RESTORE) {
		if (it->nfds == 0 || (it->flags & ~HP_STORE_FLAGS) ||
		    ((it->flags & HP_F_REPLACE) && (it->flags & HP_F_APPEND)))
			abort();
	} else {
		if (it->nfds != 0 || it->ttl_ms != 0 || it->owner != 0 || it->age_ms != 0)
			abort();
		if (it->flags & ~(uint32_t)(type == HP_FETCH ? HP_F_REMOVE : 0))
			abort();
	}
}

/* The payload the client would send for req (holder_proto.h's codec). */
static void encode(const struct hreq *req, struct hp_out *o)
{
	if (req->type == HP_LIST) {
		if (req->prefix)
			hp_putname(o, req->prefix, req->prefixlen);
		return;
	}
	if (!is_batch(req->type))
		return;
	hp_put32(o, (uint32_t)req->n);
	for (size_t i = 0; i < req->n; i++) {
		const struct hitem *it = &req->items[i];

		hp_put32(o, it->flags);
		if (req->type == HP_STORE || req->type == HP_RESTORE) {
			hp_put32(o, it->nfds);
			hp_put64(o, it->ttl_ms);
		}
		if (req->type == HP_RESTORE) {
			hp_put32(o, it->owner);
			hp_put64(o, it->age_ms);
		}
		hp_putname(o, it->name, it->namelen);
	}
}

static void check_ok(const struct hreq *req, uint32_t type, const uint8_t *p,
                     size_t len, size_t nfds)
{
	struct hp_out o = { 0 };
	size_t fd_off = 0;

	if (req->type != type || req->bad != 0)
		abort();
	if (is_batch(type)) {
		if (req->n == 0 || req->items == NULL)
			abort();
		for (size_t i = 0; i < req->n; i++) {
			check_item(type, &req->items[i], p, len);
			if (req->items[i].fd_off != fd_off)
				abort();
			fd_off += req->items[i].nfds;
		}
	} else if (req->n != 0) {
		abort();
	}
	if (fd_off != nfds)
		abort();
	if (type == HP_LIST && req->prefixlen > 0 &&
	    (!inside(req->prefix, req->prefixlen, p, len) ||
	     !hp_name_ok(req->prefix, req->prefixlen)))
		abort();
	encode(req, &o);
	if (o.bad || o.len != len || (len && memcmp(o.p, p, len) != 0))
		abort();
	free(o.p);
}

static void check_fail(const struct hreq *req, uint32_t type, uint32_t code,
                       size_t len)
{
	if (code != HP_EPROTO && code != HP_EINVAL && code != HP_ENOMEM &&
	    code != HP_ENOTSUP)
		abort();
	if ((code == HP_ENOTSUP) != !known(type))
		abort();
	if (req->n != 0 || req->items != NULL)
		abort();
	/* bad names an item of the batch: there are at most len / 5 */
	if (req->bad != 0 && (!is_batch(type) || req->bad >= len / 5))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hreq a, b;
	uint32_t type, ca, cb;
	size_t nfds, len;
	uint8_t *p;

	if (size < 2)
		return 0;
	type = data[0] & 0x80 ? HP_REPLY | data[0] : data[0] % 12;
	nfds = data[1] < 0xf0 ? data[1] % 16u : (size_t)(data[1] & 0xf) * 64;
	len = size - 2;
	p = len ? malloc(len) : NULL;
	if (len && p == NULL)
		abort();
	if (len)
		memcpy(p, data + 2, len);

	ca = hreq_decode(type, p, len, nfds, &a);
	if (ca == HP_OK)
		check_ok(&a, type, p, len, nfds);
	else
		check_fail(&a, type, ca, len);
	cb = hreq_decode(type, p, len, nfds, &b);
	if (cb != ca || b.n != a.n || b.bad != a.bad)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (a.items[i].name != b.items[i].name || a.items[i].nfds != b.items[i].nfds)
			abort();
	hreq_free(&a);
	hreq_free(&b);
	if (a.items != NULL || a.n != 0)
		abort();
	free(p);
	return 0;
}
