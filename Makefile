# imgtagfs — top-level build.
#
#   make            build imgtagfs, uhub-sim and the unit tests
#   make check      install missing Debian packages, build, run every test
#   make demo       install missing packages, build, mount the demo registry
#   make SANITIZE=address,undefined check    the same under ASan/UBSan
#   make CC=clang   any C11 compiler
#   make deb / dist / distcheck    the Debian packages, the release tarball
#                   (mk/release.mk)
#
# src/*.c form libimgtagfs.a, which the daemon, the simulator and every unit
# test link; tests/unit/test_NAME.c becomes build/tests/test_NAME.

CC       ?= cc
PKGS     := fuse3 libcurl libcjson openssl hiredis
SIMPKGS  := libmicrohttpd libcjson
B        := build
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
# The one place the version is written; --version, the man pages, the
# Debian changelog and the tarball's name all follow it
# (scripts/check-version.sh checks the copies).
VERSION  := $(strip $(file < VERSION))

WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DFUSE_USE_VERSION=312 -Iinclude
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# pkg-config is only asked when something is compiled, so `make deps` works
# on a machine that has none of the packages yet.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
SIM_LIBS   = $(shell pkg-config --libs $(SIMPKGS) 2>/dev/null)

LIB_SRC   := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
SIM_SRC   := $(wildcard tests/sim/*.c)
SIM_OBJ   := $(SIM_SRC:%.c=$(B)/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_HELP := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
# The simulator's own unit tests link its objects, all but its main().
SIMUNIT_SRC := $(wildcard tests/simunit/test_*.c)
SIMUNIT_BIN := $(SIMUNIT_SRC:tests/simunit/%.c=$(B)/tests/%)
SIM_LIBOBJ  := $(filter-out $(B)/tests/sim/sim_main.o,$(SIM_OBJ))
UNIT_BIN    += $(SIMUNIT_BIN)
# Small programs the integration tests run (system calls the shell lacks).
HELPER_SRC  := $(wildcard tests/helpers/*.c)
HELPER_BIN  := $(HELPER_SRC:tests/helpers/%.c=$(B)/tests/helpers/%)

.PHONY: all deps check unit integration demo clean install uninstall install-sim uninstall-sim \
	format lint-man check-version
all: $(B)/imgtagfs $(B)/mount.imgtagfs $(B)/uhub-sim $(UNIT_BIN) $(HELPER_BIN)

deps:
	@scripts/install-deps.sh

# V=1 shows the full command lines.
Q := $(if $(V),,@)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# Only the two programs' main files print the version.
$(B)/src/main.o $(B)/tests/sim/sim_main.o: CPPFLAGS += -DIMGTAGFS_VERSION='"$(VERSION)"'
$(B)/src/main.o $(B)/tests/sim/sim_main.o: VERSION

$(B)/libimgtagfs.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/imgtagfs: $(B)/src/main.o $(B)/libimgtagfs.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# mount(8) runs /sbin/mount.TYPE; the daemon dispatches on argv[0].
$(B)/mount.imgtagfs: $(B)/imgtagfs
	ln -sf imgtagfs $@

$(B)/uhub-sim: $(SIM_OBJ) $(B)/libimgtagfs.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS) $(PKG_LIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(UNIT_HELP:%.c=$(B)/%.o) $(B)/libimgtagfs.a
	@mkdir -p $(@D)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

# test_fs defines every libfuse function the FUSE layer calls: linked
# without libfuse, one it misses is a link error, not a call into libfuse
# with the test's own request structure.
$(B)/tests/test_fs: PKG_LIBS = $(shell pkg-config --libs $(filter-out fuse3,$(PKGS)) 2>/dev/null) -lpthread

$(B)/tests/helpers/%: $(B)/tests/helpers/%.o
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(SIMUNIT_BIN): $(B)/tests/%: $(B)/tests/simunit/%.o $(SIM_LIBOBJ) $(B)/libimgtagfs.a
	@mkdir -p $(@D)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS) $(PKG_LIBS) -lcmocka

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit lint-man check-version integration

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: $(B)/imgtagfs $(B)/uhub-sim $(HELPER_BIN)
	@B=$(B) scripts/run-integration.sh

demo: deps
	@$(MAKE) --no-print-directory $(B)/imgtagfs $(B)/uhub-sim
	@B=$(B) scripts/demo.sh

# The manual pages must render without a warning.
lint-man:
	@mandoc -T lint -W warning man/imgtagfs.1 man/mount.imgtagfs.8 man/uhub-sim.1 && echo "man pages: mandoc lint clean"

# The copies of VERSION (man page headers, debian/changelog, NEWS.md) agree.
check-version:
	@scripts/check-version.sh

install: $(B)/imgtagfs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/imgtagfs $(DESTDIR)$(BINDIR)/imgtagfs
	ln -sf $(BINDIR)/imgtagfs $(DESTDIR)$(SBINDIR)/mount.imgtagfs
	install -m 0644 man/imgtagfs.1 $(DESTDIR)$(MANDIR)/man1/imgtagfs.1
	install -m 0644 man/mount.imgtagfs.8 $(DESTDIR)$(MANDIR)/man8/mount.imgtagfs.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/imgtagfs $(DESTDIR)$(SBINDIR)/mount.imgtagfs \
	      $(DESTDIR)$(MANDIR)/man1/imgtagfs.1 $(DESTDIR)$(MANDIR)/man8/mount.imgtagfs.8

# The simulator, for testing scripts against a registry offline.
install-sim: $(B)/uhub-sim
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/uhub-sim $(DESTDIR)$(BINDIR)/uhub-sim
	install -m 0644 man/uhub-sim.1 $(DESTDIR)$(MANDIR)/man1/uhub-sim.1

uninstall-sim:
	rm -f $(DESTDIR)$(BINDIR)/uhub-sim $(DESTDIR)$(MANDIR)/man1/uhub-sim.1

format:
	clang-format -i include/*.h src/*.c tests/unit/*.[ch] tests/sim/*.[ch] tests/simunit/*.c

clean:
	rm -rf $(B)

# Further targets (fuzz, bench, ...) live in mk/*.mk beside their owners.
include $(wildcard mk/*.mk)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
