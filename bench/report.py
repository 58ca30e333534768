#!/usr/bin/env python3
"""The summary of a bench/run.sh run, on stdout and as markdown.

usage: report.py META RAW PROFILE_DIR OUT.md

META: key=value lines from run.sh (machine, pinning, notes, scale_*).  RAW:
one line per run, "name workload fds_per_sec msgs_per_sec", and the
programs' "# fig name workload key=value ..." lines (bench/scale.c).  PROFILE_DIR: strace -c
and perf outputs (may be empty).  Prints "summary ..." and "ratio ..."
lines; writes OUT.md.
"""
import glob
import os
import statistics
import sys

# (fdshare row, anchor row, floor): the targets of issue 8.
TARGETS = [
    ("fdshare stream1", "raw-c stream1", 0.95),
    ("fdshare seqpacket1", "raw-c seqpacket1", 0.95),
    ("fdshare msg-reader-stream1", "raw-c stream1", 0.90),
    ("fdshare msg-reader-seqpacket1", "raw-c stream1", 0.90),
    ("fdshare msg10000-stream", "raw-c batch253", 0.85),
    ("fdshare msg10000-seqpacket", "raw-c batch253", 0.85),
    ("fdshare grab", "grab pidfd-open-getfd", 0.95),
    ("fdshare grab-pidfd", "grab pidfd-getfd", 0.95),
    ("fdshare-holder store+fetch", "s6-lib store+retrieve", 2.0),
    ("fdshare-holder store+fetch-reconnect", "s6-lib store+retrieve-reconnect", 2.0),
    ("fdshare-cli store+fetch", "s6-cli store+retrieve", 1.5),
    ("fdshare stream1", "python stream1", 1.5),
    ("fdshare seqpacket1", "python seqpacket1", 1.5),
    ("fdshare batch253", "python batch253", 1.5),
    ("fdshare pingpong1", "python pingpong1", 1.5),
    ("fdshare msg-reader-stream1", "python stream1", 1.5),
    ("fdshare msg-reader-seqpacket1", "python seqpacket1", 1.5),
    ("fdshare msg10000-stream", "python batch253", 1.5),
]

# Same work, no target: context for the reader.
CONTEXT = [
    ("fdshare msg-stream1", "raw-c stream1"),
    ("fdshare msg-seqpacket1", "raw-c stream1"),
    ("fdshare msg-seqpacket1", "raw-c seqpacket1"),
    ("fdshare batch253", "raw-c batch253"),
    ("fdshare pingpong1", "raw-c pingpong1"),
    ("raw-c pingpong1", "s6-lib store+retrieve"),
    ("raw-c pingpong1", "fdshare-holder store+fetch"),
    ("fdshare-cli store+fetch", "spawn-baseline true+true"),
    ("fdshare-cli store+fetch", "cli-ceiling true+env-true"),
    ("s6-cli store+retrieve", "cli-ceiling true+env-true"),
    ("cli-ceiling true+env-true", "s6-cli store+retrieve"),
]

