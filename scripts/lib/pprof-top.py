#!/usr/bin/env python3
"""Prints the top functions of a Go CPU profile (the gzipped protobuf that a Go program's
/debug/pprof/profile serves), by self and by inclusive time, without the go tool: a small reader
of profile.proto (github.com/google/pprof/proto/profile.proto) for the benchmarks.

    pprof-top.py PROFILE [N]      (N entries of each table; default 25)
"""

import collections
import gzip
import sys


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf):
    """(field number, wire type, value) of a protobuf message; value is an int or bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i : i + n], i + n
        elif wt == 1:
            v, i = int.from_bytes(buf[i : i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(buf[i : i + 4], "little"), i + 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def ints(wt, v):
    """A repeated integer field, packed (bytes) or not."""
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    strings, sample_types, samples, locations, functions = [], [], [], {}, {}
    for num, wt, v in fields(data):
        if num == 6:
            strings.append(v.decode("utf-8", "replace"))
        elif num == 1:
            sample_types.append({n: x for n, _, x in fields(v)})
        elif num == 2:
            locs, vals = [], []
            for n, w, x in fields(v):
                if n == 1:
                    locs += ints(w, x)
                elif n == 2:
                    vals += ints(w, x)
            samples.append((locs, vals))
        elif num == 4:
            lid, funcs = 0, []
            for n, _, x in fields(v):
                if n == 1:
                    lid = x
                elif n == 4:
                    funcs.append(next((y for m, _, y in fields(x) if m == 1), 0))
            locations[lid] = funcs  # innermost first
        elif num == 5:
            f = {n: x for n, _, x in fields(v)}
            functions[f.get(1, 0)] = f.get(2, 0)
    # The value to rank by: the last sample type (cpu nanoseconds in a CPU profile).
    vi = len(sample_types) - 1
    unit = strings[sample_types[vi].get(2, 0)] if sample_types else "?"
    name = lambda fid: strings[functions.get(fid, 0)] or f"#{fid}"
    flat, cum = collections.Counter(), collections.Counter()
    total = 0
    for locs, vals in samples:
        v = vals[vi] if vi < len(vals) else 0
        total += v
        stack = [name(f) for l in locs for f in locations.get(l, [])]
        if stack:
            flat[stack[0]] += v
        for fn in set(stack):
            cum[fn] += v
    scale = 1e9 if unit == "nanoseconds" else 1
    print(f"total {total / scale:.2f} s ({len(samples)} stacks)")
    for title, table in (("self", flat), ("inclusive", cum)):
        print(f"\n{'%':>6} {'s':>7}  top {top} by {title}")
        for fn, v in table.most_common(top):
            print(f"{100 * v / max(total, 1):6.1f} {v / scale:7.2f}  {fn}")


main()
