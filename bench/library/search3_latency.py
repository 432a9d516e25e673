"""search3 latency through the real server, one client at a time (the way a player syncs and
searches): the empty query paging the whole library 500 songs at a time, and plain-words
queries. Prints p50/p95 per kind.

    python3 bench/library/search3_latency.py BASE_URL USER PASSWORD
"""

import hashlib
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

QUERIES = [
    "calm piano", "fast metal", "jazz", "song 00042", "artist 007", "album 0420",
    "ambient electronic", "folk songs from the 70s", "rock", "slow sad classical",
]


def call(base, user, password, method, **params):
    salt = "b3nch"
    token = hashlib.md5((password + salt).encode()).hexdigest()
    q = {"u": user, "t": token, "s": salt, "c": "bench", "v": "1.16.1", "f": "json", **params}
    url = f"{base}/rest/{method}?{urllib.parse.urlencode(q)}"
    start = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = json.loads(r.read())
    elapsed = (time.perf_counter() - start) * 1000
    assert body["subsonic-response"]["status"] == "ok", body
    return elapsed, body["subsonic-response"]


def summary(label, times):
    times = sorted(times)
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    print(f"{label}: n={len(times)} p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")


def main():
    base, user, password = sys.argv[1:4]
    call(base, user, password, "ping")
    # Warm: the library view is built once per write.
    call(base, user, password, "search3", query="", songCount=1)
    paging, offset, total = [], 0, 0
    while True:
        ms, r = call(base, user, password, "search3", query="", songCount=500, songOffset=offset,
                     artistCount=0, albumCount=0)
        songs = r["searchResult3"].get("song", [])
        paging.append(ms)
        total += len(songs)
        if len(songs) < 500:
            break
        offset += 500
    print(f"synced {total} songs in {len(paging)} pages")
    summary("search3 empty query, 500 songs a page", paging)
    # Each query once with nothing cached (the query is embedded, searched, reranked), then again
    # (the engine's response cache answers repeats until the next write).
    for label in ("first time", "repeated"):
        words = []
        for q in QUERIES:
            ms, _ = call(base, user, password, "search3", query=q, songCount=20, albumCount=5, artistCount=5)
            words.append(ms)
        summary(f"search3 plain words, {label} (20 songs, 5 albums, 5 artists)", words)


if __name__ == "__main__":
    main()
