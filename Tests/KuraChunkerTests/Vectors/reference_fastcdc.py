#!/usr/bin/env python3
"""Independent reference implementation of kura's FastCDC, used to pin golden vectors.

Run:  python3 reference_fastcdc.py > golden.json      (takes about a minute)
      python3 reference_fastcdc.py --check golden.json (recomputes and compares)

It follows the repository definition literally and is deliberately unoptimised: no skipping of
the first minSize bytes, no parallelism, one plain loop per chunk.

Definition
----------
* Gear table: GearTable.seeded(seed) is 256 SplitMix64 outputs, for byte values 0..255 in order:
      state += 0x9E3779B97F4A7C15; z = state
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
      z = (z ^ (z >> 27)) * 0x94D049BB133111EB
      out = z ^ (z >> 31)                          (all mod 2**64)
* b = log2(averageSize); maskS = top (b + 2) bits of a 64-bit word set, maskL = top (b - 2) bits.
* fp(p) = sum_{j=0..63} (G[data[p - j]] << j) mod 2**64, for p >= 63. The rolling update
  fp = (fp << 1) + G[byte] (mod 2**64) gives the same value once 64 bytes have been rolled in.
* Chunk at offset s with n = L - s bytes remaining: if n <= minSize the chunk is n bytes.
  Otherwise for l in minSize .. min(n, maxSize): p = s + l - 1,
  mask = maskS if l < averageSize else maskL; the first l with fp(p) & mask == 0 ends the chunk.
  With none, the chunk is maxSize bytes when n >= maxSize, else n bytes.
  The expected values are the chunk ends (exclusive offsets) for the whole input as a final stream.

Input generators (each case stores its generator, not its bytes)
-----------------------------------------------------------------
* "splitmix": SplitMix64 started at `seed`; each output contributes its 8 bytes in little-endian
  order; the stream is cut to `length` bytes.
* "zeros":    `length` zero bytes.
* "runs":     SplitMix64 started at `seed`; repeat until `length` bytes (then cut): r = next();
              append the byte (r & 0xFF) repeated 1 + ((r >> 8) % 4096) times.
"""

import json
import sys

M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def gear_table(seed):
    rng = SplitMix64(seed)
    return [rng.next() for _ in range(256)]


