#!/usr/bin/env python3
"""One end of a tunnel carried in user space, for capplan's tunnel tests on kernels that have
no geneve, ipip or gre link type (`ip link add ... type geneve` says "Unknown device type").
The packets on the underlay are the real thing: IP protocol 4 (IP-in-IP), IP protocol 47 (GRE,
RFC 2784, no options) or UDP 6081 (Geneve, RFC 8926, an Ethernet frame inside), made by the
kernel's raw and UDP sockets from what the kernel's own TCP/IP stack sends on the inner device.

  tunnel.py KIND LOCAL REMOTE INNER [SECONDS]
      KIND     ipip | gre | geneve
      LOCAL    this end's underlay address, REMOTE the other end's
      INNER    this end's inner address with its prefix, e.g. 198.51.100.1/24

Makes the inner device tnl0 (TUN for ipip and gre, TAP for geneve: Geneve carries Ethernet),
prints "ready", and carries packets both ways for SECONDS (default 30, at most 120) or 10,000
packets, whichever comes first. Run it inside the test's own network namespace.
"""
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
GENEVE_PORT = 6081
ETHERTYPE_IPV4, ETHERTYPE_ETHERNET = 0x0800, 0x6558
VNI = 42
MAX_PACKETS = 10_000


def open_device(kind):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    mode = IFF_TAP if kind == "geneve" else IFF_TUN
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tnl0", mode | IFF_NO_PI))
    return fd


def configure(inner):
    # Below the underlay's 1500 with room for any of the three headers, so nothing fragments.
    for argv in (["ip", "addr", "add", inner, "dev", "tnl0"], ["ip", "link", "set", "tnl0", "mtu", "1400", "up"]):
        subprocess.run(argv, check=True)


def open_underlay(kind, local):
    if kind == "geneve":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((local, GENEVE_PORT))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4 if kind == "ipip" else socket.IPPROTO_GRE)
        sock.bind((local, 0))
    return sock


def wrap(kind, inner):
    if kind == "gre":
        return struct.pack("!HH", 0, ETHERTYPE_IPV4) + inner
    if kind == "geneve":
        # Version 0, no options, protocol: an Ethernet frame; the VNI in the top 24 bits.
        return struct.pack("!BBHI", 0, 0, ETHERTYPE_ETHERNET, VNI << 8) + inner
    return inner


def unwrap(kind, data):
    """The inner packet of what the underlay socket read, or None for anything else."""
    if kind == "geneve":
        if len(data) < 8 or data[0] >> 6 != 0:
            return None
        options = (data[0] & 0x3F) * 4
        protocol = struct.unpack("!H", data[2:4])[0]
        return data[8 + options:] if protocol == ETHERTYPE_ETHERNET else None
    # A raw socket reads the outer IPv4 header too.
    body = data[(data[0] & 0x0F) * 4:]
    if kind == "gre":
        if len(body) < 4 or struct.unpack("!HH", body[:4]) != (0, ETHERTYPE_IPV4):
            return None
        return body[4:]
    return body


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("ipip", "gre", "geneve"):
        sys.exit(__doc__)
    kind, local, remote, inner = sys.argv[1:5]
    seconds = min(float(sys.argv[5]) if len(sys.argv) == 6 else 30.0, 120.0)
    device = open_device(kind)
    configure(inner)
    underlay = open_underlay(kind, local)
    destination = (remote, GENEVE_PORT if kind == "geneve" else 0)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    carried = 0
    while carried < MAX_PACKETS:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select([device, underlay], [], [], left)
        for source in readable:
            if source is device:
                packet = os.read(device, 65535)
                # IP-in-IP and this GRE carry IPv4 only; the kernel's IPv6 chatter stays home.
                if kind == "geneve" or packet[0] >> 4 == 4:
                    underlay.sendto(wrap(kind, packet), destination)
            else:
                data, sender = underlay.recvfrom(65535)
                packet = unwrap(kind, data) if sender[0] == remote else None
                if packet:
                    os.write(device, packet)
            carried += 1


if __name__ == "__main__":
    main()
