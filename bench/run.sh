#!/usr/bin/env bash
# The benchmark driver behind `make bench` and `make bench-smoke`: fdshare's
# workloads and their anchors (../shared/bench/anchors) in interleaved
# rounds, every process pinned to one CPU, one result line per run, then a
# scale phase (a holder of its own, holding as much as it can), then a
# summary with the ratio of each fdshare row to its anchor and the issue's
# other targets, also written as markdown to $BENCH_OUT.  See bench/README.md.
#
# Environment (the make targets set the first ones):
#   BUILD=build           where `make` built fdshare and $BUILD/bench/*
#   FDSHARE=$BUILD/fdshare
#   REPS=5  SCALE=1       rounds; factor on every N (0.05 for a smoke run)
#   PROFILE=1             after the rounds: strace -c and perf on a few rows
#   BENCH_OUT=bench/results.md
#   BENCH_CPU=0           the CPU every process is pinned to; 'none': no pinning
#   ANCHORS=../shared/bench/anchors      left out when missing
#   ANCHORS_BUILD=$BUILD/bench/anchors   where the anchors are built
#   ANCHORS_INSTALL=1     let the anchors' run.sh apt-get what it lacks (root)
#   BENCH_PYTHON=/usr/bin/python3        the anchors' Python rows
#   RUN_TIMEOUT=300       seconds before a hung run is killed (and reported)
#   BENCH_STRICT=0        1: exit 1 when a run failed (CI's bench-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=$(realpath -m "${BUILD:-build}")
FDSHARE=$(realpath -m "${FDSHARE:-$BUILD/fdshare}")
BB=$BUILD/bench
REPS=${REPS:-5}
SCALE=${SCALE:-1}
CPU=${BENCH_CPU:-0}
PROFILE=${PROFILE:-1}
OUT=${BENCH_OUT:-bench/results.md}
ANCHORS=$(realpath -m "${ANCHORS:-../shared/bench/anchors}")
ANCHORS_BUILD=$(realpath -m "${ANCHORS_BUILD:-$BB/anchors}")
PY=${BENCH_PYTHON:-/usr/bin/python3}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}    # seconds; a run that hangs is killed and reported
[ -x "$PY" ] || PY=$(command -v python3)
T_START=$(date +%s)

log() { echo "$*" >&2; }

TMPD=$(mktemp -d /tmp/fdshare-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

META=$TMPD/meta.txt      # key=value lines for the report
RAW=$TMPD/raw.txt        # one result line per run
DIAG=$TMPD/diag.txt      # stderr of every run (N, elapsed, errors)
: >"$META"
: >"$RAW"
: >"$DIAG"
meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }
note() { meta note "$*"; log "# $*"; }

if [ "$CPU" = none ]; then
	PIN=()
	meta pinning "none"
else
	PIN=(taskset -c "$CPU")
	meta pinning "every process (daemons included) on cpu $CPU (taskset -c $CPU)"
fi

# ------------------------------------------------------------ the anchors
HAVE_ANCHORS=0
if [ -x "$ANCHORS/run.sh" ]; then
	# REPS=0: their run.sh only installs what it lacks and builds.
	mkdir -p "$ANCHORS_BUILD"
	export ANCHORS_BUILD
	if REPS=0 SCALE=1 ANCHORS_OUT="$ANCHORS_BUILD/results/build.txt" \
	   "$ANCHORS/run.sh" >"$TMPD/anchors-build.log" 2>&1; then
		HAVE_ANCHORS=1
	else
		note "anchors left out: their build failed (see $ANCHORS_BUILD)"
		cp "$TMPD/anchors-build.log" "$ANCHORS_BUILD/build-failed.log" || true
	fi
else
	note "anchors left out: $ANCHORS/run.sh not found"
fi
AB=$ANCHORS_BUILD
have() { [ -x "$1" ]; }

# ------------------------------------------------------------ the payload
PAYLOAD=$TMPD/payload
head -c 4096 /dev/zero >"$PAYLOAD"

