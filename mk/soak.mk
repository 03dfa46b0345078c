# mk/soak.mk — the long soak test (tests/integration/test_soak.sh): 32
# concurrent readers running ls/stat/cat/find/grep over a mounted registry
# while uhub-sim injects faults at 10% and tags are pushed and deleted.
#
#   make soak                    SOAK_OPS operations (default 200000, about
#                                half an hour on two cores)
#   make soak SOAK_OPS=20000     shorter
#   make soak SOAK_READERS=64 SOAK_FAULT_RATE=0.3
#   make SANITIZE=address,undefined soak    under ASan/UBSan (LSan at exit)
#
# make check runs the same script as a short run (3000 operations) with
# every other tests/integration/test_*.sh.

SOAK_OPS ?= 200000

.PHONY: soak
soak: $(B)/imgtagfs $(B)/uhub-sim
	@B=$(B) SOAK_OPS=$(SOAK_OPS) bash tests/integration/test_soak.sh
