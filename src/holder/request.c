/*
 * The request decoder: a frame's type, payload bytes and descriptor count
 * to a struct hreq (docs/protocol.md, section 3).  Pure: no I/O, no global
 * state, so that a fuzzer can call it on any bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "holder.h"

void hreq_free(struct hreq *req)
{
	if (req->items != req->inl)
		free(req->items);
	req->items = NULL;
	req->n = 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct hitem *x = *(const struct hitem *const *)a;
	const struct hitem *y = *(const struct hitem *const *)b;
	int r;

	if (x->namelen != y->namelen)
		return x->namelen < y->namelen ? -1 : 1;
	r = memcmp(x->name, y->name, x->namelen);
	/* equal names in batch order, so that the later one is at fault */
	return r ? r : (x > y) - (x < y);
}

/* The first item whose name came before in the batch, or -1; -2: no memory. */
long hreq_duplicate(const struct hreq *req)
{
	const struct hitem **v;
	long dup = -1;

	if (req->n < 2)
		return -1;
	v = malloc(req->n * sizeof *v);
	if (v == NULL)
		return -2;
	for (size_t i = 0; i < req->n; i++)
		v[i] = &req->items[i];
	qsort(v, req->n, sizeof *v, name_cmp);
	for (size_t i = 1; i < req->n; i++)
		if (v[i - 1]->namelen == v[i]->namelen &&
		    memcmp(v[i - 1]->name, v[i]->name, v[i]->namelen) == 0 &&
		    (dup < 0 || v[i] - req->items < dup))
			dup = v[i] - req->items;
	free(v);
	return dup;
}

static int items_alloc(struct hreq *req, size_t n)
{
	req->n = n;
	if (n <= sizeof req->inl / sizeof *req->inl) {
		req->items = req->inl;
		return 0;
	}
	req->items = calloc(n, sizeof *req->items);
	return req->items ? 0 : -1;
}

/* Smallest item of each type (an empty name), to bound the count first. */
static size_t min_item(uint32_t type)
{
	switch (type) {
	case HP_STORE:
		return 4 + 4 + 8 + 1;
	case HP_RESTORE:
		return 4 + 4 + 8 + 4 + 8 + 1;
	default:
		return 4 + 1;
	}
}

static uint32_t decode_item(uint32_t type, struct hp_in *in, struct hitem *it)
{
	it->flags = hp_u32(in);
	if (type == HP_STORE || type == HP_RESTORE) {
		it->nfds = hp_u32(in);
		it->ttl_ms = hp_u64(in);
	}
	if (type == HP_RESTORE) {
		it->owner = hp_u32(in);
		it->age_ms = hp_u64(in);
	}
	it->name = hp_name(in, &it->namelen);
	if (in->bad)
		return HP_EPROTO;
	if (!hp_name_ok(it->name, it->namelen))
		return HP_EINVAL;
	if (type == HP_STORE || type == HP_RESTORE) {
		if (it->nfds == 0 || (it->flags & ~HP_STORE_FLAGS) ||
		    (it->flags & HP_F_REPLACE && it->flags & HP_F_APPEND))
			return HP_EINVAL;
	} else if (it->flags & ~(uint32_t)(type == HP_FETCH ? HP_F_REMOVE : 0)) {
		return HP_EINVAL;
	}
	return HP_OK;
}

/* STORE, RESTORE, FETCH, REMOVE: u32 count, then the items. */
static uint32_t decode_items(uint32_t type, struct hp_in *in, size_t nfds,
                             struct hreq *req)
{
	uint32_t count = hp_u32(in);
	size_t fd_off = 0;

	if (in->bad || count == 0 || count > (in->len - in->off) / min_item(type))
		return HP_EPROTO;
	if (items_alloc(req, count) < 0)
		return HP_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		struct hitem *it = &req->items[i];
		uint32_t code = decode_item(type, in, it);

		req->bad = (uint32_t)i;
		if (code != HP_OK)
			return code;
		it->fd_off = fd_off;
		if (it->nfds > nfds - fd_off)
			return HP_EPROTO;
		fd_off += it->nfds;
	}
	req->bad = 0;
	if (fd_off != nfds || in->off != in->len)
		return HP_EPROTO;
	return HP_OK;
}

uint32_t hreq_decode(uint32_t type, const unsigned char *p, size_t len,
                     size_t nfds, struct hreq *req)
{
	struct hp_in in = { .p = p, .len = p ? len : 0 };
	uint32_t code;

	memset(req, 0, sizeof *req);
	req->type = type;
	switch (type) {
	case HP_STORE:
	case HP_RESTORE:
	case HP_FETCH:
	case HP_REMOVE:
		code = decode_items(type, &in, nfds, req);
		break;
	case HP_LIST:
		if (len == 0 && nfds == 0)
			return HP_OK;
		req->prefix = hp_name(&in, &req->prefixlen);
		code = in.bad || in.off != in.len || nfds ? HP_EPROTO : HP_OK;
		if (code == HP_OK && req->prefixlen > 0 &&
		    !hp_name_ok(req->prefix, req->prefixlen))
			code = HP_EINVAL;
		break;
	case HP_DUMP:
	case HP_TAKEOVER:
	case HP_TAKEOVER_DONE:
	case HP_PING:
		code = len || nfds ? HP_EPROTO : HP_OK;
		break;
	default:
		code = HP_ENOTSUP;
	}
	if (code != HP_OK)
		hreq_free(req);
	return code;
}
