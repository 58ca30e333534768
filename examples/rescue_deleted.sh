#!/bin/sh
# rescue_deleted.sh - recover deleted files that a running process still
# has open, with 'fdshare ls' to find them and 'fdshare grab' to read them.
#
# usage: rescue_deleted.sh [FDSHARE]     (default: fdshare in PATH)
#
# A deleted file lives on while a process holds it open.  This script
# stages two such accidents, then rescues both:
#   1. a job's input file, open for reading at fd 0 and not yet read;
#   2. a service's log, open write-only (O_APPEND) at fd 7.
# For 1, 'fdshare grab --to 0 PID 0 -- cat' gives cat the job's own open
# file description: cat reads from the job's offset, here the start.
# For 2, that description cannot be read (write-only) and its offset is at
# the end, so cat opens /dev/stdin instead: the kernel opens the file anew
# through /proc/self/fd/0, read-only, from offset 0.
# Exit 0 when both files are recovered byte for byte.
set -eu
FDSHARE=${1:-fdshare}
dir=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	wait
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The accidents: two processes with a file open, then both files deleted.
seq 1 1000 >"$dir/input.csv"
cp "$dir/input.csv" "$dir/input.orig"
sleep 300 <"$dir/input.csv" &
job=$!
pids="$pids $job"
( exec 7>>"$dir/service.log"; echo "service started" >&7
  echo "request 1 ok" >&7; exec sleep 300 ) &
service=$!
pids="$pids $service"
i=0
until [ "$(ls -l "/proc/$service/fd/7" 2>/dev/null)" ] && [ -s "$dir/service.log" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "the service did not start" >&2; exit 1; }
	sleep 0.05
done
cp "$dir/service.log" "$dir/service.orig"
rm "$dir/input.csv" "$dir/service.log"

# Find them: 'fdshare ls PID' marks a deleted file "(deleted)".
for pid in $job $service; do
	echo "process $pid:"
	"$FDSHARE" ls "$pid" | grep ' (deleted)$'
done
fd_job=$("$FDSHARE" ls "$job" | awk '/ \(deleted\)$/ { print $1; exit }')
fd_log=$("$FDSHARE" ls "$service" | awk '/ \(deleted\)$/ { print $1; exit }')

# Rescue them.
"$FDSHARE" grab --to 0 "$job" "$fd_job" -- cat >"$dir/input.saved"
"$FDSHARE" grab --to 0 "$service" "$fd_log" -- cat /dev/stdin >"$dir/service.saved"

cmp "$dir/input.orig" "$dir/input.saved"
cmp "$dir/service.orig" "$dir/service.saved"
echo "rescued input.csv ($(wc -l <"$dir/input.saved") lines) from pid $job fd $fd_job"
echo "rescued service.log ($(wc -l <"$dir/service.saved") lines) from pid $service fd $fd_log"
