#!/usr/bin/env bash
# Recordings that have no tempo or no key, for the analysis's honesty thresholds
# (`examples/decision_inputs.rs` prints what its decisions rest on for each):
#     bench/audio/nonmusic_set.sh OUT_DIR
# A 440 Hz and a quiet 1 kHz sine, white and brown noise, silence (sox), English and German
# speech (espeak-ng), 20 s each at 44.1 kHz. Needs Debian sox and espeak-ng.
set -euo pipefail
out=${1:?usage: nonmusic_set.sh OUT_DIR}
mkdir -p "$out"
sox -n -r 44100 -c 1 -b 16 "$out/sine-440.wav" synth 20 sine 440 vol 0.5
sox -n -r 44100 -c 1 -b 16 "$out/sine-1k-quiet.wav" synth 20 sine 1000 vol 0.05
sox -n -r 44100 -c 1 -b 16 "$out/noise-white.wav" synth 20 whitenoise vol 0.3
sox -n -r 44100 -c 1 -b 16 "$out/noise-brown.wav" synth 20 brownnoise vol 0.3
sox -n -r 44100 -c 1 -b 16 "$out/silence.wav" trim 0 20
english="The committee met on Tuesday to discuss the budget for next year. After a long debate, \
the members agreed to spend more on schools and roads, and less on new buildings downtown. \
The final vote is expected at the end of the month, once the public has had a chance to comment."
german="Der Ausschuss hat sich am Dienstag getroffen, um den Haushalt für das nächste Jahr zu \
besprechen. Nach einer langen Debatte einigten sich die Mitglieder darauf, mehr für Schulen und \
Straßen auszugeben und weniger für neue Gebäude in der Innenstadt."
espeak-ng -v en -s 150 -w "$out/speech-en.raw.wav" "$english"
espeak-ng -v de -s 150 -w "$out/speech-de.raw.wav" "$german"
for lang in en de; do
  sox "$out/speech-$lang.raw.wav" -r 44100 "$out/speech-$lang.wav"
  rm "$out/speech-$lang.raw.wav"
done
ls "$out"
