"""A second implementation of docs/protocol.md, written from that document
alone: frames (section 1) on SOCK_STREAM and SOCK_SEQPACKET, the
'fdshare send' / 'fdshare recv' exchange (section 2) and a holder client
(section 3).  tests/py/protocol_interop.py drives it against the C side."""
import array
import errno
import os
import socket
import struct

MAGIC = 0x48534446
VERSION = 1
HDR = struct.Struct('<IB3sIII')
HDR_SIZE = 20
MAX_LEN = 16 * 1024 * 1024
MAX_FDS = 65536
CHUNK = 253
FIRST_RECORD = 4096
RECORD = 65536
ANC = socket.CMSG_SPACE(CHUNK * 4)


class ProtocolError(OSError):
	def __init__(self, err, why):
		OSError.__init__(self, err, '%s: %s' % (os.strerror(err), why))


def close_all(fds):
	for fd in fds:
		os.close(fd)


# --- section 1: frames ------------------------------------------------------

def header(mtype, length, nfds, magic=MAGIC, version=VERSION, reserved=b'\0\0\0'):
	return HDR.pack(magic, version, reserved, mtype, length, nfds)


def carriers(nfds):
	return (nfds - 1) // CHUNK if nfds > 0 else 0


def records(mtype, payload, fds):
	"""The (bytes, fds) of each sendmsg of a frame, sections 1.2 and 1.3."""
	first = FIRST_RECORD - HDR_SIZE
	out = [(header(mtype, len(payload), len(fds)) + payload[:first], fds[:CHUNK])]
	for off in range(first, len(payload), RECORD):
		out.append((payload[off:off + RECORD], []))
	for k in range(CHUNK, len(fds), CHUNK):
		out.append((b'\0', fds[k:k + CHUNK]))
	return out


def send_records(sock, recs):
	for data, fds in recs:
		anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))] if fds else []
		n = sock.sendmsg([data], anc)
		if n < len(data):  # a stream may take part: the rest has no fds
			sock.sendall(data[n:])


def send_frame(sock, mtype, payload=b'', fds=()):
	if len(payload) > MAX_LEN or len(fds) > MAX_FDS:
		raise OSError(errno.EINVAL, 'frame over the limits of section 1.1')
	send_records(sock, records(mtype, bytes(payload), list(fds)))


def recv_some(sock, n, fds):
	"""One recvmsg of at most n bytes; its fds are appended to fds.
	Returns the bytes and whether the record was longer than n."""
	data, anc, flags, _ = sock.recvmsg(n, ANC, socket.MSG_CMSG_CLOEXEC)
	for level, kind, cdata in anc:
		if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
			a = array.array('i')
			a.frombytes(cdata[:len(cdata) - len(cdata) % a.itemsize])
			fds.extend(a)
	if flags & socket.MSG_CTRUNC:
		raise ProtocolError(errno.ECHRNG, 'descriptors truncated')
	return data, bool(flags & socket.MSG_TRUNC)


def parse_header(h):
	magic, version, reserved, mtype, length, nfds = HDR.unpack(h)
	if magic != MAGIC or version != VERSION or reserved != b'\0\0\0':
		raise ProtocolError(errno.EPROTO, 'bad magic, version or reserved bytes')
	if length > MAX_LEN or nfds > MAX_FDS:
		raise ProtocolError(errno.EPROTO, 'len %d or nfds %d over the limit' % (length, nfds))
	return mtype, length, nfds


class Frame:
	def __init__(self, mtype, payload, fds, recs):
		self.type, self.payload, self.fds, self.records = mtype, payload, fds, recs


def recv_frame(sock):
	"""A Frame, or None at a clean end of stream (section 1.4).  On any
	error every fd received is closed.  Frame.records lists the
	(bytes, fds) sizes of the recvmsg calls, which on SOCK_SEQPACKET are
	the sender's records."""
	fds = []
	try:
		if sock.type == socket.SOCK_SEQPACKET:
			return recv_seqpacket(sock, fds)
		return recv_stream(sock, fds)
	except BaseException:
		close_all(fds)
		raise


