"""registry.py -- what the registry held, and what a mount must show for it.

A registry state is the simulator's data (repositories, images, tags with
digests and times). `tree()` maps a state to the paths a mount shows: the
private repositories under the root, an image name's components as
directories (a prefix directory carries the newest time of the images below
it), the tags as files whose bytes are "digest: ...\\nupdated: ...\\n".
`History` replays the changes a run made, each with the interval of wall
time in which it took effect, and answers the one question the checker asks:
did path P hold a value satisfying a predicate at some instant within
[w0, w1]?
"""

import bisect
import copy
import time

ABSENT = None


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def tag_bytes(digest, t):
    """The bytes of a tag file (tagfile.c): the digest line only when the
    registry holds a digest."""
    head = "digest: %s\n" % digest if digest else ""
    return (head + "updated: %s\n" % rfc3339(t)).encode()


def file_node(digest, t):
    return ("f", tag_bytes(digest, t), t)


def dir_node(t):
    return ("d", t)


def describe(v):
    """A node as one short line of a report."""
    if v is ABSENT:
        return "absent"
    if v[0] == "d":
        return "dir mtime=%s" % v[1]
    lines = v[1].decode(errors="replace").strip().split("\n")
    digest = next((line[8:23] + ".." for line in lines if line.startswith("digest: ")), "none")
    return "file digest=%s mtime=%s size=%d" % (digest, v[2], len(v[1]))


class State:
    """The simulator's registry, as GET /_sim/state gives it, and the
    mutations the control endpoint makes (sim_registry.c semantics)."""

    def __init__(self, dump):
        self.repos = {}
        for r in dump["repos"]:
            imgs = {}
            for i in r.get("images", []):
                tags = {t["name"]: (t.get("digest"), t["update_time"]) for t in i.get("tags", [])}
                imgs[i["name"]] = {"time": i["update_time"], "tags": tags}
            self.repos[r["name"]] = {"public": r.get("type") == "public", "time": r["update_time"], "images": imgs}

    def copy(self):
        return copy.deepcopy(self)

    def apply(self, ch):
        """Applies one change record ({"k": "push"|"delete", ...}); returns
        the repository it touched."""
        repo = ch["repo"]
        if ch["k"] == "push":
            t = ch["time"]
            rp = self.repos.setdefault(repo, {"public": False, "time": t, "images": {}})
            img = rp["images"].setdefault(ch["image"], {"time": t, "tags": {}})
            img["tags"][ch["tag"]] = (ch.get("digest"), t)
            img["time"] = max(img["time"], t)
            rp["time"] = max(rp["time"], t)
        elif ch.get("tag") is not None:
            del self.repos[repo]["images"][ch["image"]]["tags"][ch["tag"]]
        elif ch.get("image") is not None:
            del self.repos[repo]["images"][ch["image"]]
        else:
            del self.repos[repo]
        return repo

    def same_as(self, other):
        return self.repos == other.repos

    def repo_tree(self, repo):
        """{path: node} of one repository's subtree (empty if it is gone
        or public)."""
        out = {}
        rp = self.repos.get(repo)
        if rp is None or rp["public"]:
            return out
        out[repo] = dir_node(rp["time"])
        prefix_time = {}
        for name, img in rp["images"].items():
            parts = name.split("/")
            for n in range(1, len(parts)):
                p = "/".join(parts[:n])
                prefix_time[p] = max(prefix_time.get(p, img["time"]), img["time"])
        for p, t in prefix_time.items():
            if p not in rp["images"]:
                out[repo + "/" + p] = dir_node(t)
        for name, img in rp["images"].items():
            base = repo + "/" + name
            out[base] = dir_node(img["time"])
            for tag, (digest, t) in img["tags"].items():
                # A tag named like a nested image directory is NAME@tag.
                shown = tag + "@tag" if (name + "/" + tag) in prefix_time or (name + "/" + tag) in rp["images"] else tag
                out[base + "/" + shown] = file_node(digest, t)
        return out


