/*
 * The holder protocol (docs/protocol.md, section 3): frame types, flags,
 * wire error codes and the little-endian payload codec, shared by the
 * daemon (src/holder) and the client (src/lib/holder_client.c).
 */
#ifndef FDSHARE_HOLDER_PROTO_H
#define FDSHARE_HOLDER_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Request frame types; a reply has the request's type | HP_REPLY. */
enum {
	HP_STORE = 1,
	HP_FETCH = 2,
	HP_REMOVE = 3,
	HP_LIST = 4,
	HP_DUMP = 5,
	HP_RESTORE = 6,
	HP_TAKEOVER = 7,
	HP_TAKEOVER_DONE = 8,
	HP_PING = 9,
};
#define HP_REPLY 0x80000000u

/* Item flags (STORE, RESTORE, FETCH). */
#define HP_F_REPLACE 0x1u        /* STORE: swap an existing entry */
#define HP_F_APPEND 0x2u         /* STORE: add fds to an existing entry */
#define HP_F_DROP_ON_HANGUP 0x4u /* STORE: close when a fd reports HUP/ERR */
#define HP_F_REMOVE 0x1u         /* FETCH: take the entry out */
#define HP_STORE_FLAGS (HP_F_REPLACE | HP_F_APPEND | HP_F_DROP_ON_HANGUP)

/* Wire error codes: stable numbers, mapped to errno by the client. */
enum {
	HP_OK = 0,
	HP_ENOENT = 1,   /* no such name */
	HP_EBUSY = 2,    /* name exists (STORE without replace/append) */
	HP_EACCES = 3,   /* refused by the access rules */
	HP_EDQUOT = 4,   /* the uid's quota of held fds */
	HP_EINVAL = 5,   /* bad name, flags or fd count */
	HP_EMFILE = 6,   /* the holder's --max-fds */
	HP_EPROTO = 7,   /* malformed request */
	HP_EMSGSIZE = 8, /* request over the size limit */
	HP_ENOMEM = 9,   /* the holder ran out of memory */
	HP_EMOVED = 10,  /* handed over: reconnect to the same path and retry */
	HP_ESHUTDOWN = 11, /* the holder is stopping */
	HP_ENOTSUP = 12, /* unknown request type */
	HP_ENFILE = 13,  /* the holder's RLIMIT_NOFILE */
	HP_EUSERS = 14,  /* --max-clients: connection refused */
	HP_NCODES
};

#define HP_NAME_MAX 255

/* Names: 1..255 bytes of printable ASCII, no ':' and no whitespace. */
static inline int hp_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > HP_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == ':')
			return 0;
	}
	return 1;
}

static inline int hp_errno(uint32_t code)
{
	static const int map[HP_NCODES] = {
		[HP_OK] = 0, [HP_ENOENT] = ENOENT, [HP_EBUSY] = EBUSY,
		[HP_EACCES] = EACCES, [HP_EDQUOT] = EDQUOT, [HP_EINVAL] = EINVAL,
		[HP_EMFILE] = EMFILE, [HP_EPROTO] = EPROTO,
		[HP_EMSGSIZE] = EMSGSIZE, [HP_ENOMEM] = ENOMEM,
		[HP_EMOVED] = EAGAIN, [HP_ESHUTDOWN] = ESHUTDOWN,
		[HP_ENOTSUP] = EOPNOTSUPP, [HP_ENFILE] = ENFILE,
		[HP_EUSERS] = EUSERS,
	};
	return code < HP_NCODES ? map[code] : EPROTO;
}

/* A bounded reader over a payload; any overrun sets bad and reads zeros. */
struct hp_in {
	const unsigned char *p;
	size_t len, off;
	int bad;
};

static inline const unsigned char *hp_take(struct hp_in *in, size_t n)
{
	const unsigned char *p;

	if (in->bad || in->len - in->off < n) {
		in->bad = 1;
		return NULL;
	}
	p = in->p + in->off;
	in->off += n;
	return p;
}

static inline uint32_t hp_u32(struct hp_in *in)
{
	const unsigned char *p = hp_take(in, 4);

	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	           (uint32_t)p[3] << 24 : 0;
}

static inline uint64_t hp_u64(struct hp_in *in)
{
	uint64_t lo = hp_u32(in);

	return lo | (uint64_t)hp_u32(in) << 32;
}

/* A name: one length byte, then the bytes; n out, not terminated. */
static inline const char *hp_name(struct hp_in *in, size_t *n)
{
	const unsigned char *l = hp_take(in, 1);

	*n = l ? *l : 0;
	return (const char *)hp_take(in, *n);
}

/* A growing output buffer; a failed allocation sets bad. */
struct hp_out {
	unsigned char *p;
	size_t len, cap;
	int bad;
};

int hp_reserve(struct hp_out *out, size_t n);

static inline void hp_put(struct hp_out *out, const void *v, size_t n)
{
	if (n == 0 || hp_reserve(out, n) < 0)
		return;
	memcpy(out->p + out->len, v, n);
	out->len += n;
}

static inline void hp_put32(struct hp_out *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
	                       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	hp_put(out, b, 4);
}

static inline void hp_put64(struct hp_out *out, uint64_t v)
{
	hp_put32(out, (uint32_t)v);
	hp_put32(out, (uint32_t)(v >> 32));
}

static inline void hp_putname(struct hp_out *out, const char *s, size_t n)
{
	unsigned char l = (unsigned char)n;

	hp_put(out, &l, 1);
	hp_put(out, s, n);
}

/* Set an already written u32 (a count known only at the end). */
static inline void hp_set32(struct hp_out *out, size_t off, uint32_t v)
{
	if (out->bad || off + 4 > out->len)
		return;
	out->p[off] = (unsigned char)v;
	out->p[off + 1] = (unsigned char)(v >> 8);
	out->p[off + 2] = (unsigned char)(v >> 16);
	out->p[off + 3] = (unsigned char)(v >> 24);
}

#endif