def take_fds(fds, got, nfds):
	if len(fds) > nfds:
		raise ProtocolError(errno.EPROTO, '%d fds, header says %d' % (len(fds), nfds))


def recv_stream(sock, fds):
	buf, recs = b'', []
	while len(buf) < HDR_SIZE:
		n0 = len(fds)
		data, _ = recv_some(sock, HDR_SIZE - len(buf), fds)
		if not data:
			if not buf and not fds:
				return None
			raise ProtocolError(errno.EPROTO, 'end of stream inside a header')
		buf += data
		recs.append((len(data), len(fds) - n0))
	mtype, length, nfds = parse_header(buf)
	take_fds(fds, 0, nfds)
	left = length + carriers(nfds)
	body = []
	while left:
		n0 = len(fds)
		data, _ = recv_some(sock, min(left, RECORD), fds)
		if not data:
			raise ProtocolError(errno.EPROTO, 'end of stream inside a frame')
		body.append(data)
		left -= len(data)
		recs.append((len(data), len(fds) - n0))
		take_fds(fds, 0, nfds)
	if len(fds) != nfds:
		raise ProtocolError(errno.EPROTO, '%d fds, header says %d' % (len(fds), nfds))
	return Frame(mtype, b''.join(body)[:length], fds, recs)


def recv_seqpacket(sock, fds):
	data, trunc = recv_some(sock, FIRST_RECORD, fds)
	if not data and not fds:
		return None
	if trunc or len(data) < HDR_SIZE:
		raise ProtocolError(errno.EPROTO, 'first record of %d bytes' % len(data))
	mtype, length, nfds = parse_header(data[:HDR_SIZE])
	recs = [(len(data), len(fds))]
	body = [data[HDR_SIZE:]]
	left = length + carriers(nfds) - (len(data) - HDR_SIZE)
	if left < 0:
		raise ProtocolError(errno.EPROTO, 'first record crosses the end of its frame')
	take_fds(fds, 0, nfds)
	while left:
		n0 = len(fds)
		data, trunc = recv_some(sock, min(left, RECORD) + 1, fds)
		if not data:
			raise ProtocolError(errno.EPROTO, 'end of stream inside a frame')
		if trunc or len(data) > left or len(data) > RECORD:
			raise ProtocolError(errno.EPROTO, 'a record crosses the end of its frame')
		body.append(data)
		left -= len(data)
		recs.append((len(data), len(fds) - n0))
		take_fds(fds, 0, nfds)
	if len(fds) != nfds:
		raise ProtocolError(errno.EPROTO, '%d fds, header says %d' % (len(fds), nfds))
	return Frame(mtype, b''.join(body)[:length], fds, recs)


def expected_records(length, nfds):
	"""The (bytes, fds) of each record a compliant sender makes."""
	first = min(length, FIRST_RECORD - HDR_SIZE)
	out = [(HDR_SIZE + first, min(nfds, CHUNK))]
	out += [(min(RECORD, length - off), 0) for off in range(first, length, RECORD)]
	out += [(1, min(CHUNK, nfds - k)) for k in range(CHUNK, nfds, CHUNK)]
	return out


# --- section 2: fdshare send / fdshare recv ---------------------------------

T_SEND = 0x444e4553
T_SACK = 0x4b434153


def name_ok(name, holder=False):
	low = 0x21 if holder else 0x20
	bad = b':' if holder else b':\\'
	return 1 <= len(name) <= 255 and all(low <= c <= 0x7e and c not in bad for c in name)


