# Zero downtime through 'fdshare listen --holder': a server restarted 20
# times while clients keep connecting; the holder keeps the listening
# socket, so clients wait in its backlog and none is refused.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/listen_lib.sh"

RESTARTS=20
CLIENT_SECONDS=50       # the client's own bound; it is stopped long before

# serve: one 'fdshare listen --holder' server; SERVER is its pid (exec'd in
# place, the zd_server's own).
serve() {
	bg "$FDSHARE" listen --holder --socket "$H" tcp:127.0.0.1:0=zd -- \
		"$AUX/zd_server" "$T/zd" 2>>"$T/serr"
	SERVER=$BGPID
}

# totals: the client's result line; false with WHY unless it is perfect.
totals() {
	local line
	wait_until test -s "$T/client" || { WHY="the client did not finish"; return 1; }
	line=$(cat "$T/client")
	echo "# listen --holder, $RESTARTS restarts: $line"
	case $line in
	"requests "*" refused 0 failed 0 servers $((RESTARTS + 1))") ;;
	*)
		WHY="$line; client errors: $(head -c 300 "$T/cerr")"
		return 1
		;;
	esac
	case $line in
	"requests 0 "*) WHY="no request was made"; return 1 ;;
	esac
}

t_restarts_under_load() {
	local port i old
	start_holder || return $?
	mkdir -p "$T/zd"
	serve
	wait_until server_ready "$T/zd" || { WHY="no server: $(cat "$T/serr")"; return 1; }
	port=$(cat "$T/zd/ready.$SERVER")
	bg "$AUX/zd_client" "$port" "$CLIENT_SECONDS" "$T/zd/stop" 2 >"$T/client" 2>"$T/cerr"
	CLIENT=$BGPID
	wait_until test -e "$T/zd/served.$SERVER" || { WHY="no request reached the server"; return 1; }
	for i in $(seq "$RESTARTS"); do
		old=$SERVER
		kill -TERM "$old"
		reap "$old" || { WHY="server $old did not stop"; return 1; }
		serve
		# the new one has answered the clients that waited meanwhile
		wait_until test -e "$T/zd/served.$SERVER" ||
			{ WHY="restart $i: no answer from $SERVER: $(tail -3 "$T/serr")"; return 1; }
	done
	touch "$T/zd/stop"
	reap "$CLIENT" || { WHY="the client did not stop"; return 1; }
	totals || return 1
	kill -TERM "$SERVER"
	reap "$SERVER"
	stop "$HOLDER"
	rm -rf "$T/zd" "$T/client" "$T/cerr" "$T/serr" "$H"
}

run_case restarts_under_load t_restarts_under_load
