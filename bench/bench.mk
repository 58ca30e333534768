# Benchmarks: `make bench` (9 to 14 minutes; writes bench/results.md) and
# `make bench-smoke` (SCALE=0.05, 1 round, under two minutes; writes
# $(BUILD)/bench/smoke.md).  Never part of `make check`.  See bench/README.md.
BENCH_SRC := $(filter-out bench/util.c,$(sort $(wildcard bench/*.c)))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCH_ENV  = BUILD=$(BUILD) FDSHARE=$(BUILD)/fdshare

.PHONY: bench bench-smoke bench-build
bench-build: $(BENCH_BIN) $(CLI)

$(BUILD)/bench/util.o: bench/util.c bench/bench.h include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/bench/%: bench/%.c bench/bench.h $(BUILD)/bench/util.o $(STATIC) include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(BUILD)/bench/util.o $(STATIC) $(LDALL)

bench: bench-build
	$(BENCH_ENV) SCALE=$(or $(SCALE),1) REPS=$(or $(REPS),5) \
		PROFILE=$(or $(PROFILE),1) BENCH_OUT=bench/results.md bash bench/run.sh

bench-smoke: bench-build
	$(BENCH_ENV) SCALE=$(or $(SCALE),0.05) REPS=$(or $(REPS),1) \
		PROFILE=$(or $(PROFILE),0) BENCH_OUT=$(BUILD)/bench/smoke.md bash bench/run.sh
