/*
 * The entries: a chained hash table by name, a min-heap by expiry time,
 * and the count of held fds per owner uid (the quota).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "../lib/internal.h"

#define NO_HEAP SIZE_MAX

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

int store_init(struct store *s)
{
	memset(s, 0, sizeof *s);
	s->tab = calloc(1024, sizeof *s->tab);
	if (s->tab == NULL)
		return -1;
	s->size = 1024;
	return 0;
}

struct entry *entry_new(const char *name, size_t n)
{
	struct entry *e = calloc(1, sizeof *e + n + 1);

	if (e == NULL)
		return NULL;
	e->kind = W_ENTRY;
	e->heap_i = NO_HEAP;
	memcpy(e->name, name, n);
	e->namelen = n;
	return e;
}

/* When an entry of this TTL expires (0: never); a TTL past the clock's
 * range never comes, rather than wrapping round to the past. */
int64_t store_expiry(int64_t now, uint64_t ttl_ms)
{
	if (ttl_ms == 0)
		return 0;
	if (ttl_ms > (uint64_t)(INT64_MAX - now))
		return INT64_MAX;
	return now + (int64_t)ttl_ms;
}

struct entry *store_get(struct store *s, const char *name, size_t n)
{
	struct entry *e = s->tab[hash(name, n) & (s->size - 1)];

	while (e && (e->namelen != n || memcmp(e->name, name, n) != 0))
		e = e->next;
	return e;
}

static void grow(struct store *s)
{
	size_t size = s->size * 2;
	struct entry **tab = calloc(size, sizeof *tab);

	if (tab == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->size; i++) {
		struct entry *e = s->tab[i], *next;

		for (; e; e = next) {
			size_t b = hash(e->name, e->namelen) & (size - 1);

			next = e->next;
			e->next = tab[b];
			tab[b] = e;
		}
	}
	free(s->tab);
	s->tab = tab;
	s->size = size;
}

int store_put(struct store *s, struct entry *e)
{
	size_t b;

	if (e->expires && store_heap_add(s, e) < 0)
		return -1;
	if (s->count >= s->size)
		grow(s);
	b = hash(e->name, e->namelen) & (s->size - 1);
	e->next = s->tab[b];
	s->tab[b] = e;
	s->count++;
	s->fds += e->nfds;
	store_uid_add(s, e->owner, (long)e->nfds);
	return 0;
}

void store_unlink(struct store *s, struct entry *e)
{
	struct entry **p = &s->tab[hash(e->name, e->namelen) & (s->size - 1)];

	while (*p && *p != e)
		p = &(*p)->next;
	if (*p == NULL)
		return;
	*p = e->next;
	e->next = NULL;
	s->count--;
	s->fds -= e->nfds;
	store_uid_add(s, e->owner, -(long)e->nfds);
	store_heap_del(s, e);
}

static struct uidcount *uid_find(struct store *s, uid_t uid)
{
	for (size_t i = 0; i < s->nuids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	return NULL;
}

size_t store_uid_fds(struct store *s, uid_t uid)
{
	struct uidcount *u = uid_find(s, uid);

	return u ? u->n : 0;
}

/* A uid with no fds left is forgotten, so the table stays small. */
void store_uid_add(struct store *s, uid_t uid, long delta)
{
	struct uidcount *u = uid_find(s, uid);

	if (u == NULL) {
		struct uidcount *v;

		if (delta <= 0)
			return;
		v = realloc(s->uids, (s->nuids + 1) * sizeof *v);
		if (v == NULL)
			return; /* the quota of this uid goes unenforced */
		s->uids = v;
		u = &s->uids[s->nuids++];
		u->uid = uid;
		u->n = 0;
	}
	u->n = (size_t)((long)u->n + delta);
	if (u->n == 0)
		*u = s->uids[--s->nuids];
}

/* ---- the expiry heap ---- */

static void heap_set(struct store *s, size_t i, struct entry *e)
{
	s->heap[i] = e;
	e->heap_i = i;
}

static void sift_up(struct store *s, size_t i)
{
	struct entry *e = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (s->heap[parent]->expires <= e->expires)
			break;
		heap_set(s, i, s->heap[parent]);
		i = parent;
	}
	heap_set(s, i, e);
}

static void sift_down(struct store *s, size_t i)
{
	struct entry *e = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && s->heap[c + 1]->expires < s->heap[c]->expires)
			c++;
		if (s->heap[c]->expires >= e->expires)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, e);
}

int store_heap_reserve(struct store *s, size_t n)
{
	size_t cap = s->heapcap ? s->heapcap : 64;
	struct entry **v;

	while (cap < s->nheap + n)
		cap *= 2;
	if (cap == s->heapcap)
		return 0;
	v = realloc(s->heap, cap * sizeof *v);
	if (v == NULL)
		return -1;
	s->heap = v;
	s->heapcap = cap;
	return 0;
}

int store_heap_add(struct store *s, struct entry *e)
{
	if (store_heap_reserve(s, 1) < 0)
		return -1;
	heap_set(s, s->nheap++, e);
	sift_up(s, e->heap_i);
	return 0;
}

void store_heap_del(struct store *s, struct entry *e)
{
	size_t i = e->heap_i;
	struct entry *last;

	if (i == NO_HEAP)
		return;
	e->heap_i = NO_HEAP;
	last = s->heap[--s->nheap];
	if (last == e)
		return;
	heap_set(s, i, last);
	sift_up(s, i);
	sift_down(s, last->heap_i);
}

struct entry *store_heap_top(struct store *s)
{
	return s->nheap ? s->heap[0] : NULL;
}

void store_free(struct store *s)
{
	for (size_t i = 0; i < s->size; i++) {
		struct entry *e = s->tab[i], *next;

		for (; e; e = next) {
			next = e->next;
			close_fds(e->fds, e->nfds);
			free(e->fds);
			free(e);
		}
	}
	free(s->tab);
	free(s->heap);
	free(s->uids);
	memset(s, 0, sizeof *s);
}
