#!/usr/bin/env python3
"""A labelled audio set nobody tuned to: MIDI pieces generated from a seed, rendered with
fluidsynth and the General MIDI soundfont, each with its known instrument or style, tempo, key
and mode. Files are named by number only (untagged, as a bare music folder is).

    python3 bench/audio/labelled_set.py OUT_DIR [--seed 7] [--per-class 8] [--seconds 20]

Writes OUT_DIR/piece-NNN.wav and OUT_DIR/labels.jsonl. Needs PyPI pretty-midi and Debian
fluidsynth + fluid-soundfont-gm.
"""
import argparse
import json
import os
import random
import subprocess

import pretty_midi

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]  # as the catalog spells keys

# class -> (kind, melody program, accompaniment program or None, drums style or None,
#           tempo range, melody octave)
CLASSES = {
    "piano": ("instrument", 0, 0, None, (60, 140), 5),
    "harpsichord": ("instrument", 6, 6, None, (70, 140), 5),
    "acoustic guitar": ("instrument", 24, 24, None, (70, 130), 4),
    "violin": ("instrument", 40, None, None, (60, 120), 5),
    "cello": ("instrument", 42, None, None, (50, 100), 3),
    "harp": ("instrument", 46, 46, None, (60, 110), 5),
    "flute": ("instrument", 73, None, None, (60, 120), 5),
    "sitar": ("instrument", 104, None, None, (60, 110), 4),
    "strings": ("instrument", 48, 48, None, (50, 100), 5),
    "synth": ("instrument", 81, 89, None, (90, 140), 5),
    "choir": ("instrument", 52, 52, None, (50, 90), 4),
    "drums": ("instrument", None, None, "rock", (80, 160), None),
    "rock": ("genre", 30, 33, "rock", (100, 140), 4),
    "metal": ("genre", 30, 34, "metal", (150, 200), 3),
    "techno": ("genre", 81, 38, "techno", (120, 135), 5),
    "classical": ("genre", 40, 48, None, (60, 110), 5),
    "ambient": ("genre", 89, 95, None, (55, 75), 5),
    "jazz": ("genre", 66, 32, "swing", (100, 180), 4),
    "blues": ("genre", 29, 33, "shuffle", (70, 110), 4),
    "hip hop": ("genre", 4, 38, "boombap", (82, 98), 4),
}


