# docs/protocol.md as a second implementation reads it: tests/py/
# fdshare_protocol.py, written from the document alone, driven by
# tests/py/protocol_interop.py against the
# library (ctypes), 'fdshare send', 'fdshare recv' and 'fdshare holder'.
# Each Python case also checks its own open-fd count before and after.
. "$(dirname "$0")/cli_lib.sh"

S=$T/s.sock
D=$T/d
PROTO=$(cd "$(dirname "$0")" && pwd)/py/protocol_interop.py
LIB=$(cd "$BUILD" && pwd)/libfdshare.so

proto() {
	"$PY" "$PROTO" "$@" 2>>"$T/perr"
}

# lib_proto CASE ARG...: a case that loads libfdshare.so into python.  A
# sanitized library needs the sanitizer's runtime loaded first (python's
# own allocations are not checked for leaks).
lib_proto() {
	local rt
	if [ "${SANITIZE:-0}" != 1 ]; then
		proto "$@"
		return
	fi
	for rt in libasan.so libclang_rt.asan-x86_64.so; do
		rt=$("${CC:-cc}" -print-file-name=$rt 2>/dev/null)
		[ -f "$rt" ] && break
	done
	[ -f "$rt" ] || { WHY="SANITIZE=1: ${CC:-cc} names no ASan runtime to preload"; return 77; }
	LD_PRELOAD=$rt ASAN_OPTIONS=detect_leaks=0 proto "$@"
}

# need_py: SKIP (77) without python3.
need_py() {
	[ -n "$PY" ] && return 0
	WHY="no python3 at /usr/bin/python3 (Debian package python3)"
	return 77
}

# files N: $D/0 .. $D/N-1, each 64 bytes.
files() {
	local k
	rm -rf "$D"
	mkdir "$D"
	for k in $(seq 0 $(($1 - 1))); do
		printf '%064d' "$k" >"$D/$k"
	done
}

names() {
	seq -s: -f "$1%g" "$2" "$3"
}

# bg_rc NAME CMD...: CMD in the background; its pid in $T/NAME.pid, its
# exit status in $T/NAME.rc once it ends.
bg_rc() {
	local n=$1
	shift
	rm -f "$T/$n.pid" "$T/$n.rc"
	( "$@" </dev/null & echo $! >"$T/$n.pid"; wait $!; echo $? >"$T/$n.rc" ) 2>/dev/null &
	BGPIDS+=("$!")
	disown "$!"
	wait_until test -s "$T/$n.pid" || { WHY="$n did not start"; return 1; }
	BGPIDS+=("$(cat "$T/$n.pid")")
}

# bg_done NAME: NAME ended with status 0 (5 s at most).
bg_done() {
	wait_until test -s "$T/$1.rc" || { WHY="$1 still running; $(tail -c 300 "$T/perr" 2>/dev/null)"; return 1; }
	[ "$(cat "$T/$1.rc")" = 0 ] ||
		{ WHY="$1 exited $(cat "$T/$1.rc"): $(tail -c 400 "$T/perr" 2>/dev/null) $(tail -c 300 "$T/rerr" 2>/dev/null)"; return 1; }
}

recv_bg() {
	: >"$T/rerr"
	bg_rc recv "$FDSHARE" recv --timeout 20 "$S" -- "$@" 2>"$T/rerr" || return 1
	wait_until test -S "$S" || { WHY="recv is not listening: $(cat "$T/rerr")"; return 1; }
}

# holder_bg ARGS...: a holder on $S, ready (--ready-fd); HPID is its pid.
holder_bg() {
	rm -f "$T/ready"
	bg_rc holder "$FDSHARE" holder --socket "$S" --ready-fd 5 "$@" 5>"$T/ready" 2>>"$T/hlog" || return 1
	HPID=$(cat "$T/holder.pid")
	wait_until test -s "$T/ready" || { WHY="the holder is not ready: $(tail -3 "$T/hlog")"; return 1; }
}

