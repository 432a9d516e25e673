#!/usr/bin/env python3
"""MusiCNN's per-patch tags and embeddings from the Python package itself, for comparison with
the Rust port (crates/audio/examples/musicnn_taggram.rs prints the same JSON lines).

Needs: pip install musicnn==0.1.0 --no-deps, tensorflow, tf_keras (same minor version),
librosa, soundfile; run with TF_USE_LEGACY_KERAS=1 (the package uses tf.compat.v1.layers).

    TF_USE_LEGACY_KERAS=1 python3 bench/audio/musicnn_reference.py [--msd] FILE... > reference.jsonl

`--msd`: the Million Song Dataset model (MSD_musicnn); MagnaTagATune's (MTT_musicnn) otherwise.

The package multiplies its float16 spectrogram by 10000 in float16, which overflows to infinity
above 6.55 (loud bass); the port takes that product in float32. `--as-published` keeps the
package's float16 product, to show where the two differ.

The package's extractor also returns the first patch's penultimate layer for every later batch
(its loop names the value `backend_` but concatenates `penultimate_`); with every patch in one
batch (BATCH_SIZE raised below) each patch gets its own.
"""
import contextlib
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import librosa  # noqa: E402
import numpy as np  # noqa: E402
from musicnn import configuration as config  # noqa: E402
from musicnn import extractor as ex  # noqa: E402


def batch_data_float32_log(audio_file, n_frames, overlap):
    """The package's batch_data with the log compression's product in float32."""
    audio, sr = librosa.load(audio_file, sr=config.SR)
    audio_rep = librosa.feature.melspectrogram(
        y=audio, sr=sr, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS
    ).T
    audio_rep = audio_rep.astype(np.float16).astype(np.float32)
    audio_rep = np.log10(10000 * audio_rep + 1)
    last_frame = audio_rep.shape[0] - n_frames + 1
    patches = [audio_rep[t : t + n_frames, :] for t in range(0, last_frame, overlap)]
    return np.stack(patches), audio_rep


def main():
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    model = "MSD_musicnn" if "--msd" in sys.argv else "MTT_musicnn"
    config.BATCH_SIZE = 1_000_000  # one batch: see the docstring
    if "--as-published" not in sys.argv:
        ex.batch_data = batch_data_float32_log
    for path in files:
        with contextlib.redirect_stdout(sys.stderr):  # the package prints progress
            taggram, _, features = ex.extractor(path, model=model, extract_features=True)
        print(
            json.dumps(
                {
                    "file": path,
                    "taggram": taggram.astype(float).round(6).tolist(),
                    "penultimate": features["penultimate"].astype(float).round(6).tolist(),
                }
            )
        )


if __name__ == "__main__":
    main()
