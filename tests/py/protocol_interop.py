"""The checks that drive tests/py/fdshare_protocol.py (docs/protocol.md,
implemented from the document alone) against the C side: the library
through ctypes, the CLI and the holder.  Run by tests/test_protocol_interop.sh
as 'protocol_interop.py CASE ARG...'; each case raises (or calls fail) on a
mismatch, and main() checks that this process has as many fds open after
it as before."""
import ctypes
import errno
import os
import resource
import select
import socket
import struct
import sys
import threading
import time

from fdshare_protocol import *  # noqa: F401,F403 (the implementation under test)


def fail(why):
	raise AssertionError(why)


def check(cond, why):
	if not cond:
		fail(why)


def fdcount():
	return len(os.listdir('/proc/self/fd'))


def same_file(a, b, what):
	sa, sb = os.fstat(a), os.fstat(b)
	check((sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino),
		'%s: fd %d is not the open file of fd %d' % (what, b, a))


def shared_offset(a, b, what, to=None):
	"""Moving the offset of b moves a's: one open file, not a reopen."""
	to = to if to is not None else os.lseek(a, 0, os.SEEK_CUR) + 3
	os.lseek(b, to, os.SEEK_SET)
	check(os.lseek(a, 0, os.SEEK_CUR) == to, '%s: offset not shared' % what)


def hung_up(rfd, secs=5):
	"""The pipe's read end sees end of file: every write end is closed."""
	p = select.poll()
	p.register(rfd, select.POLLIN)
	if not p.poll(secs * 1000):
		return False
	return os.read(rfd, 16) == b''


def pipe_probe():
	"""(read end, write end): send the write end, close ours, and
	hung_up(read end) tells that the peer closed what it got."""
	return os.pipe2(os.O_CLOEXEC)


def memfds(n):
	fds = []
	for k in range(n):
		fd = os.memfd_create('proto-%d' % k)
		os.ftruncate(fd, k + 1)
		fds.append(fd)
	return fds


def same_set(orig, got, what):
	check(len(got) == len(orig), '%s: %d fds, want %d' % (what, len(got), len(orig)))
	for k, (a, b) in enumerate(zip(orig, got)):
		same_file(a, b, '%s fd %d' % (what, k))
	if got:
		shared_offset(orig[0], got[0], what)
		shared_offset(orig[-1], got[-1], what)


def raise_nofile(n=8192):
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft < n:
		resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def pattern(n, seed):
	return bytes((i * 31 + seed) & 255 for i in range(n))


# --- frames against libfdshare through ctypes ------------------------------------

class CMsg(ctypes.Structure):
	_fields_ = [('type', ctypes.c_uint32), ('data', ctypes.c_void_p),
		('len', ctypes.c_size_t), ('fds', ctypes.POINTER(ctypes.c_int)),
		('nfds', ctypes.c_size_t)]


def load_lib(path):
	lib = ctypes.CDLL(path, use_errno=True)
	lib.fdshare_msg_send.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_char_p,
		ctypes.c_size_t, ctypes.POINTER(ctypes.c_int), ctypes.c_size_t]
	lib.fdshare_msg_recv.argtypes = [ctypes.c_int, ctypes.POINTER(CMsg)]
	lib.fdshare_msg_free.argtypes = [ctypes.POINTER(CMsg)]
	return lib


def in_thread(fn):
	out = {}

	def run():
		try:
			out['value'] = fn()
		except BaseException as e:  # reported by the caller
			out['error'] = e
	t = threading.Thread(target=run)
	t.start()
	return t, out


def joined(t, out):
	t.join(30)
	check(not t.is_alive(), 'a peer thread is stuck')
	if 'error' in out:
		raise out['error']
	return out.get('value')


