# fdshare - see README.md.  `make`, `make check`, `make check SANITIZE=1`.
CC       ?= cc
PYTHON   ?= python3
SOVER    := 0
VERSION  := 0.1.0

ifeq ($(SANITIZE),1)
BUILD    ?= build/sanitize
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD    ?= build
SANFLAGS :=
endif

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALLCFLAGS = -std=c11 -D_GNU_SOURCE -Iinclude $(WARN) $(SANFLAGS) $(CFLAGS)
LDALL     = $(SANFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/lib/*.c))
LIB_OBJ  := $(LIB_SRC:src/lib/%.c=$(BUILD)/obj/lib/%.o)
CLI_SRC  := $(sort $(wildcard src/cli/*.c src/holder/*.c))
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_AUX := $(sort $(wildcard tests/aux/*.c))
AUX_BIN  := $(TEST_AUX:tests/aux/%.c=$(BUILD)/tests/aux/%)

STATIC   := $(BUILD)/libfdshare.a
SHARED   := $(BUILD)/libfdshare.so.$(VERSION)
CLI      := $(if $(CLI_SRC),$(BUILD)/fdshare)

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PCDIR      ?= $(LIBDIR)/pkgconfig
MANPAGES   := $(sort $(wildcard docs/*.[1-8] docs/man/*.[1-8]))

.PHONY: all check demo clean install uninstall FORCE
all: $(STATIC) $(SHARED) $(CLI)

$(BUILD)/obj/lib/%.o: src/lib/%.c include/fdshare.h $(wildcard src/lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/obj/%.o: src/%.c include/fdshare.h $(wildcard src/lib/*.h src/cli/*.h src/cli/*.def src/holder/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJ) src/lib/libfdshare.map
	$(CC) -shared -Wl,-soname,libfdshare.so.$(SOVER) \
		-Wl,--version-script=src/lib/libfdshare.map -o $@ $(LIB_OBJ) $(LDALL)
	ln -sf libfdshare.so.$(VERSION) $(BUILD)/libfdshare.so.$(SOVER)
	ln -sf libfdshare.so.$(SOVER) $(BUILD)/libfdshare.so

$(BUILD)/fdshare: $(CLI_OBJ) $(STATIC)
	$(CC) -o $@ $(CLI_OBJ) $(STATIC) $(LDALL)

$(BUILD)/obj/tests/t.o: tests/t.c tests/t.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h src/lib/*.h src/holder/*) $(BUILD)/obj/tests/t.o $(STATIC) include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(BUILD)/obj/tests/t.o $(STATIC) $(LDALL)

$(BUILD)/tests/aux/%: tests/aux/%.c $(wildcard tests/*.h src/lib/*.h) $(STATIC) include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(STATIC) $(LDALL)

# Helpers named sd_* are written against libsystemd (an independent peer);
# without libsystemd-dev they are not built and their tests skip.
HAVE_LIBSYSTEMD := $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)
ifneq ($(HAVE_LIBSYSTEMD),1)
AUX_BIN := $(filter-out $(BUILD)/tests/aux/sd_%,$(AUX_BIN))
endif
$(BUILD)/tests/aux/sd_%: tests/aux/sd_%.c $(STATIC) include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(STATIC) $(LDALL) $$(pkg-config --libs libsystemd)

check: all $(TEST_BIN) $(AUX_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) SANITIZE=$(SANITIZE) CC=$(CC) VALGRIND=$(VALGRIND) tests/run.sh

# Remade every time: its paths depend on PREFIX and LIBDIR of this call.
$(BUILD)/fdshare.pc: fdshare.pc.in FORCE
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: all $(BUILD)/fdshare.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR)
	install -m 644 include/fdshare.h $(DESTDIR)$(INCLUDEDIR)/fdshare.h
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libfdshare.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/libfdshare.so.$(VERSION)
	ln -sf libfdshare.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libfdshare.so.$(SOVER)
	ln -sf libfdshare.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libfdshare.so
	install -m 644 $(BUILD)/fdshare.pc $(DESTDIR)$(PCDIR)/fdshare.pc
	$(if $(CLI),install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/fdshare)
	@for m in $(MANPAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fdshare.h $(DESTDIR)$(LIBDIR)/libfdshare.a \
	      $(DESTDIR)$(LIBDIR)/libfdshare.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/libfdshare.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libfdshare.so \
	      $(DESTDIR)$(PCDIR)/fdshare.pc $(DESTDIR)$(BINDIR)/fdshare
	@for m in $(MANPAGES); do \
		s=$${m##*.}; echo rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; \
	done

demo: all
	$(BUILD)/fdshare demo

clean:
	rm -rf build

# Benchmarks (make bench, make bench-smoke) and fuzzing (make fuzz,
# make fuzz-smoke) keep their rules beside their sources.
-include bench/bench.mk
-include fuzz/fuzz.mk
-include examples/examples.mk