def send_exchange(path, fds, names, timeout=30):
	"""Section 2 as 'fdshare send': True once the receiver sent SACK,
	False when it refused (end of stream, ECONNRESET, EPIPE)."""
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		s.connect(path)
		s.settimeout(timeout)
		try:
			send_frame(s, T_SEND, b':'.join(names), fds)
			f = recv_frame(s)
		except (ConnectionResetError, BrokenPipeError):
			return False
		if f is None:
			return False
		close_all(f.fds)
		if f.type != T_SACK or f.payload or f.fds:
			raise ProtocolError(errno.EPROTO, 'answer of type %#x' % f.type)
		return True
	finally:
		s.close()


def check_send_frame(f):
	"""The names of a valid SEND frame (section 2.1), else None."""
	if f.type != T_SEND or not f.payload or b'\0' in f.payload:
		return None
	names = f.payload.split(b':')
	if len(names) != len(f.fds) or not all(name_ok(n) for n in names):
		return None
	return names


def recv_exchange(path, any_user=False, timeout=10):
	"""Section 2 as 'fdshare recv': listens on path, returns (fds, names)
	of the first valid sender, after answering it."""
	ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		ls.bind(path + '.new')  # the path appears listening
		os.chmod(path + '.new', 0o666 if any_user else 0o600)
		ls.listen(8)
		os.rename(path + '.new', path)
		ls.settimeout(timeout)
		while True:
			c, _ = ls.accept()
			with c:
				cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
				uid = struct.unpack('iII', cred)[1]
				if not any_user and uid not in (0, os.geteuid()):
					continue
				c.settimeout(10)
				try:
					f = recv_frame(c)
				except (OSError, socket.timeout):
					continue
				if f is None:
					continue
				names = check_send_frame(f)
				if names is None:
					close_all(f.fds)
					continue
				try:
					send_frame(c, T_SACK)
				except OSError:
					pass
				return f.fds, names
	finally:
		ls.close()
		os.unlink(path)


# --- section 3: the holder ----------------------------------------------------

STORE, FETCH, REMOVE, LIST, DUMP, RESTORE, TAKEOVER, TAKEOVER_DONE, PING = range(1, 10)
REPLY = 0x80000000
F_REPLACE, F_APPEND, F_DROP_ON_HANGUP = 1, 2, 4
F_REMOVE = 1
CODES = {0: None, 1: errno.ENOENT, 2: errno.EBUSY, 3: errno.EACCES, 4: errno.EDQUOT,
	5: errno.EINVAL, 6: errno.EMFILE, 7: errno.EPROTO, 8: errno.EMSGSIZE,
	9: errno.ENOMEM, 10: errno.EAGAIN, 11: errno.ESHUTDOWN, 12: errno.EOPNOTSUPP,
	13: errno.ENFILE, 14: errno.EUSERS}
NO_TTL = 0xffffffffffffffff
FDINFO_INTS = ('pid', 'fd', 'kind', 'flags')


class HolderError(OSError):
	def __init__(self, code, index):
		err = CODES.get(code) or errno.EPROTO
		OSError.__init__(self, err, 'holder code %d at item %d' % (code, index))
		self.code, self.index = code, index


def pname(name):
	return bytes([len(name)]) + name


def store_item(name, nfds, flags=0, ttl_ms=0):
	return struct.pack('<IIQ', flags, nfds, ttl_ms) + pname(name)


def name_item(name, flags=0):
	return struct.pack('<I', flags) + pname(name)


def batch(items):
	return struct.pack('<I', len(items)) + b''.join(items)


class Reader:
	def __init__(self, data):
		self.data, self.off = data, 0

	def take(self, fmt):
		v = struct.unpack_from('<' + fmt, self.data, self.off)
		self.off += struct.calcsize('<' + fmt)
		return v if len(v) > 1 else v[0]

	def bytes(self, n):
		if self.off + n > len(self.data):
			raise ProtocolError(errno.EPROTO, 'reply payload too short')
		b = self.data[self.off:self.off + n]
		self.off += n
		return b

	def name(self):
		return self.bytes(self.take('B'))

	def str(self):
		return self.bytes(self.take('I'))

	def end(self):
		if self.off != len(self.data):
			raise ProtocolError(errno.EPROTO, '%d bytes left in the reply' % (len(self.data) - self.off))