def c_recv(lib, sock):
	"""(rc, errno, type, payload, fds) of fdshare_msg_recv; the caller
	owns the fds."""
	m = CMsg()
	rc = lib.fdshare_msg_recv(sock.fileno(), ctypes.byref(m))
	err = ctypes.get_errno()
	if rc != 1:
		return rc, err, None, None, []
	data = ctypes.string_at(m.data, m.len) if m.len else b''
	fds = [m.fds[k] for k in range(m.nfds)]
	mtype = m.type
	for k in range(m.nfds):
		m.fds[k] = -1
	lib.fdshare_msg_free(ctypes.byref(m))
	return rc, 0, mtype, data, fds


def c_send(lib, sock, mtype, payload, fds):
	arr = (ctypes.c_int * max(len(fds), 1))(*fds)
	rc = lib.fdshare_msg_send(sock.fileno(), mtype, payload, len(payload), arr, len(fds))
	check(rc == 0, 'fdshare_msg_send: %s' % os.strerror(ctypes.get_errno()))


def py_to_c(lib, kind, mtype, payload, fds):
	a, b = socket.socketpair(socket.AF_UNIX, kind)
	with a, b:
		t, out = in_thread(lambda: c_recv(lib, b))
		send_frame(a, mtype, payload, fds)
		rc, err, rtype, data, got = joined(t, out)
	what = 'py->C %s len %d nfds %d' % (kind.name, len(payload), len(fds))
	check(rc == 1, '%s: fdshare_msg_recv %d (%s)' % (what, rc, os.strerror(err)))
	try:
		check(rtype == mtype and data == payload, '%s: type or payload differ' % what)
		same_set(fds, got, what)
	finally:
		close_all(got)


def c_to_py(lib, kind, mtype, payload, fds):
	a, b = socket.socketpair(socket.AF_UNIX, kind)
	with a, b:
		t, out = in_thread(lambda: c_send(lib, a, mtype, payload, fds))
		f = recv_frame(b)
		joined(t, out)
	what = 'C->py %s len %d nfds %d' % (kind.name, len(payload), len(fds))
	try:
		check(f.type == mtype and f.payload == payload, '%s: type or payload differ' % what)
		same_set(fds, f.fds, what)
		want = expected_records(len(payload), len(fds))
		if kind == socket.SOCK_SEQPACKET:
			check(f.records == want, '%s: records %r, want %r' % (what, f.records[:4], want[:4]))
		else:
			check(f.records[0][1] == want[0][1], '%s: chunk 1 not with the header' % what)
	finally:
		close_all(f.fds)


def case_lib_frames(libpath):
	raise_nofile()
	lib = load_lib(libpath)
	pool = memfds(600)
	try:
		for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
			for nfds in (0, 1, 253, 254, 506, 507, 600):
				for n in (0, 1, 4076, 4077, 4076 + 65536 + 1, 1 << 20):
					payload = pattern(n, nfds)
					py_to_c(lib, kind, 0x10000 + nfds, payload, pool[:nfds])
					c_to_py(lib, kind, 0xfffffff0 + (nfds & 7), payload, pool[:nfds])
	finally:
		close_all(pool)


def c_refuses(lib, kind, recs, what, half=False):
	"""fdshare_msg_recv on records recs must fail EPROTO and close every fd."""
	r, w = pipe_probe()
	a, b = socket.socketpair(socket.AF_UNIX, kind)
	try:
		t, out = in_thread(lambda: c_recv(lib, b))
		send_records(a, [(d, [w] * n) for d, n in recs])
		os.close(w)
		w = -1
		if half:
			a.shutdown(socket.SHUT_WR)
		rc, err, _, _, got = joined(t, out)
		close_all(got)
		check(rc == -1 and err == errno.EPROTO, '%s: rc %d errno %s, not EPROTO' % (what, rc, errno.errorcode.get(err)))
		check(hung_up(r), '%s: the fds received were not closed' % what)
	finally:
		a.close()
		b.close()
		os.close(r)
		if w >= 0:
			os.close(w)


