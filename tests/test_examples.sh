# The worked examples of examples/ (built by `make check` into
# $BUILD/examples/), each run as a reader would run it, checking what it
# prints and that it leaves no process or temporary file behind.
. "$(dirname "$0")/cli_lib.sh"

EX=$(cd "$BUILD" && pwd)/examples
PATH=$(cd "$BUILD" && pwd):$EX:$PATH
export PATH

# living SID: the processes of session SID but its zombies (whose parent
# ended without reaping them: init does).
living() {
	ps -s "$1" -o pid=,stat= 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'
}

# example NAME CMD...: run CMD as a session of its own, 120 s at most,
# with TMPDIR a fresh directory; stdout in $T/out, stderr in $T/err, exit
# status in RC.  False (WHY set) when it left a process running or a
# file in TMPDIR.
example() {
	local name=$1 sid left
	shift
	mkdir "$T/tmp.$name"
	TMPDIR=$T/tmp.$name setsid -w timeout -k 5 120 "$@" >"$T/out" 2>"$T/err" </dev/null &
	sid=$!
	wait "$sid"
	RC=$?
	left=$(living "$sid")
	if [ -n "$left" ]; then
		kill -KILL $left 2>/dev/null
		WHY="processes left running: $left"
		return 1
	fi
	if [ -n "$(ls -A "$T/tmp.$name")" ]; then
		WHY="files left in TMPDIR: $(ls -A "$T/tmp.$name" | head -3)"
		return 1
	fi
	rmdir "$T/tmp.$name"
}

# exits_0: the example's exit status was 0.
exits_0() {
	[ "$RC" -eq 0 ] ||
		{ WHY="exit status $RC; stderr: $(head -c 400 "$T/err"); stdout: $(tail -c 300 "$T/out")"; return 1; }
}

# has LINE: stdout holds exactly this line.
has() {
	grep -qxF -- "$1" "$T/out" || { WHY="no line '$1' in: $(head -c 600 "$T/out")"; return 1; }
}

t_privsep() {
	local d=$T/pv
	if [ "$(id -u)" != 0 ]; then
		WHY="the broker must run as root to show a worker with fewer rights"
		return 77
	fi
	mkdir "$d" && chmod 755 "$d"
	echo "top secret" >"$d/secret.txt" && chmod 600 "$d/secret.txt"
	echo "elsewhere" >"$T/outside.txt" && chmod 600 "$T/outside.txt"
	ln -s "$T/outside.txt" "$d/link"
	example privsep privsep -u 1001 "$d" "$d/secret.txt" "$T/outside.txt" "$d/link" \
		"$d/../outside.txt" || return 1
	exits_0 || return 1
	has "worker (uid 1001): open $d/secret.txt myself: Permission denied" || return 1
	has "broker: granted $d/secret.txt" || return 1
	has "worker: read $d/secret.txt through the broker's fd: \"top secret\"" || return 1
	has "worker (uid 1001): open $T/outside.txt myself: Permission denied" || return 1
	has "broker: refused $T/outside.txt: not under $d" || return 1
	has "worker: the broker said no to $T/outside.txt: Permission denied" || return 1
	has "broker: refused $d/link: it leads out of the directory" || return 1
	has "worker: the broker said no to $d/link: Permission denied" || return 1
	has "broker: refused $d/../outside.txt: it leads out of the directory" || return 1
	[ "$(grep -c 'granted' "$T/out")" -eq 1 ] || { WHY="granted more than one file"; return 1; }
}

t_privsep_usage() {
	example privsep_usage privsep -u 0 /tmp /tmp/x || return 1
	[ "$RC" -eq 2 ] || { WHY="uid 0 for the worker: exit $RC, not 2"; return 1; }
}

t_dispatch() {
	local i w
	example dispatch dispatch -w 3 -n 12 || return 1
	exits_0 || return 1
	for i in $(seq 12); do
		grep -Eqx "client: request $i: worker [1-3] \(pid [0-9]+\) got \"request $i\"" "$T/out" ||
			{ WHY="request $i not served: $(head -c 600 "$T/out")"; return 1; }
	done
	for w in 1 2 3; do
		grep -Eqx "worker $w \(pid [0-9]+\): served 4 connections" "$T/out" ||
			{ WHY="worker $w did not serve 4: $(grep "^worker $w" "$T/out")"; return 1; }
	done
	has "dispatcher: handed 12 connections to 3 workers: all served"
}

