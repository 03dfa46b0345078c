# mk/release.mk — releases: the Debian packages and the tarball.
#
#   make deb        install what the package build needs (as root, like
#                   make check), then build imgtagfs_VERSION_ARCH.deb and
#                   uhub-sim_VERSION_ARCH.deb into build/deb/ with
#                   dpkg-buildpackage -us -uc -b (unit tests included;
#                   DEB_BUILD_OPTIONS=nocheck skips them) and run lintian
#                   (build/deb/lintian.txt; an error fails the target)
#   make dist       build/imgtagfs-VERSION.tar.gz from git archive HEAD:
#                   the committed tree, less what .gitattributes marks
#                   export-ignore
#   make distcheck  unpack that tarball elsewhere, build it and run the
#                   unit tests there
#
# The package is built in a copy of the tree (build/deb/imgtagfs-VERSION/,
# the files git tracks or would track, so uncommitted edits are in it), so
# it never reuses objects of another build (a SANITIZE one) and leaves
# nothing in the tree outside build/.

DEB_B   := $(B)/deb
DEB_SRC := $(DEB_B)/imgtagfs-$(VERSION)
DIST    := $(B)/imgtagfs-$(VERSION).tar.gz

.PHONY: deb deb-deps dist distcheck

deb-deps:
	@scripts/install-deps.sh debhelper lintian

deb: deb-deps
	@scripts/check-version.sh
	@rm -rf $(DEB_B)
	@mkdir -p $(DEB_SRC)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard -- . ':!build-*' | \
			tar --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null; \
	else \
		tar --exclude='./$(B)' -cf - .; \
	fi | tar -xf - -C $(DEB_SRC)
	@echo "  DEB     $(DEB_SRC) (dpkg-buildpackage -us -uc -b)"
	@# None of this make's variables (B=, SANITIZE=, -j) may reach debian/rules.
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u B -u SANITIZE \
		dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -40 ../build.log; echo "make deb: failed, see $(DEB_B)/build.log" >&2; exit 1; }
	@rm -rf $(DEB_SRC)
	@cd $(DEB_B) && ls -1 *.deb
	@# (lintian's stderr only says that it runs as root)
	@cd $(DEB_B) && lintian --fail-on error --info *.changes >lintian.txt 2>lintian.err; rc=$$?; \
		cat lintian.txt; echo "lintian: $$(grep -c '^E:' lintian.txt) errors, $$(grep -c '^W:' lintian.txt) warnings (exit $$rc)"; \
		exit $$rc

dist:
	@scripts/check-version.sh
	@v=$$(git show HEAD:VERSION) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "make dist: VERSION differs from the committed one; commit it first" >&2; exit 1; }
	@git diff --quiet HEAD || echo "make dist: warning: uncommitted changes are not in the tarball" >&2
	@mkdir -p $(B)
	$(Q)git archive --format=tar.gz --prefix=imgtagfs-$(VERSION)/ -o $(DIST) HEAD
	@echo "$(DIST)"

# No git, no build/ and no parent Makefile reach the unpacked copy.
distcheck: dist
	@d=$$(mktemp -d /tmp/imgtagfs-distcheck.XXXXXX) && trap 'rm -rf "$$d"' EXIT && \
	tar -xzf $(DIST) -C "$$d" && cd "$$d/imgtagfs-$(VERSION)" && \
	test ! -e build && test -f LICENSE && test "$$(cat VERSION)" = "$(VERSION)" && \
	GIT_DIR=/nonexistent $(MAKE) --no-print-directory -s all && \
	GIT_DIR=/nonexistent $(MAKE) --no-print-directory -s unit lint-man && \
	test "$$(build/imgtagfs --version | cut -d' ' -f2)" = "$(VERSION)" && \
	echo "distcheck: $(DIST) builds and passes its unit tests"
