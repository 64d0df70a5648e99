#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from what the repository ships (fixtures/, data/sample).

Writes fuzz/corpus/<target>/seed-*; libFuzzer then grows each corpus by coverage. Needs only
python3 and the zstd command-line tool (for the segment seeds and the bundled sample).
Run by scripts/fuzz; can be run on its own: python3 fuzz/seeds.py
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def json_files(sub, pred=lambda n: True):
    d = os.path.join(FIX, sub)
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if not pred(n):
            continue
        with open(p, "rb") as f:
            raw = f.read()
        if n.endswith(".jsonl"):
            for line in raw.splitlines():
                if line.strip():
                    yield line
        else:
            yield raw
            try:
                yield json.dumps(json.loads(raw), separators=(",", ":")).encode()
            except ValueError:
                pass


def sample_book_frames(n=40):
    """Raw Polymarket `book` frames of the bundled cronos sample (CC BY 4.0)."""
    p = os.path.join(ROOT, "data", "sample", "books_2026-04-15.jsonl.zst")
    out = subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout
    frames = []
    for line in out.splitlines()[:: max(1, len(out.splitlines()) // n)][:n]:
        raw = json.loads(line)["raw"]
        frames.append(json.dumps(raw, separators=(",", ":")).encode())
    return frames


# ---- segments: the layout of docs/recording-format.md §4, built independently here ----------

DESC_MAGIC = 0x184D2A5E


def zstd_frame(data):
    return subprocess.run(
        ["zstd", "-q", "-c", "-3", "--check", "--content-size"],
        input=data,
        check=True,
        capture_output=True,
    ).stdout


def descriptor(compressed, decompressed, records, lo, hi):
    payload = b"PEFD" + struct.pack("<IIIQQ", len(compressed), len(decompressed), records, lo, hi)
    return struct.pack("<II", DESC_MAGIC, 36) + payload + struct.pack("<I", zlib.crc32(payload))


def record(recv_ns, payload):
    body = struct.pack("<Q", recv_ns) + payload
    return struct.pack("<I", len(payload)) + body + struct.pack("<I", zlib.crc32(body))


def segment(feed, code, frames_per_block):
    header = json.dumps(
        {"format_version": 1, "feed": feed, "feed_code": code, "stream": feed, "created_ns": 1776081600000000000},
        separators=(",", ":"),
    ).encode()
    pre = b"PEDGSEG1" + struct.pack("<I", len(header)) + header
    z = zstd_frame(pre)
    out = descriptor(z, pre, 0, 0, 0) + z
    for block in frames_per_block:
        raw = b"".join(record(t, p) for t, p in block)
        z = zstd_frame(raw)
        ts = [t for t, _ in block]
        out += descriptor(z, raw, len(block), min(ts), max(ts)) + z
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    ws_market = list(json_files("polymarket/ws_market")) + sample_book_frames()
    for f in ws_market:
        put("polymarket_market", f)
    for f in json_files("polymarket/ws_user"):
        put("polymarket_user", f)
    for f in json_files("polymarket/rtds"):
        put("rtds", f)
    for f in json_files("binance", lambda n: "_ws_" in n or n.startswith("usdm")):
        put("binance_spot", f)
        put("binance_usdm", f)
    for f in json_files("binance", lambda n: "_rest_" in n):
        put("binance_rest", f)
    for f in json_files("coinbase"):
        put("coinbase", f)
    for f in json_files("deribit"):
        put("deribit", f)
    depth = next(json_files("binance", lambda n: n == "spot_rest_depth_response_docexample.json"))
    for rec in [
        {"type": "gap", "stream": "polymarket-market", "reason": "disconnected"},
        {"type": "rest", "stream": "binance-spot", "venue": "binance-spot", "endpoint": "depth",
         "symbol": "BTCUSDT", "body": json.loads(depth)},
        {"type": "connect", "stream": "rtds", "url": "ws://x", "sent": ["{}"]},
        {"type": "gamma", "slug": "btc-updown-5m-1784851200", "kind": "market", "status": 200},
        {"type": "health", "interval_s": 60.0, "queued_bytes": 0, "streams": {}},
    ]:
        put("control", json.dumps(rec, separators=(",", ":")))
    for f in json_files("polymarket/gamma"):
        put("gamma", f)
        put("gamma", b"[" + f + b"]")
        put("gamma", b'[{"eventMetadata":{"priceToBeat":65048.0789,"finalPrice":"64977.7428"}}]')
    t0 = 1776081600000000000
    rtds = [l for l in json_files("polymarket/rtds", lambda n: n.endswith(".jsonl"))]
    put("segment", segment("rtds", 2, [[(t0 + i * 1000, rtds[i % len(rtds)]) for i in range(5)]]))
    put("segment", segment("polymarket-market", 1, [
        [(t0 + i, f) for i, f in enumerate(ws_market[:3])],
        [(t0 + 10 + i, f) for i, f in enumerate(ws_market[3:6])],
        [(t0 + 20, b"")],
    ]))
    put("segment", segment("deribit", 6, []))
    whole = segment("control", 7, [[(t0, b'{"type":"gap","stream":"rtds","reason":"x"}')]])
    put("segment", whole)
    put("segment", whole[: len(whole) // 2])
    counts = {t: len(os.listdir(os.path.join(OUT, t))) for t in sorted(os.listdir(OUT))}
    print("seed corpora:", ", ".join(f"{t}={n}" for t, n in counts.items()))


if __name__ == "__main__":
    sys.exit(main())
