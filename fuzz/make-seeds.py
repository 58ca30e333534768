#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (the input formats are in the
comments of fuzz/fuzz_*.c).  Regression inputs found by fuzzing live beside
them under names starting with "regress-"; this script leaves those alone.

    python3 fuzz/make-seeds.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
STREAM, SEQPACKET = b"\x00", b"\x01"


def header(typ, length, nfds, magic=0x48534446, version=1):
    return struct.pack("<IB3xIII", magic, version, typ, length, nfds)


def nfds_byte(n):
    """The record-head byte for n fds (n < 8, or even, or 253)."""
    if n < 8:
        return n
    if n >= 253:
        return 0xFF
    assert n % 2 == 0
    return 0x80 | n // 2


def record(data, nfds=0):
    assert len(data) < 8192
    return bytes([len(data) & 0xFF, len(data) >> 8, nfds_byte(nfds)]) + data


def frame_records(typ, payload, nfds):
    """A frame cut as the library sends it (docs/protocol.md, 1.3)."""
    first = min(len(payload), 4076)
    out = record(header(typ, len(payload), nfds) + payload[:first], min(nfds, 253))
    rest = payload[first:]
    while rest:
        out += record(rest[:4000])
        rest = rest[4000:]
    left = nfds - min(nfds, 253)
    while left > 0:
        out += record(b"\x00", min(left, 253))
        left -= min(left, 253)
    return out


def msg_recv_seeds():
    hi = frame_records(7, b"hi", 0)
    one = frame_records(1, b"x", 1)
    many = frame_records(2, b"many", 254)
    big = frame_records(3, bytes(range(256)) * 20, 2)
    h = header(9, 4, 0) + b"abcd"
    seeds = {
        "stream-hi": STREAM + hi,
        "stream-one-fd": STREAM + one,
        "stream-254-fds": STREAM + many,
        "stream-big": STREAM + big,
        "stream-two-frames": STREAM + hi + one,
        "stream-split-header": STREAM + record(h[:7]) + record(h[7:15]) + record(h[15:]),
        "stream-cut-frame": STREAM + record(header(1, 10, 0) + b"abc"),
        "stream-bad-magic": STREAM + record(header(1, 0, 0, magic=0x12345678)),
        "stream-extra-fds": STREAM + record(header(1, 1, 1) + b"z", 3),
        "stream-empty-frame": STREAM + frame_records(0, b"", 0),
        "seqpacket-hi": SEQPACKET + hi,
        "seqpacket-one-fd": SEQPACKET + one,
        "seqpacket-254-fds": SEQPACKET + many,
        "seqpacket-big": SEQPACKET + big,
        "seqpacket-long-record": SEQPACKET + record(header(1, 2, 0) + b"abcdef"),
        "seqpacket-fds-late": SEQPACKET + record(header(1, 2, 1) + b"a") + record(b"b", 1),
    }
    # The same through the buffered reader: byte 0 bit 1, bit 2 recvv
    # (up to 1 + byte 0 >> 3 frames a call).
    for k, v in list(seeds.items()):
        seeds["reader-" + k] = bytes([v[0] | 2]) + v[1:]
        seeds["recvv-" + k] = bytes([v[0] | 2 | 4 | (3 << 3)]) + v[1:]
    seeds["reader-stream-ahead"] = bytes([STREAM[0] | 2]) + hi + hi + one + hi + many
    seeds["recvv-seqpacket-batch"] = bytes([SEQPACKET[0] | 2 | 4 | (7 << 3)]) + (hi + one) * 4 + big
    return seeds


def env(flags, pid=b"", pidfdid=b"", fds=b"", names=b""):
    return bytes([flags]) + b"\0".join([pid, pidfdid, fds, names])


def listen_env_seeds():
    return {
        "all": env(0x1F, b"4242", b"77", b"2", b"a:b"),
        "unknown-names": env(0x05, b"4242", b"", b"3"),
        "escapes": env(0x0D, b"4242", b"", b"3", b"a\\:b:c\\\\:"),
        "trailing-backslash": env(0x0D, b"4242", b"", b"1", b"a\\"),
        "names-count-differs": env(0x0D, b"4242", b"", b"2", b"one"),
        "hex": env(0x05, b"0x1092", b"", b"0x2"),
        "octal": env(0x05, b"0o10222", b"", b"010"),
        "binary": env(0x05, b" \t4242", b"", b"0b11"),
        "negative": env(0x05, b"4242", b"", b"-1"),
        "huge": env(0x05, b"4242", b"", b"99999999999999999999"),
        "other-pid": env(0x05, b"4243", b"", b"2"),
        "other-process": env(0x17, b"4242", b"78", b"2"),
        "bad-pidfdid": env(0x17, b"4242", b"x", b"2"),
        "empty-names": env(0x0D, b"4242", b"", b"1", b""),
    }


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def hname(n):
    return bytes([len(n)]) + n


def hreq(typ, nfds, payload):
    """The fuzz_hreq input: type byte, fd count byte, payload."""
    assert nfds < 16
    return bytes([typ, nfds]) + payload


def store_item(name, nfds, flags=0, ttl=0):
    return u32(flags) + u32(nfds) + u64(ttl) + hname(name)


def restore_item(name, nfds, flags=0, ttl=0, owner=0, age=0):
    return u32(flags) + u32(nfds) + u64(ttl) + u32(owner) + u64(age) + hname(name)


