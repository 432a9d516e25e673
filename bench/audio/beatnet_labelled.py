#!/usr/bin/env python3
"""A learned beat tracker on the labelled set: which metrical level does a network trained on
people's beat annotations hear, against the MIDI tempos the set is labelled with?

BeatNet's CRNN (Heydari, Cwitkowitz and Duan, ISMIR 2021; weights CC BY 4.0, shipped in its
PyPI wheel) run in NumPy: its input features re-made after madmom's (64 ms Hann frames every
20 ms at 22,050 Hz, 24 log-spaced bands an octave from 30 Hz to 17 kHz, log10(1 + x), and the
positive difference to the previous frame), the network as its `model.py` defines it, then the
tempo from the beat and downbeat activation: autocorrelation, each lag with its multiples
(weighted 1/k), under the same log-normal prior around 120 BPM as librosa and Music RAG. Scored
as crates/audio/examples/labelled_accuracy.rs scores Music RAG. No PyTorch and no madmom: the
checkpoint's pickle is read here. The features are not checked against madmom's, so read the
numbers as what such a network hears, not as BeatNet's published accuracy.

    pip download --no-deps BeatNet==1.1.3 && unzip -q BeatNet-1.1.3-py3-none-any.whl -d beatnet
    python3 bench/audio/beatnet_labelled.py beatnet/BeatNet/models/model_1_weights.pt SET_DIR [-v]

Needs NumPy and librosa (for loading and resampling only).
"""
import collections
import json
import os
import pickle
import sys
import warnings
import zipfile

warnings.filterwarnings("ignore")
import librosa  # noqa: E402
import numpy as np  # noqa: E402

RATE = 22050
FPS = 50.0


def load_state_dict(path):
    """A PyTorch state dict (zip: data.pkl + one raw file per storage) as NumPy arrays."""
    archive = zipfile.ZipFile(path)
    prefix = archive.namelist()[0].split("/")[0]
    dtypes = {"FloatStorage": np.float32, "LongStorage": np.int64}

    def rebuild(storage, offset, size, stride, *_):
        dtype, key = storage
        raw = np.frombuffer(archive.read(f"{prefix}/data/{key}"), dtype=dtype)
        strides = [s * raw.itemsize for s in stride]
        return np.lib.stride_tricks.as_strided(raw[offset:], shape=size, strides=strides).copy()

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2":
                return rebuild
            if name in dtypes:
                return name
            if name == "OrderedDict":
                return collections.OrderedDict
            return super().find_class(module, name)

        def persistent_load(self, pid):  # ("storage", type, key, location, numel)
            return (dtypes[pid[1]], pid[2])

    return Unpickler(archive.open(f"{prefix}/data.pkl")).load()


def log_filterbank(n_fft, bands_per_octave=24, fmin=30.0, fmax=17000.0):
    """madmom's LogarithmicFilterbank: triangles between the FFT bins nearest to 440 Hz ·
    2^(k/24), duplicates dropped, each normalised to unit area."""
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    k = np.arange(np.floor(np.log2(fmin / 440) * bands_per_octave), np.ceil(np.log2(fmax / 440) * bands_per_octave))
    freqs = 440.0 * 2 ** (k / bands_per_octave)
    freqs = freqs[(freqs >= fmin) & (freqs <= fmax)]
    idx = np.searchsorted(bin_hz, freqs).clip(1, len(bin_hz) - 1)
    idx -= freqs - bin_hz[idx - 1] < bin_hz[idx] - freqs
    bins = np.unique(idx)
    filters = []
    for start, centre, stop in zip(bins, bins[1:], bins[2:]):
        if stop - start < 2:
            centre, stop = start, start + 1
        f = np.zeros(len(bin_hz), np.float32)
        f[start:centre] = np.arange(centre - start) / max(centre - start, 1)
        f[centre:stop] = 1 - np.arange(stop - centre) / max(stop - centre, 1)
        f /= f.sum()
        filters.append(f)
    return np.array(filters).T