t_rescue_deleted() {
	example rescue_deleted sh examples/rescue_deleted.sh "$FDSHARE" || return 1
	exits_0 || return 1
	grep -Eqx "rescued input.csv \(1000 lines\) from pid [0-9]+ fd 0" "$T/out" ||
		{ WHY="input.csv not rescued: $(cat "$T/out")"; return 1; }
	grep -Eqx "rescued service.log \(2 lines\) from pid [0-9]+ fd 7" "$T/out" ||
		{ WHY="service.log not rescued: $(cat "$T/out")"; return 1; }
	grep -Eq '^7 +file +w +append .*/service.log \(deleted\)$' "$T/out" ||
		{ WHY="fdshare ls did not show the deleted log: $(cat "$T/out")"; return 1; }
}

t_zero_downtime() {
	if ! command -v curl >/dev/null; then
		WHY="curl is not installed"
		return 77
	fi
	example zero_downtime sh examples/zero_downtime.sh "$EX/http_server" "$FDSHARE" || return 1
	exits_0 || return 1
	grep -Eqx '[0-9]+ requests: [0-9]+ answered, 0 failed, by 3 servers' "$T/out" ||
		{ WHY="$(cat "$T/out")"; return 1; }
	grep -Eq '^the answers are numbered 1 to [0-9]+ without a gap: one state$' "$T/out" ||
		{ WHY="$(cat "$T/out")"; return 1; }
}

t_http_server_alone() {
	example http_server_alone http_server || return 1
	[ "$RC" -eq 2 ] || { WHY="without a socket: exit $RC, not 2"; return 1; }
	grep -q "no listening TCP socket at fd 3" "$T/err" || { WHY="stderr: $(cat "$T/err")"; return 1; }
}

# holder_up: a holder on $T/h.sock, ready; HPID its pid.
holder_up() {
	rm -f "$T/ready"
	bg "$FDSHARE" holder --socket "$T/h.sock" --ready-fd 5 5>"$T/ready" 2>"$T/hlog"
	HPID=$BGPID
	wait_until test -s "$T/ready" || { WHY="the holder is not ready: $(cat "$T/hlog")"; return 1; }
}

t_holder_client_py() {
	if [ -z "$PY" ] || ! "$PY" -c 'import socket; socket.send_fds' 2>/dev/null; then
		WHY="needs /usr/bin/python3, 3.9 or later (socket.send_fds)"
		return 77
	fi
	holder_up || return 1
	example holder_client_py "$PY" examples/holder_client.py "$T/h.sock" || return 1
	exits_0 || return 1
	grep -Eqx "holder pid $HPID at $T/h.sock" "$T/out" || { WHY="ping: $(cat "$T/out")"; return 1; }
	has "storing it again: EBUSY (code 2, item 0)" || return 1
	grep -Eqx 'listed py-example.pipe: owner [0-9]+, age [0-9]+ ms, [0-9]+ ms left, pipe pipe:\[[0-9]+\]' "$T/out" ||
		{ WHY="list: $(cat "$T/out")"; return 1; }
	has "fetched it with REMOVE: the same pipe, read 'hello from Python\n'" || return 1
	has "fetching it again: ENOENT (code 1, item 0)" || return 1
	# what Python left, fetched by the C side
	run 0 "$FDSHARE" fetch --socket "$T/h.sock" --remove py-example.note -- sh -c 'cat <&3' ||
		return 1
	[ "$(cat "$T/out")" = "a note from Python" ] || { WHY="the note: '$(cat "$T/out")'"; return 1; }
	kill -TERM "$HPID"
	reap "$HPID"
}

run_case privsep t_privsep
run_case privsep_usage t_privsep_usage
run_case dispatch t_dispatch
run_case rescue_deleted t_rescue_deleted
run_case http_server_alone t_http_server_alone
run_case zero_downtime t_zero_downtime
run_case holder_client_py t_holder_client_py