def hreq_seeds():
    STORE, FETCH, REMOVE, LIST, DUMP, RESTORE, TAKEOVER, DONE, PING = range(1, 10)
    return {
        "store-one": hreq(STORE, 1, u32(1) + store_item(b"db", 1)),
        "store-two": hreq(STORE, 3, u32(2) + store_item(b"a", 2, 1, 5000) +
                          store_item(b"b", 1, 4)),
        "store-replace-append": hreq(STORE, 1, u32(1) + store_item(b"x", 1, 3)),
        "store-bad-name": hreq(STORE, 1, u32(1) + store_item(b"a:b", 1)),
        "store-fds-differ": hreq(STORE, 2, u32(1) + store_item(b"a", 1)),
        "store-count-huge": hreq(STORE, 1, u32(0xFFFFFFFF) + store_item(b"a", 1)),
        "store-many": hreq(STORE, 6, u32(6) + b"".join(
            store_item(b"n%d" % i, 1) for i in range(6))),
        "restore": hreq(RESTORE, 2, u32(2) + restore_item(b"r1", 1, 4, 10, 1000, 5) +
                        restore_item(b"r2", 1)),
        "fetch": hreq(FETCH, 0, u32(2) + u32(1) + hname(b"a") + u32(0) + hname(b"b")),
        "fetch-bad-flag": hreq(FETCH, 0, u32(1) + u32(2) + hname(b"a")),
        "remove": hreq(REMOVE, 0, u32(1) + u32(0) + hname(b"a")),
        "remove-trailing": hreq(REMOVE, 0, u32(1) + u32(0) + hname(b"a") + b"x"),
        "list-all": hreq(LIST, 0, b""),
        "list-prefix": hreq(LIST, 0, hname(b"web.")),
        "list-empty-prefix": hreq(LIST, 0, hname(b"")),
        "dump": hreq(DUMP, 0, b""),
        "takeover": hreq(TAKEOVER, 0, b""),
        "takeover-done": hreq(DONE, 0, b""),
        "ping": hreq(PING, 0, b""),
        "ping-payload": hreq(PING, 0, b"x"),
        "unknown": hreq(11, 0, b"abc"),
        "reply-type": bytes([0x81, 0]) + u32(1) + u32(0) + hname(b"a"),
    }


def rules_seeds():
    return {
        "uid": b"uid=1000 all\n",
        "full": (b"# grants\n"
                 b"uid=1001 store,fetch web.\n"
                 b"gid=50 list\n"
                 b"\n"
                 b"cgroup=/system.slice/app.service/ fetch,remove app.   # tail\n"
                 b"uid=0 all\r\n"),
        "cgroup-root": b"cgroup=// list\n",
        "no-newline": b"gid=7 remove",
        "bad-subject": b"user=1 all\n",
        "bad-op": b"uid=1 store,,fetch\n",
        "too-many-fields": b"uid=1 all a b\n",
        "uid-max": b"uid=4294967295 all\n",
        "uid-leading-zeros": b"uid=0000000001 all\n",
        "bad-prefix": b"uid=1 all a:b\n",
        "nul": b"uid=1 all\nuid=2\0 all\n",
        "long-line": b"uid=1 all " + b"x" * 5000 + b"\n",
        "second-line-bad": b"uid=1 all\ncgroup=relative all\n",
        "tabs": b"\tuid=3\tfetch\t#c\n",
    }


def addr_seeds():
    return {
        "tcp": b"tcp:127.0.0.1:8080",
        "tcp-name": b"tcp:0.0.0.0:0=web",
        "tcp6": b"tcp6:[::1]:443",
        "tcp6-scope": b"tcp6:[fe80::1%eth0]:80",
        "udp": b"udp:10.0.0.1:53=dns",
        "udp6": b"udp6:[::]:65535",
        "unix": b"unix:/run/app.sock",
        "unix-equals": b"unix:/tmp/a=b=name",
        "abstract": b"unix:@app",
        "unix-dgram": b"unix-dgram:/run/log",
        "seqpacket": b"seqpacket:rel/path",
        "fd": b"fd:3=inherited",
        "fd-big": b"fd:99999999999",
        "long-path": b"unix:/" + b"p" * 120,
        "bad-port": b"tcp:127.0.0.1:65536",
        "empty-name": b"tcp:127.0.0.1:1=",
        "backslash": b"unix:/a\\b",
        "unknown": b"sctp:1.2.3.4:5",
    }


def notify_seeds():
    return {
        "ready": b"READY=1",
        "ready-nul": b"READY=1\0",
        "fdstore": b"FDSTORE=1\nFDNAME=web\nFDPOLL=0\n",
        "fdstore-cr": b"FDSTORE=1\rFDNAME=a\r\n",
        "remove": b"FDSTOREREMOVE=1\nFDNAME=web",
        "first-name": b"FDNAME=first\nFDNAME=second\nFDSTORE=1",
        "bad-name": b"FDNAME=a:b\nFDSTORE=1",
        "empty-name": b"FDNAME=\nFDSTORE=1",
        "bad-poll": b"FDPOLL=maybe\nFDPOLL=no",
        "poll-case": b"FDPOLL=OFF",
        "status": b"STATUS=working\nSTOPPING=1\nRELOADING=1\nMAINPID=1",
        "inner-nul": b"READY=1\0STOPPING=1",
        "too-big": b"X" * 4097,
        "max": b"READY=1\n" + b"x" * (4096 - 8),
    }


def write(name, seeds):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for k, v in seeds.items():
        with open(os.path.join(d, "seed-" + k), "wb") as f:
            f.write(v)


write("msg_recv", msg_recv_seeds())
write("listen_env", listen_env_seeds())
write("hreq", hreq_seeds())
write("rules", rules_seeds())
write("addr", addr_seeds())
write("notify", notify_seeds())
