/*
 * libFuzzer harness: fdshare_msg_recv, or the buffered reader, on bytes
 * and descriptors that really cross a socketpair, in records the input
 * chooses.
 *
 * Input: byte 0 picks the socket (bit 0: SOCK_SEQPACKET, else
 * SOCK_STREAM) and the receiver (bit 1: a fdshare_reader, bit 2: taking
 * frames with fdshare_reader_recvv, up to 1 + (byte 0 >> 3) at a time,
 * else fdshare_reader_recv); then records, each a 3-byte head and its bytes:
 *   len  = b0 | (b1 & 0x1f) << 8   (bytes that follow, cut at the end)
 *   nfds = b2 < 0x80 ? b2 % 8 : min((b2 & 0x7f) * 2, 253)
 * Each record is one sendmsg with nfds copies of /dev/null attached (on a
 * stream the rest of a short send follows without fds).  The reader takes
 * frames until it gets 0 or -1.  Aborts on: a descriptor
 * count that differs after the input, an errno other than EPROTO/ECHRNG/
 * ENOMEM, a message that breaks fdshare.h's promises or is not what the
 * bytes sent say at that point of the stream (each frame is exactly
 * header, payload and carrier bytes: docs/protocol.md), more fds
 * delivered than sent.  Leaks and memory errors are the sanitizers'.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdshare.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;
static dev_t null_rdev;

struct writer {
	int sock;
	const uint8_t *p;       /* records not yet started */
	size_t n;
	const uint8_t *rest;    /* the unsent tail of a stream record */
	size_t restlen;
	size_t fds_sent;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static size_t record_nfds(uint8_t b)
{
	size_t n = (size_t)(b & 0x7f) * 2;

	if (b < 0x80)
		return b % 8;
	return n < FDSHARE_MAX_FDS ? n : FDSHARE_MAX_FDS;
}

/*
 * Send records until the input ends (0), the socket would block (1, only
 * with MSG_DONTWAIT: call again) or fails (-1: the reader has gone).
 */
static int write_records(struct writer *w, int dontwait)
{
	static int fds[FDSHARE_MAX_FDS];
	int mf = dontwait ? MSG_DONTWAIT : 0;

	for (size_t i = 0; i < FDSHARE_MAX_FDS; i++)
		fds[i] = devnull;
	for (;;) {
		struct iovec iov;
		size_t len, nfds;
		ssize_t r;

		if (w->restlen > 0) {
			iov = (struct iovec){ (void *)w->rest, w->restlen };
			r = fds_sendmsg(w->sock, &iov, 1, NULL, 0, mf);
			if (r < 0)
				return errno == EAGAIN && dontwait ? 1 : -1;
			w->rest += r;
			w->restlen -= (size_t)r;
			continue;
		}
		if (w->n < 3)
			return 0;
		len = w->p[0] | (size_t)(w->p[1] & 0x1f) << 8;
		nfds = record_nfds(w->p[2]);
		if (len > w->n - 3)
			len = w->n - 3;
		iov = (struct iovec){ (void *)(w->p + 3), len };
		r = fds_sendmsg(w->sock, &iov, 1, fds, nfds, mf);
		if (r < 0)
			return errno == EAGAIN && dontwait ? 1 : -1;
		w->fds_sent += nfds;
		w->rest = w->p + 3 + r;
		w->restlen = len - (size_t)r;
		w->p += 3 + len;
		w->n -= 3 + len;
	}
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	write_records(w, 0);
	shutdown(w->sock, SHUT_WR);
	return NULL;
}

static void check_fd(int fd, int *seen, size_t i)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFD);

	if (fd < 0 || fl < 0 || !(fl & FD_CLOEXEC))
		abort();
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != null_rdev)
		abort();
	for (size_t k = 0; k < i; k++)
		if (seen[k] == fd)
			abort();
}

/* The bytes of every record in order: what the reader's stream holds. */
static uint8_t *sent_bytes(const uint8_t *p, size_t n, size_t *total)
{
	uint8_t *b = malloc(n + 1);

	if (b == NULL)
		abort();
	*total = 0;
	while (n >= 3) {
		size_t len = p[0] | (size_t)(p[1] & 0x1f) << 8;

		if (len > n - 3)
			len = n - 3;
		memcpy(b + *total, p + 3, len);
		*total += len;
		p += 3 + len;
		n -= 3 + len;
	}
	return b;
}