# What each row does, for the reader of the markdown.
WHAT = {
    "fdshare stream1": "fdshare_send/fdshare_recv, 1 byte + 1 fd per message",
    "fdshare seqpacket1": "the same over SOCK_SEQPACKET",
    "fdshare batch253": "fdshare_send/fdshare_recv, 253 fds per message",
    "fdshare pingpong1": "fdshare_send of 1 fd, 1-byte reply per round trip",
    "fdshare msg-stream1": "fdshare_msg_send/recv, 16-byte payload + 1 fd, SOCK_STREAM",
    "fdshare msg-seqpacket1": "the same over SOCK_SEQPACKET",
    "fdshare msg-reader-stream1": "fdshare_msg_send, buffered fdshare_reader_recv, 16 bytes + 1 fd, SOCK_STREAM",
    "fdshare msg-reader-seqpacket1": "the same over SOCK_SEQPACKET",
    "fdshare msg-batch-seqpacket1": "fdshare_msg_sendv/fdshare_reader_recvv/fdshare_msg_freev, 64 messages of 16 bytes + 1 fd a call",
    "fdshare msg10000-stream": "fdshare_msg, 10,000 fds per frame (40 chunks), SOCK_STREAM",
    "fdshare msg10000-seqpacket": "the same over SOCK_SEQPACKET",
    "fdshare msg10000-unpriv-stream": "msg10000-stream from uid 1001, soft RLIMIT_NOFILE 1024, to root",
    "fdshare msg10000-unpriv-seqpacket": "the same over SOCK_SEQPACKET",
    "fdshare grab": "fdshare_grab (pidfd_open each time) + close",
    "fdshare grab-pidfd": "fdshare_grab_pidfd from an open pidfd + close",
    "fdshare-holder store+fetch": "fdshare_store + fdshare_fetch(REMOVE), one connection",
    "fdshare-holder store+fetch-reconnect": "the same, a new connection per operation",
    "fdshare-holder fetch100-many": "one fdshare_fetch_many of 100 names (1 fd each), one connection",
    "fdshare-holder fetch100-single": "100 fdshare_fetch, one connection",
    "fdshare-holder store100-many": "one fdshare_store_many of 100 names, one fdshare_remove_many",
    "fdshare-holder store100-single": "100 fdshare_store, 100 fdshare_remove",
    "fdshare-holder store+fetch-clients1": "store+fetch, 1 client process (scale.c, latencies taken)",
    "fdshare-holder store+fetch-clients64": "store+fetch, 64 client processes at once, each its own connection",
    "fdshare-holder store+fetch-clients1-unpinned": "store+fetch-clients1 with nothing pinned, holder included",
    "fdshare-holder store+fetch-clients64-unpinned": "store+fetch-clients64 with nothing pinned, holder included",
    "fdshare-holder store+fetch-held100": "store+fetch with 100 entries held (scale phase, own holder)",
    "fdshare-holder store+fetch-heldmax": "store+fetch with as many entries held as the holder can (scale phase)",
    "fdshare-cli store+fetch": "`fdshare store`, then `fdshare fetch --remove NAME -- true`",
    "cli-ceiling true+env-true": "`true`, then `env true`: the CLI cycle's processes and execs, no IPC",
}


def read_meta(path):
    meta, notes = {}, []
    for line in open(path):
        key, _, val = line.rstrip("\n").partition("=")
        if key == "note":
            notes.append(val)
        else:
            meta[key] = val
    return meta, notes


def read_runs(path):
    """Result lines by row, every line, and the "# fig ROW WORKLOAD k=v ..."
    figures by row (one dict a run)."""
    rows, lines, figs = {}, [], {}
    for line in open(path):
        lines.append(line.rstrip("\n"))
        f = line.split()
        if line.startswith("# fig ") and len(f) > 4:
            figs.setdefault(f[2] + " " + f[3], []).append(
                dict(t.split("=", 1) for t in f[4:] if "=" in t))
            continue
        if line.startswith("#") or len(f) != 4:
            continue
        rows.setdefault(f[0] + " " + f[1], []).append((float(f[2]), float(f[3])))
    return rows, lines, figs


class Row:
    def __init__(self, runs):
        self.fds = [r[0] for r in runs]
        self.msgs = [r[1] for r in runs]
        self.by_fds = statistics.median(self.fds) > 0
        col = self.fds if self.by_fds else self.msgs
        self.med, self.lo, self.hi = statistics.median(col), min(col), max(col)
        self.spread = 100.0 * (self.hi - self.lo) / self.med if self.med else 0.0
        self.n = len(runs)


def rate(x):
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.1fk" % (x / 1e3)
    return "%.0f" % x


# ---------------------------------------------------------------- profiles

def strace_counts(path):
    counts = {}
    if not os.path.exists(path):
        return counts
    for line in open(path):
        f = line.split()
        if len(f) == 2 and f[1].isdigit() and f[0] not in ("total", "syscall"):
            counts[f[0]] = int(f[1])
    return counts


def row_of(line_file):
    try:
        f = open(line_file).read().split()
    except OSError:
        return None
    return f[0] + " " + f[1] if len(f) == 4 else None


def per_op(counts, n, floor=0.05):
    return {k: v / n for k, v in counts.items() if v / n >= floor}


def fmt_calls(d):
    if not d:
        return "-"
    items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join("%s %.3g" % (k, v) for k, v in items)