# ------------------------------------------------------------ the daemons
# start_daemon NAME: run the rest of the arguments in the background, pinned,
# with fd 3 a fifo on which it writes a line once ready; 0 when it did.
start_daemon() {
	local name=$1
	shift
	rm -f "$TMPD/$name.ready"
	mkfifo "$TMPD/$name.ready"
	"${PIN[@]}" "$@" 3>"$TMPD/$name.ready" 2>>"$TMPD/$name.log" &
	PIDS+=($!)
	eval "${name}_PID=$!"
	read -r -t 10 _ <"$TMPD/$name.ready"
}

HOLDER_SOCK=$TMPD/holder.sock
start_holder() {
	rm -f "$HOLDER_SOCK"
	start_daemon holder "$FDSHARE" holder --socket "$HOLDER_SOCK" --ready-fd 3
}

S6_SOCK=$TMPD/s6.sock
start_s6() {
	local r=$TMPD/rules u
	u=$(id -u)
	mkdir -p "$r/uid/$u/env" "$r/gid"
	touch "$r/uid/$u/allow"
	echo '.*' >"$r/uid/$u/env/S6_FDHOLDER_STORE_REGEX"
	echo '.*' >"$r/uid/$u/env/S6_FDHOLDER_RETRIEVE_REGEX"
	rm -f "$S6_SOCK"
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
	start_daemon s6 sh -c 'exec s6-fdholder-daemon -1 -i "$1" "$2" >&3' s6 "$r" "$S6_SOCK"
}

# revive NAME: a daemon stopped from outside (it happens while other work
# shares the machine) is started again before the next run, and the
# results say so.
revive() {
	local name=$1 pid why
	eval "pid=\${${name}_PID:-}"
	if [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null; then
		return 0
	fi
	wait "$pid" 2>/dev/null || true
	why=$(grep -o 'signal [0-9]*' "$TMPD/$name.log" | tail -1)
	note "the $name daemon stopped during the rounds (${why:-$(tail -1 "$TMPD/$name.log")}), not by this suite; started again"
	"start_$name" || note "the $name daemon did not start again"
}

HAVE_HOLDER=0
if [ -x "$FDSHARE" ] && "$FDSHARE" help holder >/dev/null 2>&1; then
	if start_holder; then
		HAVE_HOLDER=1
	else
		note "holder rows left out: 'fdshare holder' did not start: $(tail -1 "$TMPD/holder.log")"
	fi
else
	note "holder rows left out: no 'fdshare holder' in $FDSHARE"
fi

HAVE_S6=0
if [ $HAVE_ANCHORS = 1 ] && command -v s6-fdholder-daemon >/dev/null; then
	if start_s6; then
		HAVE_S6=1
	else
		note "s6 rows left out: s6-fdholder-daemon did not start"
	fi
fi

# ------------------------------------------------------------ the plan
n() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); if (v < 1) v = 1; print v }'; }
PLAN=()
add() { PLAN+=("$*"); }
anchor() { if [ $HAVE_ANCHORS = 1 ]; then add "$@"; fi; }
python_row() {
	if [ $HAVE_ANCHORS = 1 ] && [ -x "$PY" ]; then
		add "$PY $ANCHORS/py/fdpass.py $1 $(n "$2") $PAYLOAD"
	fi
}

# msg_row WORKLOAD N: a row of bench/msg, left out (and said so) when
# this build of it does not know the workload yet.
msg_row() {
	if "${PIN[@]}" timeout -k 5 30 "$BB/msg" "$1" 1 "$PAYLOAD" >/dev/null 2>&1; then
		add "$BB/msg $1 $(n "$2") $PAYLOAD"
	else
		note "$1 left out: $BB/msg does not run it"
	fi
}

