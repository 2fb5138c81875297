#!/usr/bin/env python3
"""Scripted TCP/UDP/DNS behaviour for capplan's packet tests: real sockets, bounded in
count and time, only on addresses the test's own network namespaces hold.

  traffic.py server ADDRESS      run every server scenario on ADDRESS until killed
  traffic.py client SERVER [SILENT] [UNREACHABLE] [IDLE_SECONDS]
                                 run every client scenario once, concurrently, then exit
  traffic.py endpoint ADDRESS PORT [RESET_AFTER]
                                 an "external endpoint": answers one request per connection, then
                                 holds it; with RESET_AFTER, resets a connection idle that long
                                 (a load balancer's idle timeout); runs until killed (bounded: 10 min)
  traffic.py request HOST PORT SECONDS reset|wait
                                 one request, then idle SECONDS and reset (the pod gives up), or
                                 wait up to SECONDS for the far end to close or reset
  traffic.py churn HOST PORT SECONDS SEED
                                 busy, mostly healthy traffic for SECONDS (at most 600): a short
                                 request every 0.25 s, closed with FIN; and, at moments drawn from
                                 SEED, a connection that idles 0.5 to 8 s and is then reset by
                                 this side (an intermittent fault). Prints when each reset comes.
  traffic.py connect HOST PORT TIMEOUT   one connection attempt (refused, or unanswered)
  traffic.py dns SERVER           two lookups: api.example.test (answered), missing.example.test (NXDOMAIN)
  traffic.py flood COUNT ADDRESS  COUNT datagrams to port 9999 as fast as one socket goes (at most 3 s)
  traffic.py udp COUNT ADDRESS...  send COUNT rounds of one datagram to port 9999 of each
                                 address, 2 ms apart (the live-capture tests count them)

Scenarios (ports on the server):
  8001  graceful: client sends 'hello', server replies, both close with FIN     -> SF
  8002  server resets: server reads the request, then closes with SO_LINGER 0   -> RSTR
  8003  client resets after idle: client sends, idles IDLE_SECONDS, then RST    -> RSTO
  8004  nothing listens: the kernel answers the SYN with RST                   -> REJ
  8005  HTTP with planted secrets (Authorization, Cookie, a password) in the clear -> SF
  SILENT:443       SYNs dropped silently on the way                             -> S0
  UNREACHABLE:443  a router answers with ICMP host unreachable
  UDP 9            closed UDP port: ICMP port unreachable from the server
  UDP 53           DNS: names with 'missing' get NXDOMAIN, others an A record
"""
import random
import socket
import struct
import sys
import threading
import time

LINGER_RESET = struct.pack("ii", 1, 0)


def serve_graceful(address):
    with socket.create_server((address, 8001)) as listener:
        while True:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"world")
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1024)


def serve_reset(address):
    with socket.create_server((address, 8002)) as listener:
        while True:
            conn, _ = listener.accept()
            conn.recv(1024)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            conn.close()


def serve_idle(address):
    with socket.create_server((address, 8003)) as listener:
        while True:
            conn, _ = listener.accept()
            conn.recv(1024)
            conn.sendall(b"ok")
            conn.settimeout(30)
            try:
                conn.recv(1024)
            except OSError:
                pass
            conn.close()


SECRET_REQUEST = (b"POST /login HTTP/1.1\r\nHost: api.example.test\r\nAuthorization: Bearer s3cr3t-t0ken-4711\r\n"
                  b"Cookie: session=c00kie-0815\r\nContent-Length: 24\r\n\r\npassword=hunter2-planted")
SECRET_RESPONSE = b"HTTP/1.1 200 OK\r\nSet-Cookie: session=c00kie-0815\r\nContent-Length: 2\r\n\r\nok"


def serve_http(address):
    with socket.create_server((address, 8005)) as listener:
        while True:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(SECRET_RESPONSE)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1024)


def dns_answer(query):
    """NXDOMAIN for names containing 'missing', else one A record 203.0.113.53."""
    ident, _flags, qdcount = struct.unpack("!HHH", query[:6])
    cursor, labels = 12, []
    while query[cursor] != 0:
        length = query[cursor]
        labels.append(query[cursor + 1:cursor + 1 + length].decode())
        cursor += 1 + length
    question = query[12:cursor + 5]
    missing = any("missing" in label for label in labels)
    flags = 0x8183 if missing else 0x8180
    answers = 0 if missing else 1
    header = struct.pack("!HHHHHH", ident, flags, qdcount, answers, 0, 0)
    body = question
    if not missing:
        body += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("203.0.113.53")
    return header + body


def serve_dns(address):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 53))
        while True:
            query, peer = sock.recvfrom(512)
            sock.sendto(dns_answer(query), peer)


def dns_query(name, ident):
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)


def client_graceful(server):
    with socket.create_connection((server, 8001), timeout=5) as conn:
        conn.sendall(b"hello")
        conn.recv(1024)
        conn.recv(1024)


