//! Analysis accuracy on signals with known truth, synthesised here: click tracks, chords and
//! scales in known keys, sines at known levels, and one clip in four formats.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

use music_rag_audio::{analyse, analyse_file, decode_file};

const RATE: u32 = 22_050;

fn click_track(bpm: f32, seconds: f32) -> Vec<f32> {
    let n = (seconds * RATE as f32) as usize;
    let mut s = vec![0.0f32; n];
    let period = 60.0 / bpm * RATE as f32;
    let mut t = 0.0f32;
    while (t as usize) < n {
        let start = t.round() as usize;
        for i in 0..(0.02 * RATE as f32) as usize {
            if start + i < n {
                let x = i as f32 / RATE as f32;
                s[start + i] += 0.8 * (2.0 * PI * 1500.0 * x).sin() * (-x * 200.0).exp();
            }
        }
        t += period;
    }
    s
}

fn note_hz(midi: i32) -> f32 {
    440.0 * 2f32.powf((midi - 69) as f32 / 12.0)
}

/// Notes held together for `seconds` each, with two overtones, as an instrument would.
fn chords(progression: &[&[i32]], seconds: f32) -> Vec<f32> {
    let per = (seconds * RATE as f32) as usize;
    let mut out = Vec::with_capacity(per * progression.len());
    for notes in progression {
        for i in 0..per {
            let t = i as f32 / RATE as f32;
            let env = (t * 20.0).min(1.0) * (((per - i) as f32 / RATE as f32) * 20.0).min(1.0);
            let v: f32 = notes
                .iter()
                .map(|&m| {
                    let f = note_hz(m);
                    (2.0 * PI * f * t).sin()
                        + 0.4 * (4.0 * PI * f * t).sin()
                        + 0.2 * (6.0 * PI * f * t).sin()
                })
                .sum();
            out.push(0.15 * env * v);
        }
    }
    out
}

#[test]
fn click_tracks_give_their_tempo_or_flag_an_octave_error() {
    for bpm in [60.0f32, 90.0, 120.0, 150.0, 174.0] {
        let f = analyse(&click_track(bpm, 30.0), RATE);
        let t = f
            .tempo_bpm
            .unwrap_or_else(|| panic!("no tempo found at {bpm}"));
        let right = (t - bpm).abs() <= 2.0;
        let octave = f.tempo_octave_ambiguous
            && ((t - 2.0 * bpm).abs() <= 4.0 || (t - bpm / 2.0).abs() <= 1.0);
        assert!(
            right || octave,
            "{bpm} BPM measured as {t} (octave flag {})",
            f.tempo_octave_ambiguous
        );
        println!(
            "{bpm} BPM -> {t:.2} (ambiguous: {})",
            f.tempo_octave_ambiguous
        );
    }
}

#[test]
fn chords_and_scales_give_their_key_and_mode() {
    // MIDI numbers: C4 = 60.
    let cases: [(&str, Vec<&[i32]>); 6] = [
        (
            "C major",
            vec![&[60, 64, 67], &[65, 69, 72], &[67, 71, 74], &[60, 64, 67]],
        ),
        (
            "A minor",
            vec![&[57, 60, 64], &[62, 65, 69], &[64, 68, 71], &[57, 60, 64]],
        ),
        (
            "G major",
            vec![&[55, 59, 62], &[60, 64, 67], &[62, 66, 69], &[55, 59, 62]],
        ),
        (
            "E minor",
            vec![&[52, 55, 59], &[57, 60, 64], &[59, 63, 66], &[52, 55, 59]],
        ),
        (
            "D major",
            vec![
                &[62],
                &[64],
                &[66],
                &[67],
                &[69],
                &[71],
                &[73],
                &[74],
                &[62, 66, 69],
            ],
        ),
        (
            "F# minor",
            vec![
                &[54],
                &[56],
                &[57],
                &[59],
                &[61],
                &[62],
                &[65],
                &[66],
                &[54, 57, 61],
            ],
        ),
    ];
    for (key, progression) in cases {
        let f = analyse(&chords(&progression, 1.0), RATE);
        assert_eq!(f.key.as_deref(), Some(key), "chroma {:?}", f.chroma_mean);
        let minor = key.ends_with("minor");
        assert!(f
            .words
            .contains(&(if minor { "minor key" } else { "major key" }).to_string()));
    }
}

