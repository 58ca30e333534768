/*
 * Connections per uid (--max-clients-per-uid): one uid cannot take every
 * place of --max-clients and lock the others out.  Root and the holder's
 * own uid, its administrators, are not counted.  A few uids are connected
 * at once, rarely more than a handful: a short array, searched in order.
 */
#include <errno.h>
#include <stdlib.h>

#include "holder.h"

static int counted(const struct holder *h, uid_t uid)
{
	return uid != 0 && uid != h->self_uid;
}

static struct uid_conns *find(struct holder *h, uid_t uid)
{
	for (size_t i = 0; i < h->nuids; i++)
		if (h->uids[i].uid == uid)
			return &h->uids[i];
	return NULL;
}

/* -1 with EUSERS when uid has its connections already, ENOMEM. */
int uids_add(struct holder *h, uid_t uid)
{
	struct uid_conns *u;

	if (!counted(h, uid))
		return 0;
	u = find(h, uid);
	if (u && u->n >= h->cf.max_uid_clients) {
		errno = EUSERS;
		return -1;
	}
	if (u) {
		u->n++;
		return 0;
	}
	if (h->nuids == h->cuids) {
		size_t cap = h->cuids ? 2 * h->cuids : 8;
		struct uid_conns *v = realloc(h->uids, cap * sizeof *v);

		if (v == NULL)
			return -1;
		h->uids = v;
		h->cuids = cap;
	}
	h->uids[h->nuids++] = (struct uid_conns){ .uid = uid, .n = 1 };
	return 0;
}

void uids_del(struct holder *h, uid_t uid)
{
	struct uid_conns *u = counted(h, uid) ? find(h, uid) : NULL;

	if (u && --u->n == 0)
		*u = h->uids[--h->nuids];
}
