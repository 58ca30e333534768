# The command line against its error convention and its documentation:
# usage errors (2) for bad --socket paths and modes, the holder's default
# path from $FDSHARE_SOCKET, fetch of a name LISTEN_FDNAMES cannot carry or
# for a CMD that cannot run, and no descriptor leaking into CMD beyond
# those promised.
. "$(dirname "$0")/cli_lib.sh"

H=$T/h.sock
LONG=$T/$(printf 'p%.0s' $(seq 110))

# holder_up PATH ARGS...: 'fdshare holder ARGS', with the environment
# assignments in the array HENV, in the background until it is ready and
# listens on PATH; HPID is its pid.
HENV=()
holder_up() {
	local path=$1
	shift
	rm -f "$T/ready"
	bg env "${HENV[@]}" "$FDSHARE" holder --ready-fd 5 "$@" 5>"$T/ready" \
		2>"$T/hlog" </dev/null
	HPID=$BGPID
	wait_until test -s "$T/ready" ||
		{ WHY="holder not ready: $(tail -2 "$T/hlog")"; stop "$HPID"; return 1; }
	[ -S "$path" ] || { WHY="no holder socket at $path"; stop "$HPID"; return 1; }
}

holder_down() {
	kill -TERM "$HPID" 2>/dev/null
	reap "$HPID" || { WHY="the holder did not exit"; stop "$HPID"; return 1; }
}

# usage CMD ARGS...: 'fdshare CMD ARGS' is a usage error: exit 2, one line.
usage() {
	local cmd=$1
	run 2 timeout 5 "$FDSHARE" "$@" || return 1
	err_is "^fdshare: $cmd: .+ \(see 'fdshare $cmd --help'\)$" ||
		{ WHY="$*: $WHY"; return 1; }
}

# A --socket PATH no Unix socket address holds, or an empty one, is a
# usage error (fdshare(1), EXIT STATUS), for every command taking one.
t_socket_path_usage() {
	local p
	for p in "$LONG" ""; do
		usage store --socket "$p" web 0 || return 1
		err_is "--socket" || return 1
		usage fetch --socket "$p" web -- true || return 1
		usage list --socket "$p" || return 1
		usage remove --socket "$p" web || return 1
		usage grab --socket "$p" $$ 0 --store web || return 1
		usage listen --holder --socket "$p" tcp:127.0.0.1:0 -- true || return 1
		usage run --holder --socket "$p" tcp:127.0.0.1:0 -- true || return 1
		usage holder --socket "$p" || return 1
		usage holder --socket "$H" --notify-socket "$p" || return 1
		err_is "--notify-socket" || return 1
	done
	[ ! -e "$H" ] || { WHY="a holder socket was made"; return 1; }
}

# --mode is octal digits: '+600', ' 600' and '-0' are refused, not read
# by strtoul as 0600 and 0.
t_holder_mode_strict() {
	local m
	for m in +600 " 600" -0; do
		usage holder --socket "$H" --mode "$m" || return 1
		err_is "--mode wants an octal mode" || return 1
	done
	[ ! -e "$H" ] || { WHY="a holder socket was made"; return 1; }
}

# $FDSHARE_SOCKET is taken as --socket is: a sticky directory others may
# write to (as /tmp) is fine, and no missing directory is made for it.
t_holder_env_socket() {
	local rc
	mkdir -m 1777 "$T/sticky" || return 1
	HENV=(FDSHARE_SOCKET="$T/sticky/h.sock")
	holder_up "$T/sticky/h.sock"
	rc=$?
	HENV=()
	[ "$rc" = 0 ] || return 1
	FDSHARE_SOCKET=$T/sticky/h.sock run 0 "$FDSHARE" list ||
		{ holder_down; return 1; }
	holder_down || return 1
	FDSHARE_SOCKET=$T/missing/h.sock run 1 timeout 5 "$FDSHARE" holder || return 1
	[ ! -e "$T/missing" ] || { WHY="the holder made $T/missing"; return 1; }
	rm -rf "$T/sticky"
}

# A default path too long for a socket address: said so, not "(no path)".
t_default_path_too_long() {
	FDSHARE_SOCKET=$LONG run 1 "$FDSHARE" list || return 1
	err_is "^fdshare: list: cannot make the holder's default socket path: File name too long \(.*FDSHARE_SOCKET.*--socket PATH\)$"
}