#[test]
fn sounds_without_a_beat_or_a_key_get_none_and_say_why() {
    let seconds = 20.0;
    let n = (seconds * RATE as f32) as usize;
    let sine: Vec<f32> = (0..n)
        .map(|i| 0.5 * (2.0 * PI * 440.0 * i as f32 / RATE as f32).sin())
        .collect();
    // White noise from a fixed linear congruential generator: the same every run.
    let mut state = 12345u32;
    let noise: Vec<f32> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 0.6 - 0.3
        })
        .collect();
    let silence = vec![0.0f32; n];
    for (name, samples) in [("sine", &sine), ("noise", &noise), ("silence", &silence)] {
        let f = analyse(samples, RATE);
        assert_eq!(f.tempo_bpm, None, "{name}: {:?}", f.tempo_bpm);
        assert_eq!(f.key, None, "{name}: {:?}", f.key);
        assert!(
            f.no_tempo_reason.is_some() && f.no_key_reason.is_some(),
            "{name}"
        );
    }
    assert_eq!(
        analyse(&sine, RATE).no_key_reason.as_deref(),
        Some("a single pitch, not a key")
    );
    assert_eq!(
        analyse(&silence, RATE).no_tempo_reason.as_deref(),
        Some("silent")
    );
    assert!(analyse(&noise, RATE)
        .no_tempo_reason
        .unwrap()
        .starts_with("no steady pulse"));

    // A drum loop has a tempo but no key.
    let drums = click_track(120.0, seconds);
    let f = analyse(&drums, RATE);
    assert!(
        (f.tempo_bpm.unwrap() - 120.0).abs() < 2.0,
        "{:?}",
        f.tempo_bpm
    );
    assert_eq!(f.key, None);
    assert!(f.no_key_reason.is_some());
}

#[test]
fn sine_levels_read_within_half_a_decibel() {
    for level in [-3.0f32, -12.0, -20.0, -30.0] {
        let a = 10f32.powf(level / 20.0);
        let s: Vec<f32> = (0..RATE * 5)
            .map(|i| a * (2.0 * PI * 440.0 * i as f32 / RATE as f32).sin())
            .collect();
        let f = analyse(&s, RATE);
        assert!(
            (f.loudness_dbfs - level).abs() <= 0.5,
            "{level} dBFS read as {}",
            f.loudness_dbfs
        );
        // A pure tone is tonal, and its brightness sits at its frequency.
        assert!(f.spectral_flatness < 0.05);
        assert!(
            (f.spectral_centroid_hz - 440.0).abs() < 60.0,
            "{}",
            f.spectral_centroid_hz
        );
    }
}