def case_lib_refuse(libpath):
	lib = load_lib(libpath)
	H = header
	for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
		c_refuses(lib, kind, [(H(1, 0, 1, magic=0x48534447), 1)], 'bad magic')
		c_refuses(lib, kind, [(H(1, 0, 1, version=2), 1)], 'version 2')
		c_refuses(lib, kind, [(H(1, 0, 1, reserved=b'\0\1\0'), 1)], 'reserved byte')
		c_refuses(lib, kind, [(H(1, MAX_LEN + 1, 1), 1)], 'len over the limit')
		c_refuses(lib, kind, [(H(1, 0, MAX_FDS + 1), 1)], 'nfds over the limit')
		c_refuses(lib, kind, [(H(1, 2, 1) + b'ab', 2)], 'more fds than nfds')
		c_refuses(lib, kind, [(H(1, 2, 2) + b'ab', 1)], 'fewer fds than nfds', half=True)
		c_refuses(lib, kind, [(H(1, 9, 1) + b'ab', 1)], 'end inside the frame', half=True)
	c_refuses(lib, socket.SOCK_SEQPACKET, [(H(1, 2, 1) + b'abc', 1)], 'record past the frame')
	for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
		a, b = socket.socketpair(socket.AF_UNIX, kind)
		with a, b:
			a.shutdown(socket.SHUT_WR)
			rc = c_recv(lib, b)[0]
			check(rc == 0, 'clean end of stream: fdshare_msg_recv %d, not 0' % rc)


# --- section 2 against fdshare send and fdshare recv ----------------------------

def open_dir_files(d, n):
	return [os.open(os.path.join(d, str(k)), os.O_RDWR | os.O_CLOEXEC) for k in range(n)]


def check_dir_files(d, fds, what):
	for k, fd in enumerate(fds):
		st, sf = os.stat(os.path.join(d, str(k))), os.fstat(fd)
		check((st.st_dev, st.st_ino) == (sf.st_dev, sf.st_ino), '%s: fd %d is not %s/%d' % (what, fd, d, k))


def wait_offsets(fds, want, what):
	for _ in range(100):
		if all(os.lseek(fd, 0, os.SEEK_CUR) == want(k) for k, fd in enumerate(fds)):
			return
		time.sleep(0.05)
	fail('%s: the other side did not move the shared offsets' % what)


def case_send_to_recv(path, d, n, *names):
	"""Python 'fdshare send' of d/0..d/n-1 to 'fdshare recv', whose CMD is
	listen-check; the offsets it moves are seen here."""
	n = int(n)
	names = [x.encode() for x in names] or [b'fd%d' % k for k in range(n)]
	fds = open_dir_files(d, n)
	try:
		check(send_exchange(path, fds, names), 'fdshare recv refused the frame')
		wait_offsets(fds, lambda k: k + 1, 'send-to-recv')
	finally:
		close_all(fds)


def case_listen_check(d, n, names):
	"""The CMD of fdshare recv or fetch: LISTEN_* and fds 3.. are d/0..."""
	n = int(n)
	env = os.environ
	check(env.get('LISTEN_PID') == str(os.getpid()), 'LISTEN_PID %s' % env.get('LISTEN_PID'))
	check(env.get('LISTEN_FDS') == str(n), 'LISTEN_FDS %s, want %d' % (env.get('LISTEN_FDS'), n))
	check(env.get('LISTEN_FDNAMES') == names, 'LISTEN_FDNAMES %.60s, want %.60s' % (env.get('LISTEN_FDNAMES'), names))
	fds = list(range(3, 3 + n))
	check_dir_files(d, fds, 'listen-check')
	for k, fd in enumerate(fds):
		os.lseek(fd, k + 1, os.SEEK_SET)