def decode_fdinfo(r):
	d = {}
	d['pid'], d['fd'], d['kind'], d['flags'] = r.take('IIII')
	d['offset'] = r.take('q')
	d['dev'], d['ino'], d['mode'], d['rdev'], d['deleted'] = r.take('QQIQI')
	d['path'] = r.str()
	d['family'], d['type'], d['protocol'], d['listening'], d['peer_pid'], d['peer_uid'] = r.take('IIIIII')
	d['state'], d['local'], d['peer'] = r.str(), r.str(), r.str()
	return d


def decode_list(body):
	r = Reader(body)
	out = []
	for _ in range(r.take('I')):
		e = {'name': r.name()}
		e['owner'], e['flags'], e['age_ms'], e['left_ms'], nfds = r.take('IIQQI')
		e['fds'] = [decode_fdinfo(r) for _ in range(nfds)]
		out.append(e)
	r.end()
	return out


class Holder:
	"""A connection to 'fdshare holder'; each request waits for its reply."""

	def __init__(self, path, timeout=10):
		self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.sock.settimeout(timeout)
		try:
			self.sock.connect(path)
		except BaseException:
			self.sock.close()
			raise

	def close(self):
		self.sock.close()

	def __enter__(self):
		return self

	def __exit__(self, *a):
		self.close()

	def reply(self, rtype):
		"""(code, index, body, fds) of the next reply; it must be of rtype."""
		f = recv_frame(self.sock)
		if f is None:
			raise ProtocolError(errno.ECONNRESET, 'the holder hung up')
		if f.type != rtype | REPLY or len(f.payload) < 8:
			close_all(f.fds)
			raise ProtocolError(errno.EPROTO, 'reply of type %#x, len %d' % (f.type, len(f.payload)))
		code, index = struct.unpack_from('<II', f.payload)
		if code and (f.fds or len(f.payload) != 8):
			close_all(f.fds)
			raise ProtocolError(errno.EPROTO, 'an error reply with a body or fds')
		return code, index, f.payload[8:], f.fds

	def call(self, rtype, payload=b'', fds=()):
		send_frame(self.sock, rtype, payload, fds)
		return self.reply(rtype)

	def ok(self, rtype, payload=b'', fds=()):
		code, index, body, rfds = self.call(rtype, payload, fds)
		if code:
			raise HolderError(code, index)
		return body, rfds

	def store(self, items):
		"""items: (name, fds, flags, ttl_ms) tuples."""
		payload = batch([store_item(n, len(f), fl, t) for n, f, fl, t in items])
		body, _ = self.ok(STORE, payload, [fd for _, f, _, _ in items for fd in f])
		if body:
			raise ProtocolError(errno.EPROTO, 'STORE reply with a body')

	def fetch(self, names, flags=0):
		"""One list of fds per name, in order."""
		body, fds = self.ok(FETCH, batch([name_item(n, flags) for n in names]))
		try:
			r = Reader(body)
			counts = [r.take('I') for _ in names]
			r.end()
			if sum(counts) != len(fds):
				raise ProtocolError(errno.EPROTO, 'counts %r for %d fds' % (counts, len(fds)))
		except BaseException:
			close_all(fds)
			raise
		out, k = [], 0
		for n in counts:
			out.append(fds[k:k + n])
			k += n
		return out

	def remove(self, names):
		body, _ = self.ok(REMOVE, batch([name_item(n) for n in names]))
		if body:
			raise ProtocolError(errno.EPROTO, 'REMOVE reply with a body')

	def list(self, prefix=None):
		body, fds = self.ok(LIST, pname(prefix) if prefix is not None else b'')
		close_all(fds)
		return decode_list(body)

	def ping(self):
		body, fds = self.ok(PING)
		close_all(fds)
		return Reader(body).take('I')
