#!/usr/bin/env python3
"""Writes the names set: artist names as people type them, against the demo catalog.
Half are names made of genre, mood or common words ("daft punk", "one direction", "pink",
"train"), half are near-misses of a catalog artist ("beyonse", "justin beiber"). Relevant:
every Harmonix track whose artist credit holds that artist.
Usage: bench/eval/names_set.py OUT_DIR   (reads catalog/harmonix.jsonl)"""
import json, sys, unicodedata, pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# (query as typed, artist as credited, kind)
QUERIES = [
    ("daft punk", "Daft Punk", "name_vs_genre"),
    ("black eyed peas", "The Black Eyed Peas", "name_vs_genre"),
    ("one direction", "One Direction", "name_vs_genre"),
    ("boys like girls", "Boys Like Girls", "name_vs_genre"),
    ("maroon 5", "Maroon 5", "name_vs_genre"),
    ("jimi hendrix", "Jimi Hendrix", "name_vs_genre"),
    ("spinal tap", "Spınal Tap", "name_vs_genre"),
    ("kesha", "Ke$ha", "name_vs_genre"),
    ("pink", "P!nk", "name_vs_genre"),
    ("train", "Train", "name_vs_genre"),
    ("metallica", "Metallica", "name_vs_genre"),
    ("usher", "Usher", "name_vs_genre"),
    ("beyonse", "Beyoncé", "typo"),
    ("rihana", "Rihanna", "typo"),
    ("katy pery", "Katy Perry", "typo"),
    ("lady gagga", "Lady Gaga", "typo"),
    ("britny spears", "Britney Spears", "typo"),
    ("justin beiber", "Justin Bieber", "typo"),
    ("nickleback", "Nickelback", "typo"),
    ("megadet", "Megadeth", "typo"),
    ("pitbul", "Pitbull", "typo"),
    ("snoop dog", "Snoop Dogg", "typo"),
    ("kanye wset", "Kanye West", "typo"),
    ("taylor swfit", "Taylor Swift", "typo"),
    ("elie goulding", "Ellie Goulding", "typo"),
]


def fold(s):
    """Lower case without accents or marks, as names are compared."""
    s = unicodedata.normalize("NFKD", s.replace("ı", "i"))
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def main():
    out = pathlib.Path(sys.argv[1])
    tracks = [json.loads(l) for l in open(ROOT / "catalog/harmonix.jsonl", encoding="utf-8")]
    with open(out / "names.jsonl", "w", encoding="utf-8") as f:
        for query, artist, kind in QUERIES:
            relevant = [t["id"] for t in tracks if fold(artist) in fold(t["artist"])]
            assert relevant, f"no track credits {artist}"
            f.write(json.dumps({"query": query, "relevant": relevant, "kind": kind}) + "\n")
    print(f"names: {len(QUERIES)} queries")


if __name__ == "__main__":
    main()