def case_recv_from_send(path, d, n, names):
	"""Python 'fdshare recv' for 'fdshare send' of d/0..d/n-1; it moves
	offset k of fd k to 7 * (k + 1), which the shell checks."""
	fds, got = recv_exchange(path, timeout=20)
	try:
		check(b':'.join(got) == names.encode(), 'names %.60r, want %.60s' % (b':'.join(got), names))
		check(len(fds) == int(n), '%d fds, want %s' % (len(fds), n))
		check_dir_files(d, fds, 'recv-from-send')
		for k, fd in enumerate(fds):
			os.lseek(fd, 7 * (k + 1), os.SEEK_SET)
	finally:
		close_all(fds)


def refused_by_recv(path, payload, nfds, mtype=T_SEND, what=''):
	r, w = pipe_probe()
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		s.settimeout(10)
		s.connect(path)
		send_frame(s, mtype, payload, [w] * nfds)
		os.close(w)
		w = -1
		try:
			f = recv_frame(s)
		except ConnectionResetError:
			f = None
		if f is not None:
			close_all(f.fds)
		check(f is None, '%s: answered, not disconnected' % what)
		check(hung_up(r), '%s: the fds of the refused frame are still open' % what)
	finally:
		s.close()
		os.close(r)
		if w >= 0:
			os.close(w)


def case_recv_refusals(path):
	"""Frames section 2.1 says fdshare recv rejects; it must go on waiting."""
	refused_by_recv(path, b'a', 1, mtype=T_SACK, what='another type')
	refused_by_recv(path, b'', 1, what='empty payload')
	refused_by_recv(path, b'a\0b', 1, what='a NUL byte')
	refused_by_recv(path, b'a:b', 1, what='two names, one fd')
	refused_by_recv(path, b'a', 2, what='one name, two fds')
	refused_by_recv(path, b'a::b', 3, what='an empty name')
	refused_by_recv(path, b'a\\b', 1, what='a backslash')
	refused_by_recv(path, b'a\x7f', 1, what='DEL')
	refused_by_recv(path, b'x' * 256, 1, what='a 256-byte name')
	refused_by_recv(path, b'a', 0, what='no fds')
	r, w = pipe_probe()
	try:
		check(send_exchange(path, [w], [b'x' * 255 + b'', ]), 'a 255-byte name refused')
	finally:
		close_all([r, w])


# --- section 3 against fdshare holder ----------------------------------------------

def expect_code(h, rtype, payload, fds, code, index=0, what=''):
	got = h.call(rtype, payload, fds)
	close_all(got[3])
	check(got[:2] == (code, index), '%s: code %d index %d, want %d index %d' % (what, got[0], got[1], code, index))


def one_entry(h, name):
	es = [e for e in h.list(name) if e['name'] == name]
	check(len(es) == 1, 'LIST %s: %d entries' % (name, len(es)))
	return es[0]


def check_fdinfo(i, fd, hpid, what):
	st = os.fstat(fd)
	check(i['pid'] == hpid, '%s: pid %d, not the holder %d' % (what, i['pid'], hpid))
	check((i['dev'], i['ino'], i['mode']) == (st.st_dev, st.st_ino, st.st_mode),
		'%s: dev/ino/mode %r' % (what, (i['dev'], i['ino'], i['mode'])))
	check(os.path.exists('/proc/%d/fd/%d' % (hpid, i['fd'])), '%s: holder fd %d' % (what, i['fd']))


def case_holder_suite(path, hpid, d):
	"""Every request of section 3 that the brief names, against a holder
	started with the defaults; d holds files 0..9."""
	raise_nofile()
	hpid = int(hpid)
	f = open_dir_files(d, 4)
	pool = memfds(600)
	try:
		with Holder(path) as h:
			holder_suite(h, hpid, d, f, pool)
	finally:
		close_all(f + pool)


