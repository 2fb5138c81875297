#!/usr/bin/env python3
"""Writes the captures of the cost-as-work-grows benchmark (scripts/bench-scale), classic pcap,
Ethernet, 128-byte snaplen, documentation addresses only; nothing is sent anywhere.

  make-scale.py connections OUT N   N TCP connections, three packets each (SYN, SYN-ACK, ACK),
                                    a new one every 10 us; one in ten is reset by its client
                                    right after, the rest stay open to the end
  make-scale.py stream OUT BYTES    one TCP connection carrying BYTES of payload in 1448-byte
                                    segments (an ACK every second one), captured headers only;
                                    OUT - writes to standard output, so a 10 GB stream need not be stored
"""
import struct
import sys

SNAPLEN = 128
MAC = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
GLOBAL_HEADER = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, SNAPLEN, 1)  # nanosecond timestamps


def frame(src, dst, sport, dport, flags, seq, ack, payload, ident):
    """The captured bytes (headers only) and the length on the wire."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65000, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + payload, ident & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    wire = MAC + b"\x08\x00" + ip + tcp
    return wire, len(wire) + payload


def record(out, nanos, data, length):
    out.write(struct.pack("<IIII", nanos // 1_000_000_000, nanos % 1_000_000_000, len(data), length))
    out.write(data)


def connections(out, count):
    servers = [bytes([203, 0, 113, 1 + n]) for n in range(50)]
    nanos = 1_700_000_000 * 1_000_000_000
    for index in range(count):
        client = bytes([198, 51, 100, 1 + index % 250])
        server = servers[index % 50]
        sport = 1024 + (index // 250) % 64000
        dport = 443
        t = nanos + index * 10_000
        for offset, (src, dst, sp, dp, flags, seq, ack) in enumerate((
                (client, server, sport, dport, SYN, 0, 0),
                (server, client, dport, sport, SYN | ACK, 0, 1),
                (client, server, sport, dport, ACK, 1, 1))):
            data, length = frame(src, dst, sp, dp, flags, seq, ack, 0, index * 3 + offset)
            record(out, t + offset * 3_000, data, length)
        if index % 10 == 0:
            data, length = frame(client, server, sport, dport, RST | ACK, 1, 1, 0, index * 3 + 3)
            record(out, t + 9_000, data, length)


def stream(out, total):
    client, server = bytes([198, 51, 100, 10]), bytes([203, 0, 113, 12])
    nanos = 1_700_000_000 * 1_000_000_000
    for offset, (src, dst, sp, dp, flags, seq, ack) in enumerate((
            (client, server, 40000, 443, SYN, 0, 0), (server, client, 443, 40000, SYN | ACK, 0, 1),
            (client, server, 40000, 443, ACK, 1, 1))):
        data, length = frame(src, dst, sp, dp, flags, seq, ack, 0, offset)
        record(out, nanos + offset * 100_000, data, length)
    # Templates whose sequence numbers, IP ID and time are patched in place: millions of segments.
    segment, segment_length = frame(server, client, 443, 40000, ACK | PSH, 0, 1, 1448, 0)
    answer, answer_length = frame(client, server, 40000, 443, ACK, 1, 0, 0, 0)
    segment, answer = bytearray(segment), bytearray(answer)
    header = bytearray(16)

    def emit(template, length, number_at, number, t, ident):
        # The template's IP ID and its sequence (at 38) or acknowledgment (at 42) number, patched.
        struct.pack_into("!H", template, 18, ident & 0xFFFF)
        struct.pack_into("!I", template, number_at, number & 0xFFFFFFFF)
        struct.pack_into("<IIII", header, 0, t // 1_000_000_000, t % 1_000_000_000, len(template), length)
        out.write(header)
        out.write(template)

    sent, t, ident = 0, nanos + 1_000_000, 3
    while sent < total:
        emit(segment, segment_length, 38, 1 + sent, t, ident)
        sent += 1448
        t += 1_200  # about 10 Gbit/s
        ident += 1
        if (sent // 1448) % 2 == 0:
            emit(answer, answer_length, 42, 1 + sent, t, ident)
            t += 300
            ident += 1
    for src, dst, sp, dp, flags, seq, ack in ((client, server, 40000, 443, FIN | ACK, 1, 1 + sent),
                                              (server, client, 443, 40000, FIN | ACK, 1 + sent, 2),
                                              (client, server, 40000, 443, ACK, 2, 2 + sent)):
        data, length = frame(src, dst, sp, dp, flags, seq, ack, 0, ident)
        record(out, t, data, length)
        t += 100_000
        ident += 1


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("connections", "stream"):
        sys.exit(__doc__)
    mode, path, size = sys.argv[1], sys.argv[2], int(float(sys.argv[3]))
    out = sys.stdout.buffer if path == "-" else open(path, "wb")
    out.write(GLOBAL_HEADER)
    try:
        (connections if mode == "connections" else stream)(out, size)
        out.flush()
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
