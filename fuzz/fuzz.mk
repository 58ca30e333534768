# Fuzzing and fault injection, included by the top Makefile.  See
# docs/robustness.md.
#
#   make fuzz                  the libFuzzer harnesses fuzz/fuzz_*.c, with clang
#   make fuzz-smoke            each for FUZZ_SECONDS (15) from its seed corpus
#                              fuzz/corpus/NAME/; fails on a crash, leak,
#                              sanitizer report or timeout
#   make fault-shim            $(BUILD)/tests/fault/libfault.so for tests/test_fault
#                              and tests/test_fault_holder
#   make robustness-report     fuzz-smoke, then docs/robustness.md's figures
#                              from its logs and a run of both fault programs
#   make robustness-check      docs/robustness.md lists every harness and test

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 15
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Iinclude $(WARN) -O1 -g $(FUZZ_SAN)
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIB     := $(FUZZ_BUILD)/libfdshare-fuzz.a
FUZZ_OBJ     := $(LIB_SRC:src/lib/%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz fuzz-smoke fault-shim robustness-report robustness-check
fuzz: $(FUZZ_BIN)

# The library is instrumented for coverage; only the harness links libFuzzer.
$(FUZZ_BUILD)/obj/%.o: src/lib/%.c include/fdshare.h $(wildcard src/lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB) include/fdshare.h $(wildcard src/lib/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/lib -fsanitize=fuzzer -o $@ $(filter %.c,$^) \
		$(FUZZ_LIB) -lpthread

# Harnesses of code outside the library: its sources are built into the
# harness (instrumented with it).
$(FUZZ_BUILD)/fuzz_hreq: src/holder/request.c $(wildcard src/holder/*.h)
$(FUZZ_BUILD)/fuzz_rules: src/holder/rules.c $(wildcard src/holder/*.h)
$(FUZZ_BUILD)/fuzz_addr: src/cli/addr.c src/cli/util.c $(wildcard src/cli/*.h)

# Each harness from a fresh working corpus (new inputs go there, never
# into fuzz/corpus/); the seeds, regression inputs included, run first.
fuzz-smoke: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_BUILD)/logs $(FUZZ_BUILD)/artifacts
	@for n in $(FUZZ_NAMES); do \
		rm -rf $(FUZZ_BUILD)/work/$$n && mkdir -p $(FUZZ_BUILD)/work/$$n || exit 1; \
		echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
		if ! $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=60 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
			$(FUZZ_BUILD)/work/$$n fuzz/corpus/$$n >$(FUZZ_BUILD)/logs/$$n.log 2>&1; then \
			tail -n 40 $(FUZZ_BUILD)/logs/$$n.log; \
			echo "fuzz $$n: FAILED (log $(FUZZ_BUILD)/logs/$$n.log, input in $(FUZZ_BUILD)/artifacts/)"; \
			exit 1; \
		fi; \
		grep -h '^stat::number_of_executed_units' $(FUZZ_BUILD)/logs/$$n.log; \
	done

# The fault-injection shim: built without sanitizers (it sits under them).
FAULT_SHIM := $(BUILD)/tests/fault/libfault.so

fault-shim: $(FAULT_SHIM)

$(FAULT_SHIM): tests/fault/fault.c tests/fault/fault.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/test_fault $(BUILD)/tests/test_fault_holder: $(wildcard tests/fault/*.h)
check: $(FAULT_SHIM)

robustness-report: fuzz-smoke all $(BUILD)/tests/test_fault $(BUILD)/tests/test_fault_holder \
		$(FAULT_SHIM)
	@BUILD=$(BUILD) FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_CC=$(FUZZ_CC) \
		FUZZ_SECONDS=$(FUZZ_SECONDS) tools/robustness-report.sh

robustness-check:
	@tools/robustness-report.sh --check
