#!/usr/bin/python3
"""holder_client.py - store and fetch descriptors in the fdshare holder
from Python, speaking docs/protocol.md (sections 1 and 3) with nothing but
the standard library (socket.send_fds and socket.recv_fds, Python 3.9+).

usage: holder_client.py [SOCKET]
       (default: $FDSHARE_SOCKET, else $XDG_RUNTIME_DIR/fdshare/holder.sock,
       else /run/fdshare/holder.sock, as libfdshare's default)

It pings the holder, stores the read end of a pipe under a name, shows
that the name is taken, lists it (the holder says what each fd is),
fetches it back with REMOVE and reads through it what was written into
the pipe, and finds the name gone.  Last, it leaves a pipe holding a note
under "py-example.note" (for 60 seconds) for a program in another
language to fetch, e.g.:
    fdshare fetch --remove py-example.note -- sh -c 'cat <&3'
Exit 0 when the holder answered every step as the protocol says.
"""
import os
import socket
import struct
import sys

MAGIC, VERSION, HEADER = 0x48534446, 1, struct.Struct('<IB3xIII')
SCM_MAX_FD = 253
STORE, FETCH, REMOVE, LIST, PING = 1, 2, 3, 4, 9
REPLY = 0x80000000
FETCH_REMOVE = 0x1
ERRORS = {1: 'ENOENT', 2: 'EBUSY', 3: 'EACCES', 4: 'EDQUOT', 5: 'EINVAL',
          6: 'EMFILE', 7: 'EPROTO', 8: 'EMSGSIZE', 9: 'ENOMEM', 10: 'EAGAIN',
          11: 'ESHUTDOWN', 12: 'EOPNOTSUPP', 13: 'ENFILE', 14: 'EUSERS'}
KINDS = ('other', 'file', 'dir', 'pipe', 'fifo', 'socket', 'tty', 'char',
         'block', 'eventfd', 'timerfd', 'signalfd', 'epoll', 'inotify',
         'memfd', 'pidfd')


class HolderError(Exception):
    def __init__(self, code, index):
        super().__init__('%s (code %d, item %d)' %
                         (ERRORS.get(code, 'unknown'), code, index))
        self.code = code


def default_path():
    if os.environ.get('FDSHARE_SOCKET'):
        return os.environ['FDSHARE_SOCKET']
    if os.environ.get('XDG_RUNTIME_DIR'):
        return os.environ['XDG_RUNTIME_DIR'] + '/fdshare/holder.sock'
    return '/run/fdshare/holder.sock'


# Section 1: frames.  One sendmsg with every fd is a valid frame on a
# SOCK_STREAM socket as long as there are at most 253 fds (one chunk).
def send_frame(sock, ftype, payload=b'', fds=()):
    assert len(fds) <= SCM_MAX_FD
    data = HEADER.pack(MAGIC, VERSION, ftype, len(payload), len(fds)) + payload
    socket.send_fds(sock, [data], list(fds))


def recv_exactly(sock, n, fds):
    """n bytes, gathering every fd that comes with them into fds."""
    data = b''
    while len(data) < n:
        chunk, got, flags, _ = socket.recv_fds(sock, n - len(data), SCM_MAX_FD)
        fds.extend(got)
        if flags & socket.MSG_CTRUNC:
            raise OSError('descriptors truncated (RLIMIT_NOFILE?)')
        if not chunk:
            raise EOFError('the holder hung up')
        data += chunk
    return data