def runs_of(prof, kind):
    """(base path, row, ops) of each run of a kind, in the order made."""
    out = []
    for n_file in glob.glob(os.path.join(prof, kind + ".*.n")):
        base = n_file[:-2]
        row = row_of(base + ".line")
        if row is not None:
            out.append((int(base.rsplit(".", 1)[1]), base, row, float(open(n_file).read().split()[0])))
    return [(b, r, n) for _, b, r, n in sorted(out)]


def task_clock(path):
    """msec of task-clock in a perf stat -x, output, None without one."""
    for line in open(path) if os.path.exists(path) else []:
        f = line.split(",")
        if len(f) > 2 and "task-clock" in line:
            try:
                return float(f[0])
            except ValueError:
                return None
    return None


def load_cpu(prof):
    """Median CPU µs per op of each row, from perf stat task-clock (msec)."""
    per = {}
    for base, row, n in runs_of(prof, "cpu"):
        ms = [task_clock(base + ".stat"), task_clock(base + ".dstat")]
        if ms[0] is not None:
            per.setdefault(row, []).append(sum(m for m in ms if m) * 1000.0 / n)
    return {k: (min(v), statistics.median(v), len(v)) for k, v in per.items()}


def load_strace(prof):
    out = {}
    for base, row, n in runs_of(prof, "strace"):
        daemon = base + ".daemon"
        out[row] = (per_op(strace_counts(base + ".out"), n),
                    per_op(strace_counts(daemon), n) if os.path.exists(daemon) else None)
    return out


def diff_calls(mine, theirs):
    d = {}
    for k in set(mine) | set(theirs):
        v = mine.get(k, 0.0) - theirs.get(k, 0.0)
        if abs(v) >= 0.05:
            d[k] = v
    if not d:
        return "none"
    return ", ".join("%+.2g %s" % (v, k) for k, v in sorted(d.items(), key=lambda kv: -abs(kv[1])))


# glibc's start-up probing of the CPU (ld.so, or libc's static start): CPUID
CPUID_SYMS = {"init_cpu_features", "init_cpu_features.constprop.0", "handle_amd",
              "handle_intel", "update_active", "update_active.constprop.0",
              "get_extended_indices", "get_extended_indices.constprop.0",
              "get_common_indices", "get_common_indices.constprop.0",
              "init_cacheinfo", "dl_init_cacheinfo", "intel_check_word"}


def load_perf(prof):
    out = []
    for base, row, _n in runs_of(prof, "perf"):
        kernel, syms, cpuid = 0.0, [], 0.0
        for line in open(base + ".sym") if os.path.exists(base + ".sym") else []:
            f = line.split()
            # "pct dso [k] symbol" in the kernel, "pct dso [.] symbol" in user space
            if len(f) < 4 or not f[0].endswith("%"):
                continue
            if f[2] == "[k]":
                kernel += float(f[0].rstrip("%"))
            elif f[2] == "[.]":
                syms.append("%s %s (%s)" % (f[0], " ".join(f[3:]), f[1]))
                if " ".join(f[3:]) in CPUID_SYMS:
                    cpuid += float(f[0].rstrip("%"))
        out.append((row, kernel, syms[:6], cpuid))
    return out


# ---------------------------------------------------------------- output

def cpu_ratio(cpu, mine, theirs):
    """The anchor's CPU time per op over mine (higher: mine is cheaper)."""
    if mine in cpu and theirs in cpu:
        return cpu[theirs][0] / cpu[mine][0]
    return None


def raw_c_ceiling(rows, cpu, anchor):
    """raw-c's ratio to a Python anchor doing the same work, as text: on
    CPU time where measured, else on the median rates."""
    name, _, wl = anchor.partition(" ")
    if name != "python":
        return ""
    c = cpu_ratio(cpu, "raw-c " + wl, anchor)
    if c:
        return "%.3f× (CPU)" % c
    raw = rows.get("raw-c " + wl)
    if raw is None or anchor not in rows:
        return ""
    return "%.3f×" % (raw.med / rows[anchor].med)


# ---------------------------------------------------------------- scale, beyond

def fig(figs, row, key):
    """The median over the runs of a "# fig" value, None without one."""
    vals = []
    for kv in figs.get(row, []):
        try:
            vals.append(float(kv[key]))
        except (KeyError, ValueError):
            pass
    return statistics.median(vals) if vals else None


