/* The holder daemon (fdshare-holder(8)): what its files share. */
#ifndef FDSHARE_HOLDER_H
#define FDSHARE_HOLDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fdshare.h"
#include "../lib/holder_proto.h"
#include "../lib/sockpath.h"

/* What an epoll event's data.ptr points to: the first member says. */
enum { W_LISTEN = 1, W_SIGNAL, W_CONN, W_ENTRY, W_NOTIFY };

/* ---- reader.c: frames read without blocking (section 1 framing) ---- */
#define RBUF_SIZE 4096     /* the input buffer of a connection */
struct reader {
	unsigned char *buf;  /* RBUF_SIZE, from the first read on */
	size_t keep;         /* buf[keep..pos): the frame's bytes still needed */
	size_t pos;          /* buf[pos..end): read, not yet the frame's */
	size_t end;
	/* fds of a read past a frame's end, for the next frame that wants
	 * fds (docs/protocol.md 1.6); pend_at: that read's last byte */
	int pend[FDSHARE_MAX_FDS];
	size_t npend, pend_at;
	int short_read;      /* the last read got less than asked for */
	uint32_t type, len, nfds;
	size_t hlen;         /* header bytes taken */
	unsigned char *data; /* the payload: in buf, or its own (data_own) */
	int data_own;
	size_t dlen, max_len;
	size_t carriers;   /* carrier bytes still to take */
	int *fds;
	size_t nfds_got, fds_cap;
	size_t nseen;      /* fds received, kept or (refused) closed */
	int stage;         /* R_IDLE, R_HEADER, R_PAYLOAD, R_CARRIERS */
	uint32_t refuse;   /* a wire code: payload and fds read and dropped */
	size_t fd_room;    /* fds this request may bring (--max-fds) */
	size_t fd_allow;   /* fds not claimed yet that may still be received */
	int nomem;         /* READ_MORE as the kernel lacked memory */
};
enum { R_IDLE, R_HEADER, R_PAYLOAD, R_CARRIERS };
enum { READ_MORE = 0, READ_FRAME = 1, READ_EOF = 2 };
/* READ_FRAME: type/data/len/fds/nfds_got are the frame (take, then
 * reader_next).  READ_MORE: back to epoll (level-triggered). */
int reader_step(struct reader *r, int sock);
void reader_next(struct reader *r);   /* past a frame: closes fds not taken */
void reader_reset(struct reader *r);  /* all of it: buffer, pending fds */
int reader_busy(const struct reader *r);
int reader_buffered(const struct reader *r); /* bytes or fds read ahead */
/* The fds the request claims: those come so far, or all it announced;
 * and those read for a request not parsed yet. */
size_t reader_fds_claimed(const struct reader *r);

/*
 * Descriptors received beyond --max-fds: the held ones, those claimed by
 * requests in flight and those of the request being read stay within
 * --max-fds + FD_SLACK (one chunk of a refused frame, closed as it comes).
 * RLIMIT_NOFILE keeps 2 * FD_SLACK over --max-fds (a receive may install
 * some fds past its buffer before they are closed), and a client that
 * would take the holder past that is dropped.
 */
#define FD_SLACK FDSHARE_MAX_FDS

/* ---- request.c: frame payload -> request (pure, for the fuzzer) ---- */
struct hitem {
	const char *name;
	size_t namelen;
	uint32_t flags, nfds, owner;
	uint64_t ttl_ms, age_ms;
	size_t fd_off;     /* first fd of this item among the frame's fds */
};
struct hreq {
	uint32_t type;
	size_t n;
	struct hitem *items;
	struct hitem inl[4];
	const char *prefix; /* LIST */
	size_t prefixlen;
	uint32_t bad;      /* index of the item at fault */
};
/* 0, or a wire code with req->bad set.  nfds: the frame's fd count. */
uint32_t hreq_decode(uint32_t type, const unsigned char *p, size_t len,
                     size_t nfds, struct hreq *req);
void hreq_free(struct hreq *req);
/* The index of an item whose name an earlier one has, or -1; -2: ENOMEM. */
long hreq_duplicate(const struct hreq *req);

/* ---- rules.c: the --rules file (pure parser) ---- */
#define OP_STORE 0x1u
#define OP_FETCH 0x2u
#define OP_REMOVE 0x4u
#define OP_LIST 0x8u
#define OP_ALL (OP_STORE | OP_FETCH | OP_REMOVE | OP_LIST)
enum { RS_UID = 1, RS_GID, RS_CGROUP };
struct rule {
	int subject;
	uint32_t id;
	char *cgroup;
	size_t cglen;
	unsigned ops;
	char *prefix;      /* NULL: every name */
	size_t prefixlen;
};
struct rules {
	struct rule *v;
	size_t n;
	int need_cgroup;
	int need_groups;     /* a gid rule: supplementary groups count */
};
/* 0, or -1 with "line N: why" in err. */
int rules_parse(const char *buf, size_t len, struct rules *out, char *err,
                size_t errlen);
