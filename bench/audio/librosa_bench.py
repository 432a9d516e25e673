"""The original service's audio extraction with librosa (MFCC, chroma, spectral centroid and
rolloff, zero-crossing rate, tempo), timed in CPU seconds on the same files Music RAG analyses.
Run through bench/audio/compare.sh, which installs librosa into its own virtual environment.

    python bench/audio/librosa_bench.py DIR [DIR ...]   -> one JSON line
"""
import json, os, sys, time, warnings

warnings.filterwarnings("ignore")
import librosa  # noqa: E402
import numpy as np  # noqa: E402

EXT = (".ogg", ".mp3", ".flac", ".wav", ".m4a")


def extract(path):
    y, sr = librosa.load(path, mono=True)  # the original's call: 22,050 Hz mono
    feats = {
        "mfcc": librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13).mean(axis=1),
        "chroma": librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1),
        "centroid": float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr))),
        "rolloff": float(np.mean(librosa.feature.spectral_rolloff(y=y, sr=sr))),
        "zcr": float(np.mean(librosa.feature.zero_crossing_rate(y))),
    }
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    feats["tempo"] = float(np.atleast_1d(tempo)[0])
    return len(y) / sr, feats


files = sorted(
    os.path.join(root, f)
    for d in sys.argv[1:]
    for root, _, names in os.walk(d)
    for f in names
    if f.lower().endswith(EXT)
)
extract(files[0])  # numba compiles on first use; not counted
cpu = wall = audio = 0.0
for f in files:
    c0, w0 = time.process_time(), time.perf_counter()
    seconds, _ = extract(f)
    cpu += time.process_time() - c0
    wall += time.perf_counter() - w0
    audio += seconds
print(json.dumps({"files": len(files), "audio_seconds": audio, "cpu_seconds": cpu, "wall_seconds": wall,
                  "audio_seconds_per_cpu_second": audio / cpu}))
