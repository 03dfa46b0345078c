#!/usr/bin/env python3
"""rproxy.py — a Redis stand-in for the review's reproductions.

  rproxy.py LISTEN_SOCK BACKEND_SOCK CONTROL_FILE

Forwards every connection to BACKEND_SOCK (a real redis-server), except:
  TIME           answered here, shifted by CONTROL_FILE's "shift=MS" (Redis's
                 clock stepped; re-read at each TIME)
  GET            when CONTROL_FILE says "get=bigarray": answered with
                 *100000000 and then ":1\\r\\n" as fast as the client reads
                 (a garbage server's many small elements); "get=hugebulk":
                 a 1 GB bulk string, as fast as read; "get=trickle": a 5000
                 byte bulk, one byte every 20 ms; "get=mute": GET and SET
                 never answered (the connection otherwise fine); "get=mute-get":
                 GET only
Only the request/reply pattern imgtagfs uses (one command at a time) is
handled, which is all it needs.
"""
import os, socket, sys, threading, time

listen, backend, ctl = sys.argv[1:4]

def control():
    d = {}
    try:
        for part in open(ctl).read().split():
            k, _, v = part.partition("=")
            d[k] = v
    except OSError:
        pass
    return d

def parse_cmd(buf):
    """One RESP array command from buf: (args, rest) or (None, buf)."""
    if not buf.startswith(b"*"):
        return None, buf
    try:
        i = buf.index(b"\r\n")
        n = int(buf[1:i]); p = i + 2; args = []
        for _ in range(n):
            j = buf.index(b"\r\n", p)
            ln = int(buf[p + 1:j]); p = j + 2
            if len(buf) < p + ln + 2:
                return None, buf
            args.append(buf[p:p + ln]); p += ln + 2
        return args, buf[p:]
    except ValueError:
        return None, buf

def pump(src, dst):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            dst.sendall(d)
    except OSError:
        pass
    for s in (src, dst):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass

def serve(c):
    b = socket.socket(socket.AF_UNIX); b.connect(backend)
    threading.Thread(target=pump, args=(b, c), daemon=True).start()
    buf = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
            while True:
                args, rest = parse_cmd(buf)
                if args is None:
                    break
                raw = buf[:len(buf) - len(rest)]; buf = rest
                cmd = args[0].upper()
                ctl_ = control()
                if cmd == b"TIME":
                    t = time.time() * 1000 + int(ctl_.get("shift", "0"))
                    s, us = int(t // 1000), int((t % 1000) * 1000)
                    c.sendall(b"*2\r\n$%d\r\n%d\r\n$%d\r\n%d\r\n" % (len(str(s)), s, len(str(us)), us))
                elif cmd == b"GET" and ctl_.get("get") == "bigarray":
                    c.sendall(b"*100000000\r\n")
                    chunk = b":1\r\n" * 16384
                    while True:
                        c.sendall(chunk)
                elif cmd == b"GET" and ctl_.get("get") == "hugebulk":
                    c.sendall(b"$1000000000\r\n")
                    chunk = b"x" * 65536
                    while True:
                        c.sendall(chunk)
                elif cmd == b"GET" and ctl_.get("get") == "trickle":
                    for ch in b"$5000\r\n" + b"y" * 5000 + b"\r\n":
                        c.sendall(bytes([ch])); time.sleep(0.02)
                elif cmd == b"GET" and ctl_.get("get") == "mute-get":
                    time.sleep(3600)
                elif cmd in (b"GET", b"SET") and ctl_.get("get") == "mute":
                    time.sleep(3600)
                else:
                    b.sendall(raw)
            if buf and not buf.startswith(b"*"):
                b.sendall(buf); buf = b""  # inline commands: pass through
    except OSError:
        pass
    try: b.close()
    except OSError: pass
    c.close()

if os.path.exists(listen):
    os.unlink(listen)
srv = socket.socket(socket.AF_UNIX); srv.bind(listen); srv.listen(64)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
