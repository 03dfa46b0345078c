#!/usr/bin/env bash
# An invalidation made with the fleet's key (derived as tier.c does from
# the test private key, no project), dated OFFSET ms from Redis's TIME:
# checks that the derivation is right (OFFSET=0: received) and what a
# future date does.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
find "$WORK/b" >/dev/null; sleep 0.3
ns=$(rcli --scan --pattern 'imgtagfs:1:*' | head -1 | cut -d: -f3)
forge() { # forge KEY AT_MS > message
	perl -MDigest::SHA=hmac_sha256 -e '
		my ($priv, $ns, $key, $at) = @ARGV;
		my $prk = hmac_sha256($priv, "imgtagfs shared cache 1");
		my $mk = hmac_sha256("listing values\0" . "\x01", $prk);
		my $m = pack("C Q< Q< v", 1, 12345, $at, length $key) . $key;
		print $m, hmac_sha256("$ns\0$m", $mk);' "$TEST_PRIV" "$ns" "$1" "$2"
}
now=$(rcli time | head -1)000
for off in 0 86400000; do
	r0=$(stat_of "$WORK/b" shared_invalidations_received) j0=$(stat_of "$WORK/b" shared_rejected)
	forge "T7:repo-00img-00" $((now + off)) >"$WORK/m"
	rcli -x publish "imgtagfs:1:$ns:inval" <"$WORK/m" >/dev/null; sleep 0.3
	echo "at = TIME + $off ms: received +$(($(stat_of "$WORK/b" shared_invalidations_received) - r0)), rejected +$(($(stat_of "$WORK/b" shared_rejected) - j0))"
done
fusermount3 -u "$WORK/b"