def parent(path):
    return path.rsplit("/", 1)[0] if "/" in path else ""


class History:
    """Every value each path held, indexed by change number: state k is the
    registry after the first k changes. Change i (1-based) took effect at an
    unknown instant within [start[i-1], end[i-1]]; the changes come from one
    thread, one after another, so their intervals do not overlap."""

    def __init__(self, initial):
        self.initial = initial.copy()
        self.state = initial.copy()
        self.start, self.end, self.changes = [], [], []
        self.values = {}  # path -> ([k...], [value...]) sorted by k
        self.children = {}  # dir path -> every name it ever held
        self._set_tree({}, self._tree(self.state), 0)

    def _tree(self, st, repos=None):
        out = {"": dir_node(None)}
        for r in repos if repos is not None else st.repos:
            out.update(st.repo_tree(r))
        return out

    def _set_tree(self, old, new, k):
        for p in set(old) | set(new):
            a, b = old.get(p, ABSENT), new.get(p, ABSENT)
            if a == b:
                continue
            ks, vs = self.values.setdefault(p, ([0], [ABSENT]))
            if ks[-1] == k:
                vs[-1] = b
            else:
                ks.append(k)
                vs.append(b)
            if p:
                self.children.setdefault(parent(p), set()).add(p.rsplit("/", 1)[-1])

    def add(self, ch):
        """Appends one successful change (with t0 and t1)."""
        repo = ch["repo"]
        old = self.state.repo_tree(repo)
        self.state.apply(ch)
        self.changes.append(ch)
        self.start.append(ch["t0"])
        self.end.append(ch["t1"])
        self._set_tree(old, self.state.repo_tree(repo), len(self.changes))

    def k_range(self, w0, w1):
        """The states that may have been current at some instant within
        [w0, w1]: state k was current from change k's effect to change
        k+1's, so it qualifies when start[k-1] <= w1 and end[k] > w0."""
        lo = bisect.bisect_right(self.end, w0)
        hi = bisect.bisect_right(self.start, w1)
        return lo, max(lo, hi)

    def value_at(self, path, k):
        ks, vs = self.values.get(path, ([0], [ABSENT]))
        return vs[bisect.bisect_right(ks, k) - 1]

    def values_in(self, path, lo, hi):
        """The values path held in states lo..hi, in order, as (k, value)."""
        ks, vs = self.values.get(path, ([0], [ABSENT]))
        i = bisect.bisect_right(ks, lo) - 1
        out = [(lo, vs[i])]
        for j in range(i + 1, len(ks)):
            if ks[j] > hi:
                break
            out.append((ks[j], vs[j]))
        return out

    def held(self, path, w0, w1, pred):
        lo, hi = self.k_range(w0, w1)
        return any(pred(v) for _, v in self.values_in(path, lo, hi))

    def last_held_before(self, path, w0, pred):
        """The latest instant before w0 at which path may have held a value
        satisfying pred (the end of the interval of the change that ended
        it), or None if it never did: how much more window a violation
        would have needed."""
        ks, vs = self.values.get(path, ([0], [ABSENT]))
        lo, _ = self.k_range(w0, w0)
        i = bisect.bisect_right(ks, lo) - 1
        for j in range(i, -1, -1):
            if pred(vs[j]):
                nxt = ks[j + 1] if j + 1 < len(ks) else None
                return self.end[nxt - 1] if nxt else None
        return None

    def path_changes(self, path, t0, t1):
        """The changes of path whose intervals meet [t0, t1], as
        (change index, change record, new value)."""
        ks, vs = self.values.get(path, ([0], [ABSENT]))
        out = []
        for k, v in zip(ks, vs):
            if k == 0:
                continue
            if self.end[k - 1] >= t0 and self.start[k - 1] <= t1:
                out.append((k, self.changes[k - 1], v))
        return out