def judged(w, what, value, target, ok, detail=""):
    """One line of a pass/miss table; value None: not run."""
    if value is None:
        w("| %s | not run | %s | not run | %s |" % (what, target, detail))
        print("target %s: not-run" % what)
        return
    verdict = "pass" if ok else "miss"
    w("| %s | %s | %s | **%s** | %s |" % (what, value, target, verdict, detail))
    print("target %s: %s %s (%s)" % (what, value, verdict, target))


def ratio_of(rows, mine, theirs, msgs=False):
    a, b = rows.get(mine), rows.get(theirs)
    if a is None or b is None:
        return None, a, b
    if msgs:
        return statistics.median(a.msgs) / statistics.median(b.msgs), a, b
    return a.med / b.med, a, b


def scale_section(w, rows, figs, meta):
    w("## Scale")
    w("")
    w("Issue 8's scale figures, from `scale` (bench/scale.c).  The clients and"
      " unprivileged rows run in the interleaved rounds; the held rows and the memory"
      " figure in a scale phase after them, on a holder of their own started fresh (so"
      " that its memory growth is the entries' alone and a full store cannot disturb the"
      " other rows), the 100-entry and the full runs alternating.  A cycle is one"
      " fdshare_store + one fdshare_fetch(REMOVE): cycles/s = fds/s / 2.")
    w("")
    if meta.get("scale_note"):
        w("Note: %s" % meta["scale_note"])
        w("")
    w("| figure | measured | target | result | details |")
    w("|---|---|---|---|---|")
    held = "fdshare-holder store+fetch-heldmax"
    count = fig(figs, held, "held")
    r, a, b = ratio_of(rows, held, "fdshare-holder store+fetch-held100")
    judged(w, "store+fetch with %s entries held / with 100" % ("%.0f" % count if count else "many"),
           "%.3f×" % r if r else None, "≥ 0.80×", r is not None and r >= 0.8,
           "%s vs %s cycles/s" % (rate(a.med / 2), rate(b.med / 2)) if r else "")
    per = fig(figs, "fdshare-holder memory", "bytes_per_entry")
    n = fig(figs, "fdshare-holder memory", "entries")
    judged(w, "holder memory per held entry (VmRSS growth / entries)",
           "%.0f bytes" % per if per is not None else None, "≤ 256 bytes",
           per is not None and per <= 256,
           "%.0f entries: VmRSS %.0f → %.0f kB; user space only (the kernel's fd table"
           " slot and file reference are not in RSS)" % (
               n, fig(figs, "fdshare-holder memory", "rss_before_kb"),
               fig(figs, "fdshare-holder memory", "rss_after_kb")) if per is not None else "")
    for how in ("", "-unpinned"):
        many = "fdshare-holder store+fetch-clients64" + how
        one = "fdshare-holder store+fetch-clients1" + how
        r, a, b = ratio_of(rows, many, one)
        if how and r is None:
            continue
        lat = []
        for row in (one, many):
            k = fig(figs, row, "clients")
            if k is not None:
                lat.append("%.0f client%s: p50 %.1f µs, p99 %.1f µs" % (
                    k, "" if k == 1 else "s", fig(figs, row, "p50_us"), fig(figs, row, "p99_us")))
        judged(w, "64 clients at once, aggregate cycles/s / 1 client" +
               (", nothing pinned (holder included)" if how else ", all on one CPU"),
               "%.3f×" % r if r else None, "≥ 1.00× (no collapse)", r is not None and r >= 1.0,
               ("%s vs %s cycles/s; " % (rate(a.med / 2), rate(b.med / 2)) if r else "") +
               ("per operation (a store or a fetch, median of the rounds): " + "; ".join(lat)
                if lat else ""))
    for t in ("stream", "seqpacket"):
        row = "fdshare msg10000-unpriv-" + t
        r, a, b = ratio_of(rows, row, "fdshare msg10000-" + t)
        frames = figs.get(row, [])
        whole = all(kv.get("frames") == kv.get("whole") for kv in frames)
        refused = fig(figs, row, "refused_at")
        judged(w, "10,000-fd frames from uid 1001 (soft RLIMIT_NOFILE 1024), %s" % t,
               "%s fds/s" % rate(a.med) if a else None, "every frame arrives whole",
               a is not None and whole and bool(frames),
               "%s; the kernel refused the sender at %s fds in flight (ETOOMANYREFS); root"
               " `msg10000-%s`: %s fds/s (%s)" % (
                   "%d run%s, every frame whole" % (len(frames), "" if len(frames) == 1 else "s") if whole else "a frame was cut",
                   "%.0f" % refused if refused is not None else "?", t,
                   rate(b.med) if b else "not run", "%.3f×" % r if r else "-") if a else "")
    w("")


