#!/usr/bin/env python3
"""librosa on the labelled set, scored as crates/audio/examples/labelled_accuracy.rs scores
Music RAG: tempo from `beat.beat_track` (within 4 %; ½, ⅔, 3/2, 2, 3 times counted apart as
octave errors), key from the mean `chroma_cqt` against the Krumhansl-Schmuckler profiles (the
usual way with librosa, which has no key estimator of its own).

    python3 bench/audio/librosa_labelled.py SET_DIR
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import librosa  # noqa: E402
import numpy as np  # noqa: E402

MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def key_of(chroma):
    best = None
    for tonic in range(12):
        for mode, profile in (("major", MAJOR), ("minor", MINOR)):
            r = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
            if best is None or r > best[0]:
                best = (r, f"{NAMES[tonic]} {mode}")
    return best[1]


def main():
    root = sys.argv[1]
    labels = [json.loads(l) for l in open(os.path.join(root, "labels.jsonl"))]
    n = tempo_ok = octave = keyed = key_ok = keyless = keyless_ok = 0
    for label in labels:
        y, sr = librosa.load(os.path.join(root, label["file"]), sr=22050, mono=True)
        tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
        t = float(np.atleast_1d(tempo)[0])
        truth = label["tempo"]
        n += 1
        if abs(t - truth) <= 0.04 * truth:
            tempo_ok += 1
        elif any(abs(t - truth * m) <= 0.04 * truth * m for m in (0.5, 2 / 3, 1.5, 2, 3, 1 / 3)):
            octave += 1
        key = key_of(librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1))
        if label["key"]:
            keyed += 1
            key_ok += key == label["key"]
        else:
            keyless += 1  # librosa always names a key
    pct = lambda a, b: 100.0 * a / max(b, 1)
    print(
        f"librosa {librosa.__version__}: {n} pieces: tempo within 4 % {pct(tempo_ok, n):.1f} %, "
        f"octave errors {pct(octave, n):.1f} %; key and mode {pct(key_ok, keyed):.1f} % of {keyed}; "
        f"no key for {keyless_ok} of {keyless} keyless pieces"
    )


if __name__ == "__main__":
    main()
