/*
 * For a test program that uses the fault shim: it runs itself again with
 * $BUILD/tests/fault/libfault.so in LD_PRELOAD (so do the programs it
 * starts), and finds the shim's control functions with dlsym so that it
 * still links without it.  Include once, in the test's .c file.
 */
#ifndef FAULT_SELFLOAD_H
#define FAULT_SELFLOAD_H

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fault.h"
#include "../t.h"

static struct {
	__typeof__(fault_arm) *arm;
	__typeof__(fault_disarm) *disarm;
	__typeof__(fault_hit) *hit;
	__typeof__(fault_track) *track;
	__typeof__(fault_live) *live;
	__typeof__(fault_fn_name) *fn_name;
} shim;

static void selfload_append_env(const char *var, const char *sep, const char *val)
{
	const char *old = getenv(var);
	char buf[8192];

	if (old && *old)
		snprintf(buf, sizeof buf, "%s%s%s", val, sep, old);
	else
		snprintf(buf, sizeof buf, "%s", val);
	setenv(var, buf, 1);
}

__attribute__((constructor)) static void selfload(int argc, char **argv)
{
	const char *build = getenv("BUILD");
	char path[PATH_MAX], shimpath[PATH_MAX], exe[PATH_MAX];
	ssize_t n;

	(void)argc;
	if (dlsym(RTLD_DEFAULT, "fault_arm") || getenv("FDSHARE_FAULT_REEXEC"))
		return;
	snprintf(path, sizeof path, "%s/tests/fault/libfault.so", build ? build : "build");
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (realpath(path, shimpath) == NULL || n < 0)
		return; /* the tests skip */
	exe[n] = '\0';
	setenv("FDSHARE_FAULT_REEXEC", "1", 1);
	selfload_append_env("LD_PRELOAD", ":", shimpath);
	/* a sanitizer runtime wants to come first; here it need not */
	selfload_append_env("ASAN_OPTIONS", ":", "verify_asan_link_order=0");
	execv(exe, argv);
}

static inline void selfload_need_shim(void)
{
	shim.arm = (__typeof__(shim.arm))dlsym(RTLD_DEFAULT, "fault_arm");
	shim.disarm = (__typeof__(shim.disarm))dlsym(RTLD_DEFAULT, "fault_disarm");
	shim.hit = (__typeof__(shim.hit))dlsym(RTLD_DEFAULT, "fault_hit");
	shim.track = (__typeof__(shim.track))dlsym(RTLD_DEFAULT, "fault_track");
	shim.live = (__typeof__(shim.live))dlsym(RTLD_DEFAULT, "fault_live");
	shim.fn_name = (__typeof__(shim.fn_name))dlsym(RTLD_DEFAULT, "fault_fn_name");
	if (!shim.arm || !shim.disarm || !shim.hit || !shim.track || !shim.live ||
	    !shim.fn_name)
		t_skip("libfault.so is not loaded (built by fuzz/fuzz.mk as "
		       "$BUILD/tests/fault/libfault.so)");
}

#endif