def beyond_section(w, rows, cpu):
    w("## Beyond the anchors")
    w("")
    w("The batched APIs: many messages per system call, many names per holder request.")
    w("")
    w("| figure | measured | target | result | details |")
    w("|---|---|---|---|---|")
    r, a, b = ratio_of(rows, "fdshare msg-batch-seqpacket1", "raw-c stream1", msgs=True)
    c = cpu_ratio(cpu, "fdshare msg-batch-seqpacket1", "raw-c stream1")
    judged(w, "`msg-batch-seqpacket1` / `raw-c stream1`, msgs/s",
           "%.3f×" % r if r else None, "≥ 1.30×", r is not None and r >= 1.3,
           ("%s vs %s msgs/s" % (rate(statistics.median(a.msgs)), rate(statistics.median(b.msgs)))
            if r else "") +
           ("; by CPU time per message (below): %.3f× (%s)" % (c, "pass" if c >= 1.3 else "miss")
            if c else ""))
    r, a, b = ratio_of(rows, "fdshare-holder fetch100-many", "fdshare-holder fetch100-single")
    judged(w, "`fetch100-many` / `fetch100-single`: 100 names in one request vs 100 requests",
           "%.2f×" % r if r else None, "≥ 5.00×", r is not None and r >= 5.0,
           "%s vs %s names/s" % (rate(a.med), rate(b.med)) if r else "")
    r, a, b = ratio_of(rows, "fdshare-holder store100-many", "fdshare-holder store100-single")
    if r:
        w("| `store100-many` / `store100-single` (store then remove 100 names) | %.2f× | (figure) | |"
          " %s vs %s names/s |" % (r, rate(a.med), rate(b.med)))
    else:
        w("| `store100-many` / `store100-single` | not run | (figure) | | |")
    w("")


