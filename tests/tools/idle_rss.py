#!/usr/bin/env python3
"""RSS a proxy holds per idle client session.

    python3 tests/tools/idle_rss.py --port PORT --pid PID [-n 250] [--tls] [--user postgres]
                                    [--database app] [--warmup 10] [--query SQL]

Opens `--warmup` sessions first (so that what a process allocates once, such as the
thread pools' first buffers, is not counted), then N sessions that each log in (trust
authentication: StartupMessage, then messages up to ReadyForQuery), send one query (--query,
e.g. one with a large result) and go idle. Prints VmRSS of process PID before and after, and the difference per session in KiB.
Plain sockets only: no driver needed. With --tls every session sends SSLRequest first.
"""
import argparse
import socket
import ssl
import struct
import time


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def read_until_ready(sock):
    while True:
        header = read_exact(sock, 5)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        body = read_exact(sock, length - 4)
        if kind == b"E":
            raise RuntimeError("server error: " + body.decode(errors="replace"))
        if kind == b"Z":
            return


def open_session(port, user, database, use_tls, query="SELECT 1"):
    sock = socket.create_connection(("127.0.0.1", port))
    if use_tls:
        sock.sendall(struct.pack("!II", 8, 80877103))
        if read_exact(sock, 1) != b"S":
            raise RuntimeError("TLS refused")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    read_until_ready(sock)
    query = query.encode() + b"\0"
    sock.sendall(b"Q" + struct.pack("!I", 4 + len(query)) + query)
    read_until_ready(sock)
    return sock


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("-n", type=int, default=250)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database", default="app")
    parser.add_argument("--query", default="SELECT 1", help="what each session runs before idling")
    args = parser.parse_args()

    warm = [open_session(args.port, args.user, args.database, args.tls, args.query) for _ in range(args.warmup)]
    time.sleep(0.5)
    before = vm_rss_kib(args.pid)
    sessions = [open_session(args.port, args.user, args.database, args.tls, args.query) for _ in range(args.n)]
    time.sleep(1.0)  # every session idle, its last answer written
    after = vm_rss_kib(args.pid)
    print(f"VmRSS before {before} KiB, with {args.n} more idle sessions {after} KiB: "
          f"{(after - before) / args.n:.1f} KiB per session")
    for s in sessions + warm:
        s.close()


if __name__ == "__main__":
    main()
