# fdshare send refuses descriptors on its connection (fdshare_refuse_fds):
# a receiver that answers with a descriptor has its sendmsg fail with
# EPERM (Linux 6.16+), and the send goes on; with the real recv it works.
. "$(dirname "$0")/cli_lib.sh"

S=$T/s.sock

# A receiver that takes the SEND frame, answers with /dev/null attached
# to an ACK frame, and then with a plain ACK; "EPERM" or "SENT" (the
# descriptor went through) in $T/fake.
FAKE='
import os, socket, struct, sys
path, out = sys.argv[1], sys.argv[2]
ACK = 0x4b434153
def header(nfds):
    return struct.pack("<IB3xIII", 0x48534446, 1, ACK, 0, nfds)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(10)
open(out + ".ready", "w").close()
conn, _ = srv.accept()
conn.settimeout(10)
hdr = b""
while len(hdr) < 20:
    b = conn.recv(20 - len(hdr))
    if not b:
        sys.exit("no SEND frame")
    hdr += b
rest = struct.unpack("<IB3xIII", hdr)[3]
while rest > 0:
    b = conn.recv(rest)
    if not b:
        sys.exit("cut SEND frame")
    rest -= len(b)
null = os.open("/dev/null", os.O_RDONLY)
try:
    socket.send_fds(conn, [header(1)], [null])
    result = "SENT"
except PermissionError:
    result = "EPERM"
    conn.sendall(header(0))
with open(out, "w") as f:
    f.write(result)
conn.close()
'

# kernel_has_passrights: Linux 6.16 or later.
kernel_has_passrights() {
	local v
	v=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
	set -- $v
	[ "$1" -gt 6 ] || { [ "$1" -eq 6 ] && [ "$2" -ge 16 ]; }
}

have_fake() {
	[ -f "$T/fake.ready" ]
}

t_hostile_receiver() {
	[ -n "$PY" ] || { WHY="no python3 at /usr/bin/python3"; return 77; }
	kernel_has_passrights || { WHY="Linux $(uname -r) has no SO_PASSRIGHTS (6.16+)"; return 77; }
	bg "$PY" -c "$FAKE" "$S" "$T/fake" 2>"$T/fakeerr"
	FAKEPID=$BGPID
	wait_until have_fake || { WHY="the fake receiver did not start: $(cat "$T/fakeerr")"; return 1; }
	run 0 timeout 20 "$FDSHARE" send "$S" 0=in || { stop "$FAKEPID"; return 1; }
	reap "$FAKEPID" || { WHY="the fake receiver is still running"; stop "$FAKEPID"; return 1; }
	if [ "$(cat "$T/fake" 2>/dev/null)" != EPERM ]; then
		WHY="the receiver's sendmsg with a descriptor: '$(cat "$T/fake" 2>/dev/null)'," \
		WHY="$WHY not EPERM ($(cat "$T/fakeerr"))"
		return 1
	fi
	rm -f "$S" "$T/fake" "$T/fake.ready" "$T/fakeerr" "$T/out" "$T/err"
}

listening() {
	"$FDSHARE" ls "$1" 2>/dev/null | grep -q " unix stream $S LISTEN\$"
}

t_real_receiver() {
	echo "payload" >"$T/data"
	bg "$FDSHARE" recv --timeout 10 "$S" -- sh -c 'echo "$LISTEN_FDNAMES"; cat <&3' \
		>"$T/rout" 2>"$T/rerr" </dev/null
	RECV=$BGPID
	wait_until listening "$RECV" || { WHY="recv is not listening: $(cat "$T/rerr")"; stop "$RECV"; return 1; }
	run 0 timeout 20 "$FDSHARE" send "$S" 5=data 5<"$T/data" || { stop "$RECV"; return 1; }
	reap "$RECV" || { WHY="recv still running"; stop "$RECV"; return 1; }
	if [ "$(cat "$T/rout")" != "$(printf 'data\npayload')" ]; then
		WHY="recv's command printed '$(cat "$T/rout")'"
		return 1
	fi
	rm -f "$T/data" "$T/rout" "$T/rerr" "$T/out" "$T/err"
}

run_case hostile_receiver t_hostile_receiver
run_case real_receiver t_real_receiver
