"""What occasion and activity queries get, for two builds on one store: the share of the top 10
whose moods suit the occasion (the moods the parser prefers for it), and whether a title word of
the query ("Fall" in "music to fall asleep to") comes first. Also, for bare genre words, the
share of the top 10 that are named songs (an artist other than "Unknown artist").

    python3 bench/eval/occasions.py OLD_BINARY NEW_BINARY DATA_DIR
"""
import json, subprocess, sys

old, new, data = sys.argv[1:4]
OCCASIONS = {
    "music to fall asleep to": ["calm", "soothing", "peaceful", "gentle", "relaxing", "dreamy", "calming"],
    "workout music": ["energetic", "upbeat", "powerful", "motivational", "intense", "aggressive"],
    "songs for studying": ["calm", "relaxing", "peaceful", "soothing", "meditative", "mellow"],
    "music for a dinner party": ["romantic", "warm", "relaxing", "mellow", "smooth", "elegant"],
    "party music": ["upbeat", "energetic", "happy", "fun", "party"],
    "meditation music": ["calm", "peaceful", "meditative", "relaxing", "soothing", "spiritual"],
    "songs for a road trip": ["energetic", "upbeat", "happy", "uplifting"],
    "music for running": ["energetic", "upbeat", "powerful", "motivational", "intense", "aggressive"],
}
GENRES = ["rock", "pop", "metal", "country", "jazz", "hip hop", "dance", "classical"]


def hits(binary, q):
    out = subprocess.run([binary, "--data-dir", data, "--json", "search", q, "-k", "10"],
                         capture_output=True, text=True, check=True).stdout
    return [h["track"] for h in json.loads(out)["hits"]]


print("| query | suits, before | suits, after | first hit before | first hit after |")
print("|---|---:|---:|---|---|")
for q, moods in OCCASIONS.items():
    row = [q]
    firsts = []
    for b in (old, new):
        hs = hits(b, q)
        suits = sum(1 for h in hs if set(m.lower() for m in h["metadata"].get("mood", [])) & set(moods))
        row.append(f"{suits}/{len(hs)}")
        firsts.append(f"{hs[0]['title']}" if hs else "-")
    print("| " + " | ".join(row + firsts) + " |")
print()
print("| genre word | named songs, before | after |")
print("|---|---:|---:|")
for g in GENRES:
    row = [g]
    for b in (old, new):
        hs = hits(b, g)
        row.append(f"{sum(1 for h in hs if h['artist'] != 'Unknown artist')}/{len(hs)}")
    print("| " + " | ".join(row) + " |")
