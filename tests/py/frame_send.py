"""Frames of docs/protocol.md, section 1, to fdshare_msg_recv
(tests/test_interop.c).  Usage: frame_send.py SOCKFD [--split] SPEC...
with SPEC = type:len:nfds.  Records are cut as section 1.3 says; with
--split (SOCK_STREAM only, where only the byte order counts) the header
is cut after 7 bytes and the payload follows it in one send."""
import os
import socket
import struct
import sys

from fdshare_wire import (FIRST_MAX, MAGIC, RECORD_MAX, SCM_MAX_FD, VERSION,
                          memfds, pattern, sock_arg, specs)


def send_record(sock, data, fds):
    """One sendmsg with fds, then the rest if a stream took part of it."""
    view = memoryview(data)
    n = socket.send_fds(sock, [view], fds) if fds else sock.send(view)
    while n < len(view):
        view = view[n:]
        n = sock.send(view)


def send_frame(sock, mtype, payload, fds, split):
    hdr = struct.pack('<IB3xIII', MAGIC, VERSION, mtype, len(payload), len(fds))
    chunks = [fds[i:i + SCM_MAX_FD] for i in range(0, len(fds), SCM_MAX_FD)] or [[]]
    if split:
        send_record(sock, hdr[:7], chunks[0])
        send_record(sock, hdr[7:] + payload, [])
    else:
        first = min(len(payload), FIRST_MAX - len(hdr))
        send_record(sock, hdr + payload[:first], chunks[0])
        for off in range(first, len(payload), RECORD_MAX):
            send_record(sock, payload[off:off + RECORD_MAX], [])
    for chunk in chunks[1:]:
        send_record(sock, b'\0', chunk)


def main():
    sock = sock_arg(sys.argv[1])
    args = sys.argv[2:]
    split = args[:1] == ['--split']
    for mtype, length, nfds in specs(args[1:] if split else args):
        fds = memfds(nfds)
        send_frame(sock, mtype, pattern(mtype, length), fds, split)
        for fd in fds:
            os.close(fd)
    sock.close()


main()
