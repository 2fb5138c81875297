#!/usr/bin/env python3
"""Writes a synthetic Ethernet pcap for benchmarks: bulk TCP streams plus tens of
thousands of short connections (some refused, some reset), in time order, with
a 128-byte snaplen as a real capture of headers would have.

  make-capture.py OUT [PACKETS]     (default 1,200,000 packets)

Addresses are documentation ranges; nothing is sent anywhere."""
import heapq
import random
import struct
import sys

SNAPLEN = 128
MAC = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])


def ip_bytes(text):
    return bytes(int(part) for part in text.split("."))


def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src, dst, sport, dport, flags, seq, ack, payload, ident, window=65000):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, window, 0, 0)
    total = 20 + len(tcp) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    wire = MAC + b"\x08\x00" + header + tcp
    return wire, len(wire) + payload


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def short_connection(rng, index, start):
    """Yields (time, src, dst, sport, dport, flags, seq, ack, payload)."""
    client = ip_bytes("198.51.100.%d" % (1 + index % 200))
    server = ip_bytes("203.0.113.%d" % (1 + index % 50))
    sport, dport = 10000 + index % 50000, 443 if index % 3 else 8080
    t, rtt = start, 0.0005 + rng.random() * 0.002
    kind = rng.random()
    yield t, client, server, sport, dport, SYN, 0, 0, 0
    if kind < 0.05:  # refused
        yield t + rtt, server, client, dport, sport, RST | ACK, 0, 1, 0
        return
    yield t + rtt, server, client, dport, sport, SYN | ACK, 0, 1, 0
    yield t + 2 * rtt, client, server, sport, dport, ACK, 1, 1, 0
    yield t + 2 * rtt + 0.0001, client, server, sport, dport, ACK | PSH, 1, 1, 300
    yield t + 3 * rtt, server, client, dport, sport, ACK | PSH, 1, 301, 1200
    if kind < 0.15:  # reset by one side after the exchange
        if kind < 0.10:
            yield t + 3 * rtt + 0.2, client, server, sport, dport, RST | ACK, 301, 1201, 0
        else:
            yield t + 3 * rtt + 0.2, server, client, dport, sport, RST | ACK, 1201, 301, 0
        return
    yield t + 4 * rtt, client, server, sport, dport, FIN | ACK, 301, 1201, 0
    yield t + 5 * rtt, server, client, dport, sport, FIN | ACK, 1201, 302, 0
    yield t + 6 * rtt, client, server, sport, dport, ACK, 302, 1202, 0


def bulk_stream(index, start, segments):
    client, server = ip_bytes("198.51.100.%d" % (210 + index)), ip_bytes("203.0.113.%d" % (100 + index))
    sport, dport = 30000 + index, 9000
    t = start
    yield t, client, server, sport, dport, SYN, 0, 0, 0
    yield t + 0.001, server, client, dport, sport, SYN | ACK, 0, 1, 0
    yield t + 0.002, client, server, sport, dport, ACK, 1, 1, 0
    seq = 1
    for n in range(segments):
        t += 0.00002
        yield t, server, client, dport, sport, ACK, 1, 1 + 1448 * n, 0 if False else 0
        yield t + 0.00001, client, server, sport, dport, ACK | PSH, seq, 1, 1448
        seq += 1448
    yield t + 0.001, client, server, sport, dport, FIN | ACK, seq, 1, 0
    yield t + 0.002, server, client, dport, sport, FIN | ACK, 1, seq + 1, 0
    yield t + 0.003, client, server, sport, dport, ACK, seq + 1, 2, 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    target = int(argv[2]) if len(argv) > 2 else 1_200_000
    rng = random.Random(42)
    generators = []
    shorts = 40_000
    for index in range(shorts):
        generators.append(short_connection(rng, index, rng.random() * 20.0))
    bulk_packets = max(0, target - shorts * 8)
    streams = 20
    for index in range(streams):
        generators.append(bulk_stream(index, rng.random() * 2.0, bulk_packets // (2 * streams)))
    merged = heapq.merge(*generators, key=lambda event: event[0])
    ident = 0
    with open(argv[1], "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))
        count = 0
        for t, src, dst, sport, dport, flags, seq, ack, payload in merged:
            ident += 1
            wire, length = frame(src, dst, sport, dport, flags, seq, ack, payload, ident)
            captured = wire[:SNAPLEN]
            seconds = 1_700_000_000 + int(t)
            micros = int((t - int(t)) * 1e6)
            out.write(struct.pack("<IIII", seconds, micros, len(captured), length) + captured)
            count += 1
    print(f"{argv[1]}: {count} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