def client_server_resets(server):
    with socket.create_connection((server, 8002), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\n\r\n")
        try:
            conn.recv(1024)
        except ConnectionResetError:
            pass


def client_idle_reset(server, idle):
    conn = socket.create_connection((server, 8003), timeout=5)
    conn.sendall(b"ping")
    conn.recv(1024)
    time.sleep(idle)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    conn.close()


def client_http(server):
    with socket.create_connection((server, 8005), timeout=5) as conn:
        conn.sendall(SECRET_REQUEST)
        while conn.recv(4096):
            pass


def client_refused(server):
    try:
        socket.create_connection((server, 8004), timeout=5).close()
    except ConnectionRefusedError:
        pass


def client_unanswered(address):
    try:
        socket.create_connection((address, 443), timeout=3.5).close()
    except OSError:
        pass


def client_udp_closed(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"anyone?", (server, 9))
        time.sleep(0.2)


def client_dns(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for ident, name in ((0x1001, "api.example.test"), (0x1002, "missing.example.test")):
            sock.sendto(dns_query(name, ident), (server, 53))
            sock.recvfrom(512)


REQUEST = b"GET /orders HTTP/1.1\r\nHost: api.example.test\r\n\r\n"


def churn(host, port, seconds, seed):
    rng = random.Random(seed)
    seconds = min(seconds, 600.0)
    schedule = []  # (opens at, idles for) of each connection that ends in a reset
    moment = rng.uniform(3, 10)
    while moment < seconds - 3:
        schedule.append((moment, rng.uniform(0.5, 8)))
        moment += rng.uniform(4, 14)
    start = time.monotonic()

    def exchange():
        conn = socket.create_connection((host, port), timeout=5)
        conn.sendall(REQUEST)
        conn.recv(4096)
        return conn

    def reset_later(opens, idle):
        time.sleep(max(0.0, opens - (time.monotonic() - start)))
        conn = exchange()
        time.sleep(idle)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        conn.close()
        print(f"reset at {time.monotonic() - start:.3f} s after {idle:.1f} s idle", flush=True)

    threads = [threading.Thread(target=reset_later, args=item, daemon=True) for item in schedule]
    for thread in threads:
        thread.start()
    while time.monotonic() - start < seconds:
        try:
            exchange().close()
        except OSError as error:
            print(f"churn: {error}", flush=True)
        time.sleep(0.25)
    for thread in threads:
        thread.join(timeout=10)


def main(argv):
    if len(argv) >= 3 and argv[1] == "server":
        address = argv[2]
        for target in (serve_graceful, serve_reset, serve_idle, serve_dns, serve_http):
            threading.Thread(target=target, args=(address,), daemon=True).start()
        print("ready", flush=True)
        time.sleep(120)  # bounded: the test kills it long before
        return 0
    if len(argv) >= 3 and argv[1] == "client":
        server = argv[2]
        silent = argv[3] if len(argv) > 3 else None
        unreachable = argv[4] if len(argv) > 4 else None
        idle = float(argv[5]) if len(argv) > 5 else 5.5
        jobs = [(client_graceful, (server,)), (client_server_resets, (server,)), (client_idle_reset, (server, idle)),
                (client_refused, (server,)), (client_udp_closed, (server,)), (client_dns, (server,)), (client_http, (server,))]
        if silent:
            jobs.append((client_unanswered, (silent,)))
        if unreachable:
            jobs.append((client_unanswered, (unreachable,)))
        threads = [threading.Thread(target=job, args=args) for job, args in jobs]
        for thread in threads:
            thread.start()
            time.sleep(0.05)  # a stable order of first packets
        for thread in threads:
            thread.join(timeout=30)
        return 0
    if len(argv) >= 4 and argv[1] == "endpoint":
        reset_after = float(argv[4]) if len(argv) > 4 else None

        def hold(conn):
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                conn.settimeout(reset_after if reset_after else 600)
                try:
                    if conn.recv(4096) == b"":
                        return
                except socket.timeout:
                    if reset_after:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                except OSError:
                    return

        with socket.create_server((argv[2], int(argv[3]))) as listener:
            print("ready", flush=True)
            listener.settimeout(600)
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=hold, args=(conn,), daemon=True).start()
    if len(argv) >= 6 and argv[1] == "request":
        conn = socket.create_connection((argv[2], int(argv[3])), timeout=5)
        conn.sendall(b"GET /orders HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
        conn.recv(4096)
        if argv[5] == "reset":
            time.sleep(float(argv[4]))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            conn.close()
            return 0
        conn.settimeout(float(argv[4]))
        try:
            conn.recv(4096)
        except (ConnectionResetError, socket.timeout):
            pass
        conn.close()
        return 0
    if len(argv) >= 6 and argv[1] == "churn":
        churn(argv[2], int(argv[3]), float(argv[4]), int(argv[5]))
        return 0
    if len(argv) >= 5 and argv[1] == "connect":
        try:
            socket.create_connection((argv[2], int(argv[3])), timeout=float(argv[4])).close()
        except OSError as error:
            print(f"connect: {error}", flush=True)
        return 0
    if len(argv) >= 3 and argv[1] == "dns":
        client_dns(argv[2])
        return 0
    if len(argv) >= 4 and argv[1] == "flood":
        # As fast as one socket goes, bounded in count and in time (3 s).
        deadline = time.monotonic() + 3
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for index in range(int(argv[2])):
                sock.sendto(b"capplan flood", (argv[3], 9999))
                if index % 1000 == 0 and time.monotonic() > deadline:
                    break
        return 0
    if len(argv) >= 4 and argv[1] == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for index in range(int(argv[2])):
                for address in argv[3:]:
                    sock.sendto(b"capplan %d" % index, (address, 9999))
                time.sleep(0.002)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