def generate(spec):
    kind, length = spec["kind"], spec["length"]
    if kind == "zeros":
        return bytes(length)
    rng = SplitMix64(spec["seed"])
    out = bytearray()
    if kind == "splitmix":
        for _ in range((length + 7) // 8):
            out += rng.next().to_bytes(8, "little")
    elif kind == "runs":
        while len(out) < length:
            r = rng.next()
            out += bytes([r & 0xFF]) * (1 + ((r >> 8) % 4096))
    else:
        raise ValueError(kind)
    return bytes(out[:length])


def top_bits(count):
    return (M64 << (64 - count)) & M64


def fp_literal(data, p, gear):
    """The definition itself, used to spot-check the rolling hash."""
    return sum(gear[data[p - j]] << j for j in range(64)) & M64


def chunk_ends(data, gear, min_size, avg_size, max_size):
    bits = avg_size.bit_length() - 1
    assert 1 << bits == avg_size and 64 <= min_size < avg_size < max_size
    mask_s, mask_l = top_bits(bits + 2), top_bits(bits - 2)
    total = len(data)
    ends, s = [], 0
    checked = 0
    while s < total:
        n = total - s
        if n <= min_size:
            ends.append(total)
            break
        limit = min(n, max_size)
        fp = 0
        length = None
        # Roll from the chunk start; fp(p) is exact from p = s + 63 on, and the first tested
        # position is s + min_size - 1 >= s + 63.
        for p in range(s, s + limit):
            fp = ((fp << 1) + gear[data[p]]) & M64
            l = p - s + 1
            if l < min_size:
                continue
            if checked < 64 and p % 9973 == 0:  # spot-check the rolling hash against the sum
                assert fp == fp_literal(data, p, gear)
                checked += 1
            mask = mask_s if l < avg_size else mask_l
            if fp & mask == 0:
                length = l
                break
        if length is None:
            length = max_size if n >= max_size else n
        s += length
        ends.append(s)
    return ends


KIB, MIB = 1 << 10, 1 << 20

CASES = [
    # name, input generator, (min, avg, max)
    ("splitmix-4MiB-1K-4K-16K", {"kind": "splitmix", "seed": 42, "length": 4 * MIB}, (1 * KIB, 4 * KIB, 16 * KIB)),
    ("splitmix-1MiB-64-256-1K", {"kind": "splitmix", "seed": 3, "length": 1 * MIB}, (64, 256, 1 * KIB)),
    ("splitmix-2MiB-2K-4K-8K", {"kind": "splitmix", "seed": 5, "length": 2 * MIB}, (2 * KIB, 4 * KIB, 8 * KIB)),
    ("splitmix-12MiB-16K-64K-256K", {"kind": "splitmix", "seed": 11, "length": 12 * MIB}, (16 * KIB, 64 * KIB, 256 * KIB)),
    ("splitmix-16MiB-default", {"kind": "splitmix", "seed": 7, "length": 16 * MIB}, (512 * KIB, 1 * MIB, 8 * MIB)),
    ("splitmix-odd-length-default", {"kind": "splitmix", "seed": 8, "length": 9 * MIB + 12345}, (512 * KIB, 1 * MIB, 8 * MIB)),
    ("runs-4MiB-4K-16K-64K", {"kind": "runs", "seed": 9, "length": 4 * MIB}, (4 * KIB, 16 * KIB, 64 * KIB)),
    ("zeros-5MiB-1K-4K-16K", {"kind": "zeros", "length": 5 * MIB}, (1 * KIB, 4 * KIB, 16 * KIB)),
    ("zeros-exactly-max-1K-4K-16K", {"kind": "zeros", "length": 16 * KIB}, (1 * KIB, 4 * KIB, 16 * KIB)),
    ("splitmix-exactly-max-default", {"kind": "splitmix", "seed": 13, "length": 8 * MIB}, (512 * KIB, 1 * MIB, 8 * MIB)),
    ("splitmix-exactly-max-64-128-256", {"kind": "splitmix", "seed": 14, "length": 256}, (64, 128, 256)),
    ("splitmix-tiny-below-min", {"kind": "splitmix", "seed": 1, "length": 300}, (1 * KIB, 4 * KIB, 16 * KIB)),
    ("splitmix-exactly-min", {"kind": "splitmix", "seed": 2, "length": 1 * KIB}, (1 * KIB, 4 * KIB, 16 * KIB)),
    ("empty", {"kind": "zeros", "length": 0}, (1 * KIB, 4 * KIB, 16 * KIB)),
]

GEAR_SEED = 1


def build():
    gear = gear_table(GEAR_SEED)
    cases = []
    for name, spec, (mn, avg, mx) in CASES:
        data = generate(spec)
        assert len(data) == spec["length"]
        ends = chunk_ends(data, gear, mn, avg, mx)
        print(f"{name}: {len(ends)} chunks", file=sys.stderr)
        cases.append({
            "name": name,
            "input": spec,
            "minSize": mn, "averageSize": avg, "maxSize": mx,
            "ends": ends,
        })
    return {
        "about": "kura FastCDC golden vectors; generated by reference_fastcdc.py (see its docstring)",
        "gearSeed": GEAR_SEED,
        "gearFirstValues": [str(v) for v in gear_table(GEAR_SEED)[:4]],
        "cases": cases,
    }


if __name__ == "__main__":
    result = build()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            same = json.load(f) == json.loads(json.dumps(result))
        print("golden vectors match" if same else "golden vectors DIFFER")
        sys.exit(0 if same else 1)
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
