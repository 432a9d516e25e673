"""Turns MTG-Jamendo's autotagging TSV (../shared/data, CC BY-NC-SA: read, never copied into the
repo) into a JSONL catalog for benchmarks: ids as titles, tags as genre, moods and instruments.
    python3 bench/jamendo_catalog.py ../shared/data/mtg-jamendo/autotagging_all_split0.tsv > /tmp/jamendo.jsonl
"""
import json, sys

path = sys.argv[1]
with open(path) as f:
    next(f)
    for line in f:
        parts = line.rstrip("\n").split("\t")
        track, artist, album, _path, duration = parts[:5]
        tags = parts[6:] if len(parts) > 6 else []
        genres = [t.split("---", 1)[1] for t in tags if t.startswith("genre---")]
        moods = [t.split("---", 1)[1] for t in tags if t.startswith("mood/theme---")]
        instruments = [t.split("---", 1)[1] for t in tags if t.startswith("instrument---")]
        meta = {"genre": genres[0] if genres else None, "mood": moods[:64], "instrumentation": instruments[:64]}
        try:
            d = float(duration)
            if 0 < d <= 86400:
                meta["duration"] = d
        except ValueError:
            pass
        print(json.dumps({"id": f"jamendo:{track}", "title": track, "artist": artist, "album": album,
                          "tags": genres[1:64], "metadata": meta}))
