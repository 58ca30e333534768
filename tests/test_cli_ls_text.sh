# fdshare ls rows of files whose names hold newlines, terminal escapes,
# backslashes and bytes that are not UTF-8: one row per descriptor, the
# TARGET escaped (\n, \t, \\, \xHH), no control byte reaching the terminal.
. "$(dirname "$0")/cli_lib.sh"

LS_TEXT_PY='
import os, re, subprocess, sys
fdshare, tmp = sys.argv[1], sys.argv[2]
names = {
    b"nl\n3    file     r    -                               0  FORGED":
        rb"nl\n3    file     r    -                               0  FORGED",
    b"esc\x1b[31mred\x07": rb"esc\x1b[31mred\x07",
    b"tab\there": rb"tab\there",
    b"back\\slash": rb"back\\slash",
    b"bad\xff\xfe": rb"bad\xff\xfe",
    b"c1\xc2\x9b2J": rb"c1\xc2\x9b2J",
    b"del\x7f": rb"del\x7f",
    b"utf8\xc3\xa9\xe2\x82\xac": b"utf8\xc3\xa9\xe2\x82\xac",
}
want = {}
for name, shown in names.items():
    path = os.path.join(tmp.encode(), name)
    fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0o600)
    want[fd] = tmp.encode() + b"/" + shown
for how, args, pass_fds in (("PID", [str(os.getpid())], ()), ("self", [], list(want))):
    out = subprocess.run([fdshare, "ls"] + args, stdout=subprocess.PIPE, check=True,
                         pass_fds=pass_fds).stdout
    lines = out.split(b"\n")
    if lines[-1] != b"":
        sys.exit("%s: no final newline" % how)
    rows = {}
    for line in lines[1:-1]:
        if re.search(rb"[\x00-\x1f\x7f]", line):
            sys.exit("%s: a control byte in row %r" % (how, line))
        fd = int(line.split(b" ", 1)[0])
        if fd in rows:
            sys.exit("%s: two rows for fd %d" % (how, fd))
        rows[fd] = line
    for fd, target in want.items():
        if fd not in rows or not rows[fd].endswith(b"  " + target):
            sys.exit("%s: fd %d row %r, want the target %r" % (how, fd, rows.get(fd), target))
for name in names:
    os.unlink(os.path.join(tmp.encode(), name))
'

t_escaped_rows() {
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		return 77
	fi
	mkdir "$T/names"
	"$PY" -c "$LS_TEXT_PY" "$FDSHARE" "$T/names" 2>"$T/pyerr" || {
		WHY=$(tail -1 "$T/pyerr")
		rm -rf "$T/names" "$T/pyerr"
		return 1
	}
	rm -rf "$T/names" "$T/pyerr"
}

run_case escaped_rows t_escaped_rows
