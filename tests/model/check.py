#!/usr/bin/env python3
"""check.py -- judges every observation of a model run against the
registry's timestamped history, and writes the report.

The rule (README.md in this directory says why): an observation made by a
system call that started at tb and returned at ta shows, for each thing it
shows, the registry's state at some instant within

    [tb - ttl - slack, ta]

A thing shown is: a name listed in a directory (with its kind), a name
missing from a listing of a directory that exists, a name looked up and not
found (ENOENT), a file's bytes, a stat's kind, size and mtime (whole
seconds; one stat is judged as one instant). Re-reading an open directory
stream (a held descriptor rewound, the rest after seekdir) gets copy_slack
instead of slack: the kernel may serve its copy of the listing until the
daemon's notification thread drops it.

The one exception is stale-if-error: in a run with API faults, an
observation that overlaps a fault window (extended by `grace` for the
refresh that was under way) may show a state as old as ttl + max_stale. No
error other than ENOENT may reach a reader outside such a window; inside
one, an error is allowed only when some listing the call needs was not seen
fresh within max_stale before it ended (otherwise the daemon held a good
listing and had to serve it). No system call may take longer than
deadline + 1 s, plus the time of an unlink in flight in its directory on
its mount (the kernel holds the directory's lock for it). A telldir/seekdir pass must list no name that existed
throughout it twice, and leave none out.

Usage: check.py RUNDIR [--ttl S] [--slack S] ...   (defaults: RUNDIR/config.json)

A run directory (model.py writes it) holds config.json, history.jsonl,
events.jsonl and unlinks.jsonl (workload.py describes them), notes.jsonl (what went wrong
with the run itself: violations), warnings.jsonl (what went wrong tearing
it down: reported only) and obs-*.jsonl, one observation a line:
  m, op, p     the mount (0..), the operation, the path under the mount
  tb, ta       wall time (CLOCK_REALTIME) just before and just after the call
  err          the errno's name when it failed (ENOENT, EIO, ...)
  names        list, scan, held, seek: the names, in the order read
  kinds        scan: "d" or "f" for each name (its d_type)
  st           stat, lstat: [kind "d"/"f", st_size, st_mtime in whole seconds]
  data         read: the bytes (surrogate-escaped text)
  op "seek"    names before telldir, then tb2, ta2 and names2 after seekdir
Ops: list (os.listdir, ls), scan (os.scandir, find and the first half of
ls -l), lstat (the second half of ls -l), stat, read (cat), held (a held
descriptor rewound and read again), open (opening one), seek.
"""

import argparse
import bisect
import glob
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import ABSENT, History, State, parent  # noqa: E402
from report import summary, write_report  # noqa: E402


def is_dir(v):
    return v is not ABSENT and v[0] == "d"


def is_file(v):
    return v is not ABSENT and v[0] == "f"


def exists(v):
    return v is not ABSENT


def absent(v):
    return v is ABSENT


def kind_is(k):
    return is_dir if k == "d" else is_file


def stat_matches(st):
    kind, size, mtime = st

    def pred(v):
        if v is ABSENT or v[0] != kind:
            return False
        if kind == "f":
            return len(v[1]) == size and v[2] == mtime
        return v[1] is None or v[1] == mtime
    return pred


def bytes_are(data):
    b = data.encode(errors="surrogateescape")
    return lambda v: is_file(v) and v[1] == b


def join(p, name):
    return p + "/" + name if p else name


