"""workload.py -- what happens during a model run: a mutator changing the
registry a few times a second, readers observing the mount(s), and the
injectors of API faults and Redis trouble. Every change and every
observation is written down with the wall time (CLOCK_REALTIME, the same
clock for all) just before and just after its call.

Records are JSON lines:
  history.jsonl  {"k":"init","state":...} then one line per change:
                 {"k":"push"|"delete","repo","image","tag","digest","time",
                  "t0","t1"} ("via":"mount" for a deletion made through
                 the first mount) and last {"k":"final","state":...}
  events.jsonl   {"k":"fault"|"clear"|"redis-stop"|"redis-cont"|
                  "redis-flush", "what", "t0", "t1"}
  unlinks.jsonl  {"k":"unlink","dir","tag","err","t0","tr","m"}: every
                 deletion tried through mount m, done ("deleted") or not,
                 tr when unlink(2) returned
  obs-M-R.jsonl  one line per observation of reader R on mount M (check.py
                 documents the fields)
"""

import ctypes
import errno
import hashlib
import json
import os
import threading
import time
import urllib.parse

now = time.time  # CLOCK_REALTIME

# How long a deletion through the mount may go on after its caller's
# deadline answered: its point query and DeleteRepoImage each within
# timeout x (retries + 1) and backoff, behind the other requests of a
# busy daemon; the run waits for it that long before calling it hung.
DELETION_BOUND = 60


class JsonLog:
    """A JSON-lines file written by one thread, or by several under the lock."""

    def __init__(self, path):
        self.f = open(path, "w", buffering=1 << 16)
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self.lock:
            if self.f:  # a thread still hung after the run writes nothing
                self.f.write(line)

    def close(self):
        with self.lock:
            if self.f:
                self.f.close()
            self.f = None


def digest_of(rng):
    return "sha256:" + hashlib.sha256(rng.getrandbits(64).to_bytes(8, "little")).hexdigest()


def make_registry(rng, images, t_base):
    """The initial registry as a --data file: images is a list of
    (repo, image, tag count); tags t0001.. with random gaps, so that pushes
    of new names land everywhere in the sorted list."""
    repos = {}
    for repo, image, n in images:
        nums = sorted(rng.sample(range(1, 4 * n + 10), n))
        tags = [{"name": "t%04d" % i, "digest": digest_of(rng), "update_time": t_base - rng.randrange(86400 * 30)}
                for i in nums]
        repos.setdefault(repo, []).append({"name": image, "tags": tags})
    return {"repos": [{"name": r, "images": imgs} for r, imgs in sorted(repos.items())]}


