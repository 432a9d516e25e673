"""Does a comparing word move a sounds-like search? For every track of an analysed library (as
a seed), the top 5 of `similar ID --sound` with and without `--text WORD` (WORD: calmer,
louder, faster, slower, darker, brighter), and the mean shift of the measured quality the word
names, relative to the seed, in the asked direction (positive = moved as asked).

    python3 bench/audio/steer.py BINARY DATA_DIR [SEEDS]
"""
import json, subprocess, sys

binary, data = sys.argv[1:3]
seeds_max = int(sys.argv[3]) if len(sys.argv) > 3 else 20


def run(*args):
    out = subprocess.run([binary, "--data-dir", data, "--json", *args], capture_output=True, text=True, check=True)
    return out.stdout


tracks = [json.loads(l) for l in run("list").splitlines() if l.strip()]
tracks = [t for t in tracks if t.get("audio")]
by_id = {t["id"]: t for t in tracks}


def quality(t, word):
    a = t["audio"]
    if word in ("calmer", "louder"):
        return a["loudness_dbfs"] + 3.0 * a["onset_density"]
    if word in ("faster", "slower"):
        return a.get("tempo_bpm")
    return a["spectral_centroid_hz"]


UP = {"calmer": -1, "louder": 1, "faster": 1, "slower": -1, "darker": -1, "brighter": 1}
print("| word | seeds | shift without the word | with it | moved as asked (share of seeds) |")
print("|---|---:|---:|---:|---:|")
for word, sign in UP.items():
    without, with_, better, n = 0.0, 0.0, 0, 0
    for seed in tracks[:seeds_max]:
        q0 = quality(seed, word)
        if q0 is None:
            continue

        def shift(extra):
            hits = json.loads(run("similar", seed["id"], "--sound", "-k", "5", *extra))["hits"]
            vals = [quality(by_id[h["track"]["id"]], word) for h in hits if h["track"]["id"] in by_id]
            vals = [v for v in vals if v is not None]
            return sign * (sum(vals) / len(vals) - q0) if vals else 0.0

        a, b = shift([]), shift(["--text", f"but {word}"])
        without += a
        with_ += b
        better += b > a
        n += 1
    print(f"| {word} | {n} | {without / max(n, 1):+.2f} | {with_ / max(n, 1):+.2f} | {better}/{n} |")
