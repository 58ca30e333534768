# Worked examples (README.md, "Examples"): each examples/*.c is a small
# complete program built into $(BUILD)/examples/ against the static library,
# as a user's program would be.  `make examples` builds them; `make check`
# builds them too, and tests/test_examples.sh runs every example.
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

.PHONY: examples
examples: $(EXAMPLE_BIN)

$(BUILD)/examples/%: examples/%.c $(STATIC) include/fdshare.h
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(STATIC) $(LDALL)

check: $(EXAMPLE_BIN)
