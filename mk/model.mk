# mk/model.mk — the freshness model (tests/model/): a registry changing a
# few times a second, readers on one mount, on one mount with the API
# failing, and on three mounts sharing a Redis (quiet, then stopped and
# flushed), every observation checked against the registry's timestamped
# history; and the self-test, a daemon whose ttl is secretly longer than
# the checker is told, which must be caught.
#
#   make model                      every scenario MODEL_SECONDS (default
#                                   180) each, then the self-test: about
#                                   14 minutes; reports in $(B)/model/
#   make model MODEL_SECONDS=600
#   make model MODEL_ARGS="--scenario faults --seed 7"   one scenario
#   make model MODEL_ARGS="--imgtagfs OTHER/imgtagfs"    another daemon
#
# make check runs the same driver short (tests/integration/test_model.sh,
# about a minute). tests/model/README.md states the rule it checks.

MODEL_SECONDS ?= 180
MODEL_ARGS ?=

.PHONY: model
model: $(B)/imgtagfs $(B)/uhub-sim
	@B=$(B) python3 tests/model/model.py --all --seconds $(MODEL_SECONDS) $(MODEL_ARGS)
