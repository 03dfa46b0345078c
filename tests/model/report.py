"""report.py -- a model run's report: the rule with its numbers, the
summary line, and for each incident (violations of one kind on one path,
close in time) the first violation's timeline: the observation, the window
it was allowed, what the path held then, the path's history around it, the
other changes in its directory, and the faults or Redis events nearby.
"""

import json
import os
import time

from registry import describe, parent

MAX_OTHERS = 12


def join(p, name):
    return p + "/" + name if p else name


def incidents(c):
    """The same kind on the same path, each within ttl + 1 s of the
    previous one, is one incident: one wrong listing shows in every
    observation made while it is served."""
    out, last = [], {}
    for v in sorted(c.violations, key=lambda v: (v["obs"] or {}).get("tb", 0)):
        key, t = (v["kind"], v["path"]), (v["obs"] or {}).get("tb", 0)
        inc = last.get(key)
        if inc is None or v["obs"] is None or t - inc["t1"] > c.ttl + 1:
            inc = {"kind": v["kind"], "path": v["path"], "first": v, "n": 0, "t0": t, "t1": t, "ops": set()}
            out.append(inc)
            last[key] = inc
        inc["n"] += 1
        inc["t1"] = t
        if v["obs"]:
            inc["ops"].add("%s on mount %s" % (v["obs"]["op"], v["obs"]["m"]))
    return out


