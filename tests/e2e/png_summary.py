#!/usr/bin/env python3
"""Reads a PNG (8-bit RGB or RGBA, not interlaced, as Chromium writes its screenshots) with the
standard library alone and prints what console_check asserts on: its size, how many distinct colours
it holds, the share of pixels that are not the background (the top-left pixel's colour), and how many
pixels are exactly each colour given as an argument (#rrggbb)."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit(f"{path}: depth {depth}, colour type {ctype}, interlace {interlace}: not read here")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    pixels = [row[x:x + 3] for row in rows for x in range(0, stride, bpp)]
    return width, height, pixels


def main():
    width, height, pixels = read_png(sys.argv[1])
    background = pixels[0]
    counts = {}
    for p in pixels:
        counts[p] = counts.get(p, 0) + 1
    ink = 1 - counts[background] / len(pixels)
    print(f"size {width}x{height} colours {len(counts)} ink {ink:.4f}", end="")
    for colour in sys.argv[2:]:
        print(f" {colour} {counts.get(bytes.fromhex(colour.lstrip('#')), 0)}", end="")
    print()


main()
