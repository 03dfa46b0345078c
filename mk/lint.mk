# make lint: static analysis, run by .ci/run. cppcheck over everything we
# compile, and clang-tidy's analyzer and bug-prone checks (those that are
# not pure style) over src/. Both must be clean. Then the repo must explain
# itself: no file git tracks cites a tracker issue by number or points to
# ../shared, outside the repository (say what the thing is for instead).
TIDY_CHECKS := -*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*,-clang-analyzer-valist.Uninitialized,bugprone-infinite-loop,bugprone-macro-parentheses,bugprone-signed-char-misuse,bugprone-suspicious-memset-usage,bugprone-too-small-loop-variable,cert-str34-c,cert-flp30-c

.PHONY: lint
lint:
	@cppcheck --quiet --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
		-D_GNU_SOURCE -Iinclude --suppress=missingIncludeSystem src/ tests/sim/
	@echo "cppcheck: clean"
	@out=$$(clang-tidy --quiet --warnings-as-errors='*' -checks='$(TIDY_CHECKS)' src/*.c -- \
		-std=c11 -D_GNU_SOURCE -DFUSE_USE_VERSION=312 -Iinclude $(PKG_CFLAGS) 2>&1); rc=$$?; \
		echo "$$out" | grep -v 'warnings* generated' | grep . ; exit $$rc
	@echo "clang-tidy: clean"
	@if git grep --untracked -nIiE 'issues? [0-9]|\.\./shared' -- . ':!mk/lint.mk'; then \
		echo "lint: the lines above cite a tracker issue number or ../shared: say what it stands for"; exit 1; fi
	@echo "no issue numbers, no ../shared: clean"