holder_stop() {
	kill -TERM "$HPID"
	bg_done holder
}

pyfail() {
	WHY="python: $(tail -c 500 "$T/perr")"
	return 1
}

t_lib_frames() {
	need_py || return
	lib_proto lib-frames "$LIB"
	case $? in 0) ;; 77) return 77 ;; *) pyfail ;; esac
}

t_lib_refuse() {
	need_py || return
	lib_proto lib-refuse "$LIB"
	case $? in 0) ;; 77) return 77 ;; *) pyfail ;; esac
}

# Python sends, 'fdshare recv' runs the Python CMD, which moves the offsets.
t_py_send_cli_recv() {
	need_py || return
	files 3
	recv_bg "$PY" "$PROTO" listen-check "$D" 3 'a:b b:c' || return 1
	proto send-to-recv "$S" "$D" 3 a 'b b' c || { stop "$(cat "$T/recv.pid")"; pyfail; return 1; }
	bg_done recv || return 1
	[ ! -e "$S" ] || { WHY="recv left $S"; return 1; }
}

t_py_send_254_cli_recv() {
	need_py || return
	files 254
	recv_bg "$PY" "$PROTO" listen-check "$D" 254 "$(names fd 0 253)" || return 1
	proto send-to-recv "$S" "$D" 254 || { stop "$(cat "$T/recv.pid")"; pyfail; return 1; }
	bg_done recv
}

t_cli_recv_refusals() {
	need_py || return
	recv_bg sh -c 'printf %s "$LISTEN_FDNAMES" >"$0"' "$T/names" || return 1
	proto recv-refusals "$S" || { stop "$(cat "$T/recv.pid")"; pyfail; return 1; }
	bg_done recv || return 1
	[ "$(cat "$T/names")" = "$(printf 'x%.0s' $(seq 255))" ] || { WHY="CMD saw '$(cat "$T/names")'"; return 1; }
}

# pos_of FD...: the offsets of the shell's fds, from /proc.
pos_of() {
	local fd
	for fd in "$@"; do
		sed -n 's/^pos:[[:space:]]*//p' "/proc/$BASHPID/fdinfo/$fd"
	done | tr '\n' ' '
}

# 'fdshare send' to the Python receiver, which moves offset k to 7(k+1).
t_cli_send_py_recv() {
	need_py || return
	files 3
	bg_rc precv "$PY" "$PROTO" recv-from-send "$S" "$D" 3 'fd7:db:fd9' 2>>"$T/perr" || return 1
	wait_until test -S "$S" || { WHY="no Python receiver: $(cat "$T/perr")"; return 1; }
	( exec 7<>"$D/0" 8<>"$D/1" 9<>"$D/2"
	  "$FDSHARE" send "$S" 7 8=db 9 2>"$T/err" || exit 1
	  wait_until test -s "$T/precv.rc" # it answers, then moves the offsets
	  pos_of 7 8 9 >"$T/pos" ) || { WHY="send failed: $(cat "$T/err")"; return 1; }
	bg_done precv || return 1
	[ "$(cat "$T/pos")" = "7 14 21 " ] || { WHY="offsets after the receiver moved them: $(cat "$T/pos")"; return 1; }
}

t_cli_send_254_py_recv() {
	need_py || return
	local k args=()
	files 254
	bg_rc precv "$PY" "$PROTO" recv-from-send "$S" "$D" 254 "$(names fd 10 263)" 2>>"$T/perr" || return 1
	wait_until test -S "$S" || { WHY="no Python receiver: $(cat "$T/perr")"; return 1; }
	for k in $(seq 0 253); do
		args+=($((k + 10)))
	done
	( for k in $(seq 0 253); do eval "exec $((k + 10))<>\"\$D/$k\""; done
	  "$FDSHARE" send "$S" "${args[@]}" 2>"$T/err" || exit 1
	  wait_until test -s "$T/precv.rc"
	  pos_of 10 263 >"$T/pos" ) || { WHY="send failed: $(cat "$T/err")"; return 1; }
	bg_done precv || return 1
	[ "$(cat "$T/pos")" = "7 1778 " ] || { WHY="offsets after the receiver moved them: $(cat "$T/pos")"; return 1; }
}

