# fdshare demo whose output cannot be written: a closed pipe (SIGPIPE,
# "fdshare demo | head -1") or a full disk.  It still removes every file
# and process it made, and a lost output is no success.
. "$(dirname "$0")/cli_lib.sh"

# no_leftovers DIR: true when the demo left nothing in DIR.
no_leftovers() {
	local left
	left=$(ls -A "$1")
	if [ -n "$left" ]; then
		WHY="left behind in $1: $left"
		return 1
	fi
}

# stdout a pipe whose reader is gone before the demo starts.
t_closed_pipe() {
	local rc
	mkdir "$T/tmp"
	if [ -z "$PY" ]; then
		WHY="no /usr/bin/python3"
		rmdir "$T/tmp"
		return 77
	fi
	rc=$(TMPDIR=$T/tmp timeout 60 "$PY" -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
print(subprocess.run([sys.argv[1], "demo"], stdout=w, stderr=subprocess.DEVNULL).returncode)
' "$FDSHARE")
	if [ "$rc" != -13 ]; then
		WHY="demo into a closed pipe: status $rc, not killed by SIGPIPE"
		rm -rf "$T/tmp"
		return 1
	fi
	no_leftovers "$T/tmp" || { rm -rf "$T/tmp"; return 1; }
	rmdir "$T/tmp"
}

t_full() {
	local rc
	if [ ! -w /dev/full ]; then
		WHY="no /dev/full"
		return 77
	fi
	mkdir "$T/tmp"
	TMPDIR=$T/tmp timeout 60 "$FDSHARE" demo >/dev/full 2>"$T/err"
	rc=$?
	if [ "$rc" -ne 1 ]; then
		WHY="demo >/dev/full exited $rc, not 1"
		rm -rf "$T/tmp"
		return 1
	fi
	err_is '^fdshare: demo: cannot write the output: No space left on device \(check standard output\)$' ||
		{ rm -rf "$T/tmp"; return 1; }
	no_leftovers "$T/tmp" || { rm -rf "$T/tmp"; return 1; }
	rmdir "$T/tmp"
}

run_case closed_pipe t_closed_pipe
run_case full t_full
