"""procs.py -- the processes of a model run: uhub-sim, redis-server and
imgtagfs mounts, started the way tests/integration/lib.sh starts them
(foreground daemons with -f, a 0600 credentials file, loopback only), and
always torn down: Procs.close() unmounts every mount and ends every process
it started, by its own pid, and is safe to call twice (the driver calls it
from `finally`, and on SIGTERM/SIGINT).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

TEST_PUB = "ucloudsomeone@example.com1296235120854146120"
TEST_PRIV = "46f09bb9fab4f12dfc160dae12273d5332b5debe"


class ProcError(Exception):
    pass


def wait_for(pred, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise ProcError("timed out waiting for " + what)


def is_mountpoint(path):
    """From the mount table: a dead FUSE mount (ENOTCONN) counts too."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Sim:
    """uhub-sim on a free loopback port; its control endpoint."""

    def __init__(self, procs, binary, args, logdir):
        err = procs.file(os.path.join(logdir, "sim.err"))
        self.p = procs.spawn([binary, "--port", "0"] + args, stdout=subprocess.PIPE, stderr=err)
        line = self.p.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise ProcError("uhub-sim did not start: " + line)
        self.url = line.split()[2]

    def ctl(self, method, name, query="", timeout=10):
        req = urllib.request.Request("%s/_sim/%s%s" % (self.url, name, "?" + query if query else ""), method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def state(self):
        return json.loads(self.ctl("GET", "state"))


class Redis:
    """A redis-server of our own on a unix socket, no persistence; talks
    RESP itself (FLUSHALL, PING) so that no redis-cli is needed."""

    def __init__(self, procs, tmp):
        self.sock = os.path.join(tmp, "redis.sock")
        log = procs.file(os.path.join(tmp, "redis.out"))
        self.p = procs.spawn(["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
                              "--save", "", "--appendonly", "no", "--dir", tmp],
                             stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._ping(), 10, "redis-server")

    def command(self, *words, timeout=2):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            msg = "*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w), w) for w in words)
            s.sendall(msg.encode())
            return s.recv(4096).decode(errors="replace").strip()
        finally:
            s.close()

    def _ping(self):
        try:
            return self.command("PING", timeout=0.5) == "+PONG"
        except OSError:
            return False

    def stop(self):
        self.p.send_signal(signal.SIGSTOP)

    def cont(self):
        self.p.send_signal(signal.SIGCONT)


class Procs:
    """Owns every process and mount of a run."""

    def __init__(self, build, daemon=None):
        self.build = build
        self.daemon = daemon or os.path.join(build, "imgtagfs")
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="imgtagfs-model."))
        self.children = []
        self.mounts = []
        self.redis = []
        self.closed = False
        self.problems = []  # what went wrong while tearing down
        self.files = []

    def file(self, path):
        """A log file for a child's output, closed with the rest."""
        f = open(path, "ab")
        self.files.append(f)
        return f

    def spawn(self, argv, **kw):
        # A session of its own: a Ctrl-C reaches the driver, which then
        # unmounts and stops everything in order.
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.children.append(p)
        return p

    def creds(self):
        path = os.path.join(self.tmp, "creds")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("public_key=%s\nprivate_key=%s\n" % (TEST_PUB, TEST_PRIV))
        return path

    def mount(self, sim, opts, log):
        """Starts a daemon in the foreground (-f) as a child; returns the
        mount point once the mount is there."""
        mnt = os.path.join(self.tmp, "m%d" % len(self.mounts))
        os.mkdir(mnt)
        o = "endpoint=%s,credentials=%s,%s" % (sim.url, self.creds(), opts)
        logf = self.file(log)
        p = self.spawn([self.daemon, "uhub", mnt, "-f", "-o", o], stderr=logf,
                       stdout=subprocess.DEVNULL)
        self.mounts.append((mnt, p))
        try:
            wait_for(lambda: p.poll() is not None or is_mountpoint(mnt), 20, "the mount of " + mnt)
        except ProcError:
            raise ProcError("imgtagfs did not mount %s (see %s)" % (mnt, log))
        if p.poll() is not None:
            raise ProcError("imgtagfs exited with status %s (see %s)" % (p.returncode, log))
        return mnt

    def start_redis(self):
        r = Redis(self, self.tmp)
        self.redis.append(r)
        return r

    def close(self):
        """Unmounts, ends the daemons, then the simulator and Redis (a
        daemon's last fetches should not meet a dead API)."""
        if self.closed:
            return
        self.closed = True
        for r in self.redis:
            try:
                r.cont()
            except OSError:
                pass
        for mnt, p in self.mounts:
            if is_mountpoint(mnt):
                # Lazy: a reader thread may still hold a descriptor.
                subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)
        daemons = [p for _, p in self.mounts]
        self.end(daemons)
        self.end([p for p in self.children if p not in daemons])
        for mnt, _ in self.mounts:
            if is_mountpoint(mnt):
                subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        for f in self.files:
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def end(self, procs, seconds=10):
        """SIGTERM, then SIGKILL what is still running after seconds
        (noted in problems)."""
        for p in procs:
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + seconds
        for p in procs:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.problems.append("%s (pid %d) did not end within %d s of SIGTERM: killed" % (
                    os.path.basename(p.args[0]), p.pid, seconds))
                p.kill()
                p.wait()

    def daemon_status(self):
        """(mount point, exit status or None) of each mount."""
        return [(m, p.poll()) for m, p in self.mounts]
