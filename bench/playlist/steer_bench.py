"""Does a comparing word move recommendations the asked way? On a catalog with analysed audio
(the demo library of scripts/demo-audio.sh), for many pairs of seed tracks: the mean energy
(loudness dBFS + 3 x onsets/s) and tempo of the top 10 recommendations with no words, with
"but calmer" / "but louder" / "slower" / "faster", against the seeds' own mean.

    python3 bench/playlist/steer_bench.py BINARY DATA_DIR [PAIRS]
"""

import json
import random
import subprocess
import sys


def run(binary, data, *args):
    out = subprocess.run([binary, "--data-dir", data, *args, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return out


def main():
    binary, data = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    tracks = [json.loads(l) for l in run(binary, data, "list").splitlines() if l.strip()]
    audio = {t["id"]: t["audio"] for t in tracks if t.get("audio") and t["audio"].get("tempo_bpm")}
    energy = lambda a: a["loudness_dbfs"] + 3.0 * a["onset_density"]
    tempo = lambda a: a["tempo_bpm"]
    ids = sorted(audio)
    rng = random.Random(7)
    words = {"": None, "but calmer": (energy, -1), "but louder": (energy, 1),
             "slower": (tempo, -1), "faster": (tempo, 1)}
    moved = {w: [] for w in words}
    for _ in range(pairs):
        seeds = rng.sample(ids, 2)
        base = {}
        for w in words:
            args = ["similar", *seeds, "-k", "10"] + (["--text", w] if w else [])
            hits = json.loads(run(binary, data, *args))["hits"]
            got = [h["track"]["id"] for h in hits if h["track"]["id"] in audio]
            if not got:
                continue
            for name, f in (("energy", energy), ("tempo", tempo)):
                mean = sum(f(audio[i]) for i in got) / len(got)
                base.setdefault(name, {})[w] = mean
        for w, spec in words.items():
            if spec is None or w not in base.get("energy", {}):
                continue
            f, sign = spec
            name = "energy" if f is energy else "tempo"
            moved[w].append(sign * (base[name][w] - base[name][""]) > 0)
    print(f"{pairs} random seed pairs from {len(ids)} analysed tracks; top 10 against no words:")
    for w, m in moved.items():
        if m:
            print(f"  {w!r}: moved the asked way in {sum(m)}/{len(m)} pairs ({100 * sum(m) / len(m):.0f}%)")


if __name__ == "__main__":
    main()
