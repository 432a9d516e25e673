#!/usr/bin/env python3
"""Word search over an untagged folder: nDCG@10 of instrument and genre queries on the labelled
set (bench/audio/labelled_set.py), plus precision@10 of sound-alike neighbours (same class), and
tempo / key accuracy of the analysis against the known values.

    python3 bench/audio/heard_eval.py BINARY SET_DIR DATA_DIR [--json]

Ingests SET_DIR into DATA_DIR (a fresh data directory) with BINARY's `ingest-audio`, then asks
its `search` and `similar --sound`. Files carry no tags: only what is heard can match.
"""
import json
import math
import os
import subprocess
import sys

# query -> the classes that are relevant to it
QUERIES = {
    "solo piano": ["piano"],
    "harpsichord": ["harpsichord"],
    "acoustic guitar": ["acoustic guitar"],
    "violin": ["violin"],
    "cello": ["cello"],
    "harp": ["harp"],
    "flute": ["flute"],
    "sitar": ["sitar"],
    "string ensemble": ["strings"],
    "synth": ["synth", "techno"],
    "choir singing": ["choir"],
    "drums only": ["drums"],
    "rock": ["rock"],
    "heavy metal": ["metal"],
    "techno": ["techno"],
    "classical music": ["classical", "strings", "harpsichord"],
    "ambient": ["ambient"],
    "jazz": ["jazz"],
    "blues": ["blues"],
    "hip hop": ["hip hop"],
}


def run(binary, data, *args):
    out = subprocess.run(
        [binary, "--data-dir", data, "--json", *args], capture_output=True, text=True
    )
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def ndcg(ranked, relevant, k=10):
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def main():
    binary, set_dir, data = sys.argv[1:4]
    labels = [json.loads(l) for l in open(os.path.join(set_dir, "labels.jsonl"))]
    by_file = {l["file"]: l for l in labels}
    if not os.path.isdir(data):
        os.makedirs(data)
        run(binary, data, "ingest-audio", set_dir)
    tracks = [json.loads(l) for l in run(binary, data, "list").splitlines() if l.strip()]
    cls_of = {}
    for t in tracks:
        name = os.path.basename(t.get("audio_path") or "")
        if name in by_file:
            cls_of[t["id"]] = by_file[name]["class"]
    results = {}
    for query, classes in QUERIES.items():
        hits = json.loads(run(binary, data, "search", query, "-k", "10"))["hits"]
        ranked = [h["track"]["id"] for h in hits]
        relevant = {i for i, c in cls_of.items() if c in classes}
        results[query] = ndcg(ranked, relevant)
    # sound-alike: same class among the 10 nearest by sound
    precision = []
    for tid, cls in cls_of.items():
        out = run(binary, data, "similar", tid, "--sound", "-k", "10")
        hits = json.loads(out).get("hits", []) if out.strip() else []
        same = sum(1 for h in hits if cls_of.get(h["track"]["id"]) == cls)
        precision.append(same / 10)
    # tempo and key against the known values
    tempo_ok = tempo_octave = tempo_total = key_ok = key_total = 0
    no_key_right = no_key_total = 0
    for t in tracks:
        name = os.path.basename(t.get("audio_path") or "")
        label = by_file.get(name)
        if not label:
            continue
        audio = t.get("audio") or {}
        bpm = audio.get("tempo_bpm")
        tempo_total += 1
        if bpm:
            if abs(bpm - label["tempo"]) <= 0.04 * label["tempo"]:
                tempo_ok += 1
            elif any(abs(bpm - label["tempo"] * f) <= 0.04 * label["tempo"] * f for f in (0.5, 2, 1 / 3, 3, 2 / 3, 1.5)):
                tempo_octave += 1
        if label["key"]:
            key_total += 1
            key_ok += int(audio.get("key") == label["key"])
        else:
            no_key_total += 1
            no_key_right += int(not audio.get("key"))
    report = {
        "queries": {q: round(v, 3) for q, v in results.items()},
        "mean_ndcg10": round(sum(results.values()) / len(results), 3),
        "sound_alike_precision10": round(sum(precision) / len(precision), 3),
        "tempo_within_4pct": round(tempo_ok / tempo_total, 3),
        "tempo_octave_or_related": round(tempo_octave / tempo_total, 3),
        "key_and_mode": round(key_ok / key_total, 3) if key_total else None,
        "no_key_pieces_without_key": f"{no_key_right}/{no_key_total}",
        "tracks": len(cls_of),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