def chords(mode_steps, minor):
    # I-IV-V-I in major, i-iv-V-i in minor with the dominant major (harmonic minor's raised
    # seventh), so a listener names the same key as the label. (A minor i-VI-III-VII is the
    # relative major's vi-IV-I-V: its key is ambiguous, and an earlier version of this set
    # used it.)
    degrees = [0, 3, 4, 0]
    out = [[mode_steps[(d + k) % 7] + 12 * ((d + k) // 7) for k in (0, 2, 4)] for d in degrees]
    if minor:
        out[2][1] += 1  # the dominant's third is the leading tone
    return out


def add_drums(pm, style, tempo, seconds, rng):
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    beat = 60.0 / tempo
    t = 0.0
    step = 0
    while t < seconds:
        if style == "techno":
            kit.notes.append(pretty_midi.Note(110, 36, t, t + 0.1))  # kick on every beat
            kit.notes.append(pretty_midi.Note(80, 42, t + beat / 2, t + beat / 2 + 0.05))
            if step % 2 == 1:
                kit.notes.append(pretty_midi.Note(90, 39, t, t + 0.1))  # clap
        elif style == "metal":
            for half in (0, 0.5):
                kit.notes.append(pretty_midi.Note(110, 36, t + half * beat, t + half * beat + 0.08))
            kit.notes.append(pretty_midi.Note(90, 49 if step % 4 == 0 else 51, t, t + 0.2))
            if step % 2 == 1:
                kit.notes.append(pretty_midi.Note(115, 38, t, t + 0.1))
        elif style == "swing":
            # ride on the beat and the swung "and", hi-hat foot on 2 and 4, soft kick
            kit.notes.append(pretty_midi.Note(80, 51, t, t + 0.2))
            kit.notes.append(pretty_midi.Note(70, 51, t + beat * 2 / 3, t + beat * 2 / 3 + 0.1))
            if step % 2 == 1:
                kit.notes.append(pretty_midi.Note(70, 44, t, t + 0.1))
            if rng.random() < 0.2:
                kit.notes.append(pretty_midi.Note(50, 38, t + beat * 2 / 3, t + beat * 2 / 3 + 0.1))
        elif style == "shuffle":
            kit.notes.append(pretty_midi.Note(95, 36 if step % 2 == 0 else 38, t, t + 0.1))
            for at in (0, 2 / 3):
                kit.notes.append(pretty_midi.Note(70, 42, t + at * beat, t + at * beat + 0.05))
        elif style == "boombap":
            bar_step = step % 4
            if bar_step in (0,) or (bar_step == 2 and rng.random() < 0.5):
                kit.notes.append(pretty_midi.Note(115, 36, t, t + 0.1))
            if bar_step in (1, 3):
                kit.notes.append(pretty_midi.Note(115, 38, t, t + 0.1))
            if bar_step == 2:
                kit.notes.append(pretty_midi.Note(75, 36, t + beat * 0.75, t + beat * 0.75 + 0.1))
            for half in (0, 0.5):
                kit.notes.append(pretty_midi.Note(65, 42, t + half * beat, t + half * beat + 0.05))
        else:  # rock
            kit.notes.append(pretty_midi.Note(100, 36 if step % 2 == 0 else 38, t, t + 0.1))
            for half in (0, 0.5):
                kit.notes.append(pretty_midi.Note(70, 42, t + half * beat, t + half * beat + 0.05))
            if rng.random() < 0.1:
                kit.notes.append(pretty_midi.Note(90, 49, t, t + 0.4))
        t += beat
        step += 1
    pm.instruments.append(kit)


def piece(cls, rng, seconds):
    kind, melody_prog, accomp_prog, drums, (lo, hi), octave = CLASSES[cls]
    tempo = float(rng.randint(lo, hi))
    tonic = rng.randrange(12)
    minor = rng.random() < 0.5
    steps = MINOR if minor else MAJOR
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    beat = 60.0 / tempo
    bar = 4 * beat
    progression = chords(steps, minor)
    if accomp_prog is not None:
        acc = pretty_midi.Instrument(program=accomp_prog)
        t, i = 0.0, 0
        base = 12 * (octave - 1) + tonic
        while t < seconds:
            chord = progression[i % 4]
            if cls == "jazz":
                # walking bass: a chord tone on every beat, in the bass register
                for k in range(4):
                    s = t + k * beat
                    acc.notes.append(pretty_midi.Note(90, base - 12 + chord[k % 3] + (2 if k == 3 else 0), s, s + beat * 0.9))
            elif cls in ("blues", "hip hop"):
                # bass: root and fifth, swung or laid back
                for k in range(4):
                    s = t + k * beat
                    acc.notes.append(pretty_midi.Note(95, base - 12 + (chord[0] if k % 2 == 0 else chord[2]), s, s + beat * 0.6))
            elif cls in ("rock", "metal"):
                # bass: the root on eighths
                for k in range(8):
                    s = t + k * bar / 8
                    acc.notes.append(pretty_midi.Note(95, base - 12 + chord[0], s, s + bar / 8 * 0.9))
            elif cls == "techno":
                for k in range(8):
                    s = t + k * bar / 8 + bar / 16
                    acc.notes.append(pretty_midi.Note(100, base - 12 + chord[0], s, s + bar / 16))
            elif cls in ("piano", "harpsichord", "acoustic guitar", "harp"):
                # arpeggio in the left hand
                for k in range(8):
                    s = t + k * bar / 8
                    note = base - 12 + chord[k % 3] + (12 if k % 6 >= 3 else 0)
                    acc.notes.append(pretty_midi.Note(70, note, s, s + bar / 8 * 1.5))
            else:
                for n in chord:
                    acc.notes.append(pretty_midi.Note(65, base + n - 12, t, t + bar * 0.98))
                acc.notes.append(pretty_midi.Note(70, base - 24 + chord[0], t, t + bar * 0.98))
            t += bar
            i += 1
        pm.instruments.append(acc)
    if melody_prog is not None:
        mel = pretty_midi.Instrument(program=melody_prog)
        t, i = 0.0, 0
        base = 12 * octave + tonic
        degree = 0
        while t < seconds:
            chord = progression[int(t // bar) % 4]
            if cls in ("rock", "metal"):
                # power chords on the chord root
                length = bar / 4 if cls == "rock" else bar / 8
                root = base - 12 + chord[0]
                for n in (root, root + 7, root + 12):
                    mel.notes.append(pretty_midi.Note(100, n, t, t + length * 0.9))
                t += length
                continue
            if cls in ("jazz", "blues", "hip hop"):
                # chords with a seventh (comping), the melody instrument's voice
                if int(t / beat) % 2 == 0:
                    for n in chord + [chord[0] + (10 if cls != "jazz" else 11)]:
                        mel.notes.append(pretty_midi.Note(75, base + n, t + beat * 2 / 3, t + beat * 1.5))
                t += beat
                continue
            length = rng.choice([beat / 2, beat, beat, beat * 2] if cls != "ambient" else [bar, bar * 2])
            if rng.random() < 0.5:
                note = base + chord[rng.randrange(3)]
            else:
                degree = max(-3, min(9, degree + rng.choice([-2, -1, 1, 2])))
                note = base + steps[degree % 7] + 12 * (degree // 7)
            mel.notes.append(pretty_midi.Note(rng.randint(80, 105), note, t, t + length * 0.95))
            t += length
            i += 1
        pm.instruments.append(mel)
    if drums:
        add_drums(pm, drums, tempo, seconds, rng)
    has_key = melody_prog is not None
    label = {
        "class": cls,
        "kind": kind,
        "tempo": tempo,
        "key": f"{NAMES[tonic]} {'minor' if minor else 'major'}" if has_key else None,
        "drums": drums is not None,
    }
    return pm, label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    jobs = [c for c in CLASSES for _ in range(args.per_class)]
    rng.shuffle(jobs)
    with open(os.path.join(args.out, "labels.jsonl"), "w") as labels:
        for n, cls in enumerate(jobs, 1):
            pm, label = piece(cls, rng, args.seconds)
            name = f"piece-{n:03d}"
            mid = os.path.join(args.out, name + ".mid")
            wav = os.path.join(args.out, name + ".wav")
            pm.write(mid)
            subprocess.run(
                ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "22050", "-F", wav, SOUNDFONT, mid],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.remove(mid)
            label["file"] = name + ".wav"
            labels.write(json.dumps(label) + "\n")
    print(f"{len(jobs)} pieces in {args.out}")


if __name__ == "__main__":
    main()