# Each fdshare row is followed by its anchors, so a round goes A B A B.
add "$BB/pass stream1 $(n 480000) $PAYLOAD"
anchor "$AB/raw_c stream1 $(n 480000) $PAYLOAD"
add "$BB/msg msg-stream1 $(n 480000) $PAYLOAD"
msg_row msg-reader-stream1 480000
python_row stream1 280000
add "$BB/pass seqpacket1 $(n 450000) $PAYLOAD"
anchor "$AB/raw_c seqpacket1 $(n 450000) $PAYLOAD"
add "$BB/msg msg-seqpacket1 $(n 450000) $PAYLOAD"
msg_row msg-reader-seqpacket1 450000
msg_row msg-batch-seqpacket1 450000
python_row seqpacket1 280000
add "$BB/pass batch253 $(n 15000) $PAYLOAD"
anchor "$AB/raw_c batch253 $(n 15000) $PAYLOAD"
add "$BB/msg msg10000-stream $(n 380) $PAYLOAD"
python_row batch253 13000
add "$BB/msg msg10000-seqpacket $(n 380) $PAYLOAD"
# The same frames from an unprivileged sender (uid 1001, soft RLIMIT_NOFILE
# 1024), whose fds in flight the kernel caps: about 1M fds/s, hence a
# smaller N.
add "$BB/scale msg10000-unpriv-stream $(n 100) $PAYLOAD"
add "$BB/scale msg10000-unpriv-seqpacket $(n 100) $PAYLOAD"
add "$BB/pass pingpong1 $(n 130000) $PAYLOAD"
anchor "$AB/raw_c pingpong1 $(n 130000) $PAYLOAD"
python_row pingpong1 110000
add "$BB/grab grab $(n 650000) $PAYLOAD"
anchor "$AB/grab pidfd-open-getfd $(n 650000) $PAYLOAD"
add "$BB/grab grab-pidfd $(n 1400000) $PAYLOAD"
anchor "$AB/grab pidfd-getfd $(n 1400000) $PAYLOAD"
if [ $HAVE_HOLDER = 1 ]; then
	add "$BB/holder store+fetch $HOLDER_SOCK $(n 45000) $PAYLOAD"
fi
if [ $HAVE_S6 = 1 ] && have "$AB/s6lib"; then
	add "$AB/s6lib store+retrieve $S6_SOCK $(n 45000) $PAYLOAD"
fi
if [ $HAVE_HOLDER = 1 ]; then
	add "$BB/holder store+fetch-reconnect $HOLDER_SOCK $(n 14000) $PAYLOAD"
fi
if [ $HAVE_S6 = 1 ] && have "$AB/s6lib"; then
	add "$AB/s6lib store+retrieve-reconnect $S6_SOCK $(n 14000) $PAYLOAD"
fi
if [ $HAVE_HOLDER = 1 ]; then
	# many names in one request against one request each (N: about 1 s each)
	add "$BB/many fetch100-many $HOLDER_SOCK $(n 16000) $PAYLOAD"
	add "$BB/many fetch100-single $HOLDER_SOCK $(n 650) $PAYLOAD"
	add "$BB/many store100-many $HOLDER_SOCK $(n 10000) $PAYLOAD"
	add "$BB/many store100-single $HOLDER_SOCK $(n 350) $PAYLOAD"
	# N cycles in all, shared by 1 or 64 client processes
	add "$BB/scale store+fetch-clients1 $HOLDER_SOCK $(n 45000) $PAYLOAD 1"
	add "$BB/scale store+fetch-clients64 $HOLDER_SOCK $(n 45000) $PAYLOAD 64"
fi
if [ $HAVE_HOLDER = 1 ]; then
	add "$BB/cycle fdshare-cli store+fetch $(n 650) 2 4 $PAYLOAD --" \
	    "$FDSHARE store --socket $HOLDER_SOCK fdshare-cli --" \
	    "$FDSHARE fetch --socket $HOLDER_SOCK --remove fdshare-cli -- $(type -P true)"
fi
if [ $HAVE_S6 = 1 ]; then
	add "$AB/spawncycle s6-cli store+retrieve $(n 650) 2 4 $PAYLOAD --" \
	    "$(type -P s6-fdholder-store) $S6_SOCK anchors-cli --" \
	    "$(type -P s6-fdholder-retrieve) -D $S6_SOCK anchors-cli $(type -P true)"