void rules_free(struct rules *r);

/* ---- store.c: entries in a hash table, an expiry heap, per-uid counts ---- */
struct entry {
	int kind;          /* W_ENTRY */
	struct entry *next, *limbo;
	uid_t owner;
	uint32_t flags;
	int64_t created, expires; /* ms, CLOCK_MONOTONIC; expires 0: never */
	size_t heap_i;
	int *fds;
	size_t nfds;
	int dead;
	int hup_seen;      /* hung up while frozen for a takeover */
	size_t namelen;
	char name[];
};
struct uidcount {
	uid_t uid;
	size_t n;
};
struct store {
	struct entry **tab;
	size_t size, count, fds;
	struct entry **heap;
	size_t nheap, heapcap;
	struct uidcount *uids;
	size_t nuids;
};
int store_init(struct store *s);
struct entry *store_get(struct store *s, const char *name, size_t n);
int store_put(struct store *s, struct entry *e);     /* -1/ENOMEM */
void store_unlink(struct store *s, struct entry *e); /* and from the heap */
size_t store_uid_fds(struct store *s, uid_t uid);
void store_uid_add(struct store *s, uid_t uid, long delta);
int store_heap_reserve(struct store *s, size_t n);
int store_heap_add(struct store *s, struct entry *e);
void store_heap_del(struct store *s, struct entry *e);
struct entry *store_heap_top(struct store *s);
struct entry *entry_new(const char *name, size_t n);
int64_t store_expiry(int64_t now, uint64_t ttl_ms); /* 0: never */
void store_free(struct store *s); /* frees entries and closes their fds */

/* ---- conn.c: one client ---- */
struct outframe {
	struct outframe *next;
	unsigned char *buf;  /* header, payload, carrier bytes */
	size_t len, off;
	int *fds;
	size_t nfds, fds_sent;
	int own;             /* OUT_OWN, OUT_BORROW or OUT_STABLE */
};
enum { OUT_IDLE = 0, OUT_WAIT = 1, OUT_RETRY = 2 }; /* conn.waiting_out */
enum {
	OUT_BORROW = 0,      /* the store's fds: copied if they must wait */
	OUT_OWN = 1,         /* closed once sent (or dropped) */
	OUT_STABLE = 2,      /* the store's fds, frozen (a takeover dump) */
};
struct conn {
	int kind;            /* W_CONN */
	int fd;
	struct conn *prev, *next, *tprev, *tnext, *limbo;
	int64_t deadline;
	struct fdshare_peer peer;
	char *cgroup;        /* read at connect if a rule needs it; "" unknown */
	gid_t *groups;       /* supplementary, read when a gid rule first asks */
	size_t ngroups;
	int groups_read;
	struct reader rd;
	struct outframe *out, *out_tail;
	int watched;         /* in the epoll set (conn_watch) */
	int served;          /* a request of it was carried out */
	uint32_t events;     /* its events there, or once it is */
	int waiting_out;     /* OUT_WAIT: EPOLLOUT armed; OUT_RETRY: no events, retried */
	int closing;         /* close once the output is sent */
	int dead;
	int takeover;        /* the new holder's connection */
	uint32_t last_code;  /* of the last reply, for the log */
	struct outframe errframe; /* error replies need no allocation */
	unsigned char errbuf[20 + 8]; /* FRAME_HDR_LEN, code, index */
	int err_busy;        /* errframe queued */
	size_t claimed;      /* fds its request in flight claims */
	struct conn *rnext;  /* on the ready list: frames left in its buffer */
	int ready;
};

/* ---- the daemon ---- */
struct config {
	const char *socket, *rules_path;
	const char *notify_socket; /* NULL: none */
	size_t max_fds, quota, max_clients, max_uid_clients, max_request;
	long timeout_ms;
	int ready_fd, verbose, takeover;
	mode_t mode;
	gid_t group;
	int have_group;
};

enum { H_RUN, H_MOVED, H_DRAIN };

struct uid_conns {
	uid_t uid;
	size_t n;
};

