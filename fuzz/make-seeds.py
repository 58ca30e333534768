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
    return {
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