fi
anchor "$AB/spawncycle spawn-baseline true+true $(n 1300) 2 4 $PAYLOAD --" \
       "$(type -P true) -- $(type -P true)"
# The process structure of a store + fetch-and-run cycle with no IPC: two
# processes, three execs (env execs true as fetch does): the CLI's ceiling.
add "$BB/cycle cli-ceiling true+env-true $(n 1000) 2 4 $PAYLOAD --" \
    "$(type -P true) -- $(type -P env) $(type -P true)"

# ------------------------------------------------------------ the machine
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta nproc "$(nproc)"
meta kernel "$(uname -r)"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta hypervisor "$(lscpu 2>/dev/null | awk -F: '/^Hypervisor vendor/ { gsub(/ /, "", $2); print $2 }')"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta reps "$REPS"
meta scale "$SCALE"
meta fdshare "$("$FDSHARE" --version 2>/dev/null | head -1) $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- . ':(exclude)bench/results.md' 2>/dev/null || echo ' (uncommitted changes)')"
meta tools "gcc $(gcc -dumpfullversion 2>/dev/null); python $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null); s6 $(dpkg-query -W -f='${Version}' s6 2>/dev/null || echo none)"
sed -n 's/^\([a-z_]*\)=/# \1: /p' "$META"
echo "# columns: name workload fds_per_sec msgs_per_sec"

# ------------------------------------------------------------ the rounds
# run_row COMMAND: one pinned run; its lines (the result, any "# fig"
# line) into $RAW, or a FAILED line.
run_row() {
	local out
	# shellcheck disable=SC2086 # the plan's words are the arguments
	if out=$("${PIN[@]}" timeout -k 5 "$RUN_TIMEOUT" $1 2>>"$DIAG"); then
		echo "$out" | tee -a "$RAW"
	else
		echo "# FAILED: $1" | tee -a "$RAW"
		tail -2 "$DIAG" >&2
	fi
}

for ((r = 1; r <= REPS; r++)); do
	for cmd in "${PLAN[@]}"; do
		case $cmd in
		*"$HOLDER_SOCK"*) revive holder ;;
		*"$S6_SOCK"*) revive s6 ;;
		esac
		run_row "$cmd"
	done
done

