"""Builds the dev evaluation sets of docs/QUALITY.md from ../shared/data (read, never copied
into the repo). Deterministic (fixed seed). Writes into OUT (default target/eval):

  musiccaps.jsonl        aspect combinations in plain words; relevant = clips whose aspect list
                         holds them all (catalog: the demo catalog)
  jamendo.jsonl          tag combinations in plain words; relevant = tracks carrying all of them
                         (catalog: jamendo_catalog.jsonl, the first 10,000 MTG-Jamendo tracks)
  harmonix_known.jsonl   known-item: misspelled title and artist; relevant = that track
  harmonix_facts.jsonl   factual questions (tempo, time signature) with the exact answer
  descriptive.jsonl      natural descriptions: 200 MusicCaps clips held out of the catalog, their
                         captions cut by rule to query length; relevant = catalog clips sharing
                         the held-out clip's genre, instruments and moods, graded by how many
                         (kinds descriptive_tune and descriptive_test: tune on the first only)
  heldout_catalog.jsonl  the demo catalog (catalog/*.jsonl) without the 200 held-out clips

    python3 bench/eval/build_sets.py [DATA_DIR] [OUT]
"""
import ast, csv, hashlib, itertools, json, os, random, re, sys

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
OUT = sys.argv[2] if len(sys.argv) > 2 else "target/eval"
os.makedirs(OUT, exist_ok=True)
rng = random.Random(7)


