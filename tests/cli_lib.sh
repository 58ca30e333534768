# Shared by the shell tests (tests/test_*.sh), which source it: the case
# runner, the temporary directory, background processes and their cleanup.
# Not a test itself: run on its own it does nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi

BUILD=${BUILD:-build}
FDSHARE=$(cd "$BUILD" && pwd)/fdshare
PY=/usr/bin/python3
[ -x "$PY" ] || PY=
TESTFILE=$(basename "$0" .sh)
T=$(mktemp -d /tmp/fdshare-cli.XXXXXX)
chmod 755 "$T"  # other uids (setpriv) must reach sockets in it
BGPIDS=()

cli_cleanup() {
	local p
	# Only the test's own shell: a forked child caught by a signal before
	# its exec runs this trap too.
	[ "$BASHPID" = "$$" ] || return 0
	for p in "${BGPIDS[@]}"; do
		stop "$p"
	done
	rm -rf "$T"
}
trap cli_cleanup EXIT
trap 'exit 130' INT TERM

# The shell's own open fds, counted in the shell itself: a command
# substitution would race with its own pipe.
fdcount() {
	local f=(/proc/$$/fd/*)
	FDCOUNT=${#f[@]}
}

# run_case NAME FUNCTION: FUNCTION returns 0 (pass), 77 (skip) or else
# (fail), with the reason in WHY.
run_case() {
	local name=$1 before after rc
	WHY=
	fdcount
	before=$FDCOUNT
	"$2"
	rc=$?
	fdcount
	after=$FDCOUNT
	if [ "$rc" -eq 0 ] && [ "$before" != "$after" ]; then
		rc=1
		WHY="shell fds: $before before, $after after"
	fi
	case $rc in
	0) echo "PASS $TESTFILE.$name" ;;
	77) echo "SKIP $TESTFILE.$name: $WHY" ;;
	*) echo "FAIL $TESTFILE.$name: ${WHY:-returned $rc}" ;;
	esac
}

# bg CMD...: start CMD in the background; BGPID is its pid, killed at exit.
# Disowned, so that bash does not report its death by a signal on stderr;
# bash still reaps it.
bg() {
	"$@" &
	BGPID=$!
	BGPIDS+=("$BGPID")
	disown "$BGPID"
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# reap PID: wait (5 s at most) until a background process has ended.
reap() {
	wait_until gone "$1"
}

# stop PID: kill a process and wait until it is gone.
stop() {
	kill -KILL "$1" 2>/dev/null
	reap "$1"
	return 0
}

# wait_until CMD...: true once CMD succeeds, false after 5 seconds.
wait_until() {
	local i
	for i in $(seq 50); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# run WANT CMD...: run CMD with stdout in $T/out and stderr in $T/err; false
# (WHY set) unless it exits with status WANT.
run() {
	local want=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		WHY="'$*' exited $rc, not $want; stderr: $(head -c 300 "$T/err")"
		return 1
	fi
}

# err_is PATTERN: stderr is exactly one line, matching the grep -E PATTERN.
err_is() {
	if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -Eq -- "$1" "$T/err"; then
		WHY="stderr '$(head -c 300 "$T/err")' is not one line matching '$1'"
		return 1
	fi
}

# out_has PATTERN: stdout matches the grep -E PATTERN.
out_has() {
	if ! grep -Eq -- "$1" "$T/out"; then
		WHY="stdout '$(head -c 300 "$T/out")' does not match '$1'"
		return 1
	fi
}