# ------------------------------------------------------------ the scale phase
# A holder holding as many entries as it can, against one holding 100, and
# its memory per entry: on a holder of its own, started fresh (its VmRSS
# grows by the entries alone; a full store cannot disturb the rounds).
# Issue 8 asks for 100,000 entries; each holds a descriptor in the holder,
# so it first asks for room for that many (--max-fds), and where the hard
# RLIMIT_NOFILE cannot be raised takes what the holder can hold by default
# (RLIMIT_NOFILE less its reserve for clients and chunks, in its log) less
# HELD_RESERVE for the cycle's own entry.
HELD_WANT=100000
HELD_RESERVE=100
SCALE_SOCK=$TMPD/scale.sock
SCALE_MAX_FDS=
start_scaleholder() {
	rm -f "$SCALE_SOCK"
	start_daemon scaleholder "$FDSHARE" holder --socket "$SCALE_SOCK" --ready-fd 3 \
		${SCALE_MAX_FDS:+--max-fds "$SCALE_MAX_FDS"}
}
scale_phase() {
	local cap held why r
	SCALE_MAX_FDS=$((HELD_WANT + HELD_RESERVE))
	if ! start_scaleholder; then
		why=$(grep -o 'the hard limit is [0-9]*' "$TMPD/scaleholder.log" | tail -1)
		stop_daemon "${scaleholder_PID:-}"
		SCALE_MAX_FDS=
		start_scaleholder || { note "scale phase left out: its holder did not start"; return; }
	fi
	cap=$(sed -n 's/.*can hold \([0-9]*\) fds.*/\1/p' "$TMPD/scaleholder.log" | tail -1)
	held=$(( ${cap:-$HELD_RESERVE} - HELD_RESERVE ))
	if [ "$held" -gt "$HELD_WANT" ]; then held=$HELD_WANT; fi
	meta scale_held "$held"
	if [ "$held" -lt "$HELD_WANT" ]; then
		meta scale_note "$held entries held, not the issue's $HELD_WANT: each entry holds a\
 descriptor in the holder, and its RLIMIT_NOFILE cannot be raised to $((HELD_WANT + HELD_RESERVE))\
 plus its reserve (${why:-the hard limit is $(ulimit -Hn)}, and setrlimit above it is refused\
 without CAP_SYS_RESOURCE), so the holder can hold ${cap:-?} fds (that limit less its reserve\
 for clients and chunks); $HELD_RESERVE of them are kept for the cycle's own entry."
	fi
	if [ "$held" -le 100 ]; then
		note "scale phase left out: the holder can hold only ${cap:-?} fds"
	else
		run_row "$BB/scale memory $SCALE_SOCK $PAYLOAD $held"
		for ((r = 1; r <= REPS; r++)); do
			revive scaleholder
			run_row "$BB/scale store+fetch-held100 $SCALE_SOCK $(n 45000) $PAYLOAD 100"
			revive scaleholder
			run_row "$BB/scale store+fetch-heldmax $SCALE_SOCK $(n 45000) $PAYLOAD $held"
		done
	fi
	stop_daemon "${scaleholder_PID:-}"
}
# stop_daemon PID: stopped, reaped and out of the cleanup's list
stop_daemon() {
	local p keep=()
	{ kill "$1"; wait "$1"; } 2>/dev/null || true
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}
# The clients rows once more with nothing pinned, holder included: pinned,
# 64 clients share one CPU with the holder and their ratio to one client
# measures the cost of 64 address spaces on it; unpinned, it shows what
# the holder does with a second CPU.  Alternating, REPS times.
UNPIN_SOCK=$TMPD/unpinned.sock
unpinned_phase() {
	local r pin=("${PIN[@]}")
	PIN=()
	rm -f "$UNPIN_SOCK"
	if start_daemon unpinned "$FDSHARE" holder --socket "$UNPIN_SOCK" --ready-fd 3; then
		for ((r = 1; r <= REPS; r++)); do
			revive unpinned
			run_row "$BB/scale store+fetch-clients1-unpinned $UNPIN_SOCK $(n 45000) $PAYLOAD 1"
			revive unpinned
			run_row "$BB/scale store+fetch-clients64-unpinned $UNPIN_SOCK $(n 45000) $PAYLOAD 64"
		done
	else
		note "unpinned clients rows left out: their holder did not start"
	fi
	stop_daemon "${unpinned_PID:-}"
	PIN=("${pin[@]}")
}
if [ $HAVE_HOLDER = 1 ]; then
	scale_phase
	[ ${#PIN[@]} -gt 0 ] && unpinned_phase
fi
meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------ where the time goes
PROF=$TMPD/profile
mkdir -p "$PROF"
if [ "$PROFILE" = 1 ]; then
	[ $HAVE_HOLDER = 1 ] && revive holder
	[ $HAVE_S6 = 1 ] && revive s6
	export PROF BB AB PAYLOAD DIAG HAVE_ANCHORS HAVE_HOLDER HAVE_S6 \
		HOLDER_SOCK S6_SOCK holder_PID="${holder_PID:-}" s6_PID="${s6_PID:-}" \
		PIN_CPU="$CPU" FDSHARE PY ANCHORS
	bash bench/profile.sh || note "profiling failed (see the runs' stderr)"
	[ -f "$PROF/notes" ] && while read -r l; do note "$l"; done <"$PROF/notes"
fi

# ------------------------------------------------------------ the summary
meta wall_seconds "$(($(date +%s) - T_START))"
mkdir -p "$(dirname "$OUT")"
"$PY" bench/report.py "$META" "$RAW" "$PROF" "$OUT"
log "# wrote $OUT"
if [ "${BENCH_STRICT:-0}" = 1 ] && grep -q '^# FAILED' "$RAW"; then
	log "bench: $(grep -c '^# FAILED' "$RAW") run(s) failed:"
	grep '^# FAILED' "$RAW" >&2
	exit 1
fi
