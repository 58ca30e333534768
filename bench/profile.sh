#!/usr/bin/env bash
# Where the time goes, after the timed rounds of bench/run.sh (which sets
# the environment: PROF BB AB PAYLOAD DIAG HAVE_* *_SOCK *_PID PIN_CPU).
# Three short measurements of fixed size, none of them timed by the rounds:
#   cpu.*     perf stat task-clock: CPU time of both processes per op,
#             5 interleaved reps (steadier than wall time on a busy machine)
#   strace.*  strace -f -c: system calls per op, and the daemon's for the
#             holder rows (traced by pid while one client runs)
#   perf.*    perf record: the kernel's share and user-space hot spots
# Each run leaves NAME.line (its result line, naming the row) and NAME.n
# (the ops to divide by: messages, grabs or cycles; 253 fds for batches).
set -uo pipefail
if [ "$PIN_CPU" = none ]; then PIN=(); else PIN=(taskset -c "$PIN_CPU"); fi
have_anchors() { [ "$HAVE_ANCHORS" = 1 ]; }
skip() { echo "$*" >>"$PROF/notes"; }
T=(timeout -k 5 300)   # no run may hang the suite

# "OPS|command" lists; fdshare rows first, then their anchors.
SOCKET_ROWS=(
	"100000|$BB/pass stream1 100000 $PAYLOAD"
	"100000|$BB/pass seqpacket1 100000 $PAYLOAD"
	"100000|$BB/msg msg-stream1 100000 $PAYLOAD"
	"100000|$BB/msg msg-seqpacket1 100000 $PAYLOAD"
	"100000|$BB/msg msg-reader-stream1 100000 $PAYLOAD"
	"100000|$BB/msg msg-reader-seqpacket1 100000 $PAYLOAD"
	"100000|$BB/msg msg-batch-seqpacket1 100000 $PAYLOAD"
	"$((200 * 10000 / 253))|$BB/msg msg10000-stream 200 $PAYLOAD"
	"$((200 * 10000 / 253))|$BB/msg msg10000-seqpacket 200 $PAYLOAD"
	"200000|$BB/grab grab 200000 $PAYLOAD"
	"400000|$BB/grab grab-pidfd 400000 $PAYLOAD"
	"8000|$BB/pass batch253 8000 $PAYLOAD"
	"50000|$BB/pass pingpong1 50000 $PAYLOAD"
)
have_anchors && SOCKET_ROWS+=(
	"100000|$AB/raw_c stream1 100000 $PAYLOAD"
	"100000|$AB/raw_c seqpacket1 100000 $PAYLOAD"
	"8000|$AB/raw_c batch253 8000 $PAYLOAD"
	"200000|$AB/grab pidfd-open-getfd 200000 $PAYLOAD"
	"400000|$AB/grab pidfd-getfd 400000 $PAYLOAD"
	"50000|$AB/raw_c pingpong1 50000 $PAYLOAD"
)
# The interpreter's start-up (about 20 ms of CPU) is counted too: N is
# large enough to keep it near 1 %.
PY_ROWS=()
have_anchors && [ -x "$PY" ] && PY_ROWS+=(
	"200000|$PY $ANCHORS/py/fdpass.py stream1 200000 $PAYLOAD"
	"200000|$PY $ANCHORS/py/fdpass.py seqpacket1 200000 $PAYLOAD"
	"10000|$PY $ANCHORS/py/fdpass.py batch253 10000 $PAYLOAD"
	"60000|$PY $ANCHORS/py/fdpass.py pingpong1 60000 $PAYLOAD"
)

# run KIND I OPS COMMAND...: one measurement into $PROF/KIND.I.*
run() {
	local kind=$1 i=$2 ops=$3
	shift 3
	echo "$ops" >"$PROF/$kind.$i.n"
	case $kind in
	cpu)
		"${PIN[@]}" perf stat -x, -e task-clock -o "$PROF/$kind.$i.stat" "${T[@]}" "$@" \
			>"$PROF/$kind.$i.line" 2>>"$DIAG" ;;
	strace)
		"${PIN[@]}" strace -f -c -U name,calls -o "$PROF/$kind.$i.out" "${T[@]}" "$@" \
			>"$PROF/$kind.$i.line" 2>>"$DIAG" ;;
	perf)
		"${PIN[@]}" perf record -q -e cpu-clock -F 4999 -o "$PROF/$kind.$i.data" "${T[@]}" "$@" \
			>"$PROF/$kind.$i.line" 2>>"$DIAG" &&
		perf report -q -i "$PROF/$kind.$i.data" --stdio --sort dso,sym \
			>"$PROF/$kind.$i.sym" 2>/dev/null
		rm -f "$PROF/$kind.$i.data" ;;
	esac
}

