#!/usr/bin/env python3
"""A write through one server, then a new search on another (or the same): what a write costs
the searches after it (a replica's copy catching up, the embedded store's derived state).

    python3 bench/write_then_search.py WRITE_URL SEARCH_URL [ROUNDS] [QUERIES_FILE]

Each round: a search with no write before it, a one-track write, a search right after it; every
search text is new (the queries file's lines, numbered). Prints p50 / p95 of each. Use two
replicas over one PostgreSQL schema, or one server twice. FILTER_GENRE=G filters every search
by that genre (what the facet index serves).
"""
import json
import os
import statistics
import sys
import time
import urllib.request


def post(base, path, body, method="POST"):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    started = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        r.read()
    return (time.perf_counter() - started) * 1000


def summary(values):
    ordered = sorted(values)
    return f"p50 {statistics.median(ordered):.1f} p95 {ordered[max(0, int(len(ordered) * 0.95) - 1)]:.1f} ms"


def main():
    write_url, search_url = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    queries = ["calm piano for a rainy evening", "fast electronic music for running"]
    if len(sys.argv) > 4:
        queries = [line.strip() for line in open(sys.argv[4]) if line.strip()]
    stamp = time.time_ns()
    genre = os.environ.get("FILTER_GENRE")
    extra = {"filters": {"genres": [genre]}} if genre else {}
    before, writes, after = [], [], []
    for i in range(rounds):
        before.append(post(search_url, "/v1/search", {"text": f"{queries[i % len(queries)]} {i}a", "top_k": 10, **extra}))
        track = {"title": f"Written {i}", "artist": "Writer", "genre": "rock"}
        writes.append(post(write_url, f"/v1/tracks/wts-{stamp}-{i}", track, "PUT"))
        after.append(post(search_url, "/v1/search", {"text": f"{queries[i % len(queries)]} {i}b", "top_k": 10, **extra}))
    print(f"search, no write before: {summary(before)} | write: {summary(writes)} | search right after the write: {summary(after)}")


if __name__ == "__main__":
    main()
