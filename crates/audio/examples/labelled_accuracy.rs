//! Tempo and key of the measured analysis against a labelled set's known values
//! (`bench/audio/labelled_set.py` writes `labels.jsonl` beside the files).
//!     cargo run --release -p music-rag-audio --example labelled_accuracy -- DIR [-v]
//! Tempo is right within 4 %; a tempo at ½, ⅔, 3/2, 2 or 3 times the true one is counted apart
//! as an octave error. Key and mode must both be right. Pieces without a key (drums only) must
//! get none.

use std::io::BufRead;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: DIR [-v]"));
    let verbose = std::env::args().any(|a| a == "-v");
    let labels = std::fs::File::open(dir.join("labels.jsonl")).expect("labels.jsonl");
    let (mut n, mut tempo_ok, mut octave, mut no_tempo) = (0, 0, 0, 0);
    // Stated tempos flagged "half or double fits nearly as well": among the right ones and
    // among the octave errors.
    let (mut ok_flagged, mut octave_flagged) = (0, 0);
    let (mut keyed, mut key_ok, mut keyless, mut keyless_ok) = (0, 0, 0, 0);
    for line in std::io::BufReader::new(labels).lines() {
        let label: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let file = dir.join(label["file"].as_str().unwrap());
        let d = music_rag_audio::decode_file(&file).expect("decodes");
        let f = music_rag_audio::analyse(&d.samples, d.sample_rate);
        let truth = label["tempo"].as_f64().unwrap() as f32;
        n += 1;
        match f.tempo_bpm {
            Some(t) if (t - truth).abs() <= 0.04 * truth => {
                tempo_ok += 1;
                ok_flagged += usize::from(f.tempo_octave_ambiguous);
            }
            Some(t)
                if [0.5, 2.0 / 3.0, 1.5, 2.0, 3.0, 1.0 / 3.0]
                    .iter()
                    .any(|m| (t - truth * m).abs() <= 0.04 * truth * m) =>
            {
                octave += 1;
                octave_flagged += usize::from(f.tempo_octave_ambiguous);
            }
            None => no_tempo += 1,
            _ => {}
        }
        match label["key"].as_str() {
            Some(k) => {
                keyed += 1;
                key_ok += usize::from(f.key.as_deref() == Some(k));
            }
            None => {
                keyless += 1;
                keyless_ok += usize::from(f.key.is_none());
            }
        }
        if verbose {
            println!(
                "{} {:>16} tempo {truth:>5.0} -> {:>7} key {:>9} -> {:?}",
                label["file"].as_str().unwrap(),
                label["class"].as_str().unwrap(),
                f.tempo_bpm.map_or("none".into(), |t| format!("{t:.1}")),
                label["key"].as_str().unwrap_or("none"),
                f.key
            );
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "{n} pieces: tempo within 4 % {:.1} %, octave errors {:.1} %, none {:.1} %; key and mode {:.1} % of {keyed}; no key for {keyless_ok} of {keyless} keyless pieces",
        pct(tempo_ok, n),
        pct(octave, n),
        pct(no_tempo, n),
        pct(key_ok, keyed)
    );
    println!(
        "octave flagged ambiguous: {ok_flagged} of {tempo_ok} right tempos, {octave_flagged} of {octave} octave errors"
    );
}