def holder_suite(h, hpid, d, f, pool):
	check(h.ping() == hpid, 'PING: not the holder pid')
	# STORE, LIST (every field), FETCH, shared offsets.
	os.lseek(f[0], 5, os.SEEK_SET)
	h.store([(b'py.a', [f[0]], 0, 0)])
	e = one_entry(h, b'py.a')
	check((e['owner'], e['flags'], e['left_ms'], len(e['fds'])) == (os.geteuid(), 0, NO_TTL, 1), 'LIST py.a: %r' % e)
	i = e['fds'][0]
	check_fdinfo(i, f[0], hpid, 'LIST py.a')
	check(i['kind'] == 1 and i['offset'] == 5 and i['deleted'] == 0, 'LIST py.a: kind %d offset %d' % (i['kind'], i['offset']))
	check(i['path'] == os.path.realpath(os.path.join(d, '0')).encode(), 'LIST path %r' % i['path'])
	check(i['flags'] & os.O_ACCMODE == os.O_RDWR, 'LIST open flags %#o' % i['flags'])
	check(i['family'] == 0 and i['state'] == b'' and i['local'] == b'', 'LIST: socket fields of a file %r' % i)
	[got] = h.fetch([b'py.a'])
	try:
		same_set([f[0]], got, 'FETCH py.a')
	finally:
		close_all(got)
	check(one_entry(h, b'py.a')['fds'][0]['offset'] == os.lseek(f[0], 0, os.SEEK_CUR), 'LIST offset after a move')
	# STORE of a taken name, REPLACE, APPEND with a TTL, REPLACE|APPEND.
	expect_code(h, STORE, batch([store_item(b'py.a', 1)]), [f[1]], 2, 0, 'STORE over a name')
	h.store([(b'py.a', [f[1]], F_REPLACE, 0)])
	h.store([(b'py.a', [f[2]], F_APPEND, 600000)])
	e = one_entry(h, b'py.a')
	check(len(e['fds']) == 2 and 0 < e['left_ms'] <= 600000, 'after APPEND: %d fds, left %d' % (len(e['fds']), e['left_ms']))
	[got] = h.fetch([b'py.a'])
	try:
		same_set(f[1:3], got, 'FETCH after REPLACE+APPEND')
	finally:
		close_all(got)
	expect_code(h, STORE, batch([store_item(b'py.a', 1, F_REPLACE | F_APPEND)]), [f[3]], 5, 0, 'REPLACE|APPEND')
	# Batches: counts per item, fds in item order; all or nothing.
	items = [(b'py.b%d' % k, pool[10 * k:10 * k + k + 1], 0, 0) for k in range(3)]
	h.store(items)
	out = h.fetch([b'py.b2', b'py.b0', b'py.b1'])
	try:
		for (n, fds, _, _), got in zip([items[2], items[0], items[1]], out):
			same_set(fds, got, 'FETCH batch %s' % n)
	finally:
		close_all([fd for g in out for fd in g])
	expect_code(h, STORE, batch([store_item(b'py.c0', 1), store_item(b'py.c1', 1), store_item(b'py.b1', 1)]),
		pool[:3], 2, 2, 'STORE batch, third taken')
	check(not h.list(b'py.c'), 'a refused batch stored something')
	expect_code(h, FETCH, batch([name_item(b'py.b0', F_REMOVE), name_item(b'py.none', F_REMOVE)]), [], 1, 1, 'FETCH|REMOVE, second missing')
	check(len(h.list(b'py.b')) == 3, 'a refused FETCH|REMOVE removed something')
	out = h.fetch([b'py.b0', b'py.b1'], F_REMOVE)
	close_all([fd for g in out for fd in g])
	check([e['name'] for e in h.list(b'py.b')] == [b'py.b2'], 'FETCH|REMOVE left %r' % h.list(b'py.b'))
	expect_code(h, REMOVE, batch([name_item(b'py.b2'), name_item(b'py.none')]), [], 1, 1, 'REMOVE, second missing')
	h.remove([b'py.b2', b'py.a'])
	check(not h.list(b'py.'), 'REMOVE left entries')
	# Names, counts, flags refused with EINVAL (5) or as malformed (7).
	for bad in (b'a b', b'a:b', b'a\x7f', b'a\x00', b'\xe9'):
		expect_code(h, STORE, batch([store_item(b'ok', 1), store_item(bad, 1)]), pool[:2], 5, 1, 'STORE name %r' % bad)
	expect_code(h, STORE, batch([store_item(b'z', 0)]), [], 5, 0, 'STORE nfds 0')
	expect_code(h, STORE, batch([store_item(b'z', 1), store_item(b'z', 1)]), pool[:2], 5, 1, 'STORE the same name twice')
	expect_code(h, STORE, batch([store_item(b'z', 1, 8)]), pool[:1], 5, 0, 'STORE unknown flag 8')
	# Drop on hang-up and TTL expiry.
	a, b = socket.socketpair()
	with a, b:
		h.store([(b'py.hup', [a.fileno()], F_DROP_ON_HANGUP, 0)])
		check(one_entry(h, b'py.hup')['flags'] == F_DROP_ON_HANGUP, 'LIST flags of a DROP_ON_HANGUP entry')
		expect_code(h, STORE, batch([store_item(b'py.hup2', 1, F_DROP_ON_HANGUP)]), [f[0]], 5, 0, 'DROP_ON_HANGUP of a file')
		b.close()
		check(wait_gone(h, b'py.hup'), 'a DROP_ON_HANGUP entry outlived its peer')
	h.store([(b'py.ttl', [f[0]], 0, 300)])
	check(one_entry(h, b'py.ttl')['left_ms'] <= 300, 'LIST left_ms over the TTL')
	check(wait_gone(h, b'py.ttl'), 'a 300 ms TTL entry is still there')
	h.store([(b'py.never', [f[0]], 0, 1 << 63)])
	check(one_entry(h, b'py.never')['left_ms'] > (1 << 62), 'a TTL of 2^63 ms')
	h.remove([b'py.never'])
	# A listening socket: the socket fields of LIST.
	ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	with ls:
		sp = os.path.join(d, 'l.sock')
		ls.bind(sp)
		ls.listen(1)
		h.store([(b'py.sock', [ls.fileno()], 0, 0)])
		i = one_entry(h, b'py.sock')['fds'][0]
		check((i['kind'], i['family'], i['type'], i['listening']) == (5, socket.AF_UNIX, socket.SOCK_STREAM, 1), 'LIST socket %r' % i)
		check(i['local'] == sp.encode() and i['offset'] == -1, 'LIST socket local %r offset %d' % (i['local'], i['offset']))
		h.remove([b'py.sock'])
		os.unlink(sp)
	# Chunks of 253: STORE and FETCH of 253, 254 and 600 fds.
	for n in (253, 254, 600):
		h.store([(b'py.many', pool[:n - 1], 0, 0), (b'py.one', pool[n - 1:n], 0, 0)])
		out = h.fetch([b'py.many', b'py.one'], F_REMOVE)
		try:
			same_set(pool[:n - 1], out[0], 'FETCH of %d' % (n - 1))
			same_set(pool[n - 1:n], out[1], 'FETCH second item')
		finally:
			close_all([fd for g in out for fd in g])
	# Pipelined: three requests, then three replies in order.
	send_frame(h.sock, STORE, batch([store_item(b'py.p', 2)]), pool[:2])
	send_frame(h.sock, PING)
	send_frame(h.sock, FETCH, batch([name_item(b'py.p', F_REMOVE)]))
	check(h.reply(STORE)[0] == 0 and h.reply(PING)[0] == 0, 'pipelined STORE, PING')
	code, _, body, got = h.reply(FETCH)
	try:
		check(code == 0 and body == struct.pack('<I', 2), 'pipelined FETCH')
		same_set(pool[:2], got, 'pipelined FETCH')
	finally:
		close_all(got)
	holder_bad_requests(h)