struct holder {
	struct config cf;
	int epfd, lfd, sigfd, reserve_fd;
	int listen_kind, signal_kind;
	struct sockpath sp; /* the socket file, removed at the end if ours */
	int nfd, notify_kind; /* --notify-socket, or -1 */
	int notify_paused;  /* frozen for a takeover: not read */
	struct sockpath nsp;
	struct store store;
	struct rules rules;
	struct conn *conns, *thead, *ttail;
	struct conn *ready;  /* to read from their buffer, no event will say */
	size_t nconns;
	size_t claimed;     /* fds of the requests in flight, all clients */
	struct entry *limbo_e;
	struct conn *limbo_c, *moved_by;
	int state;
	int stopping;       /* SIGTERM: finish in flight, then exit */
	int handed_over;    /* takeover done: drain, then exit */
	int64_t retry_at;   /* a reply, read or watch waits for kernel memory */
	unsigned accept_batch; /* accept4 calls per wake-up */
	unsigned long rounds;  /* of the event loop */
	int groups_unread;     /* SO_PEERGROUPS failed once: said in the log */
	unsigned long accept_full; /* the round that accepted a full batch */
	uid_t self_uid;
	struct uid_conns *uids; /* connections per uid (uids.c) */
	size_t nuids, cuids;
};

/* loop.c */
void hlog(struct holder *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int holder_run(struct holder *h);
int holder_listen_add(struct holder *h);
int accept_clients(struct holder *h, int max); /* 1: there may be more */
void holder_listen_stop(struct holder *h);

/* conn.c */
struct conn *conn_new(struct holder *h, int fd); /* not yet in the epoll set */
void conn_watch(struct holder *h, struct conn *c); /* after its first turn */
void conn_close(struct holder *h, struct conn *c);
void conn_event(struct holder *h, struct conn *c, uint32_t events);
int conn_idle(const struct conn *c);
/* Queue a reply; fds are sent and then closed when own, else only sent
 * (and duplicated first if they cannot all go out at once, unless stable). */
/* -1 (ENOMEM): nothing queued, the fds stay the caller's, c stays open;
 * 0: queued (c may have been closed since, its fds then dropped). */
int conn_reply(struct holder *h, struct conn *c, uint32_t type,
               const void *data, size_t len, int *fds, size_t nfds, int own);
/* conn_reply in two steps: queue (-1 as above), then send. */
int conn_queue(struct conn *c, uint32_t type, const void *data, size_t len,
               int *fds, size_t nfds, int own);
void conn_send(struct holder *h, struct conn *c);
void conn_retry_out(struct holder *h);
int conn_reply_err(struct holder *h, struct conn *c, uint32_t type,
                   uint32_t code, uint32_t index);
void conn_timeout_sweep(struct holder *h, int64_t now);
void conn_run_ready(struct holder *h);

/* ops.c, list.c */
void ops_list(struct holder *h, struct conn *c, const struct hreq *req);
void ops_dump_reply(struct holder *h, struct conn *c);
void ops_restore(struct holder *h, struct conn *c, const struct hreq *req);
void ops_dispatch(struct holder *h, struct conn *c);
void entry_drop(struct holder *h, struct entry *e, const char *why);
void entry_take(struct holder *h, struct entry *e); /* fds stay open */
void entry_hangup_later(struct holder *h, struct entry *e);
void entries_drop_hung_up(struct holder *h);
void expiry_run(struct holder *h, int64_t now);
int ops_restore_items(struct holder *h, const struct hreq *req, int *fds,
                      uid_t who, uint32_t *bad);

/* acl.c; a peer of unknown cgroup (NULL) matches no cgroup rule */
int acl_allows(struct holder *h, struct conn *c, unsigned op,
               const struct entry *e, const char *name, size_t n);
int acl_allows_peer(struct holder *h, const struct fdshare_peer *p, const char *cgroup,
                    unsigned op, const struct entry *e, const char *name, size_t n);
int acl_is_admin(struct holder *h, const struct conn *c);
void acl_read_cgroup(struct holder *h, struct conn *c);

/* uids.c: --max-clients-per-uid */
int uids_add(struct holder *h, uid_t uid); /* -1: EUSERS, ENOMEM */
void uids_del(struct holder *h, uid_t uid);

/* takeover.c */
int takeover_fetch(struct holder *h, int *oldfd);
int takeover_finish(struct holder *h, int oldfd);
void takeover_begin(struct holder *h, struct conn *c);
void takeover_done(struct holder *h, struct conn *c);
void takeover_abort(struct holder *h, struct conn *c);

/* notify.c: --notify-socket, systemd's fd store protocol */
int hnotify_check(struct holder *h);
int hnotify_open(struct holder *h);
void hnotify_event(struct holder *h);
void hnotify_pause(struct holder *h, int pause);
void hnotify_stop(struct holder *h); /* what waits is handled, then closed */

/* start.c */
int holder_load_rules(struct holder *h, int at_start);
int holder_start(const struct config *cf); /* the exit code */

#endif
