"""Builds the questions set of docs/QUALITY.md: questions over the catalog as a whole, each with
the answer computed from the demo catalog (catalog/*.jsonl) by the rules a reader would apply:

  superlatives  "which <artist> song is the fastest?", "what is the longest <genre> song?", ...
                -> the title of the track with the highest (lowest) value; ties are left out
  counts        "how many songs by <artist> are in the catalog?" -> "holds N track"
  lists         "which songs by <artist> are here?" -> "holds N track"
  existence     "do you have anything by <artist with a typo>?" -> "Yes"
  comparisons   "is <title> faster than <title>?" -> "Yes"/"No" and the first title
  look-ups      "what key is Beethoven's Op. 27 No. 2 in?", "... Piano Sonata No 14 in?" -> the key
  off topic     general-knowledge questions -> says it answers questions about the music,
                ungrounded, nothing cited ("grounded": false)

Artists are those whose name is the whole artist field of each of their tracks and is no part
of another artist's field, so "by X" has one reading. Genres: a genre or tag word, matched as
whole words within the genre, subgenre or tags (the filter's rule).

    python3 bench/eval/questions_set.py [OUT]
"""
import glob, json, os, random, re, sys, unicodedata

OUT = sys.argv[1] if len(sys.argv) > 1 else "target/eval"
rng = random.Random(11)
tracks = []
for path in sorted(glob.glob("catalog/*.jsonl")):
    with open(path) as f:
        tracks += [json.loads(l) for l in f if l.strip()]


def norm(s):
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    words = re.sub(r"[-_/]", " ", s.lower().replace("&", " and ")).split()
    # "The Black Eyed Peas" and "Black Eyed Peas" are one artist.
    return " ".join(words[1:] if len(words) > 1 and words[0] in ("the", "a", "an") else words)


def words_in(needle, value):
    return f" {norm(needle)} " in f" {norm(value)} "


def fact(t, measure):
    m = t["metadata"]
    v = {"tempo": m.get("tempo"), "duration": m.get("duration"), "year": t.get("year")}[measure]
    return v if isinstance(v, (int, float)) and v > 0 else None


def typo(name):
    words = name.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return None
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    words[i] = w[:j] + w[j + 1:]
    return " ".join(words)


by_artist = {}
for t in tracks:
    by_artist.setdefault(norm(t["artist"]), []).append(t)
shown = {norm(t["artist"]): t["artist"] for t in tracks}
artist_fields = list(by_artist)
artists = sorted(
    a for a, ts in by_artist.items()
    if len(ts) >= 2 and a != "unknown artist" and len(a) >= 4
    # A credit with a featured artist is not how people ask for an artist.
    and not re.search(r"\b(feat|ft|featuring|with|and|vs)\b|[,&+]", a)
    and not any(b != a and words_in(a, b) for b in artist_fields)
)
rows = []


def superlative(question, pool, measure, highest, word):
    valued = [(fact(t, measure), t) for t in pool if fact(t, measure)]
    if len(valued) < 2:
        return
    valued.sort(key=lambda p: p[0], reverse=highest)
    if valued[0][0] == valued[1][0]:
        return  # a tie has no one answer
    rows.append({"query": question, "relevant": [valued[0][1]["id"]], "kind": "questions_superlative",
                 "answer": f"\"{valued[0][1]['title']}\""})


for a in rng.sample(artists, min(40, len(artists))):
    measure, highest, word = rng.choice([("tempo", True, "fastest"), ("tempo", False, "slowest"),
                                         ("duration", True, "longest"), ("duration", False, "shortest")])
    superlative(f"which {shown[a]} song is the {word}?", by_artist[a], measure, highest, word)
genres = {}
for t in tracks:
    m = t["metadata"]
    for v in [m.get("genre"), m.get("subgenre"), *t.get("tags", [])]:
        if v:
            for w in norm(v).split():
                genres.setdefault(w, set())
for g in ["metal", "rock", "pop", "country", "jazz", "reggae", "funk", "disco", "punk", "blues"]:
    pool = [t for t in tracks if any(words_in(g, v) for v in
            [t["metadata"].get("genre") or "", t["metadata"].get("subgenre") or "", *t.get("tags", [])])]
    for measure, highest, word in [("tempo", True, "fastest"), ("duration", False, "shortest")]:
        superlative(f"what is the {word} {g} song in the catalog?", pool, measure, highest, word)
for a in rng.sample(artists, min(25, len(artists))):
    n = len(by_artist[a])
    rows.append({"query": f"how many songs by {shown[a]} are in the catalog?", "relevant": [by_artist[a][0]["id"]],
                 "kind": "questions_count", "answer": f"holds {n} track"})