def wait_gone(h, name):
	for _ in range(100):
		if not h.list(name):
			return True
		time.sleep(0.05)
	return False


def holder_bad_requests(h):
	"""Requests answered with an error code on a connection that stays usable."""
	for rtype, payload in ((PING, b''), (FETCH, batch([name_item(b'x')])), (LIST, b''), (REMOVE, batch([name_item(b'x')]))):
		r, w = pipe_probe()
		try:
			expect_code(h, rtype, payload, [w, w], 7, 0, 'fds with request %d' % rtype)
			os.close(w)
			w = -1
			check(hung_up(r), 'the fds of request %d are still open' % rtype)
		finally:
			os.close(r)
			if w >= 0:
				os.close(w)
	r, w = pipe_probe()
	expect_code(h, 99, b'abc', [w], 12, 0, 'unknown type 99')
	os.close(w)
	check(hung_up(r), 'the fds of an unknown type are still open')
	os.close(r)
	fd = os.open('/dev/null', os.O_RDONLY)
	try:
		expect_code(h, STORE, batch([store_item(b'x', 1)]) + b'\0', [fd], 7, 0, 'STORE with a trailing byte')
		expect_code(h, STORE, batch([store_item(b'x', 2)]), [fd], 7, 0, 'STORE items announce more fds than the frame')
		expect_code(h, STORE, batch([store_item(b'x', 1), store_item(b'y', 1)])[:-3], [fd, fd], 7, 0, 'STORE cut short')
		expect_code(h, FETCH, struct.pack('<I', 2) + name_item(b'x'), [], 7, 0, 'FETCH count 2, one item')
		expect_code(h, LIST, pname(b'ab') + b'c', [], 7, 0, 'LIST with a name and a byte')
		expect_code(h, PING, b'x', [], 7, 0, 'PING with a payload')
		expect_code(h, STORE, b'\0' * ((1 << 20) + 1), [fd], 8, 0, 'STORE over --max-request')
		expect_code(h, STORE, struct.pack('<I', 0), [], 7, 0, 'STORE of no items')
	finally:
		os.close(fd)
	check(h.ping() > 0, 'the connection is not usable after the refusals')