# A held name with a '\' cannot be passed in LISTEN_FDNAMES: fetch refuses
# it as a usage error before fetching, so --remove loses nothing (it used
# to take it out of the holder, then fail as if CMD could not run: 126).
t_fetch_backslash() {
	holder_up "$H" --socket "$H" || return 1
	"$FDSHARE" store --socket "$H" 'a\b' 0 </dev/null ||
		{ WHY="store 'a\\b' failed"; holder_down; return 1; }
	usage fetch --socket "$H" --remove 'a\b' -- true || { holder_down; return 1; }
	err_is "NAME 'a\\\\b' has a '\\\\'" || { holder_down; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { holder_down; return 1; }
	out_has '^a\\b  owner' || { holder_down; return 1; }
	holder_down
}

# A CMD that cannot be run is known before anything is fetched: --remove
# loses nothing (126 and 127 as for any CMD).
t_fetch_cmd_not_runnable() {
	printf 'echo hi\n' >"$T/noexec"
	holder_up "$H" --socket "$H" || return 1
	"$FDSHARE" store --socket "$H" kept 0 </dev/null ||
		{ WHY="store failed"; holder_down; return 1; }
	run 127 "$FDSHARE" fetch --socket "$H" --remove kept -- no-such-command-fdshare ||
		{ holder_down; return 1; }
	err_is "^fdshare: fetch: cannot run 'no-such-command-fdshare': No such file or directory \(.+\)$" ||
		{ holder_down; return 1; }
	run 126 "$FDSHARE" fetch --socket "$H" --remove kept -- "$T/noexec" ||
		{ holder_down; return 1; }
	run 0 "$FDSHARE" list --socket "$H" || { holder_down; return 1; }
	out_has '^kept  owner' || { holder_down; return 1; }
	rm -f "$T/noexec"
	holder_down
}

# fds_seen: the descriptors 'ls -l /proc/self/fd' printed in $T/out, ls's
# own directory aside, as "0 1 2 ...".
fds_seen() {
	sed -n 's/^.* \([0-9][0-9]*\) -> \(.*\)$/\1 \2/p' "$T/out" |
		grep -Ev '^[0-9]+ /proc/[0-9]+/fd$' | cut -d' ' -f1 |
		sort -n | tr '\n' ' ' | sed 's/ $//'
}

# expect_fds WANT WHAT: CMD saw exactly the descriptors WANT.
expect_fds() {
	local got
	got=$(fds_seen)
	[ "$got" = "$1" ] || { WHY="$2: CMD had fds '$got', not '$1'"; return 1; }
}

recv_listening() {
	"$FDSHARE" ls "$BGPID" 2>/dev/null | grep -q " unix stream $T/r.sock LISTEN\$"
}

# CMD keeps 0, 1, 2 and gets the promised ones at 3, 4, ...; whatever else
# fdshare inherited (7 and 9 here) is closed (fdshare(1), DESCRIPTION).
t_no_fd_leaks() {
	local ls="ls -l /proc/self/fd"
	echo data >"$T/data"
	run 0 "$FDSHARE" grab $$ 0 -- $ls 7<"$T/data" 9<"$T/data" || return 1
	expect_fds "0 1 2 3" grab || return 1
	run 0 "$FDSHARE" listen tcp:127.0.0.1:0 fd:7 -- $ls 7<"$T/data" 9<"$T/data" || return 1
	expect_fds "0 1 2 3 4" listen || return 1
	holder_up "$H" --socket "$H" || return 1
	"$FDSHARE" store --socket "$H" d 0 <"$T/data" || { holder_down; return 1; }
	run 0 "$FDSHARE" fetch --socket "$H" d -- $ls 7<"$T/data" 9<"$T/data" ||
		{ holder_down; return 1; }
	expect_fds "0 1 2 3" fetch || { holder_down; return 1; }
	run 0 "$FDSHARE" listen --holder --socket "$H" tcp:127.0.0.1:0=l -- $ls \
		7<"$T/data" 9<"$T/data" || { holder_down; return 1; }
	expect_fds "0 1 2 3" "listen --holder" || { holder_down; return 1; }
	holder_down || return 1
	bg "$FDSHARE" recv --timeout 10 "$T/r.sock" -- $ls >"$T/out" 2>"$T/err" \
		</dev/null 7<"$T/data" 9<"$T/data"
	wait_until recv_listening || { WHY="recv: not listening"; stop "$BGPID"; return 1; }
	"$FDSHARE" send "$T/r.sock" 0 </dev/null 2>"$T/serr" ||
		{ WHY="send failed: $(cat "$T/serr")"; stop "$BGPID"; return 1; }
	reap "$BGPID" || { WHY="recv still runs"; stop "$BGPID"; return 1; }
	expect_fds "0 1 2 3" recv || return 1
	rm -f "$T/data" "$T/serr"
}

# demo reads TMPDIR, NO_COLOR and TERM: its --help and fdshare(1)'s
# ENVIRONMENT say so.
t_demo_env_documented() {
	local v
	run 0 "$FDSHARE" demo --help || return 1
	for v in TMPDIR NO_COLOR TERM; do
		out_has "$v" || return 1
	done
	sed -n '/^\.SH ENVIRONMENT/,/^\.SH/p' docs/fdshare.1 | grep -qx '\.B TERM' ||
		{ WHY="fdshare(1) ENVIRONMENT does not list TERM"; return 1; }
}

run_case socket_path_usage t_socket_path_usage
run_case holder_mode_strict t_holder_mode_strict
run_case holder_env_socket t_holder_env_socket
run_case default_path_too_long t_default_path_too_long
run_case fetch_backslash t_fetch_backslash
run_case fetch_cmd_not_runnable t_fetch_cmd_not_runnable
run_case no_fd_leaks t_no_fd_leaks
run_case demo_env_documented t_demo_env_documented
