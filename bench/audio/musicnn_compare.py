#!/usr/bin/env python3
"""Compares two taggram JSON-lines files (reference, port): the largest per-tag probability
difference and the lowest embedding cosine over all patches, per file and overall.

    python3 bench/audio/musicnn_compare.py reference.jsonl port.jsonl
Exits 1 when a patch misses the targets (tags within 0.02, embedding cosine >= 0.99).
"""
import json
import math
import sys


def load(path):
    out = {}
    for line in open(path):
        if line.strip():
            row = json.loads(line)
            out[row["file"].split("/")[-1]] = row
    return out


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def main():
    ref, port = load(sys.argv[1]), load(sys.argv[2])
    worst_tag, worst_cos, ok = 0.0, 1.0, True
    for name, r in sorted(ref.items()):
        p = port.get(name)
        if p is None or len(p["taggram"]) != len(r["taggram"]):
            print(f"{name}: patch count differs or missing")
            ok = False
            continue
        tag = max(abs(a - b) for pr, pp in zip(r["taggram"], p["taggram"]) for a, b in zip(pr, pp))
        cos = min(cosine(a, b) for a, b in zip(r["penultimate"], p["penultimate"]))
        worst_tag, worst_cos = max(worst_tag, tag), min(worst_cos, cos)
        print(f"{name}: patches {len(r['taggram'])}, max tag diff {tag:.5f}, min embedding cosine {cos:.5f}")
    print(f"overall: max tag diff {worst_tag:.5f}, min embedding cosine {worst_cos:.5f}")
    ok = ok and worst_tag <= 0.02 and worst_cos >= 0.99
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
