#!/bin/sh
# zero_downtime.sh - restart an HTTP server twice while a client keeps
# asking, and lose neither a request nor the server's state.
#
# usage: zero_downtime.sh [HTTP_SERVER [FDSHARE]]
#        (defaults: http_server and fdshare, in PATH; needs curl)
#
#  1. 'fdshare holder' keeps descriptors under names; http_server keeps
#     its state there (a memfd counting the requests answered).
#  2. 'fdshare run --ready tcp:127.0.0.1:0=http -- http_server' makes the
#     listening socket once and keeps the server running with it.
#  3. A client asks, one request after another, with curl.  On SIGHUP,
#     'fdshare run' starts a new server beside the old one, waits for its
#     READY=1, then stops the old one: both accept on the same socket
#     meanwhile, so no connection is refused.  Done twice.
#  4. Every request was answered, and the numbers run 1, 2, 3 ... without
#     a gap across the three servers: they all counted in the same memfd.
#  5. Even a new 'fdshare run', after the first has stopped, carries on
#     counting: the holder kept the state while no server ran.
# Exit 0 when all of that held.
set -eu
SERVER=${1:-http_server}
FDSHARE=${2:-fdshare}
dir=$(mktemp -d)
run= holder=
cleanup() {
	[ -z "$run" ] || kill -TERM "$run" 2>/dev/null || :
	[ -z "$holder" ] || kill -TERM "$holder" 2>/dev/null || :
	wait 2>/dev/null || :
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for CMD...: until CMD succeeds, 10 seconds at most.
wait_for() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "zero_downtime: timed out: $*" >&2; exit 1; }
		sleep 0.05
	done
}
logged() { grep -q "$1" "$dir/run.log"; }

# 1. The holder, on a socket of our own; http_server finds it by
#    $FDSHARE_SOCKET, as every libfdshare client does.
"$FDSHARE" holder --socket "$dir/holder.sock" --ready-fd 3 \
	3>"$dir/holder.ready" 2>"$dir/holder.log" &
holder=$!
wait_for test -s "$dir/holder.ready"
export FDSHARE_SOCKET="$dir/holder.sock"

# 2. The server, on any free port of the loopback.
start_server() {
	: >"$dir/run.log"
	"$FDSHARE" run --ready tcp:127.0.0.1:0=http -- "$SERVER" 2>"$dir/run.log" &
	run=$!
	wait_for logged 'serves http://'
	port=$(sed -n 's|.*serves http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$dir/run.log" | head -n 1)
}
start_server
echo "http_server under 'fdshare run' (pid $run) at http://127.0.0.1:$port/"

# 3. The client, and two restarts: the first at once, the second as soon
#    as the new server has answered (it is ready by then).
n=0 failed=0 restarts=0 seen= after=0
: >"$dir/answers"
while [ $n -lt 500 ] && [ $after -lt 20 ]; do
	n=$((n + 1))
	if ! answer=$(curl -sS --max-time 5 "http://127.0.0.1:$port/"); then
		failed=$((failed + 1))
		continue
	fi
	echo "$answer" >>"$dir/answers"
	pid=${answer##* }
	case " $seen " in
	*" $pid "*) ;;
	*)
		seen="$seen $pid"
		echo "$answer: a new server"
		if [ $restarts -lt 2 ]; then
			wait_for logged "pid $pid is ready"
			restarts=$((restarts + 1))
			echo "    kill -HUP $run: restart $restarts, while the client keeps asking"
			kill -HUP "$run"
		fi
		;;
	esac
	[ $restarts -lt 2 ] || [ "$(echo $seen | wc -w)" -lt 3 ] || after=$((after + 1))
done

# 4. What the client saw.
servers=$(echo $seen | wc -w)
answered=$(wc -l <"$dir/answers")
sed 's/^request \([0-9]*\),.*/\1/' "$dir/answers" >"$dir/numbers"
seq 1 "$answered" >"$dir/expected"
echo "$n requests: $answered answered, $failed failed, by $servers servers"
[ "$failed" -eq 0 ] && [ "$servers" -eq 3 ] || exit 1
cmp -s "$dir/numbers" "$dir/expected" ||
	{ echo "the count has a gap: state was lost" >&2; exit 1; }
echo "the answers are numbered 1 to $answered without a gap: one state"

# 5. Stop 'fdshare run' altogether, start another: a new socket, a new
#    port, but the state is the holder's.
kill -TERM "$run"
wait "$run" || { echo "fdshare run exited with status $?" >&2; exit 1; }
run=
start_server
answer=$(curl -sS --max-time 5 "http://127.0.0.1:$port/")
echo "a new 'fdshare run' at port $port: $answer"
[ "${answer%%,*}" = "request $((answered + 1))" ]