class World:
    """The mutator's picture of the registry (the history's current
    state) and the names the readers probe: tags that exist, were deleted,
    or are about to be pushed; images deleted and re-created."""

    def __init__(self, state, sizes):
        self.lock = threading.Lock()
        self.state = state
        self.cap = {}
        self.upcoming = {}
        self.graveyard = {}
        self.dead_images = set()
        for (repo, image), n in sizes.items():
            self.cap[(repo, image)] = max(6, min(300, n + n // 5 + 3))
        self.snapshot()

    def tags(self, repo, image):
        """The tags of an image ({} for one that does not exist now)."""
        img = self.state.repos.get(repo, {"images": {}})["images"].get(image)
        return img["tags"] if img else {}

    def live_images(self):
        return [(r, i) for r, rp in self.state.repos.items() for i in rp["images"]]

    def snapshot(self):
        """What readers sample from, rebuilt after each change (readers
        take it without waiting for the mutator)."""
        live, dirs = [], [""]
        for r, rp in self.state.repos.items():
            dirs.append(r)
            for i, img in rp["images"].items():
                base = r + "/" + i
                dirs.append(base)
                if "/" in i:
                    dirs.append(r + "/" + i.rsplit("/", 1)[0])
                live.extend(base + "/" + t for t in img["tags"])
        gone = [r + "/" + i + "/" + t for (r, i), names in self.graveyard.items() for t in names]
        soon = [r + "/" + i + "/" + t for (r, i), names in self.upcoming.items() for t in names]
        dead = [r + "/" + i for r, i in self.dead_images]
        self.pools = {"live": live, "gone": gone, "soon": soon, "dirs": dirs, "dead": dead}


class Mutator(threading.Thread):
    """One thread, so that the changes' intervals never overlap and their
    order is known. Each change is one control call; a failed call ends the
    run (the history would no longer be known)."""

    def __init__(self, sim, world, log, rng, rate, stop, mount=None, unlink_log=None):
        super().__init__(name="mutator", daemon=True)
        self.sim, self.world, self.log, self.rng, self.rate, self.stop = sim, world, log, rng, rate, stop
        self.mount = mount  # half the tags deleted are deleted through it (allow_delete)
        self.unlink_log = unlink_log  # every unlink through it, done or not
        self.count = 0
        self.unlinks = {}  # outcome of each deletion through the mount -> count
        self.waiting = False  # for a deletion that goes on past its caller's deadline
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(self.rng.expovariate(self.rate)):
                self.step()
        except Exception as e:  # reported by the driver: the run is void
            self.error = "%s: %s" % (type(e).__name__, e)
            self.stop.set()

    def call(self, rec):
        q = {k: rec[k] for k in ("repo", "image", "tag", "digest", "time") if rec.get(k) is not None}
        query = urllib.parse.urlencode(q)
        rec["t0"] = now()
        self.sim.ctl("POST", rec["k"], query)
        rec["t1"] = now()
        self.record(rec)

    def unlink(self, key, tag):
        """Deletes a tag through the mount, as `rm` does. The mount deletes
        only what it showed, so a refusal (EBUSY: the mount showed other
        bytes than the registry has; ENOENT: it did not show the tag yet)
        changes nothing; whether another error changed anything is read
        from the registry, which only this thread changes."""
        rec = {"k": "delete", "repo": key[0], "image": key[1], "tag": tag, "via": "mount"}
        before = self.outcomes()
        rec["t0"] = now()
        err = 0
        try:
            os.unlink(os.path.join(self.mount, key[0], key[1], tag))
        except OSError as e:
            err = e.errno
        returned = now()
        done = err == 0
        if err not in (0, errno.EBUSY, errno.ENOENT):
            # ETIMEDOUT at the deadline answers the caller while the
            # deletion goes on: wait until the daemon counts its end, while
            # one runs (an error before any deletion was tried, such as a
            # listing the hung API could not give, counts none).
            self.waiting = True
            end = time.monotonic() + DELETION_BOUND
            while self.outcomes() <= before and self.running() and time.monotonic() < end:
                time.sleep(0.05)
            self.waiting = False
            done = not self.sim_has(key, tag)
        rec["t1"] = now()
        outcome = errno.errorcode.get(err, str(err)) if err else "deleted"
        self.unlinks[outcome] = self.unlinks.get(outcome, 0) + 1
        if self.unlink_log:
            self.unlink_log.write({"k": "unlink", "dir": "%s/%s" % key, "tag": tag, "err": outcome,
                                   "t0": rec["t0"], "tr": returned, "m": 0})
        if done:
            self.record(rec)

    def counters(self):
        try:
            v = os.getxattr(self.mount, "user.imgtagfs.stats").decode()
        except OSError:
            return {}
        return {k: int(n) for k, n in (line.split(": ", 1) for line in v.splitlines()) if k.startswith("deletes_")}

    def outcomes(self):
        """Deletions the daemon of the mount has finished, whatever their
        outcome (its deletes_* counters; the other reasons it refuses, such
        as EACCES, do not arise here)."""
        c = self.counters()
        return sum(c[k] for k in ("deletes_done", "deletes_refused", "deletes_failed")) if c else -1

    def running(self):
        """Whether the daemon has an unlink in progress (deletes_running;
        unknown counts as yes)."""
        return self.counters().get("deletes_running", 1) > 0

    def sim_has(self, key, tag):
        for r in self.sim.state()["repos"]:
            for i in r.get("images", []) if r["name"] == key[0] else ():
                if i["name"] == key[1] and any(t["name"] == tag for t in i.get("tags", [])):
                    return True
        return False

    def record(self, rec):
        with self.world.lock:
            self.world.state.apply(rec)
            self.world.snapshot()
        self.log.write(rec)
        self.count += 1

    def new_name(self, key):
        """The next new tag name of an image: announced in advance (the
        readers look them up before they exist)."""
        w = self.world
        q = w.upcoming.setdefault(key, [])
        taken = set(w.tags(*key)) | set(w.graveyard.get(key, ()))
        while len(q) < 4:
            name = "t%04d" % self.rng.randrange(1, 10000)
            if name not in taken and name not in q:
                q.append(name)
        return q.pop(0)

    def push(self, key, tag, digest=True):
        self.call({"k": "push", "repo": key[0], "image": key[1], "tag": tag,
                   "digest": digest_of(self.rng) if digest else None, "time": int(now())})

    def delete(self, key, tag=None):
        self.call({"k": "delete", "repo": key[0], "image": key[1], "tag": tag})

    def step(self):
        """One change, or two for a same-second re-push."""
        w, rng = self.world, self.rng
        live = w.live_images()
        if w.dead_images and (rng.random() < 0.04 or len(live) < 3):
            key = rng.choice(sorted(w.dead_images))  # re-create a deleted image
            w.dead_images.discard(key)
            return self.push(key, self.new_name(key))
        key = rng.choice(live)
        n, r = len(w.tags(*key)), rng.random()
        if r < 0.03 and len(live) > 4:
            w.dead_images.add(key)
            w.graveyard.pop(key, None)
            return self.delete(key)
        if n < 3 or (r < 0.45 and n < w.cap[key]):
            return self.grow(key)
        if r < 0.70 and n > 3:
            return self.shrink(key)
        return self.repush(key)

    def grow(self, key):
        """A new tag, or a deleted one pushed again."""
        grave = sorted(self.world.graveyard.get(key, ()))
        if grave and self.rng.random() < 0.3:
            tag = self.rng.choice(grave)
            self.world.graveyard[key].discard(tag)
        else:
            tag = self.new_name(key)
        self.push(key, tag, digest=self.rng.random() > 0.05)

    def shrink(self, key):
        """Deletes a tag; early names more often: they shift every later
        page of the listing."""
        tags = sorted(self.world.tags(*key))
        tag = tags[min(int(self.rng.expovariate(4.0 / len(tags))), len(tags) - 1)]
        grave = self.world.graveyard.setdefault(key, set())
        grave.add(tag)
        if len(grave) > 8:
            grave.discard(self.rng.choice(sorted(grave)))
        if self.mount and self.rng.random() < 0.5:
            self.unlink(key, tag)
        else:
            self.delete(key, tag)

    def repush(self, key):
        """A new digest for a tag, 40% of the time pushed again at once
        (within the same second: only the digest tells the versions apart)."""
        tag = self.rng.choice(sorted(self.world.tags(*key)))
        self.push(key, tag, digest=self.rng.random() > 0.05)
        if self.rng.random() < 0.4:
            self.push(key, tag)


# ---- readers -----------------------------------------------------------------

class Dirent(ctypes.Structure):
    # glibc's struct dirent on 64-bit Linux (the same as dirent64)
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.opendir.restype = ctypes.c_void_p
_libc.opendir.argtypes = [ctypes.c_char_p]
_libc.readdir.restype = ctypes.POINTER(Dirent)
_libc.readdir.argtypes = [ctypes.c_void_p]
_libc.telldir.restype = ctypes.c_long
_libc.telldir.argtypes = [ctypes.c_void_p]
_libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
_libc.closedir.argtypes = [ctypes.c_void_p]


def read_entries(d, limit=None):
    """Up to limit names from DIR* d (all with None), without . and ..;
    raises OSError on a readdir error."""
    names = []
    while limit is None or len(names) < limit:
        ctypes.set_errno(0)
        e = _libc.readdir(d)
        if not e:
            err = ctypes.get_errno()
            if err:
                raise OSError(err, os.strerror(err))
            break
        name = e.contents.d_name.decode(errors="surrogateescape")
        if name not in (".", ".."):
            names.append(name)
    return names


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def stat_view(st):
    """What a stat shows that the checker judges: kind, size, whole seconds."""
    kind = "d" if (st.st_mode & 0o170000) == 0o040000 else "f"
    return [kind, st.st_size, st.st_mtime_ns // 1000000000]


class Reader(threading.Thread):
    """A reader of one mount: ls, ls -l, stat, cat, find, grep -r and held
    descriptors re-read after a rewind, chosen at random; every system call
    that shows something is one observation."""

    OPS = (("list", 12), ("scan", 10), ("stat", 25), ("read", 20), ("walk", 3), ("grep", 3), ("held", 12))

    def __init__(self, mount_no, root, world, log, rng, stop, pace):
        super().__init__(name="reader-%d" % mount_no, daemon=True)
        self.m, self.root, self.world, self.log, self.rng, self.stop, self.pace = (
            mount_no, root, world, log, rng, stop, pace)
        self.held = {}
        self.count = 0
        self.ops = [op for op, w in self.OPS for _ in range(w)]

    def obs(self, rec):
        rec["m"] = self.m
        self.log.write(rec)
        self.count += 1

    def full(self, p):
        return os.path.join(self.root, p) if p else self.root

    def pick(self, pools, weights):
        pool = self.world.pools
        for _ in range(4):
            name = self.rng.choices(pools, weights)[0]
            if pool[name]:
                return self.rng.choice(pool[name])
        return self.rng.choice(pool["dirs"])

    def probe_path(self):
        if self.rng.random() < 0.08:  # a name that never exists
            d = self.rng.choice(self.world.pools["dirs"])
            return (d + "/" if d else "") + "zz-never-%d" % self.rng.randrange(100)
        return self.pick(("live", "gone", "soon", "dirs", "dead"), (45, 15, 15, 15, 5))

    def dir_path(self):
        return self.pick(("dirs", "dead"), (92, 8))

    def run(self):
        try:
            while not self.stop.is_set():
                getattr(self, "op_" + self.rng.choice(self.ops))()
                time.sleep(self.rng.random() * self.pace)
        finally:
            for fd in self.held.values():
                os.close(fd)

    # each op_ writes its observations

    def do_list(self, op, p, fn):
        """fn lists p: a list of names, or (names, kinds)."""
        tb = now()
        try:
            got = fn()
        except OSError as e:
            self.obs({"op": op, "p": p, "tb": tb, "ta": now(), "err": errname(e)})
            return None
        rec = {"op": op, "p": p, "tb": tb, "ta": now()}
        if isinstance(got, tuple):
            rec["names"], rec["kinds"] = got
        else:
            rec["names"] = got
        self.obs(rec)
        return got

    def scan(self, p):
        """os.scandir: the names and their kinds (d_type), as find sees them."""
        def fn():
            with os.scandir(self.full(p)) as it:
                got = [(e.name, "d" if e.is_dir(follow_symlinks=False) else "f") for e in it]
            return [n for n, _ in got], "".join(k for _, k in got)
        got = self.do_list("scan", p, fn)
        return list(zip(*got)) if got else []

    def stat(self, p, op="stat"):
        tb = now()
        try:
            st = os.lstat(self.full(p))
        except OSError as e:
            self.obs({"op": op, "p": p, "tb": tb, "ta": now(), "err": errname(e)})
            return
        self.obs({"op": op, "p": p, "tb": tb, "ta": now(), "st": stat_view(st)})

    def read(self, p):
        tb = now()
        try:
            with open(self.full(p), "rb", buffering=0) as f:
                data = f.read(65536)
        except OSError as e:
            self.obs({"op": "read", "p": p, "tb": tb, "ta": now(), "err": errname(e)})
            return
        self.obs({"op": "read", "p": p, "tb": tb, "ta": now(), "data": data.decode(errors="surrogateescape")})

    def op_list(self):
        p = self.dir_path()
        self.do_list("list", p, lambda: os.listdir(self.full(p)))

    def op_scan(self):  # ls -l: the listing, then each entry's attributes
        p = self.dir_path()
        got = self.scan(p)
        for name, _ in got:
            self.stat(p + "/" + name if p else name, op="lstat")

    def op_stat(self):
        self.stat(self.probe_path())

    def op_read(self):
        self.read(self.probe_path())

    def op_walk(self):  # find: every directory's listing, nothing else
        todo = [self.rng.choice([""] + [d for d in self.world.pools["dirs"] if "/" not in d])]
        while todo and not self.stop.is_set():
            p = todo.pop()
            got = self.scan(p)
            todo.extend((p + "/" + n if p else n) for n, k in got if k == "d")

    def op_grep(self):  # grep -r over one image: its listing, every file's bytes
        p = self.rng.choice(self.world.pools["dirs"])
        got = self.scan(p)
        for n, k in got:
            if k == "f" and not self.stop.is_set():
                self.read(p + "/" + n)

    def op_held(self):
        """A directory held open, rewound and read again (os.listdir on a
        descriptor reads it from the start: rewinddir on the same open
        file); now and then one is closed and another opened."""
        if len(self.held) < 3 or self.rng.random() < 0.1:
            p = self.dir_path()
            if p in self.held:
                os.close(self.held.pop(p))
            tb = now()
            try:
                self.held[p] = os.open(self.full(p), os.O_RDONLY | os.O_DIRECTORY)
            except OSError as e:
                self.obs({"op": "open", "p": p, "tb": tb, "ta": now(), "err": errname(e)})
                return
            if len(self.held) > 3:
                q = self.rng.choice([k for k in self.held if k != p])
                os.close(self.held.pop(q))
        p = self.rng.choice(sorted(self.held))
        self.do_list("held", p, lambda: os.listdir(self.held[p]))


class Seeker(threading.Thread):
    """telldir/seekdir across expiry: opens a directory, reads some names,
    takes telldir, holds the stream for up to ttl + 1.5 s, seekdir()s back
    and reads the rest. Both parts are observations; together they must be
    one pass over the directory (no name twice, none that existed
    throughout left out)."""

    def __init__(self, mount_no, root, world, log, rng, stop, ttl):
        super().__init__(name="seeker-%d" % mount_no, daemon=True)
        self.m, self.root, self.world, self.log, self.rng, self.stop, self.ttl = (
            mount_no, root, world, log, rng, stop, ttl)
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            self.once()
            self.stop.wait(self.rng.random() * 0.2)

    def once(self):
        pool = self.world.pools["dirs"]
        p = self.rng.choice([d for d in pool if d.count("/") >= 1] or pool)
        rec = {"op": "seek", "p": p, "m": self.m, "tb": now()}
        d = _libc.opendir(os.path.join(self.root, p).encode())
        if not d:
            rec.update(ta=now(), err=errno.errorcode.get(ctypes.get_errno(), "?"))
            self.log.write(rec)
            return
        try:
            rec["names"] = read_entries(d, self.rng.randint(1, 40))
            pos = _libc.telldir(d)
            rec["ta"] = now()
            self.stop.wait(self.rng.random() * (self.ttl + 1.5))
            rec["tb2"] = now()
            _libc.seekdir(d, pos)
            rec["names2"] = read_entries(d)
            rec["ta2"] = now()
        except OSError as e:
            rec.setdefault("ta", now())
            rec["ta2"] = now()
            rec["err"] = errname(e)
        finally:
            _libc.closedir(d)
        self.log.write(rec)
        self.count += 1


# ---- trouble ---------------------------------------------------------------------

class Injector(threading.Thread):
    """Runs a schedule of trouble: each step is (quiet seconds, action),
    with its own wall-time interval in events.jsonl."""

    def __init__(self, name, steps, log, stop):
        super().__init__(name=name, daemon=True)
        self.steps, self.log, self.stop = steps, log, stop
        self.error = None

    def run(self):
        try:
            for pause, kind, what, fn in self.steps:
                if self.stop.wait(pause):
                    return
                t0 = now()
                fn()
                self.log.write({"k": kind, "what": what, "t0": t0, "t1": now()})
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)


def api_fault_steps(sim, rng, seconds):
    """In turns, 2-3 s apart: every API request answered HTTP 503 for 3 s;
    every request hung for 9 s (longer than deadline=6, so that waiting for
    the API is not an option); half the requests 503 for 3 s. Until seconds
    run out (the last 2 s are quiet)."""
    kinds = [("kind=http503", 3, "all requests HTTP 503"), ("kind=hang&ms=20000", 9, "every request hangs"),
             ("kind=http503&rate=0.5", 3, "half the requests HTTP 503")]
    steps, t, i = [], 0.0, 0
    while True:
        q, length, what = kinds[i % len(kinds)]
        quiet = rng.uniform(2, 3)
        if t + quiet + length > seconds - 2:
            return steps
        steps.append((quiet, "fault", what, lambda q=q: sim.ctl("POST", "fault", q)))
        steps.append((length, "clear", what, lambda: sim.ctl("POST", "fault", "kind=clear")))
        t += quiet + length
        i += 1


def redis_steps(redis, rng, seconds):
    """Redis stopped (SIGSTOP) for 1-2.5 s and continued, and flushed
    (FLUSHALL), in turn, 1.5-3 s apart."""
    steps, t, i = [], 0.0, 0
    while True:
        quiet = rng.uniform(1.5, 3)
        if i % 2 == 0:
            length = rng.uniform(1, 2.5)
            if t + quiet + length > seconds - 1:
                return steps
            steps.append((quiet, "redis-stop", "SIGSTOP", redis.stop))
            steps.append((length, "redis-cont", "SIGCONT", redis.cont))
        else:
            length = 0
            if t + quiet > seconds - 1:
                return steps
            steps.append((quiet, "redis-flush", "FLUSHALL", lambda: redis.command("FLUSHALL")))
        t += quiet + length
        i += 1