def write(name, rows):
    with open(os.path.join(OUT, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"{name}: {len(rows)}", file=sys.stderr)


# MusicCaps: aspects of 1-2 words used by at least 8 clips.
clips = {}
with open(os.path.join(DATA, "musiccaps/musiccaps-public.csv")) as f:
    for row in csv.DictReader(f):
        aspects = {a.strip().lower() for a in ast.literal_eval(row["aspect_list"])}
        clips["musiccaps:" + row["ytid"]] = aspects
counts = {}
for aspects in clips.values():
    for a in aspects:
        counts[a] = counts.get(a, 0) + 1
NOISE = {"low quality", "noisy", "poor audio quality", "amateur recording", "live performance", "medium tempo"}
usable = {a for a, c in counts.items() if c >= 8 and len(a.split()) <= 2 and a not in NOISE and not a.startswith("no ")}
queries, seen = [], set()
ids = sorted(clips)
while len(queries) < 100:
    clip = clips[rng.choice(ids)]
    pool = sorted(clip & usable)
    size = rng.choice([2, 2, 3])
    if len(pool) < size:
        continue
    combo = tuple(sorted(rng.sample(pool, size)))
    if combo in seen:
        continue
    seen.add(combo)
    relevant = sorted(i for i, a in clips.items() if set(combo) <= a)
    if not 3 <= len(relevant) <= 100:
        continue
    words = list(combo)
    rng.shuffle(words)
    text = " ".join(words[:-1]) + " with " + words[-1] if len(words) == 3 else " ".join(words) + " music"
    queries.append({"query": text, "relevant": relevant, "kind": "musiccaps"})
write("musiccaps.jsonl", queries)

# MTG-Jamendo: the first 10,000 tracks as a catalog; tag pairs across categories.
tracks = []
with open(os.path.join(DATA, "mtg-jamendo/autotagging_all_split0.tsv")) as f:
    next(f)
    for line in itertools.islice(f, 10000):
        parts = line.rstrip("\n").split("\t")
        track, artist, album, _path, duration = parts[:5]
        tags = parts[5:]
        tracks.append((track, artist, album, duration, tags))
with open(os.path.join(OUT, "jamendo_catalog.jsonl"), "w") as f:
    for track, artist, album, duration, tags in tracks:
        kinds = {"genre": [], "mood/theme": [], "instrument": []}
        for t in tags:
            k, _, v = t.partition("---")
            if k in kinds:
                kinds[k].append(v)
        meta = {"genre": kinds["genre"][0] if kinds["genre"] else None,
                "mood": kinds["mood/theme"][:64], "instrumentation": kinds["instrument"][:64]}
        try:
            d = float(duration)
            if 0 < d <= 86400:
                meta["duration"] = d
        except ValueError:
            pass
        f.write(json.dumps({"id": f"jamendo:{track}", "title": track, "artist": artist, "album": album,
                            "tags": kinds["genre"][1:64], "metadata": meta}) + "\n")
tagsets = {f"jamendo:{t[0]}": set(t[4]) for t in tracks}
queries, seen = [], set()
keys = sorted(tagsets)
while len(queries) < 100:
    tags = sorted(t for t in tagsets[rng.choice(keys)] if t.split("---")[0] in ("genre", "mood/theme", "instrument"))
    pairs = [p for p in itertools.combinations(tags, 2) if p[0].split("---")[0] != p[1].split("---")[0]]
    if not pairs:
        continue
    pair = rng.choice(pairs)
    if pair in seen:
        continue
    seen.add(pair)
    relevant = sorted(i for i, ts in tagsets.items() if set(pair) <= ts)
    if not 5 <= len(relevant) <= 300:
        continue
    by = {t.split("---")[0]: t.split("---")[1] for t in pair}
    if "instrument" in by:
        rest = " ".join(by[k] for k in ("mood/theme", "genre") if k in by)
        text = f"{rest} music with {by['instrument']}"
    else:
        text = f"{by['mood/theme']} {by['genre']}"
    queries.append({"query": text, "relevant": relevant, "kind": "jamendo"})
write("jamendo.jsonl", queries)


# Harmonix: known items with a typo in the title and in the artist; factual questions.
def typo(text):
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    return " ".join(words)


songs = []
with open(os.path.join(DATA, "harmonixset/metadata.csv")) as f:
    for row in csv.DictReader(f):
        songs.append(row)
known = []
for row in rng.sample(songs, 200):
    known.append({"query": f"{typo(row['Title'])} {typo(row['Artist'])}", "relevant": ["harmonix:" + row["File"]],
                  "kind": "harmonix_known_item"})
write("harmonix_known.jsonl", known)
facts = []
for row in rng.sample(songs, 100):
    if rng.random() < 0.7:
        bpm = float(row["BPM"])
        answer = f"{bpm:.0f} BPM" if abs(bpm - round(bpm)) < 0.05 else f"{bpm:.1f} BPM"
        q = f"what tempo is {row['Title']} by {row['Artist']}?"
    else:
        answer = row["Time Signature"].replace("|", "/")
        q = f"what is the time signature of {row['Title']} by {row['Artist']}?"
    facts.append({"query": q, "relevant": ["harmonix:" + row["File"]], "kind": "harmonix_facts", "answer": answer})
write("harmonix_facts.jsonl", facts)


# Descriptive: held-out MusicCaps clips, described in their own (human) words.
CATALOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../catalog")
demo = {}
for name in ("harmonix.jsonl", "musicnet.jsonl", "musiccaps.jsonl"):
    with open(os.path.join(CATALOG_DIR, name)) as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                demo[t["id"]] = t


def aspects(t):
    m = t["metadata"]
    genres = {g for g in (m.get("genre"), m.get("subgenre")) if g}
    return genres, set(m.get("instrumentation") or []), set(m.get("mood") or [])


# Meta words that say how a clip was recorded or described, not how it sounds.
BOILERPLATE = re.compile(
    r"^(this is (a|an) |this (song|music|track|clip|audio|recording) (is|features|contains|has) |"
    r"the (low|poor|high|good) quality recording features |the (low|poor) quality recording (is|contains) |"
    r"this (low|poor) quality recording (is|features|contains) |the song (is|features|contains) |"
    r"the music (is|features|contains) |the recording (is|features|contains) |it (is|sounds) )",
    re.I)


def query_from_caption(caption):
    """The first two sentences without recording boilerplate, cut to 16 words."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", caption) if s.strip()]
    words = []
    for s in sentences[:2]:
        s = BOILERPLATE.sub("", s.rstrip(".!?"))
        words.extend(s.split())
    return " ".join(words[:16]).strip(" ,;").lower()


caps = [t for i, t in sorted(demo.items()) if i.startswith("musiccaps:")]
candidates = []
for t in caps:
    g, ins, mo = aspects(t)
    if g and (ins or mo) and t.get("description"):
        candidates.append(t)
held = sorted(candidates, key=lambda t: hashlib.sha256(t["id"].encode()).hexdigest())[:200]
held_ids = {t["id"] for t in held}
pool = [t for i, t in sorted(demo.items()) if i.startswith("musiccaps:") and i not in held_ids]
desc = []
for n, t in enumerate(held):
    g, ins, mo = aspects(t)
    graded = []
    for c in pool:
        cg, cins, cmo = aspects(c)
        shared = (g & cg, ins & cins, mo & cmo)
        kinds = sum(1 for s in shared if s)
        if kinds >= 2:
            graded.append((c["id"], float(sum(min(len(s), 2) for s in shared))))
    if len(graded) < 3:
        continue
    graded.sort(key=lambda x: (-x[1], x[0]))
    desc.append({"query": query_from_caption(t["description"]), "relevant": [i for i, _ in graded],
                 "gains": [gain for _, gain in graded],
                 "kind": "descriptive_tune" if n % 2 == 0 else "descriptive_test"})
write("descriptive.jsonl", desc)
with open(os.path.join(OUT, "heldout_catalog.jsonl"), "w") as f:
    for i, t in sorted(demo.items()):
        if i not in held_ids:
            f.write(json.dumps(t) + "\n")
print(f"heldout_catalog.jsonl: {len(demo) - len(held_ids)}", file=sys.stderr)