def features(y):
    win, hop = int(0.064 * RATE), int(0.020 * RATE)
    padded = np.concatenate([np.zeros(win // 2, np.float32), y, np.zeros(win, np.float32)])
    n = int(np.ceil(len(y) / hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n] * np.hanning(win)
    spec = np.log10(np.abs(np.fft.rfft(frames, axis=1)) @ log_filterbank(win) + 1).astype(np.float32)
    diff = np.zeros_like(spec)
    diff[1:] = np.maximum(spec[1:] - spec[:-1], 0)
    return np.hstack([spec, diff])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def activations(state, x):
    """BeatNet's BDA forward pass: per frame, conv1d (1 → 2, width 10), ReLU, max-pool 2, linear
    to 150, two LSTM layers of 150, linear to 3, softmax: (beat, downbeat, no beat)."""
    frames = x.shape[0]
    w = state["conv1.weight"][:, 0, :]
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[1], axis=1)
    c = np.maximum(np.einsum("tpk,ck->tcp", windows, w) + state["conv1.bias"][None, :, None], 0)
    half = c.shape[2] // 2
    c = c[:, :, : 2 * half].reshape(frames, 2, half, 2).max(3)
    h = c.reshape(frames, -1) @ state["linear0.weight"].T + state["linear0.bias"]
    for layer in range(2):
        w_ih, w_hh = state[f"lstm.weight_ih_l{layer}"], state[f"lstm.weight_hh_l{layer}"]
        bias = state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]
        size = w_hh.shape[1]
        gates_in = h @ w_ih.T + bias
        out = np.zeros((frames, size), np.float32)
        hidden = np.zeros(size, np.float32)
        cell = np.zeros(size, np.float32)
        for t in range(frames):
            g = gates_in[t] + w_hh @ hidden
            i, f = sigmoid(g[:size]), sigmoid(g[size : 2 * size])
            cand, o = np.tanh(g[2 * size : 3 * size]), sigmoid(g[3 * size :])
            cell = f * cell + i * cand
            hidden = o * np.tanh(cell)
            out[t] = hidden
        h = out
    logits = h @ state["linear.weight"].T + state["linear.bias"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def tempo(activation):
    x = activation - activation.mean()
    n = len(x)
    lags = np.arange(int(FPS * 60 / 240), int(FPS * 60 / 40) + 1)
    ac = np.array([np.dot(x[: n - l], x[l:]) / (n - l) for l in range(4 * lags[-1] + 2)])
    score = np.array([sum(ac[min(k * l, len(ac) - 1)] / k for k in range(1, 5)) for l in lags])
    prior = np.exp(-0.5 * np.log2(60 * FPS / lags / 120) ** 2)
    best = lags[np.argmax(score * prior)]
    y0, y1, y2 = ac[best - 1], ac[best], ac[best + 1]
    d = y0 - 2 * y1 + y2
    offset = float(np.clip(0.5 * (y0 - y2) / d, -0.5, 0.5)) if abs(d) > 1e-12 else 0.0
    return 60 * FPS / (best + offset)


def main():
    state = load_state_dict(sys.argv[1])
    root = sys.argv[2]
    verbose = "-v" in sys.argv
    n = ok = octave = 0
    per_class = collections.defaultdict(lambda: [0, 0])
    for line in open(os.path.join(root, "labels.jsonl")):
        label = json.loads(line)
        y, _ = librosa.load(os.path.join(root, label["file"]), sr=RATE, mono=True)
        p = activations(state, features(y))
        t = tempo(p[:, 0] + p[:, 1])
        truth = label["tempo"]
        n += 1
        right = abs(t - truth) <= 0.04 * truth
        ok += right
        per_class[label["class"]][0] += right
        per_class[label["class"]][1] += 1
        if not right and any(abs(t - truth * m) <= 0.04 * truth * m for m in (0.5, 2 / 3, 1.5, 2, 3, 1 / 3)):
            octave += 1
        if verbose:
            print(f"{label['file']} {label['class']:>16} tempo {truth:5.0f} -> {t:6.1f}")
    pct = lambda a, b: 100.0 * a / max(b, 1)
    print(" ".join(f"{c} {a}/{b}" for c, (a, b) in sorted(per_class.items())))
    print(f"BeatNet CRNN: {n} pieces: tempo within 4 % {pct(ok, n):.1f} %, octave errors {pct(octave, n):.1f} %")


if __name__ == "__main__":
    main()