def dropped(path, recs, what, half=False):
	"""A frame that breaks section 1: no reply, the connection closed, the
	fds sent closed."""
	r, w = pipe_probe()
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		s.settimeout(10)
		s.connect(path)
		send_records(s, [(d, [w] * n) for d, n in recs])
		os.close(w)
		w = -1
		if half:
			s.shutdown(socket.SHUT_WR)
		try:
			data = s.recv(64)
		except ConnectionResetError:
			data = b''
		check(data == b'', '%s: answered %r' % (what, data[:20]))
		check(hung_up(r), '%s: the fds sent are still open' % what)
	finally:
		s.close()
		os.close(r)
		if w >= 0:
			os.close(w)


def case_holder_malformed(path):
	H = header
	dropped(path, [(H(PING, 0, 1, magic=0x48534447), 1)], 'bad magic')
	dropped(path, [(H(PING, 0, 1, version=0), 1)], 'version 0')
	dropped(path, [(H(PING, 0, 1, reserved=b'\0\0\1'), 1)], 'reserved byte')
	dropped(path, [(H(STORE, MAX_LEN + 1, 1), 1)], 'len over 16 MiB')
	dropped(path, [(H(STORE, 0, MAX_FDS + 1), 1)], 'nfds over 65536')
	dropped(path, [(H(STORE, 4, 1) + b'abcd', 2)], 'more fds than nfds')
	dropped(path, [(H(STORE, 4, 2) + b'abcd', 1)], 'fewer fds than nfds', half=True)
	dropped(path, [(H(STORE, 40, 1) + b'abcd', 1)], 'end of stream inside a frame', half=True)
	dropped(path, [(H(PING, 0, 1)[:10], 1)], 'end of stream inside a header', half=True)
	with Holder(path) as h:
		check(h.ping() > 0, 'the holder does not answer after the malformed frames')