fn write_wav(path: &Path, samples: &[f32], rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        for _ in 0..channels {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Encodes with the command-line encoder a format needs (installed by `.ci/run`).
fn encode(tool: &str, args: &[&str]) {
    let status = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} is needed to write test files ({e}); .ci/run installs it")
    });
    assert!(
        status.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn four_formats(dir: &Path) -> Vec<PathBuf> {
    let music = chords(
        &[&[57, 60, 64], &[62, 65, 69], &[64, 68, 71], &[57, 60, 64]],
        2.0,
    );
    let wav = dir.join("clip.wav");
    write_wav(&wav, &music, 44_100 / 2, 2);
    let w = wav.to_str().unwrap();
    let flac = dir.join("clip.flac");
    encode("flac", &["--silent", "-f", "-o", flac.to_str().unwrap(), w]);
    let ogg = dir.join("clip.ogg");
    encode("oggenc", &["--quiet", "-o", ogg.to_str().unwrap(), w]);
    let mp3 = dir.join("clip.mp3");
    encode("lame", &["--silent", w, mp3.to_str().unwrap()]);
    vec![wav, flac, ogg, mp3]
}

#[test]
fn the_same_clip_decodes_alike_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let files = four_formats(tmp.path());
    let reference = decode_file(&files[0]).unwrap();
    assert_eq!(reference.channels, 2);
    assert!((reference.duration_seconds - 8.0).abs() < 0.01);
    for f in &files {
        let d = decode_file(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let ratio = d.duration_seconds / reference.duration_seconds;
        assert!(
            (ratio - 1.0).abs() <= 0.01,
            "{}: {} s",
            f.display(),
            d.duration_seconds
        );
        let a = analyse_file(f).unwrap();
        assert_eq!(
            a.track.metadata.key.as_deref(),
            Some("A minor"),
            "{}",
            f.display()
        );
        assert!(!a.tagged, "no tags: the title comes from the file name");
        assert_eq!(a.track.title, "clip");
    }
}

#[test]
fn broken_files_are_errors_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let files = four_formats(tmp.path());
    let junk = tmp.path().join("junk.mp3");
    std::fs::write(
        &junk,
        b"this is not audio at all, just text pretending to be an mp3",
    )
    .unwrap();
    assert!(analyse_file(&junk).is_err());
    let empty = tmp.path().join("empty.ogg");
    std::fs::write(&empty, b"").unwrap();
    assert!(analyse_file(&empty).is_err());
    for f in &files[1..] {
        let bytes = std::fs::read(f).unwrap();
        let cut = tmp
            .path()
            .join(format!("cut-{}", f.file_name().unwrap().to_string_lossy()));
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        // Truncated: either refused, or decoded to what is there; never a panic.
        if let Ok(d) = decode_file(&cut) {
            assert!(
                d.duration_seconds < 7.0,
                "{}: {}",
                cut.display(),
                d.duration_seconds
            );
        }
    }
}

#[test]
fn a_flac_deeper_than_the_decoder_reads_is_named_not_end_of_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("deep.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for s in chords(&[&[60, 64, 67]], 1.0) {
        w.write_sample((s.clamp(-1.0, 1.0) * i32::MAX as f32 * 0.5) as i32)
            .unwrap();
    }
    w.finalize().unwrap();
    let flac = tmp.path().join("deep.flac");
    encode(
        "flac",
        &[
            "--silent",
            "-f",
            "-o",
            flac.to_str().unwrap(),
            wav.to_str().unwrap(),
        ],
    );
    let err = decode_file(&flac).unwrap_err().to_string();
    assert!(err.contains("FLAC with 32-bit samples"), "{err}");
    assert!(!err.contains("end of stream"), "{err}");
}

#[test]
fn past_the_analysed_ten_minutes_a_file_is_counted_to_its_end() {
    // 630 s at 8 kHz: the first 600 s are handed out, the rest only counted (from the
    // packets' lengths where the container gives them), and the length is the whole file's.
    let rate = 8_000;
    let seconds = 630.0f32;
    let tone: Vec<f32> = (0..(seconds * rate as f32) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.3 * (2.0 * PI * 220.0 * t).sin() * (0.6 + 0.4 * (2.0 * PI * 0.5 * t).sin())
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("long.wav");
    write_wav(&wav, &tone, rate, 1);
    let w = wav.to_str().unwrap();
    let flac = tmp.path().join("long.flac");
    encode("flac", &["--silent", "-f", "-o", flac.to_str().unwrap(), w]);
    let ogg = tmp.path().join("long.ogg");
    encode("oggenc", &["--quiet", "-o", ogg.to_str().unwrap(), w]);
    let mp3 = tmp.path().join("long.mp3");
    encode("lame", &["--silent", w, mp3.to_str().unwrap()]);
    for f in [&wav, &flac, &ogg, &mp3] {
        let d = decode_file(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let analysed = d.samples.len() as f64 / f64::from(d.sample_rate);
        assert!(
            (analysed - music_rag_audio::decode::MAX_ANALYSED_SECONDS).abs() < 0.01,
            "{}: {analysed} s handed out",
            f.display()
        );
        assert!(
            (d.duration_seconds - f64::from(seconds)).abs() < 0.005 * f64::from(seconds),
            "{}: {} s long",
            f.display(),
            d.duration_seconds
        );
    }
}
