"""A large synthetic catalog with vectors given, for scale benchmarks (issue 15): clustered unit
vectors (tracks of one style sit near each other, as real embeddings do) and facets whose shares
make filters of known selectivity: `metadata.is_live_performance` true for 50 %, genre
"synthwave" 5 %, genre "zydeco" 0.1 %, the rest spread over 40 genres.

    python3 bench/synthetic_large.py N MODEL_ID CATALOG.jsonl VECTORS.jsonl [--seed S]

MODEL_ID is the catalog's model (`music-rag model embed x` prints it as "embedding_model").
Load with: music-rag --data-dir DIR ingest CATALOG.jsonl --vectors VECTORS.jsonl
Needs numpy.
"""
import argparse
import json

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("model_id")
ap.add_argument("catalog")
ap.add_argument("vectors")
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--dim", type=int, default=384)
ap.add_argument("--clusters", type=int, default=2000)
args = ap.parse_args()

rng = np.random.default_rng(args.seed)
centers = rng.standard_normal((args.clusters, args.dim)).astype(np.float32)
centers /= np.linalg.norm(centers, axis=1, keepdims=True)
genres = [f"style {i}" for i in range(40)]
moods = ["calm", "dark", "uplifting", "melancholic", "energetic", "dreamy", "tense", "playful"]
instruments = ["piano", "guitar", "drums", "bass", "violin", "synthesizer", "voice", "flute"]

CHUNK = 10_000
with open(args.catalog, "w") as cat, open(args.vectors, "w") as vec:
    for start in range(0, args.n, CHUNK):
        m = min(CHUNK, args.n - start)
        cluster = rng.integers(0, args.clusters, m)
        v = centers[cluster] + 0.08 * rng.standard_normal((m, args.dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        share = rng.random(m)
        live = rng.random(m) < 0.5
        tempo = rng.normal(115, 25, m).clip(50, 200)
        year = rng.integers(1960, 2025, m)
        for j in range(m):
            i = start + j
            if share[j] < 0.001:
                genre = "zydeco"
            elif share[j] < 0.051:
                genre = "synthwave"
            else:
                genre = genres[int(share[j] * 1000) % len(genres)]
            c = int(cluster[j])
            track = {
                "id": f"syn-{i:07d}",
                "title": f"Track {i} of set {c}",
                "artist": f"Artist {c % 5000}",
                "year": int(year[j]),
                "description": f"A {moods[c % len(moods)]} {genre} piece with "
                f"{instruments[c % len(instruments)]} and {instruments[(c // 8) % len(instruments)]}.",
                "metadata": {
                    "genre": genre,
                    "mood": [moods[c % len(moods)]],
                    "instrumentation": [instruments[c % len(instruments)]],
                    "tempo": round(float(tempo[j]), 1),
                    "is_live_performance": bool(live[j]),
                },
            }
            cat.write(json.dumps(track) + "\n")
            vec.write(
                '{"id":"%s","embedding_model":"%s","embedding":[%s]}\n'
                % (track["id"], args.model_id, ",".join("%.5f" % x for x in v[j]))
            )
