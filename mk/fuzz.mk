# mk/fuzz.mk — libFuzzer harnesses for hostile input (tests/fuzz/fuzz_*.c):
# the JSON decoder, the time parser, the name/path mapper, option parsing,
# the shared tier's value codec. A new tests/fuzz/fuzz_NAME.c is built and
# run by every target below without a change here.
#
#   make fuzz                   build every harness with clang's libFuzzer,
#                               ASan and UBSan, and fuzz each FUZZ_SECONDS
#                               (default 20) from its seed corpus; prints the
#                               executions per harness, fails on any crash
#   make fuzz FUZZ_SECONDS=600  longer
#   make fuzz-regress           run each harness once over its seed corpus and
#                               the kept crash reproducers, no fuzzing (fast;
#                               for make check)
#
# The library is compiled afresh with $(FUZZ_CC) and the fuzzer's
# instrumentation into $(B)/fuzz, never taken from the normal build.
# tests/fuzz/deps.sh installs clang and its libFuzzer runtime when missing
# (as root). Crash inputs land in $(B)/fuzz/artifacts/HARNESS/; keep each
# one in tests/fuzz/regress/HARNESS/ once fixed.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_B       := $(B)/fuzz
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)

.PHONY: fuzz fuzz-regress fuzz-build

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_B) $(FUZZ_BIN)

fuzz-regress: $(FUZZ_BIN)
	@tests/fuzz/run.sh regress 0 $(FUZZ_B) $(FUZZ_BIN)

# Once per build dir: the toolchain check (and install) before compiling.
$(FUZZ_B)/deps.stamp:
	@mkdir -p $(@D)
	@FUZZ_CC=$(FUZZ_CC) tests/fuzz/deps.sh
	@touch $@

$(FUZZ_B)/obj/%.o: %.c | $(FUZZ_B)/deps.stamp
	@mkdir -p $(@D)
	@$(if $(V),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Itests/unit $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(WARN) $(PKG_CFLAGS) \
		-MMD -MP -c $< -o $@

$(FUZZ_B)/libimgtagfs-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

# The tree is fuzzed over the unit tests' in-memory API.
$(FUZZ_B)/fuzz_names: $(FUZZ_B)/obj/tests/unit/fake_api.o $(FUZZ_B)/obj/tests/unit/tree_walk.o

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_B)/libimgtagfs-fuzz.a
	@$(if $(V),,echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FUZZ_B)/libimgtagfs-fuzz.a $(PKG_LIBS)

# Keep the harness objects: they are intermediate to the pattern rules.
.SECONDARY: $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/obj/tests/fuzz/%.o)