for a in rng.sample(artists, min(20, len(artists))):
    n = len(by_artist[a])
    rows.append({"query": f"which songs by {shown[a]} are here?", "relevant": [by_artist[a][0]["id"]],
                 "kind": "questions_list", "answer": f"holds {n} track"})
for a in rng.sample(artists, min(40, len(artists))):
    misspelt = typo(shown[a])
    if misspelt and norm(misspelt) != a:
        rows.append({"query": f"do you have anything by {misspelt}?", "relevant": [by_artist[a][0]["id"]],
                     "kind": "questions_existence", "answer": "Yes"})
# Comparisons of two tracks whose titles no other track shares, by tempo.
title_count = {}
for t in tracks:
    title_count[norm(t["title"])] = title_count.get(norm(t["title"]), 0) + 1
comparable = [t for t in tracks if t["artist"].lower() != "unknown artist" and fact(t, "tempo")
              and title_count[norm(t["title"])] == 1 and len(t["title"]) >= 4
              and not re.search(r"[()\[\]]", t["title"])]
for _ in range(20):
    a, b = rng.sample(comparable, 2)
    if fact(a, "tempo") == fact(b, "tempo"):
        continue
    faster = rng.random() < 0.5
    word = "faster" if faster else "slower"
    yes = fact(a, "tempo") > fact(b, "tempo") if faster else fact(a, "tempo") < fact(b, "tempo")
    rows.append({"query": f"is {a['title']} {word} than {b['title']}?", "relevant": [a["id"]],
                 "kind": "questions_comparison", "answer": ("Yes" if yes else "No") + f": \"{a['title']}\""})
# Look-ups of a work's key by catalogue number ("what key is Beethoven's Op. 27 No. 2 in?") and
# by the work's name without its movement ("... Piano Sonata No 14"), for works whose every
# movement in the catalog states one key; a number or name two works of an artist share is
# left out.
works = {}
for t in tracks:
    m = re.search(r"\((OP\d+(?:NO\d+)?|BWV\d+|K\d+)\)", t.get("description") or "")
    if m and t["metadata"].get("key"):
        works.setdefault((t["artist"], m.group(1)), []).append(t)


def spoken(code):
    m = re.fullmatch(r"OP(\d+)(?:NO(\d+))?", code)
    if m:
        text = rng.choice(["Op. {}", "op {}", "Opus {}"]).format(m.group(1))
        return text + (rng.choice([" No. {}", " no {}"]).format(m.group(2)) if m.group(2) else "")
    m = re.fullmatch(r"BWV(\d+)", code)
    if m:
        return f"BWV {m.group(1)}"
    return rng.choice(["K. {}", "K {}"]).format(code[1:])


by_work_name = {}
for (artist, code), ts in works.items():
    name = re.split(r" in [A-G]|:", ts[0]["title"])[0].strip()
    by_work_name.setdefault((artist, norm(name)), set()).add(code)
lookups = [(a, c, ts) for (a, c), ts in sorted(works.items()) if len({t["metadata"]["key"] for t in ts}) == 1]
for artist, code, ts in rng.sample(lookups, min(25, len(lookups))):
    rows.append({"query": f"what key is {artist}'s {spoken(code)} in?", "relevant": [t["id"] for t in ts],
                 "kind": "questions_lookup_catalogue", "answer": ts[0]["metadata"]["key"]})
for artist, code, ts in rng.sample(lookups, min(25, len(lookups))):
    name = re.split(r" in [A-G]|:", ts[0]["title"])[0].strip()
    if len(by_work_name[(artist, norm(name))]) != 1 or name == ts[0]["title"]:
        continue
    rows.append({"query": f"what key is {artist}'s {name} in?", "relevant": [t["id"] for t in ts],
                 "kind": "questions_lookup_name", "answer": ts[0]["metadata"]["key"]})
for q in ["what is the capital of France?", "will it rain in Paris tomorrow?", "who won the world cup in 2018?",
          "how do I bake sourdough bread?", "what is the square root of 144?", "who is the president of Brazil?",
          "how far is the moon from the earth?", "what time is it in Tokyo?", "how do vaccines work?",
          "what is the best programming language?"]:
    rows.append({"query": q, "relevant": [], "kind": "questions_off_topic",
                 "answer": "questions about the music", "grounded": False})
with open(os.path.join(OUT, "questions.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
kinds = {}
for r in rows:
    kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
print(f"questions.jsonl: {len(rows)} {kinds}", file=sys.stderr)