/* m is the frame at *pos of the bytes sent; *pos moves past it. */
static void check_msg(const struct fdshare_msg *m, const uint8_t *b, size_t total,
                      size_t *pos)
{
	const uint8_t *h = b + *pos;

	if (m->len > FDSHARE_MSG_MAX_LEN || m->nfds > FDSHARE_MSG_MAX_FDS)
		abort();
	if ((m->len > 0 && m->data == NULL) || (m->nfds > 0 && m->fds == NULL))
		abort();
	if (total - *pos < FRAME_HDR_LEN || get_le32(h) != FRAME_MAGIC ||
	    get_le32(h + 8) != m->type || get_le32(h + 12) != m->len ||
	    get_le32(h + 16) != m->nfds)
		abort();
	*pos += FRAME_HDR_LEN;
	if (total - *pos < m->len || (m->len && memcmp(b + *pos, m->data, m->len) != 0))
		abort();
	*pos += m->len;
	if (total - *pos < frame_carriers(m->nfds))
		abort();
	*pos += frame_carriers(m->nfds);
	for (size_t i = 0; i < m->nfds; i++)
		check_fd(m->fds[i], m->fds, i);
}

/* Frames through a fdshare_reader until 0 or -1; what the last call gave. */
static int take_with_reader(int sock, uint8_t how, const uint8_t *b, size_t total,
                            size_t *pos, size_t *fds_got)
{
	struct fdshare_msg m[32];
	size_t n = 1 + (how >> 3);
	struct fdshare_reader *rd = fdshare_reader_new(sock);
	int r, err;

	if (rd == NULL)
		return errno == ENOMEM ? -1 : (abort(), -1);
	do {
		memset(m, 0, sizeof m);
		r = (how & 4) ? fdshare_reader_recvv(rd, m, n) : fdshare_reader_recv(rd, m);
		if (r > (int)n)
			abort();
		for (int i = 0; i < r; i++) {
			check_msg(&m[i], b, total, pos);
			*fds_got += m[i].nfds;
			fdshare_msg_free(&m[i]);
		}
	} while (r > 0);
	if (m[0].data != NULL || m[0].fds != NULL || m[0].len != 0 || m[0].nfds != 0)
		abort();
	err = errno;
	fdshare_reader_free(rd);
	errno = err;
	return r;
}

static void init(void)
{
	struct stat st;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || fstat(devnull, &st) < 0)
		abort();
	null_rdev = st.st_rdev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct writer w = { .p = data + 1, .n = size ? size - 1 : 0 };
	struct fdshare_msg m[1];
	pthread_t th;
	int sv[2], before, threaded = 0, r;
	size_t fds_got = 0, total, pos = 0;
	uint8_t *bytes;

	if (size == 0)
		return 0;
	if (devnull < 0)
		init();
	bytes = sent_bytes(w.p, w.n, &total);
	before = count_fds();
	if (socketpair(AF_UNIX, ((data[0] & 1) ? SOCK_SEQPACKET : SOCK_STREAM) |
	               SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	w.sock = sv[0];
	/* What fits the socket is written first: most inputs need no thread. */
	if (write_records(&w, 1) == 1) {
		if (pthread_create(&th, NULL, writer_thread, &w) != 0)
			abort();
		threaded = 1;
	} else {
		shutdown(sv[0], SHUT_WR);
	}
	memset(m, 0, sizeof m);
	if (data[0] & 2)
		r = take_with_reader(sv[1], data[0], bytes, total, &pos, &fds_got);
	else
		while ((r = fdshare_msg_recv(sv[1], m)) == 1) {
			check_msg(m, bytes, total, &pos);
			fds_got += m->nfds;
			fdshare_msg_free(m);
		}
	if (r < 0 && errno != EPROTO && errno != ECHRNG && errno != ENOMEM)
		abort();
	if (m->data != NULL || m->fds != NULL || m->len != 0 || m->nfds != 0)
		abort();
	close(sv[1]); /* a writer still at work gets EPIPE */
	if (threaded)
		pthread_join(th, NULL);
	close(sv[0]);
	if (fds_got > w.fds_sent || count_fds() != before)
		abort();
	free(bytes);
	return 0;
}
