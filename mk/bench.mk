# mk/bench.mk — the benchmark (tests/bench/): imgtagfs against
# the network's lower bound, tmpfs, httpdirfs, rclone and a naive curl
# script, on the same simulated registries with the same latency.
#
#   make bench                                  the full run (< 10 min on 2 cores):
#                                               table on stdout and in
#                                               tests/bench/results.md, plot in
#                                               tests/bench/cold-listing.png
#   make bench BENCH_ARGS="--latency 50 --cap 50 --reps 5"
#   make bench BENCH_ARGS=--quick               a smoke run on small sizes (< 1 min)
#
#   make bench-scale                            a registry of a million tags, and
#                                               100k-500k on the way (tests/bench/
#                                               scale.sh; about 6 min, root; not
#                                               part of make check): scale.md and
#                                               its numbers in tests/bench/, the
#                                               plot (SVG) in docs/scale.svg
#   make bench-scale SCALE_ARGS=--quick         its smoke run (seconds)
#
# tests/bench/run.sh --help lists the parameters. tests/bench/deps.sh
# installs the missing Debian packages (httpdirfs rclone gnuplot-nox fuse3
# jq ...) as root; as another user it names them, and the run leaves out
# what it cannot run (the FUSE contenders need root or /dev/fuse access).

BENCH_ARGS ?=
SCALE_ARGS ?=

.PHONY: bench bench-deps bench-scale

bench-deps:
	@tests/bench/deps.sh

bench: bench-deps
	@$(MAKE) --no-print-directory all
	@B=$(B) tests/bench/run.sh $(BENCH_ARGS)

bench-scale: bench-deps
	@$(MAKE) --no-print-directory all
	@B=$(B) tests/bench/scale.sh $(SCALE_ARGS)

# Deletion through the mount (allow_delete): deletions a second against the
# bound the latency, max_requests and max_rps set, and requests per
# deletion (tests/bench/delete.sh; about 30 s).
.PHONY: bench-delete
bench-delete:
	@$(MAKE) --no-print-directory all
	@B=$(B) bash tests/bench/delete.sh $(BENCH_DELETE_ARGS)
