"""The frame of docs/protocol.md, section 1, written from that document,
and the conventions the Python peers share with tests/test_interop.c:
payload byte i of a message of type t is (i * 7 + t) & 255, and the k-th
descriptor of a message is a memfd of size k + 1."""
import array
import os
import socket
import struct
import sys

MAGIC = 0x48534446
VERSION = 1
HEADER = struct.Struct('<IB3sIII')  # magic, version, reserved, type, len, nfds
SCM_MAX_FD = 253
FIRST_MAX = 4096
RECORD_MAX = 65536


def fail(why):
    sys.stderr.write('%s: %s\n' % (os.path.basename(sys.argv[0]), why))
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


def sock_arg(arg):
    return socket.socket(fileno=int(arg))


def specs(args):
    """'type:len:nfds' strings, numbers in any base Python reads."""
    return [tuple(int(x, 0) for x in a.split(':')) for a in args]


def pattern(mtype, n):
    return bytes((i * 7 + mtype) & 255 for i in range(n))


def memfds(n):
    fds = []
    for k in range(n):
        fd = os.memfd_create('fdshare-py-%d' % k)
        os.ftruncate(fd, k + 1)
        fds.append(fd)
    return fds


def check_memfds(fds, what):
    for k, fd in enumerate(fds):
        size = os.fstat(fd).st_size
        check(size == k + 1, '%s: fd %d has size %d, want %d' % (what, k, size, k + 1))


def records(length, nfds):
    """(bytes, fds) of each record of a frame, in order (section 1.3)."""
    first = min(length, FIRST_MAX - HEADER.size)
    out = [(HEADER.size + first, min(nfds, SCM_MAX_FD))]
    for off in range(first, length, RECORD_MAX):
        out.append((min(RECORD_MAX, length - off), 0))
    for sent in range(SCM_MAX_FD, nfds, SCM_MAX_FD):
        out.append((1, min(SCM_MAX_FD, nfds - sent)))
    return out


def recv_some(sock, n, fds):
    """One recvmsg of up to n bytes; descriptors are appended to fds."""
    data, anc, flags, _ = sock.recvmsg(n, socket.CMSG_SPACE(SCM_MAX_FD * 4))
    check(not flags & socket.MSG_CTRUNC, 'descriptors truncated (MSG_CTRUNC)')
    check(not flags & socket.MSG_TRUNC, 'a record longer than %d bytes' % n)
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            a = array.array('i')
            a.frombytes(cdata[:len(cdata) - len(cdata) % a.itemsize])
            fds.extend(a)
    return data
