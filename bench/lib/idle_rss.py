"""Resident memory a proxy process spends per idle client session.

    python3 bench/lib/idle_rss.py --pid PID --port PORT [--sessions 250] [--tls]
                                  [--user postgres] [--database postgres] [--warmup 5]
                                  [--query SQL] [--per-session]

Opens WARMUP sessions first (what a process sets up once, such as its threads' first
buffers, is then not counted), then SESSIONS sessions to 127.0.0.1:PORT (trust
authentication), each of which runs QUERY (SELECT 1; e.g. one with a large result) and then
stays idle, waits for the process to settle, and prints "<VmRSS before in KiB> <VmRSS with
the sessions in KiB>" of PID (bench/run.sh reads that), or with --per-session a sentence
with the KiB per session.
Plain sockets speaking the startup protocol, so no driver is needed. --tls sends an
SSLRequest first and talks TLS (no certificate verification), as bench/run.sh --tls does.
"""
import argparse
import socket
import ssl
import struct
import time


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def read_until_ready(sock):
    """Reads messages up to ReadyForQuery; an ErrorResponse is an error."""
    buffer = b""
    while True:
        while len(buffer) >= 5:
            kind = buffer[0:1]
            length = struct.unpack("!I", buffer[1:5])[0]
            if len(buffer) < 1 + length:
                break
            body, buffer = buffer[5:1 + length], buffer[1 + length:]
            if kind == b"E":
                raise RuntimeError("server error: " + body.decode(errors="replace"))
            if kind == b"Z":
                return
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buffer += chunk


def open_session(port, use_tls, user="postgres", database="postgres", sql="SELECT 1"):
    sock = socket.create_connection(("127.0.0.1", port))
    if use_tls:
        sock.sendall(struct.pack("!II", 8, 80877103))
        if sock.recv(1) != b"S":
            raise RuntimeError("TLS refused")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    params = (b"user\0" + user.encode() + b"\0database\0" + database.encode()
              + b"\0application_name\0idle_rss\0\0")
    sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    read_until_ready(sock)
    query = sql.encode() + b"\0"
    sock.sendall(b"Q" + struct.pack("!I", 4 + len(query)) + query)
    read_until_ready(sock)
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database", default="postgres")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--query", default="SELECT 1", help="what each session runs first")
    parser.add_argument("--per-session", action="store_true")
    args = parser.parse_args()

    def session():
        return open_session(args.port, args.tls, args.user, args.database, args.query)

    # A few sessions first, so what the first session alone sets up is not counted.
    for sock in [session() for _ in range(args.warmup)]:
        sock.close()
    time.sleep(1)
    before = vmrss_kib(args.pid)
    sessions = [session() for _ in range(args.sessions)]
    time.sleep(2)  # idle: whatever the proxy gives back when a session goes idle
    after = vmrss_kib(args.pid)
    for sock in sessions:
        sock.close()
    if args.per_session:
        print(f"VmRSS before {before} KiB, with {args.sessions} more idle sessions {after} KiB: "
              f"{(after - before) / args.sessions:.1f} KiB per session")
    else:
        print(before, after)


if __name__ == "__main__":
    main()
