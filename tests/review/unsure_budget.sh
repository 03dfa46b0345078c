#!/usr/bin/env bash
# A registry that keeps moving (about 10 pushes and deletes a second) and
# a server that caps Limit at 3: listings of the image come out unsure
# (they moved while paged) and may lack tags nobody touched. Each time a
# listing changes, the notify thread checks every name the kernel holds
# under it (still_there -> tree_stat): a deleted tag that the unsure
# listing lacks costs a point query that finds nothing, a miss on the
# image's budget of 4. Once spent, a lookup of a name the listing lacks
# fetches the listing again (the registry still moving: unsure again) and
# then, for the rest of that ttl, every untouched tag it lacks is ENOENT.
# Made-up names (MADEUP=6: six a round, as any user of an allow_other
# mount can) spend the budget sooner.
# Expected (README: a lookup of a name an unsure listing lacks "asks the
# API for that tag alone ... before saying no such file"): stat finds
# every untouched tag. Observed: ENOENT for untouched tags in 3 runs of 5
# with MADEUP=0 (random churn, fixed seed: the count varies).
source "$(dirname "$0")/pcommon.sh"
reg_file "$WORK/reg.json" img 150
sim_start --data "$WORK/reg.json" --max-limit 3 --latency-ms 100 --jitter-ms 50 --seed 1 || exit 1
fs_mount "$WORK/m" -o ttl=4,lazy,prefetch=0${FSOPTS:-} || exit 1
python3 - "$SIM_URL" "$WORK/m/r/img" "${MADEUP:-0}" "${ROUNDS:-8}" <<'PY'
import os, random, sys, threading, time, urllib.request
url, d, madeup, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(1)
names = ['t%03d' % i for i in range(1, 151)]
present, touched, stop = list(names), set(), [False]
def ctl(q):
    urllib.request.urlopen(urllib.request.Request(url + '/_sim/' + q, method='POST')).read()
def churn():
    i = 0
    while not stop[0]:
        time.sleep(rnd.expovariate(10)); i += 1
        kind = rnd.choice(['del', 'pushfront', 'push', 'delnew'])
        if kind == 'del':
            cand = [x for x in present if x in names]
            if len(cand) < 50: continue
            n = min(cand[:10]) if rnd.random() < .5 else rnd.choice(cand)
            touched.add(n); present.remove(n); ctl('delete?repo=r&image=img&tag=' + n)
        elif kind in ('pushfront', 'push'):
            n = ('a%05d' % i) if kind == 'pushfront' else '%sx%d' % (rnd.choice(names), i)
            present.append(n); ctl('push?repo=r&image=img&tag=%s&time=1790050000' % n)
        else:
            new = [x for x in present if x not in names]
            if new:
                n = rnd.choice(new); present.remove(n); ctl('delete?repo=r&image=img&tag=' + n)
threading.Thread(target=churn, daemon=True).start()
lacked = enoent = 0
for r in range(rounds):
    os.listdir(d)
    for k in range(madeup):
        try: os.stat('%s/madeup%d-%d' % (d, r, k))
        except OSError: pass
    listed = set(os.listdir(d))
    for n in [n for n in names if n not in touched and n not in listed]:
        lacked += 1
        try: os.stat(d + '/' + n)
        except OSError as e:
            if n not in touched:  # still untouched after the stat failed
                enoent += 1
                print('round %d: stat %s (untouched): %s' % (r, n, e.strerror))
    time.sleep(4.2)
stop[0] = True
print('untouched tags the listing lacked: %d; of them ENOENT: %d' % (lacked, enoent))
sys.exit(1 if enoent else 0)
PY
expect_eq "untouched tags that stat called ENOENT" 0 $?
echo "unsure listings: $(grep -c 'could not be verified' "$WORK/fs.log"); point queries: $(curl -fsS "$SIM_URL/_sim/count?action=GetImageTag&has_tag=1")"
[[ -n ${KEEPLOG:-} ]] && cp "$WORK/fs.log" "$KEEPLOG"
summary
