# Zero downtime through 'fdshare run': SIGHUP 20 times while clients keep
# connecting; each new server starts beside the old one on the same socket,
# says READY=1, and only then is the old one stopped.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

RESTARTS=20
CLIENT_SECONDS=50
START_DELAY_MS=20       # each server takes this long to be ready

# newest_server: the pid of the server that made the last ready.PID.
newest_server() {
	local f
	f=$(ls -t "$T"/zd/ready.* | head -1)
	echo "${f##*.}"
}

servers_started() {
	[ "$(count_files "$T/zd/ready.*")" -eq "$1" ]
}

t_sighup_under_load() {
	local port i old new fds
	mkdir -p "$T/zd"
	bg "$FDSHARE" run --ready tcp:127.0.0.1:0=zd -- \
		"$AUX/zd_server" "$T/zd" "$START_DELAY_MS" 2>"$T/rlog"
	RUN=$BGPID
	wait_until server_ready "$T/zd" || { WHY="no server: $(cat "$T/rlog")"; stop "$RUN"; return 1; }
	new=$(newest_server)
	port=$(cat "$T/zd/ready.$new")
	bg "$AUX/zd_client" "$port" "$CLIENT_SECONDS" "$T/zd/stop" 2 >"$T/client" 2>"$T/cerr"
	CLIENT=$BGPID
	wait_until test -e "$T/zd/served.$new" || { WHY="no request reached the server"; stop "$RUN"; return 1; }
	fds=$(ls /proc/"$RUN"/fd | wc -l)
	for i in $(seq "$RESTARTS"); do
		old=$new
		kill -HUP "$RUN"
		wait_until servers_started $((i + 1)) ||
			{ WHY="SIGHUP $i: no new server: $(tail -3 "$T/rlog")"; stop "$RUN"; return 1; }
		new=$(newest_server)
		wait_until gone "$old" || { WHY="SIGHUP $i: $old still runs"; stop "$RUN"; return 1; }
		wait_until test -e "$T/zd/served.$new" ||
			{ WHY="SIGHUP $i: no answer from $new: $(tail -3 "$T/rlog")"; stop "$RUN"; return 1; }
	done
	touch "$T/zd/stop"
	if [ "$(ls /proc/"$RUN"/fd | wc -l)" -ne "$fds" ]; then
		WHY="run had $fds fds, now $(ls /proc/"$RUN"/fd | wc -l)"
		stop "$RUN"
		return 1
	fi
	reap "$CLIENT" || { WHY="the client did not stop"; stop "$RUN"; return 1; }
	kill -TERM "$RUN"
	reap "$RUN" || { WHY="run did not stop"; stop "$RUN"; return 1; }
	echo "# run, $RESTARTS SIGHUPs: $(cat "$T/client")"
	case $(cat "$T/client") in
	"requests 0 "*) WHY="no request was made"; return 1 ;;
	"requests "*" refused 0 failed 0 servers $((RESTARTS + 1))") ;;
	*) WHY="$(cat "$T/client"); client errors: $(head -c 300 "$T/cerr")"; return 1 ;;
	esac
	if [ "$(grep -c 'takes over: stopping pid' "$T/rlog")" -ne "$RESTARTS" ]; then
		WHY="run's log: $(tail -5 "$T/rlog")"
		return 1
	fi
	rm -rf "$T/zd" "$T/client" "$T/cerr" "$T/rlog"
}

run_case sighup_under_load t_sighup_under_load