t_holder_suite() {
	need_py || return
	files 4
	holder_bg || return 1
	proto holder-suite "$S" "$HPID" "$D" || { pyfail; stop "$HPID"; return 1; }
	holder_stop
}

t_holder_malformed() {
	need_py || return
	holder_bg || return 1
	proto holder-malformed "$S" || { pyfail; stop "$HPID"; return 1; }
	holder_stop
}

t_holder_max_fds() {
	need_py || return
	holder_bg --max-fds 4 || return 1
	proto holder-max-fds "$S" || { pyfail; stop "$HPID"; return 1; }
	holder_stop
}

t_holder_refused() {
	need_py || return
	holder_bg --max-clients 1 || return 1
	proto holder-refused "$S" || { pyfail; stop "$HPID"; return 1; }
	holder_stop
}

h() {
	"$FDSHARE" "$1" --socket "$S" "${@:2}"
}

# What Python stores the CLI lists and fetches, and the reverse; offsets
# moved on one side are seen on the other.
t_holder_cli_cross() {
	need_py || return
	files 2
	holder_bg || return 1
	proto holder-store "$S" py.x "$D" 2 600000 || { pyfail; stop "$HPID"; return 1; }
	run 0 h list py. || return 1
	out_has '^py\.x  owner 0  age [0-9.]+s  ttl [0-9]{3}\.[0-9]s  2 fds$' || return 1
	out_has "^  [0-9]+ +file .*$D/1\$" || return 1
	run 0 h fetch py.x -- "$PY" "$PROTO" listen-check "$D" 2 py.x:py.x || return 1
	proto holder-fetch "$S" py.x "$D" 2 1 || { pyfail; stop "$HPID"; return 1; }
	run 0 h fetch --remove py.x -- sh -c 'sed -n "s/^pos:[[:space:]]*//p" /proc/$$/fdinfo/3 /proc/$$/fdinfo/4' || return 1
	[ "$(echo $(cat "$T/out"))" = "11 22" ] || { WHY="offsets the CLI sees: $(cat "$T/out")"; return 1; }
	h store --ttl 600 cli.y 3 3<"$D/0" || { WHY="store failed"; return 1; }
	h store --append cli.y 3 3<"$D/1" || { WHY="store --append failed"; return 1; }
	proto holder-list "$S" cli.y "$D" 2 0 "$HPID" || { pyfail; stop "$HPID"; return 1; }
	proto holder-fetch "$S" cli.y "$D" 2 0 || { pyfail; stop "$HPID"; return 1; }
	run 0 h fetch --remove cli.y -- sh -c 'sed -n "s/^pos:[[:space:]]*//p" /proc/$$/fdinfo/3 /proc/$$/fdinfo/4' || return 1
	[ "$(echo $(cat "$T/out"))" = "11 22" ] || { WHY="offsets the CLI sees: $(cat "$T/out")"; return 1; }
	run 0 h list || return 1
	[ ! -s "$T/out" ] || { WHY="left in the holder: $(cat "$T/out")"; return 1; }
	holder_stop
}

run_case lib_frames t_lib_frames
run_case lib_refuse t_lib_refuse
run_case py_send_cli_recv t_py_send_cli_recv
run_case py_send_254_cli_recv t_py_send_254_cli_recv
run_case cli_recv_refusals t_cli_recv_refusals
run_case cli_send_py_recv t_cli_send_py_recv
run_case cli_send_254_py_recv t_cli_send_254_py_recv
run_case holder_suite t_holder_suite
run_case holder_malformed t_holder_malformed
run_case holder_max_fds t_holder_max_fds
run_case holder_refused t_holder_refused
run_case holder_cli_cross t_holder_cli_cross