def summary(c):
    kinds = {}
    for v in c.violations:
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    s = "%d observations, %d checks, %d violations" % (c.n_obs, c.n_checks, len(c.violations))
    if kinds:
        s += " in %d incidents (%s)" % (len(incidents(c)), ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    if c.warnings:
        s += "; %d warning%s" % (len(c.warnings), "s" if len(c.warnings) > 1 else "")
    return s


class Timeline:
    """The lines that explain one violation v of checker c."""

    def __init__(self, c, v):
        self.c, self.v, self.o, self.h = c, v, v["obs"], c.history
        self.lines = []

    def rel(self, t):
        return "%8.3f" % (t - self.c.t_origin)

    def add(self, fmt, *args):
        self.lines.append(fmt % args)

    def build(self):
        self.add("VIOLATION %s: %s", self.v["kind"], self.v["what"])
        if self.o is None:
            return self.lines
        self.observed()
        if self.v.get("w0") is not None:
            self.window()
            self.hint()
        self.history()
        self.neighbours()
        self.events()
        return self.lines

    def observed(self):
        o = self.o
        span = "[%s, %s]" % (self.rel(o["tb"]), self.rel(o["ta"]))
        if "tb2" in o:
            span += " then [%s, %s] after seekdir" % (self.rel(o["tb2"]), self.rel(o["ta2"]))
        if "names" in o:
            shown = "%d names" % len(o["names"])
        else:
            shown = o.get("err") or o.get("st") or repr(o.get("data"))
        self.add("  observed  mount %s %s /%s at %s: %s", o["m"], o["op"], o["p"], span, shown)
        if "names2" in o:
            n1, n2 = o.get("names", []), o["names2"]
            self.add("  before telldir: %d names, the last %s; after seekdir: %d names, the first %s",
                     len(n1), n1[-1] if n1 else "-", len(n2), n2[0] if n2 else "-")

    def window(self):
        c, v = self.c, self.v
        stale = c.faults and c.fault_windows.meets(self.o["tb"], self.o["ta"])
        self.add("  allowed   the registry at some instant in [%s, %s] (ttl %s + slack %s%s)", self.rel(v["w0"]),
                 self.rel(v["w1"]), c.ttl, v.get("slack", c.slack),
                 " + max_stale %s: a fault window" % c.max_stale if stale else "")
        lo, hi = self.h.k_range(v["w0"], v["w1"])
        vals = self.h.values_in(v["path"], lo, hi)
        self.add("  /%s in that window: %s", v["path"], "; ".join(describe(x) for _, x in vals))
        if "needed" in v:
            what = "absent" if v["kind"] in ("missing", "seek-skip") else "so"
            if v["needed"] is None:
                self.add("  never %s before the window", what)
            else:
                self.add("  last %s %.3f s before the window began", what, v["needed"])

    def hint(self):
        """What the usual causes of a missing name look like."""
        v = self.v
        if v["kind"] == "stale" and self.o["op"] == "seek" and v["w1"] == self.o.get("ta2"):
            self.add("  hint: shown after seekdir: the rest of a listing that expired since telldir?")
        if v["kind"] != "missing":
            return
        if self.o.get("err") == "ENOENT" and v.get("needed") is not None:
            self.add("  hint: it exists since %.3f s before the window began: a remembered \"no such\" answer "
                     "outliving ttl (negative_ttl)?", v["needed"])
            return
        name, image = v["path"].rsplit("/", 1)[-1], parent(v["path"])
        earlier = sorted({ch["tag"] for ch in self.h.changes
                          if ch.get("tag") and ch["tag"] < name and ch["repo"] + "/" + ch["image"] == image and
                          ch["t1"] >= v["w0"] and ch["t0"] <= v["w1"]})
        if earlier:
            self.add("  hint: %s, sorting before it, changed within the window: a paged listing of a moving list "
                     "may have shifted it out of both pages", ", ".join(earlier[:4]))

    def span(self):
        """The time around the violation that its history shows."""
        return (self.v.get("w0") or self.o["tb"]) - 10, self.o.get("ta2", self.o["ta"]) + 2

    def history(self):
        lo, hi = self.span()
        path = self.v["path"]
        self.add("  history of /%s (changes from %s to %s):", path, self.rel(lo), self.rel(hi))
        self.add("    [%s]                     initially: %s", self.rel(self.c.t_origin),
                 describe(self.h.value_at(path, 0)))
        for k, ch, val in self.h.path_changes(path, lo, hi):
            what = "%s %s/%s%s" % (ch["k"], ch["repo"], ch.get("image") or "",
                                   ":" + ch["tag"] if ch.get("tag") else "")
            self.add("    [%s, %s] change %d %s -> %s", self.rel(ch["t0"]), self.rel(ch["t1"]), k, what,
                     describe(val))

    def neighbours(self):
        """For a tag: the other changes of its image during the window."""
        path = self.v["path"]
        if not any(v and v[0] == "f" for v in self.h.values.get(path, ((), ()))[1]):
            return
        image = parent(path)
        t0, t1 = self.v.get("w0") or self.o["tb"], self.o.get("ta2", self.o["ta"])
        others = [(k, ch) for k, ch in enumerate(self.h.changes, 1)
                  if ch["repo"] + "/" + (ch.get("image") or "") == image and join(image, ch.get("tag") or "") != path
                  and ch["t1"] >= t0 and ch["t0"] <= t1]
        if not others:
            return
        self.add("  other changes in /%s within the window:", image)
        for k, ch in others[:MAX_OTHERS]:
            self.add("    [%s, %s] change %d %s %s", self.rel(ch["t0"]), self.rel(ch["t1"]), k, ch["k"],
                     ch.get("tag") or "(the image)")
        if len(others) > MAX_OTHERS:
            self.add("    ... %d more", len(others) - MAX_OTHERS)

    def events(self):
        lo, hi = self.span()
        near = [e for e in self.c.events if lo <= e["t0"] <= hi]
        if near:
            self.add("  trouble injected meanwhile:")
        for e in near:
            self.add("    [%s, %s] %s: %s", self.rel(e["t0"]), self.rel(e["t1"]), e["k"], e["what"])


def header(c, title):
    h = c.history
    rule = "[t_before - ttl - slack, t_after]; ttl=%s s, slack=%s s (%s s for re-reads of an open directory)" % (
        c.ttl, c.slack, c.copy_slack)
    if c.faults:
        rule += "; in API fault windows (+%s s grace) ttl + max_stale=%s s, errors only without a listing seen " \
                "within max_stale" % (c.grace, c.max_stale)
    return [title, "",
            "rule: every thing shown equals the registry at some instant within " + rule,
            "times: seconds since the registry's initial state was read (%s UTC)" %
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.t_origin)),
            "changes: %d over %.1f s; trouble injected: %d events" % (
                len(h.changes), (h.end[-1] - c.t_origin) if h.end else 0, len(c.events)),
            "served from a stale listing within a fault window: %d facts; errors tolerated in fault windows "
            "(no listing to serve): %d" % (c.n_stale, c.n_errors_allowed),
            "slowest call per operation: " + ", ".join("%s %.2f s" % kv for kv in sorted(c.slowest.items())),
            "", "summary: " + summary(c), ""] + ["warning: " + w for w in c.warnings] + ([""] if c.warnings else [])


def write_report(c, path, title, limit=30):
    """report.txt at path: the header and up to limit incidents; every
    violation in violations.jsonl beside it."""
    lines = header(c, title)
    incs = incidents(c)
    for i, inc in enumerate(incs[:limit], 1):
        lines.append("-- incident %d: %d %s violation%s on /%s from %s to %s (%s)" % (
            i, inc["n"], inc["kind"], "s" if inc["n"] > 1 else "", inc["path"],
            ("%.3f" % (inc["t0"] - c.t_origin)) if inc["t0"] else "-",
            ("%.3f" % (inc["t1"] - c.t_origin)) if inc["t1"] else "-", ", ".join(sorted(inc["ops"])) or "the run"))
        lines.extend(Timeline(c, inc["first"]).build())
        lines.append("")
    if len(incs) > limit:
        lines.append("(%d more incidents; every violation is in violations.jsonl)" % (len(incs) - limit))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(os.path.dirname(path), "violations.jsonl"), "w") as f:
        for v in c.violations:
            f.write(json.dumps(v) + "\n")