# "DAEMON_PID|OPS|command": a daemon's rows, whose CPU time is the client's
# plus the daemon's (perf stat attached to it by pid meanwhile).
DAEMON_ROWS=()
if [ "$HAVE_HOLDER" = 1 ]; then
	DAEMON_ROWS+=("$holder_PID|4000|$BB/holder store+fetch $HOLDER_SOCK 4000 $PAYLOAD"
	              "$holder_PID|1500|$BB/holder store+fetch-reconnect $HOLDER_SOCK 1500 $PAYLOAD"
	              "$holder_PID|60|$BB/cycle fdshare-cli store+fetch 60 2 4 $PAYLOAD -- $FDSHARE store --socket $HOLDER_SOCK fdshare-cli -- $FDSHARE fetch --socket $HOLDER_SOCK --remove fdshare-cli -- $(type -P true)")
fi
if [ "$HAVE_S6" = 1 ] && [ -x "$AB/s6lib" ]; then
	DAEMON_ROWS+=("$s6_PID|4000|$AB/s6lib store+retrieve $S6_SOCK 4000 $PAYLOAD"
	              "$s6_PID|1500|$AB/s6lib store+retrieve-reconnect $S6_SOCK 1500 $PAYLOAD"
	              "$s6_PID|60|$AB/spawncycle s6-cli store+retrieve 60 2 4 $PAYLOAD -- $(type -P s6-fdholder-store) $S6_SOCK anchors-cli -- $(type -P s6-fdholder-retrieve) -D $S6_SOCK anchors-cli $(type -P true)")
fi
[ "$HAVE_ANCHORS" = 1 ] && DAEMON_ROWS+=(
	"0|60|$BB/cycle cli-ceiling true+env-true 60 2 4 $PAYLOAD -- $(type -P true) -- $(type -P env) $(type -P true)")

# with_daemon KIND I DAEMON_PID OPS COMMAND...: run, the daemon watched too
with_daemon() {
	local kind=$1 i=$2 dpid=$3 ops=$4 wpid
	shift 4
	if [ "$dpid" = 0 ]; then
		run "$kind" "$i" "$ops" "$@"
		return
	fi
	if [ "$kind" = cpu ]; then
		perf stat -x, -e task-clock -p "$dpid" -o "$PROF/$kind.$i.dstat" &
	else
		strace -c -U name,calls -o "$PROF/$kind.$i.daemon" -p "$dpid" 2>/dev/null &
	fi
	wpid=$!
	sleep 0.5      # attached
	run "$kind" "$i" "$ops" "$@"
	kill -INT "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
}

if command -v perf >/dev/null; then
	i=0
	for _ in 1 2 3 4 5; do
		for t in "${SOCKET_ROWS[@]}"; do
			i=$((i + 1))
			# shellcheck disable=SC2086
			run cpu "$i" "${t%%|*}" ${t#*|}
		done
	done
	for _ in 1 2 3; do
		for t in "${PY_ROWS[@]}"; do
			i=$((i + 1))
			# shellcheck disable=SC2086
			run cpu "$i" "${t%%|*}" ${t#*|}
		done
		for t in "${DAEMON_ROWS[@]}"; do
			i=$((i + 1))
			IFS='|' read -r dpid ops cmd <<<"$t"
			# shellcheck disable=SC2086
			with_daemon cpu "$i" "$dpid" "$ops" $cmd
		done
	done
	i=0
	for t in "100000|$BB/pass stream1 100000 $PAYLOAD" \
	         "100000|$BB/msg msg-stream1 100000 $PAYLOAD" \
	         "100000|$BB/msg msg-seqpacket1 100000 $PAYLOAD"; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		run perf "$i" "${t%%|*}" ${t#*|}
	done
	if have_anchors; then
		run perf 99 100000 "$AB/raw_c" stream1 100000 "$PAYLOAD"
	fi
	# The CLI rows: where a process's start-up goes (every process of
	# the cycle is recorded; the daemon is not).
	i=50
	for t in "${DAEMON_ROWS[@]}"; do
		IFS='|' read -r _ ops cmd <<<"$t"
		case $cmd in *cycle*) ;; *) continue ;; esac
		i=$((i + 1))
		# shellcheck disable=SC2086
		run perf "$i" $((ops * 4)) ${cmd/ $ops / $((ops * 4)) }
	done
else
	skip "no perf: CPU time and CPU profile left out"
fi

if command -v strace >/dev/null; then
	i=0
	for t in "${SOCKET_ROWS[@]}"; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		set -- ${t#*|}
		# a tenth of the size: strace slows every call down
		run strace "$i" "$((${t%%|*} / 10))" "$1" "$2" "$(($3 / 10))" "$4"
	done
	for t in "${DAEMON_ROWS[@]}"; do
		i=$((i + 1))
		IFS='|' read -r dpid ops cmd <<<"$t"
		[ "$dpid" = 0 ] && continue
		case $cmd in *cycle*) continue ;; esac     # strace -f of exec chains: too slow
		# shellcheck disable=SC2086
		with_daemon strace "$i" "$dpid" "$((ops / 2))" ${cmd/ $ops / $((ops / 2)) }
	done
else
	skip "no strace: system call counts left out"
fi
exit 0
