# fdshare: dispatch, help, version, usage errors, and the demo.
. "$(dirname "$0")/cli_lib.sh"

COMMANDS="demo ls grab send recv"

t_help() {
	run 0 "$FDSHARE" --help || return 1
	for c in $COMMANDS; do
		out_has "^  $c " || return 1
	done
	if grep -q _demo_peer "$T/out"; then
		WHY="the internal subcommand is listed"
		return 1
	fi
	for c in $COMMANDS; do
		run 0 "$FDSHARE" help "$c" || return 1
		out_has "^usage: fdshare $c" || return 1
		run 0 "$FDSHARE" "$c" --help || return 1
		out_has "^usage: fdshare $c" || return 1
	done
	run 0 "$FDSHARE" help || return 1
	out_has "^usage: fdshare COMMAND"
}

t_version() {
	local v
	v=$(sed -n 's/^#define FDSHARE_VERSION "\(.*\)"/\1/p' include/fdshare.h)
	run 0 "$FDSHARE" --version || return 1
	out_has "^fdshare $v\$"
}

t_usage_errors() {
	run 2 "$FDSHARE" || return 1
	run 2 "$FDSHARE" frobnicate || return 1
	err_is "^fdshare: unknown command 'frobnicate' \(see 'fdshare --help'\)$" || return 1
	run 2 "$FDSHARE" help frobnicate || return 1
	run 2 "$FDSHARE" ls --frobnicate || return 1
	err_is "^fdshare: ls: unknown option '--frobnicate' \(see 'fdshare ls --help'\)$" || return 1
	run 2 "$FDSHARE" ls --json=yes || return 1
	run 2 "$FDSHARE" demo extra || return 1
	run 2 "$FDSHARE" grab --to || return 1
	err_is "option '--to' needs a value"
}

# peers_of PID: the demo peers of demo PID still running.
peers_of() {
	pgrep -f "_demo_peer [a-z]+ $1( |\$)"
}

t_demo() {
	local lines pid dir
	run 0 "$FDSHARE" demo || return 1
	lines=$(wc -l <"$T/out")
	if [ "$lines" -gt 60 ]; then
		WHY="the demo printed $lines lines"
		return 1
	fi
	for step in "1\. Inheritance" "2\. SCM_RIGHTS" "3\. pidfd_getfd" \
		"4\. Reopening /proc/PID/fd/N" "5\. What does not work"; do
		out_has "^$step" || return 1
	done
	out_has "^All five steps behaved as expected" || return 1
	out_has "ENXIO" || return 1
	if grep -q $'\033' "$T/out"; then
		WHY="colour escapes when stdout is not a tty"
		return 1
	fi
	pid=$(sed -n 's/^(demo pid \([0-9]*\), scratch directory \(.*\))$/\1/p' "$T/out")
	dir=$(sed -n 's/^(demo pid \([0-9]*\), scratch directory \(.*\))$/\2/p' "$T/out")
	if [ -z "$pid" ] || [ -z "$dir" ]; then
		WHY="no demo pid or scratch directory in the output"
		return 1
	fi
	if [ -e "$dir" ]; then
		WHY="the demo left $dir"
		return 1
	fi
	if peers_of "$pid" >/dev/null; then
		WHY="a demo peer process is left running"
		return 1
	fi
}

# Where pidfd_getfd is refused (as by a ptrace policy), the demo says
# which step fails and why, and exits 1.
t_demo_refused() {
	local nogetfd=$BUILD/tests/aux/cli_nogetfd
	[ -x "$nogetfd" ] || { WHY="no $nogetfd"; return 77; }
	run 1 "$nogetfd" "$FDSHARE" demo || return 1
	out_has "^Step 3 is not allowed on this machine: pidfd_getfd: Operation not permitted$" || return 1
	out_has "^Why: .*ptrace" || return 1
	out_has "^   ok: refused with ENXIO" || return 1
	[ "$(wc -l <"$T/out")" -le 60 ] || { WHY="more than 60 lines"; return 1; }
}

runs_fdshare() {
	[ "$(readlink "/proc/$1/exe")" = "$FDSHARE" ]
}

# Stopped by SIGTERM at various moments: no process or file is left.
t_demo_interrupted() {
	local pid d left
	mkdir "$T/demotmp" || return 1
	for d in 0 0.002 0.005 0.01 0.02 0.03 0.05 0.08; do
		TMPDIR=$T/demotmp "$FDSHARE" demo >/dev/null 2>&1 &
		pid=$!
		# Not before the exec: until then the child is this shell.
		wait_until runs_fdshare "$pid"
		sleep "$d"
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		wait_until sh -c "! pgrep -f '_demo_peer [a-z]+ $pid( |\$)' >/dev/null" || {
			WHY="a demo peer outlived the demo stopped after ${d}s"
			return 1
		}
		left=$(ls -A "$T/demotmp")
		if [ -n "$left" ]; then
			WHY="the demo stopped after ${d}s left $left"
			return 1
		fi
	done
	rmdir "$T/demotmp"
}

# docs/fdshare.1 renders without a warning and covers every subcommand
# and JSON field.
t_man_page() {
	command -v groff >/dev/null || { WHY="no groff (Debian package groff-base)"; return 77; }
	run 0 groff -man -ww -z docs/fdshare.1 || return 1
	if [ -s "$T/err" ]; then
		WHY="groff warns: $(head -c 300 "$T/err")"
		return 1
	fi
	for c in $COMMANDS; do
		grep -q "^\.SS \"fdshare $c" docs/fdshare.1 || { WHY="no section for $c"; return 1; }
	done
	for field in fd pid kind access flags offset path deleted dev ino target socket \
		family type protocol local peer state listening peer_pid peer_uid; do
		grep -q "^\.B $field\$" docs/fdshare.1 || { WHY="JSON field $field undocumented"; return 1; }
	done
}

run_case help t_help
run_case man_page t_man_page
run_case version t_version
run_case usage_errors t_usage_errors
run_case demo t_demo
run_case demo_refused t_demo_refused
run_case demo_interrupted t_demo_interrupted
