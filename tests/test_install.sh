#!/bin/bash
# make install into a temporary DESTDIR, then build and run a program
# against it using only pkg-config, linked dynamically and statically;
# make uninstall removes exactly what was installed.
BUILD=${BUILD:-build}
CC=${CC:-cc}
T=test_install.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Counted in the shell itself: a command substitution races with its own pipe.
fdcount() { local fd=(/proc/$$/fd/*); FDS=${#fd[@]}; }
pass() { echo "PASS $T.$1"; }
fail() { echo "FAIL $T.$1: $2"; }
san=()
[ "${SANITIZE:-}" = 1 ] && san=(-fsanitize=address,undefined)

if ! command -v pkg-config >/dev/null; then
	echo "SKIP $T.pkg_config_build: pkg-config is not installed"
	exit 0
fi

fdcount; before=$FDS
dest=$tmp/dest
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-}" install DESTDIR="$dest" >"$tmp/log" 2>&1 ||
	{ fail install "make install failed: $(tail -3 "$tmp/log")"; exit 1; }
(cd "$dest" && find . -type f -o -type l | sort) >"$tmp/installed"
for f in ./usr/local/include/fdshare.h ./usr/local/lib/libfdshare.a \
         ./usr/local/lib/libfdshare.so ./usr/local/lib/libfdshare.so.0 \
         ./usr/local/lib/pkgconfig/fdshare.pc; do
	grep -qx "$f" "$tmp/installed" || { fail install "missing $f"; exit 1; }
done
[ "$(readlink "$dest/usr/local/lib/libfdshare.so.0")" = "libfdshare.so.0.1.0" ] ||
	{ fail install "libfdshare.so.0 does not point at the versioned library"; exit 1; }
pass install

cat >"$tmp/prog.c" <<'C'
#include <fdshare.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void)
{
	int sv[2], fd = -1;
	size_t n = 1;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    fdshare_send(sv[0], "x", 1, &sv[0], 1, 0) != 1 ||
	    fdshare_recv(sv[1], &c, 1, &fd, &n, 0) != 1 || n != 1)
		return 1;
	puts("fdshare " FDSHARE_VERSION " ok");
	return 0;
}
C
export PKG_CONFIG_PATH=$dest/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags fdshare) libs=$(pkg-config --libs fdshare)

if $CC "${san[@]}" $cflags -o "$tmp/dyn" "$tmp/prog.c" $libs 2>"$tmp/log" &&
   LD_LIBRARY_PATH=$dest/usr/local/lib "$tmp/dyn" | grep -q ' ok$' &&
   LD_LIBRARY_PATH=$dest/usr/local/lib ldd "$tmp/dyn" | grep -q 'libfdshare.so.0 => '"$dest"; then
	pass dynamic_link
else
	fail dynamic_link "$(head -3 "$tmp/log")"
fi

libs_static=$(pkg-config --static --libs fdshare | sed 's/-lfdshare/-Wl,-Bstatic -lfdshare -Wl,-Bdynamic/')
if $CC "${san[@]}" $cflags -o "$tmp/sta" "$tmp/prog.c" $libs_static 2>"$tmp/log" &&
   "$tmp/sta" | grep -q ' ok$' && ! ldd "$tmp/sta" | grep -q libfdshare; then
	pass static_link
else
	fail static_link "$(head -3 "$tmp/log")"
fi

make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-}" uninstall DESTDIR="$dest" >"$tmp/log" 2>&1
left=$(cd "$dest" && find . -type f -o -type l)
if [ -z "$left" ]; then pass uninstall; else fail uninstall "left behind: $left"; fi

fdcount
[ "$FDS" = "$before" ] || fail fd_count "open fds $before before, $FDS after"
