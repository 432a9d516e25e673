#!/usr/bin/env python3
"""Client latency and the server's own stage timings (parse, embed, retrieve, fuse) of
`POST /v1/search`, one query at a time, every query new: where a query's time goes.

    python3 bench/stage_latency.py URL QUERIES_FILE [N]

QUERIES_FILE holds one query per line (e.g. a slice of the peer's `distinct_queries.py`
output); the first N (300) are sent with top_k 10. Prints p50 and p95 of each.
"""
import json
import sys
import time
import urllib.request


def percentile(values, q):
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


def main():
    base, path = sys.argv[1].rstrip("/"), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    queries = [line.strip() for line in open(path) if line.strip()][:n]
    if not queries:
        sys.exit(f"{path}: no queries")
    latency = []
    stages = {"parse_ms": [], "embed_ms": [], "retrieve_ms": [], "fuse_ms": []}
    for q in queries:
        body = json.dumps({"text": q, "top_k": 10}).encode()
        request = urllib.request.Request(
            base + "/v1/search", data=body, headers={"content-type": "application/json"}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            reply = json.load(response)
        latency.append((time.perf_counter() - start) * 1000)
        for k in stages:
            stages[k].append(reply["timings"][k])
    parts = [f"client p50 {percentile(latency, .5):.1f} p95 {percentile(latency, .95):.1f} ms"]
    parts += [f"{k} p50 {percentile(v, .5):.2f} p95 {percentile(v, .95):.2f}" for k, v in stages.items()]
    print(f"{len(queries)} queries: " + "; ".join(parts))


if __name__ == "__main__":
    main()