def main():
    meta, notes = read_meta(sys.argv[1])
    runs, lines, figs = read_runs(sys.argv[2])
    prof, out = sys.argv[3], sys.argv[4]
    rows = {k: Row(v) for k, v in runs.items()}

    print("# summary columns: summary name workload fds_med fds_min fds_max "
          "msgs_med msgs_min msgs_max runs spread%")
    for key, r in rows.items():
        print("summary %s %.0f %.0f %.0f %.0f %.0f %.0f %d %.1f" % (
            key, statistics.median(r.fds), min(r.fds), max(r.fds),
            statistics.median(r.msgs), min(r.msgs), max(r.msgs), r.n, r.spread))

    md = []
    w = md.append
    w("# fdshare benchmark results")
    w("")
    w("Generated by `make bench` (bench/run.sh, bench/report.py); do not edit by hand.")
    w("Workloads, timing and counting rules: bench/README.md and the anchors' README.")
    w("")
    w("## Machine and run")
    w("")
    for key, label in [("date", "date (UTC)"), ("fdshare", "fdshare"), ("nproc", "nproc"),
                       ("kernel", "kernel"), ("cpu", "CPU"), ("hypervisor", "hypervisor"),
                       ("pinning", "pinning"), ("reps", "rounds (interleaved)"),
                       ("scale", "scale of N"), ("tools", "tools"),
                       ("load_start", "load average before"), ("load_end", "load average after"),
                       ("wall_seconds", "wall time (s)")]:
        if meta.get(key):
            w("- %s: %s" % (label, meta[key]))
    busy = 0.0
    for key in ("load_start", "load_end"):
        try:
            busy = max(busy, float(meta.get(key, "0").split()[0]))
        except ValueError:
            pass
    if busy > 0.5:
        notes.append("the machine was busy with other work (1-minute load average up to %.2f "
                     "on %s CPUs): the numbers may be noisy; the rounds are interleaved so "
                     "that both sides of a ratio saw the same conditions" % (busy, meta.get("nproc", "?")))
    noisy = [k for k, r in rows.items() if r.spread > 15]
    if len(noisy) > 4:
        notes.append("%d of %d rows have a spread (max - min) / median over 15%%" % (len(noisy), len(rows)))
    elif noisy:
        notes.append("spread over 15%% in: %s" % ", ".join(noisy))
    for n in notes:
        w("- note: %s" % n)
    w("")

    w("## Targets (ratio of medians, same run, pinned)")
    w("")
    w("Ratio on fds/s (the fdshare row's over the anchor's).")
    w("")
    w("For a Python row, \"raw C\" is raw-c's own ratio to the same Python row: what a"
      " library that adds nothing to the kernel primitive would reach.")
    w("")
    w("The receivers free what they get as each side's API does: the anchors close each fd"
      " with its own close(); fdshare_msg_free and fdshare_msg_freev close each run of"
      " consecutive fds with one close_range(2), a lone fd with close().  The `msg10000-*`"
      " and `msg-batch-*` rows gain from that; the `stream1`, `seqpacket1`, `batch253` and"
      " `pingpong1` rows (fdshare_recv, then close() as the anchors) do not.")
    w("")
    cpu = load_cpu(prof)
    w("\"Best\" is the ratio of the two rows' fastest runs.  \"CPU\" is the ratio of their"
      " CPU time per op (see below: the least disturbed of several runs, both processes"
      " and the daemon counted); other work on the machine only adds to a run's wall time"
      " and CPU time, so on a busy machine the CPU ratio is the steadier measure.  The"
      " result is judged on the medians, as the targets say, and again on CPU time.")
    w("")
    w("| fdshare row | median fds/s | anchor | median fds/s | ratio | target | result | best | CPU | by CPU | raw C |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    print("# ratio columns: ratio fdshare-row / anchor-row ratio floor result [cpu-ratio cpu-result]")
    for mine, theirs, floor in TARGETS:
        a, b = rows.get(mine), rows.get(theirs)
        c = cpu_ratio(cpu, mine, theirs)
        cres = ("**%s**" % ("pass" if c >= floor else "miss")) if c else ""
        ccol = "%.3f×" % c if c else ""
        if a is None or b is None:
            missing = mine if a is None else theirs
            w("| `%s` | %s | `%s` | %s | | ≥ %.2f× | not run (`%s` missing) | | %s | %s | |" % (
                mine, rate(a.med) if a else "-", theirs, rate(b.med) if b else "-", floor,
                missing, ccol, cres))
            print("ratio %s / %s - %.2f not-run" % (mine, theirs, floor))
            continue
        ratio = a.med / b.med
        verdict = "pass" if ratio >= floor else "miss"
        w("| `%s` | %s | `%s` | %s | %.3f× | ≥ %.2f× | **%s** | %.3f× | %s | %s | %s |" % (
            mine, rate(a.med), theirs, rate(b.med), ratio, floor, verdict, a.hi / b.hi,
            ccol, cres, raw_c_ceiling(rows, cpu, theirs)))
        print("ratio %s / %s %.3f %.2f %s%s" % (mine, theirs, ratio, floor, verdict,
                                             " %.3f %s" % (c, "pass" if c >= floor else "miss") if c else ""))
    w("")
    w("Without a target: the same work done otherwise, and a ceiling: `cli-ceiling"
      " true+env-true` runs the processes and execs of a CLI store + fetch cycle with no"
      " IPC, so its ratio to `s6-cli store+retrieve` is what a CLI whose start-up costs"
      " no more than `env`'s can reach against s6's.  `raw-c pingpong1` is the ceiling of"
      " the holder rows: a store + fetch cycle is two request/reply round trips, each at"
      " least one raw pingpong, so pingpong1's fds/s (round trips/s) is the most any holder"
      " can reach in cycles × 2 per second on one CPU, and its ratio to `s6-lib"
      " store+retrieve` bounds what any holder can reach against s6's.  `msg-stream1` and"
      " `msg-seqpacket1` use the stateless fdshare_msg_recv, which pays one"
      " getsockopt(SO_TYPE) per message and, on a stream, a second recvmsg (the"
      " `msg-reader-*` rows with a buffered reader carry the target).")
    w("")
    w("| row | against | ratio | Δ µs/op |")
    w("|---|---|---|---|")
    for mine, theirs in CONTEXT:
        a, b = rows.get(mine), rows.get(theirs)
        if a and b:
            w("| `%s` | `%s` | %.3f× | %+.3f |" % (mine, theirs, a.med / b.med, 1e6 / a.med - 1e6 / b.med))
            print("ratio %s / %s %.3f - info" % (mine, theirs, a.med / b.med))
        else:
            w("| `%s` | `%s` | not run (`%s` missing) | |" % (mine, theirs, theirs if a else mine))
    w("")
    scale_section(w, rows, figs, meta)
    beyond_section(w, rows, cpu)

    w("## Every row (median, min, max over the rounds)")
    w("")
    w("| row | what | fds/s median | min – max | msgs/s median | runs | spread |")
    w("|---|---|---|---|---|---|---|")
    for key, r in rows.items():
        rng = "%s – %s" % (rate(r.lo), rate(r.hi)) if r.by_fds else "(msgs) %s – %s" % (rate(r.lo), rate(r.hi))
        w("| `%s` | %s | %s | %s | %s | %d | %.1f%% |" % (
            key, WHAT.get(key, "anchor"), rate(statistics.median(r.fds)), rng,
            rate(statistics.median(r.msgs)), r.n, r.spread))
    w("")

    st = load_strace(prof)
    perf = load_perf(prof)
    anchor_of = {}
    for mine, theirs, _ in TARGETS:
        anchor_of.setdefault(mine, theirs)
    if cpu or st or perf:
        w("## Where the time goes")
        w("")
    if cpu:
        w("CPU time per op of both processes, and of the daemon for the holder and CLI rows"
          " (`perf stat -e task-clock`, pinned, up to %d interleaved runs after the rounds;"
          " one op = one message, grab or cycle, 253 fds for the batch rows).  Other work on the machine only adds to it, so the least"
          " disturbed (lowest) run counts; the ratio is on those." % max(n for _, _, n in cpu.values()))
        w("")
        w("| row | CPU µs per op (median) | anchor | CPU µs per op (median) | anchor / row |")
        w("|---|---|---|---|---|")
        for row, (lo, med, _n) in cpu.items():
            other = anchor_of.get(row)
            if other in cpu:
                olo, omed, _ = cpu[other]
                w("| `%s` | %.3f (%.3f) | `%s` | %.3f (%.3f) | %.3f× |" % (row, lo, med, other, olo, omed, olo / lo))
                print("cpu %s %.3f us/op / %s %.3f us/op = %.3f" % (row, lo, other, olo, olo / lo))
            elif row.startswith("fdshare") or row.startswith("cli-ceiling"):
                w("| `%s` | %.3f (%.3f) | | | |" % (row, lo, med))
        w("")
    if st:
        w("System calls per operation (one op = one message, grab or store+fetch cycle),"
          " counted by `strace -f -c` on a short untimed run of both ends; for the holder"
          " rows the daemon is traced by pid at the same time.  Calls under 0.05 per op"
          " (start-up) are left out.")
        w("")
        w("| row | calls per op | against its anchor | daemon's calls per op |")
        w("|---|---|---|---|")
        for row, (calls, daemon) in st.items():
            other = anchor_of.get(row)
            vs = ""
            if other in st:
                vs = "vs `%s`: %s" % (other, diff_calls(calls, st[other][0]))
            w("| `%s` | %s | %s | %s |" % (row, fmt_calls(calls), vs,
                                            fmt_calls(daemon) if daemon is not None else ""))
        w("")
    if perf:
        w("CPU profile (`perf record -e cpu-clock`, pinned, every process of the run but"
          " the daemons): the kernel's share and the hottest user-space symbols.  \"CPUID\""
          " is the share of glibc's start-up probing of the CPU in every process (ld.so's"
          " init_cpu_features, handle_amd and the like): each CPUID instruction is answered"
          " by the hypervisor of a virtual machine, whatever the program.")
        w("")
        w("| row | kernel | CPUID | user-space hot spots |")
        w("|---|---|---|---|")
        for row, kernel, syms, cpuid in perf:
            w("| `%s` | %.1f%% | %.1f%% | %s |" % (row, kernel, cpuid, "; ".join(syms) or "-"))
        w("")

    w("## All runs")
    w("")
    w("```")
    w("# columns: name workload fds_per_sec msgs_per_sec")
    md.extend(lines)
    w("```")
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
