#!/usr/bin/env python3
"""Recall@10 of PostgreSQL's HNSW dense retrieval against exact search, unfiltered and with
filters of several selectivities, over a catalog a music-rag store holds in PostgreSQL.

Queries are real text queries when QUERIES names a file of `music-rag model embed` output
(JSON lines with "embedding"; text queries fall outside the clusters of stored vectors, which
is where HNSW misses most), else the normalised sum of two random tracks' vectors. Each query
asks for the store's candidate depth (LIMIT 60) and recall@10 compares the first ten
by distance (a track exactly as near as the exact tenth counts: near-duplicate tracks tie). Each
query runs twice in the same session settings the store uses (hnsw.ef_search,
hnsw.iterative_scan = relaxed_order): through the index, and exactly (index scans off).

    VENV=$(scripts/postgres.sh venv); $VENV/bin/pip install 'psycopg[binary]'
    [QUERIES=vectors.jsonl] [EF=100] \
    $VENV/bin/python bench/pg_recall.py "$(scripts/postgres.sh start | tail -n 1)" [SCHEMA] [N]
"""
import json
import os
import random
import statistics
import sys
import time

import psycopg

url = sys.argv[1]
schema = sys.argv[2] if len(sys.argv) > 2 else "public"
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
EF = int(os.environ.get("EF", "100"))
LIMIT = 60
random.seed(7)

# No prepared statements: a cached plan would ignore enable_indexscan below.
conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)
cur = conn.cursor()
cur.execute(f"SET search_path = {schema}, public")
cur.execute(f"SET hnsw.ef_search = {EF}")
cur.execute("SET hnsw.iterative_scan = relaxed_order")
cur.execute("SELECT count(*) FROM tracks")
total = cur.fetchone()[0]
cur.execute("SELECT id FROM tracks")
ids = [r[0] for r in cur.fetchall()]

# Filters as the store writes them: one overlap test on facet_keys per clause.
cur.execute(
    "SELECT k, count(*) FROM tracks, unnest(facet_keys) k WHERE k LIKE 'g=%' "
    "GROUP BY k ORDER BY count(*) DESC"
)
genre_counts = cur.fetchall()


def pick(share):
    """The genre key whose share of tracks is closest to `share`."""
    return min(genre_counts, key=lambda kc: abs(kc[1] / total - share))


filters = [("none", "TRUE", None)]
for share in ((0.5, 0.05, 0.001) if os.environ.get("FILTERS", "1") == "1" else ()):
    key, count = pick(share)
    filters.append((f"{key} ({100 * count / total:.2f} %)", "facet_keys && %s::text[]", [[key]]))


given = []
if os.environ.get("QUERIES"):
    with open(os.environ["QUERIES"]) as f:
        given = ["[" + ",".join(f"{x:.7f}" for x in json.loads(line)["embedding"]) + "]" for line in f]
    random.shuffle(given)
    n = min(n, len(given))


def query_vector(i):
    if given:
        return given[i]
    a, b = random.sample(ids, 2)
    cur.execute(
        "SELECT (SELECT embedding FROM tracks WHERE id = %s)::real[], "
        "(SELECT embedding FROM tracks WHERE id = %s)::real[]",
        (a, b),
    )
    va, vb = cur.fetchone()
    s = [x + y for x, y in zip(va, vb)]
    norm = sum(x * x for x in s) ** 0.5
    return "[" + ",".join(f"{x / norm:.7f}" for x in s) + "]"


def top(vec, cond, args, exact):
    cur.execute("SET enable_indexscan = %s" % ("off" if exact else "on"))
    cur.execute("SET enable_bitmapscan = on")
    t0 = time.perf_counter()
    cur.execute(
        f"SELECT id, embedding <=> %s::vector FROM tracks WHERE {cond} "
        f"ORDER BY embedding <=> %s::vector LIMIT {LIMIT}",
        [vec] + (args or []) + [vec],
    )
    rows = sorted(cur.fetchall(), key=lambda r: r[1])[:10]
    return rows, (time.perf_counter() - t0) * 1000


kind = "text queries" if given else "queries between two tracks"
print(f"{total} tracks, {n} {kind} per filter, ef_search {EF}, iterative scan relaxed_order")
print("| filter | recall@10 | nearest found | index p50 / p95 ms | exact p50 / p95 ms |")
print("|---|---|---|---|---|")
for name, cond, args in filters:
    recalls, firsts, fast, slow = [], [], [], []
    for i in range(n):
        vec = query_vector(i)
        approx, t_a = top(vec, cond, args, exact=False)
        exact, t_e = top(vec, cond, args, exact=True)
        if exact:
            # Near-duplicate tracks tie: a track as near as the exact tenth counts as found.
            bar = exact[-1][1] + 1e-6
            recalls.append(sum(d <= bar for _, d in approx) / len(exact))
            firsts.append(bool(approx) and approx[0][1] <= exact[0][1] + 1e-6)
        fast.append(t_a)
        slow.append(t_e)
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
    print(
        f"| {name} | {statistics.mean(recalls):.3f} | {statistics.mean(firsts):.3f} | {q(fast, .5):.1f} / {q(fast, .95):.1f} "
        f"| {q(slow, .5):.1f} / {q(slow, .95):.1f} |"
    )
