#!/usr/bin/env python3
"""Build max_for_live/BeatGAN.amxd from its source, BeatGAN.maxpat.

An .amxd is a list of chunks, each a 4-byte ASCII tag, a 4-byte little-endian length and that
many bytes (layout in max_for_live/README.md):

    ampf  4  device type: b"aaaa" audio effect, b"mmmm" MIDI effect, b"iiii" instrument
    meta  4  uint32 LE, 1 in every device Live and Max write
    ptch  n  the patcher JSON, UTF-8, ending in one NUL byte

The output depends only on the bytes of the .maxpat (line endings normalised to LF), so the
build is reproducible and `--check` can tell whether the committed device is stale.

    python max_for_live/build_amxd.py            # write BeatGAN.amxd next to this script
    python max_for_live/build_amxd.py --check    # exit 1 if BeatGAN.amxd is not up to date
    python max_for_live/build_amxd.py --extract ~/Music/Saved.amxd   # device saved in Max -> source
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "BeatGAN.maxpat"
TARGET = HERE / "BeatGAN.amxd"

DEVICE_TYPES = {b"aaaa": "audio effect", b"mmmm": "MIDI effect", b"iiii": "instrument"}
META_VALUE = 1


def chunk(tag: bytes, payload: bytes) -> bytes:
    assert len(tag) == 4, f"chunk tags are 4 bytes, got {tag!r}"
    return tag + struct.pack("<I", len(payload)) + payload


def patcher_json(maxpat: bytes) -> bytes:
    """The .maxpat bytes as they go into the ptch chunk: LF line endings, one final newline."""
    text = maxpat.decode("utf-8").replace("\r\n", "\n")
    patcher = json.loads(text)
    if not isinstance(patcher, dict) or not isinstance(patcher.get("patcher"), dict):
        raise ValueError('a .maxpat holds one JSON object with a "patcher" object')
    return (text.rstrip("\n") + "\n").encode("utf-8")


def build(maxpat: bytes, device_type: bytes = b"aaaa") -> bytes:
    if device_type not in DEVICE_TYPES:
        raise ValueError(f"device type must be one of {sorted(DEVICE_TYPES)}, got {device_type!r}")
    body = patcher_json(maxpat)
    amxdtype = json.loads(body)["patcher"].get("project", {}).get("amxdtype")
    if amxdtype is not None and amxdtype != int.from_bytes(device_type, "big"):
        raise ValueError(f"the patcher's project.amxdtype {amxdtype} says another device type "
                         f"than {device_type!r}")
    return (chunk(b"ampf", device_type) + chunk(b"meta", struct.pack("<I", META_VALUE))
            + chunk(b"ptch", body + b"\0"))


def parse(data: bytes) -> dict:
    """Read an .amxd back: {"type": b"aaaa", "meta": 1, "patcher": {...}}. Raises ValueError."""
    chunks: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"truncated chunk header at byte {pos}")
        tag = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + size > len(data):
            raise ValueError(f"chunk {tag!r} at byte {pos} claims {size} bytes, "
                             f"only {len(data) - pos - 8} left")
        chunks[tag] = data[pos + 8:pos + 8 + size]
        pos += 8 + size
    for tag in (b"ampf", b"meta", b"ptch"):
        if tag not in chunks:
            raise ValueError(f"no {tag.decode()} chunk")
    if not data.startswith(b"ampf"):
        raise ValueError("an .amxd starts with the ampf chunk")
    ptch = chunks[b"ptch"]
    if ptch.startswith(b"mx@c"):
        raise ValueError("frozen device (mx@c archive): open it in Max and unfreeze it first")
    if not ptch.endswith(b"\0"):
        raise ValueError("the ptch chunk does not end in a NUL byte")
    return {"type": chunks[b"ampf"], "meta": struct.unpack("<I", chunks[b"meta"])[0],
            "patcher": json.loads(ptch[:-1].decode("utf-8"))["patcher"]}


def extract(data: bytes) -> bytes:
    """The patcher JSON of an (unfrozen) .amxd, byte for byte as Max saved it."""
    parse(data)   # validates the layout
    pos = 0
    while data[pos:pos + 4] != b"ptch":
        pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
    (size,) = struct.unpack_from("<I", data, pos + 4)
    return data[pos + 8:pos + 8 + size - 1]


def missing_dependencies(patcher: dict, folder: Path) -> list[str]:
    """Files the device loads by name (the [js] script) that are not next to it."""
    names = [d["name"] for d in patcher.get("dependency_cache", [])]
    for b in patcher.get("boxes", []):
        text = b["box"].get("text", "")
        if b["box"].get("maxclass") == "newobj" and text.split()[:1] == ["js"]:
            names.append(text.split()[1])
    return sorted({n for n in names if not (folder / n).is_file()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the .maxpat to wrap")
    parser.add_argument("--out", type=Path, default=TARGET, help="the .amxd to write")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if --out differs from a fresh build")
    parser.add_argument("--extract", type=Path, metavar="AMXD",
                        help="write the patcher of this .amxd (saved from Max) to --source")
    args = parser.parse_args(argv)
    if args.extract:
        try:
            args.source.write_bytes(extract(args.extract.read_bytes()))
        except (OSError, ValueError) as e:
            print(f"build_amxd: error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {args.source}: now run python {Path(__file__).name} to rebuild")
        return 0
    try:
        data = build(args.source.read_bytes())
        missing = missing_dependencies(parse(data)["patcher"], args.source.parent)
    except (OSError, ValueError) as e:
        print(f"build_amxd: error: {e}", file=sys.stderr)
        return 1
    if missing:
        print(f"build_amxd: error: the device loads {', '.join(missing)}, "
              f"not found in {args.source.parent}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_bytes() if args.out.exists() else b""
        if current != data:
            print(f"build_amxd: {args.out} is out of date: run python {Path(__file__).name}",
                  file=sys.stderr)
            return 1
        print(f"{args.out}: up to date ({len(data)} bytes)")
        return 0
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