def recv_frame(sock):
    fds = []
    try:
        magic, version, ftype, length, nfds = HEADER.unpack(
            recv_exactly(sock, HEADER.size, fds))
        if magic != MAGIC or version != VERSION:
            raise OSError('not an fdshare frame')
        payload = recv_exactly(sock, length, fds)
        recv_exactly(sock, (nfds - 1) // SCM_MAX_FD if nfds else 0, fds)
        if len(fds) != nfds:
            raise OSError('%d fds announced, %d came' % (nfds, len(fds)))
        return ftype, payload, fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


# Section 3: requests and replies.
def name(s):
    b = s.encode('ascii')
    return bytes([len(b)]) + b


def request(sock, ftype, payload=b'', fds=()):
    """The reply's body and fds; HolderError for an error code."""
    send_frame(sock, ftype, payload, fds)
    rtype, reply, rfds = recv_frame(sock)
    code, index = struct.unpack_from('<II', reply)
    if rtype != ftype | REPLY or code != 0:
        for fd in rfds:
            os.close(fd)
        raise HolderError(code, index)
    return reply[8:], rfds


def store(sock, nm, fds, ttl_ms=0, flags=0):
    item = struct.pack('<IIQ', flags, len(fds), ttl_ms) + name(nm)
    request(sock, STORE, struct.pack('<I', 1) + item, fds)


def fetch(sock, nm, flags=0):
    _, fds = request(sock, FETCH, struct.pack('<II', 1, flags) + name(nm))
    return fds


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from('<' + fmt, self.data, self.pos)
        self.pos += struct.calcsize('<' + fmt)
        return v if len(v) > 1 else v[0]

    def bytes(self, n):
        self.pos += n
        return self.data[self.pos - n:self.pos].decode('ascii', 'replace')

    def name(self):
        return self.bytes(self.take('B'))

    def str(self):
        return self.bytes(self.take('I'))


def list_entries(sock, prefix=''):
    body, _ = request(sock, LIST, name(prefix) if prefix else b'')
    r, entries = Reader(body), []
    for _ in range(r.take('I')):
        nm = r.name()
        owner, flags, age_ms, left_ms, nfds = r.take('IIQQI')
        fds = []
        for _ in range(nfds):
            _pid, _fd, kind, _oflags = r.take('IIII')
            r.take('QQQIQI')                    # offset dev ino mode rdev deleted
            path = r.str()
            r.take('IIIIII')                    # family ... peer uid
            r.str(), r.str(), r.str()           # state, local, peer
            fds.append((KINDS[kind] if kind < len(KINDS) else 'other', path))
        entries.append((nm, owner, age_ms,
                        None if left_ms == 2**64 - 1 else left_ms, fds))
    return entries


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else default_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)

    body, _ = request(sock, PING)
    print('holder pid %d at %s' % (struct.unpack('<I', body)[0], path))

    r, w = os.pipe()
    os.write(w, b'hello from Python\n')
    store(sock, 'py-example.pipe', [r], ttl_ms=60000)
    print('stored the read end of a pipe under py-example.pipe (ttl 60 s)')
    try:
        store(sock, 'py-example.pipe', [r])
        raise SystemExit('storing the same name twice worked')
    except HolderError as e:
        print('storing it again: %s' % e)
        assert e.code == 2

    for nm, owner, age_ms, left_ms, fds in list_entries(sock, 'py-example.'):
        print('listed %s: owner %d, age %d ms, %s left, %s' % (
            nm, owner, age_ms, '-' if left_ms is None else '%d ms' % left_ms,
            ', '.join('%s %s' % fd for fd in fds)))

    (got,) = fetch(sock, 'py-example.pipe', FETCH_REMOVE)
    same = os.fstat(got).st_ino == os.fstat(r).st_ino
    os.close(r)
    os.close(w)
    with os.fdopen(got, 'rb') as f:
        text = f.read().decode()
    print('fetched it with REMOVE: %s pipe, read %r' %
          ('the same' if same else 'ANOTHER', text))
    assert same and text == 'hello from Python\n'
    try:
        fetch(sock, 'py-example.pipe')
        raise SystemExit('the name is still there')
    except HolderError as e:
        print('fetching it again: %s' % e)
        assert e.code == 1

    r, w = os.pipe()
    os.write(w, b'a note from Python\n')
    store(sock, 'py-example.note', [r], ttl_ms=60000, flags=0x1)  # REPLACE
    os.close(r)
    os.close(w)
    print('left py-example.note for 60 s: '
          "fdshare fetch --remove py-example.note -- sh -c 'cat <&3'")
    sock.close()


if __name__ == '__main__':
    main()
