#!/usr/bin/env python3
"""Slow-client probe: N clients each send half a request and then nothing; meanwhile a normal
client asks for /health once a second. Reports how long the normal client waited, and when
the server closed the slow sockets (or that it had not by the end).

    python3 bench/slow_clients.py PORT [N=2000] [SECONDS=40]
"""
import selectors
import socket
import sys
import time


def normal_request(port, timeout):
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        return data.startswith(b"HTTP/1.1 200"), time.time() - t0
    except OSError:
        return False, time.time() - t0


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    duration = float(sys.argv[3]) if len(sys.argv) > 3 else 40
    start = time.time()
    slow = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        slow.append(s)
    time.sleep(3)  # let the handshakes finish
    attached = []
    for s in slow:
        try:
            s.send(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            attached.append(s)
        except OSError:
            s.close()  # the handshake never completed: the listen queue was full
    open_socks = set(attached)
    sel = selectors.DefaultSelector()
    for s in attached:
        sel.register(s, selectors.EVENT_READ)
    closed_at = []
    waits = []
    next_probe = time.time()
    while time.time() - start < duration and open_socks:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                if s.recv(4096) == b"":
                    raise OSError
            except OSError:
                open_socks.discard(s)
                sel.unregister(s)
                closed_at.append(time.time() - start)
                s.close()
        if time.time() >= next_probe:
            waits.append(normal_request(port, 30))
            next_probe = time.time() + 1
    ok = [w for good, w in waits if good]
    print(f"slow clients: {n}, connected: {len(attached)}; closed by the server: {len(closed_at)}"
          + (f" (first at {min(closed_at):.1f} s, last at {max(closed_at):.1f} s)" if closed_at else "")
          + f"; still open after {time.time() - start:.0f} s: {len(open_socks)}")
    if ok:
        print(f"normal requests meanwhile: {len(ok)}/{len(waits)} answered; "
              f"wait max {max(ok):.2f} s, first answered after {ok[0]:.2f} s")
    else:
        print(f"normal requests meanwhile: 0/{len(waits)} answered")


if __name__ == "__main__":
    main()