def read_jsonl(path):
    """The records of a JSON-lines file ([] if there is none)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


class Windows:
    """Wall-time intervals (faults), sorted, with an overlap test."""

    def __init__(self, spans):
        self.spans = sorted(spans)

    def meets(self, t0, t1):
        return any(a <= t1 and t0 <= b for a, b in self.spans)


class Checker:
    def __init__(self, run, cfg):
        self.run, self.cfg = run, cfg
        self.ttl, self.slack = cfg["ttl"], cfg["slack"]
        self.copy_slack = cfg.get("copy_slack", self.slack)
        self.max_stale, self.grace = cfg.get("max_stale", 0), cfg.get("grace", 0)
        self.deadline = cfg.get("deadline", 30)
        self.faults = cfg.get("api_faults", False)
        self.history, self.final, self.problems = self.load_history()
        self.events = read_jsonl(os.path.join(run, "events.jsonl"))
        self.unlinks = read_jsonl(os.path.join(run, "unlinks.jsonl"))
        self.fault_windows = Windows(self.fault_spans())
        self.violations = []
        self.n_obs = self.n_checks = self.n_stale = self.n_errors_allowed = 0
        self.slowest = {}
        self.t_origin = self.history.initial_t

    # ---- input ----

    def load_history(self):
        problems = []
        recs = read_jsonl(os.path.join(self.run, "history.jsonl"))
        init = recs[0]
        h = History(State(init["state"]))
        h.initial_t = init["t"]
        final = None
        for r in recs[1:]:
            if r["k"] == "final":
                final = r
            else:
                h.add(r)
        if final is None:
            problems.append("the history has no final state: the run did not end cleanly")
        else:
            if not h.state.same_as(State(final["state"])):
                problems.append("replaying the logged changes does not give the registry's final state")
            made = final["state"].get("_changes", 0) - init["state"].get("_changes", 0)
            if made != len(h.changes):
                problems.append("the registry made %d changes, the log holds %d" % (made, len(h.changes)))
        return h, final, problems

    def fault_spans(self):
        spans, start = [], None
        for e in self.events:
            if e["k"] == "fault":
                start = e["t0"]
            elif e["k"] == "clear" and start is not None:
                spans.append((start, e["t1"] + self.grace))
                start = None
        if start is not None:
            spans.append((start, float("inf")))
        return spans

    def observations(self):
        """Every observation, file by file (each file in time order)."""
        for f in sorted(glob.glob(os.path.join(self.run, "obs-*.jsonl"))):
            with open(f) as fh:
                for line in fh:
                    yield json.loads(line)

    # ---- evidence for the stale-if-error rule ----

    def collect_fresh_listings(self):
        """Per mount and directory, when its listing was seen outside every
        fault window: the daemon answered from a listing younger than ttl,
        so born after the observation's start less ttl, and servable (stale)
        until at least that start plus max_stale."""
        self.fresh = {}
        if not self.faults:
            return
        for o in self.observations():
            if o.get("err") or not o.get("names") or o["op"] not in ("list", "scan", "held"):
                continue
            if not self.fault_windows.meets(o["tb"], o["ta"]):
                self.fresh.setdefault((o["m"], o["p"]), []).append(o["tb"])
        for v in self.fresh.values():
            v.sort()

    def servable_listing(self, o):
        """True when every listing call o needed (the directory's own for a
        listing, every ancestor's) was seen fresh (outside fault windows)
        starting less than max_stale before the daemon could have decided:
        the daemon then held each within ttl + max_stale of its birth. The
        decision is taken as late as it can be, when the call returned, so
        that a call that waited for a failing refill is not blamed for
        the wait."""
        decided = o["ta"]
        needed, p = [], o["p"]
        # open() of a directory (a read of one) is an OPENDIR: it needs the
        # directory's own listing too.
        if o["op"] in ("list", "scan", "held", "open", "seek") or (
                o["op"] == "read" and self.history.held(p, o["tb"], o["ta"], is_dir)):
            needed.append(p)
        while p:
            p = parent(p)
            needed.append(p)
        for d in needed:
            times = self.fresh.get((o["m"], d), [])
            i = bisect.bisect_right(times, o["tb"])
            if not (i and times[i - 1] > decided - self.max_stale + self.slack):
                return False
        return True

    # ---- judging ----

    def window(self, tb, ta, copy=False):
        w0 = tb - self.ttl - (self.copy_slack if copy else self.slack)
        if self.faults and self.fault_windows.meets(tb, ta):
            return w0 - self.max_stale, True
        return w0, False

    def fact(self, o, path, pred, what, negative=False, tb=None, ta=None, copy=False):
        """One thing o showed: path satisfied pred at some instant of the
        window. Records a violation otherwise: "missing" for a name not
        shown that existed throughout, "stale" for a thing shown that held
        only before the window, "never" for one that never held. copy: o
        re-read the kernel's copy of a directory from an open stream."""
        tb = o["tb"] if tb is None else tb
        ta = o["ta"] if ta is None else ta
        self.n_checks += 1
        w0, stale_ok = self.window(tb, ta, copy)
        if self.history.held(path, w0, ta, pred):
            if stale_ok and not self.history.held(path, tb - self.ttl - self.slack, ta, pred):
                self.n_stale += 1
            return True
        last = self.history.last_held_before(path, w0, pred)
        kind = "missing" if negative else "stale" if last is not None else "never"
        self.violation(kind, o, path, what, w0, ta, pred)
        self.violations[-1]["slack"] = self.copy_slack if copy else self.slack
        return False

    def violation(self, kind, o, path, what, w0=None, w1=None, pred=None):
        v = {"kind": kind, "obs": o, "path": path, "what": what, "w0": w0, "w1": w1}
        if pred is not None and w0 is not None:
            last = self.history.last_held_before(path, w0, pred)
            v["needed"] = None if last is None else w0 - last
        self.violations.append(v)

    def judge_error(self, o):
        err = o["err"]
        if err == "ENOENT":
            self.fact(o, o["p"], absent, "not found (ENOENT)", negative=True)
            return
        if err == "EISDIR":  # a read of a directory: it is one
            self.fact(o, o["p"], is_dir, "a directory (EISDIR)")
            return
        if self.faults and self.fault_windows.meets(o["tb"], o["ta"]):
            if not self.servable_listing(o):
                self.n_errors_allowed += 1
                return
            self.n_checks += 1
            self.violation("error-with-listing", o, o["p"],
                           "%s while every listing it needs was seen fresh within max_stale" % err)
            return
        self.n_checks += 1
        self.violation("error", o, o["p"], "%s reached the reader" % err)

    def judge_listing(self, o, names, kinds=None, tb=None, ta=None, partial=False, copy=False):
        """names listed by one pass over directory o["p"] (kinds: "d" or "f"
        for each, when the call gave them); partial: a part of a pass, whose
        missing names say nothing."""
        p = o["p"]
        # An open stream of a directory deleted meanwhile may read as empty
        # (as on any filesystem): only names prove it still exists.
        if names or not (partial or copy):
            self.fact(o, p, is_dir, "listed as a directory", tb=tb, ta=ta, copy=copy)
        listed = dict(zip(names, kinds or [None] * len(names)))
        if len(listed) != len(names):
            self.n_checks += 1
            dup = sorted({n for n in names if names.count(n) > 1})
            self.violation("duplicate", o, join(p, dup[0]), "listed twice in one pass: " + ", ".join(dup[:5]))
        for name, k in listed.items():
            what = {"d": "listed as a directory", "f": "listed as a file"}.get(k, "listed")
            self.fact(o, join(p, name), kind_is(k) if k else exists, what, tb=tb, ta=ta, copy=copy)
        if partial:
            return
        for name in self.history.children.get(p, ()):
            if name not in listed:
                self.fact(o, join(p, name), absent, "missing from the listing of /%s" % p, negative=True,
                          tb=tb, ta=ta, copy=copy)

    def judge_seek(self, o):
        """Both parts are positive observations; together one pass."""
        first, rest = o.get("names", []), o.get("names2", [])
        self.judge_listing(o, first, partial=True)
        if "tb2" not in o:
            return
        # After seekdir the kernel may serve its copy of the listing.
        self.judge_listing(o, rest, tb=o["tb2"], ta=o["ta2"], partial=True, copy=True)
        both = first + rest
        # In a fault window either part may come from a stale listing.
        w0, _ = self.window(o["tb"], o["ta2"])
        lo, hi = self.history.k_range(w0, o["ta2"])

        def throughout(name):
            return all(v is not ABSENT for _, v in self.history.values_in(join(o["p"], name), lo, hi))
        self.n_checks += 1
        dup = sorted({n for n in both if both.count(n) > 1 and throughout(n)})
        if dup:
            self.violation("seek-duplicate", o, join(o["p"], dup[0]),
                           "listed twice across seekdir, though it existed throughout: " + ", ".join(dup[:5]),
                           w0, o["ta2"])
        for name in self.history.children.get(o["p"], ()):
            if name not in both and throughout(name):
                self.violation("seek-skip", o, join(o["p"], name),
                               "left out across seekdir, though it existed throughout",
                               w0, o["ta2"], absent)

    def unlink_wait(self, o, t0, t1):
        """How long o may have waited behind an unlink on its mount: the
        kernel holds the directory's lock while an unlink in it is
        answered (up to the deadline), and every lookup and listing in that
        directory waits for it."""
        wait = 0
        for u in self.unlinks:
            if u["m"] == o["m"] and u["t0"] < t1 and u["tr"] > t0 and (o["p"] + "/").startswith(u["dir"] + "/"):
                wait = max(wait, u["tr"] - u["t0"])
        return wait

    def judge(self, o):
        self.n_obs += 1
        op = o["op"]
        spans = [(o["tb"], o["ta"])] + ([(o["tb2"], o["ta2"])] if "tb2" in o else [])
        for t0, t1 in spans:
            self.slowest[op] = max(self.slowest.get(op, 0), t1 - t0)
            if t1 - t0 > self.deadline + 1 + self.unlink_wait(o, t0, t1):
                self.n_checks += 1
                self.violation("slow", o, o["p"], "took %.1f s, over deadline=%s" % (t1 - t0, self.deadline))
        if o.get("err"):
            if op == "seek" and "names" in o:
                self.judge_listing(o, o["names"], partial=True)
            self.judge_error(o)
        elif op in ("list", "scan", "held"):
            self.judge_listing(o, o["names"], o.get("kinds"), copy=op == "held")
        elif op == "seek":
            self.judge_seek(o)
        elif op in ("stat", "lstat"):
            self.fact(o, o["p"], stat_matches(o["st"]), "stat: kind %s size=%s mtime=%s" % tuple(o["st"]))
        elif op == "read":
            self.fact(o, o["p"], bytes_are(o["data"]), "read %r" % o["data"])

    def check(self):
        for p in self.problems:
            self.violations.append({"kind": "history", "what": p, "obs": None, "path": ""})
        for note in read_jsonl(os.path.join(self.run, "notes.jsonl")):
            self.violations.append({"kind": "run", "what": note, "obs": None, "path": ""})
        self.warnings = read_jsonl(os.path.join(self.run, "warnings.jsonl"))
        self.collect_fresh_listings()
        for o in self.observations():
            self.judge(o)
        return self.violations

    def summary(self):
        return summary(self)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    for k in ("ttl", "slack", "copy_slack", "max_stale", "grace", "deadline"):
        ap.add_argument("--" + k.replace("_", "-"), type=float)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.run, "config.json")))
    for k in ("ttl", "slack", "copy_slack", "max_stale", "grace", "deadline"):
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    c = Checker(a.run, cfg)
    c.check()
    report = os.path.join(a.run, "report.txt")
    write_report(c, report, "model check of %s" % a.run)
    print("%s\nsummary: %s" % (report, c.summary()))
    return 1 if c.violations else 0


if __name__ == "__main__":
    sys.exit(main())