def case_holder_max_fds(path):
	"""A holder with --max-fds 4: code 6, the connection stays usable."""
	pool = memfds(5)
	try:
		with Holder(path) as h:
			expect_code(h, STORE, batch([store_item(b'm', 5)]), pool, 6, 0, 'STORE of 5 over --max-fds 4')
			h.store([(b'm', pool[:4], 0, 0)])
			expect_code(h, STORE, batch([store_item(b'm', 1, F_APPEND)]), pool[4:], 6, 0, 'APPEND past --max-fds')
			h.remove([b'm'])
	finally:
		close_all(pool)


ADMIN_CONNS = 4  # root's room past --max-clients (fdshare-holder(8))


def case_holder_refused(path):
	"""--max-clients 1 (and 4 more for root, as this is): the sixth client
	gets type 0x80000000, code 14."""
	hs = []
	try:
		for k in range(1 + ADMIN_CONNS):
			hs.append(Holder(path))
			check(hs[-1].ping() > 0, 'client %d' % k)
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		with s:
			s.settimeout(10)
			s.connect(path)
			f = recv_frame(s)
			check(f is not None and f.type == REPLY and f.payload[:8] == struct.pack('<II', 14, 0),
				'refused client: %r' % ((f and (f.type, f.payload)),))
			check(recv_frame(s) is None, 'the refused connection stays open')
	finally:
		for h in hs:
			h.close()


def case_holder_store(path, name, d, n, ttl_ms='0'):
	"""STORE of d/0..d/n-1 under name (for the CLI to list and fetch)."""
	fds = open_dir_files(d, int(n))
	try:
		with Holder(path) as h:
			h.store([(name.encode(), fds, 0, int(ttl_ms))])
	finally:
		close_all(fds)


def case_holder_fetch(path, name, d, n, moved):
	"""FETCH of name: d/0..d/n-1, with offset k at k + 1 when moved is 1
	(by the CLI's CMD); then offset k is set to 11 * (k + 1)."""
	with Holder(path) as h:
		[fds] = h.fetch([name.encode()])
	try:
		check(len(fds) == int(n), 'FETCH %s: %d fds, want %s' % (name, len(fds), n))
		check_dir_files(d, fds, 'FETCH %s' % name)
		for k, fd in enumerate(fds):
			if moved == '1':
				check(os.lseek(fd, 0, os.SEEK_CUR) == k + 1, 'FETCH %s: offset %d not moved' % (name, k))
			os.lseek(fd, 11 * (k + 1), os.SEEK_SET)
	finally:
		close_all(fds)


def case_holder_list(path, name, d, n, owner, hpid):
	"""LIST of what the CLI stored: every field against d/0.. ."""
	with Holder(path) as h:
		e = one_entry(h, name.encode())
	check(e['owner'] == int(owner) and len(e['fds']) == int(n), 'LIST %s: %r' % (name, e))
	for k, i in enumerate(e['fds']):
		fd = os.open(os.path.join(d, str(k)), os.O_RDONLY | os.O_CLOEXEC)
		try:
			check_fdinfo(i, fd, int(hpid), 'LIST %s fd %d' % (name, k))
		finally:
			os.close(fd)


CASES = {n[5:].replace('_', '-'): f for n, f in list(globals().items()) if n.startswith('case_')}


def main():
	if len(sys.argv) < 2 or sys.argv[1] not in CASES:
		sys.stderr.write('usage: protocol_interop.py {%s} ARG...\n' % ','.join(sorted(CASES)))
		sys.exit(2)
	before = fdcount()
	try:
		CASES[sys.argv[1]](*sys.argv[2:])
	except (AssertionError, OSError) as e:
		sys.stderr.write('%s: %s\n' % (sys.argv[1], e))
		sys.exit(1)
	after = fdcount()
	if after != before:
		sys.stderr.write('%s: %d fds open before, %d after\n' % (sys.argv[1], before, after))
		sys.exit(1)


if __name__ == '__main__':
	main()
