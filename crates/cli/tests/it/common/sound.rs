//! Music synthesised for tests (a known tempo and key) and written with the reference
//! encoders, so audio tests need no recordings.

use std::f32::consts::PI;
use std::path::Path;
use std::process::Command;

pub const RATE: u32 = 22_050;

/// Held chords with a click on every beat: a known tempo and key.
pub fn music(bpm: f32, chord: &[i32], seconds: f32, brightness: f32) -> Vec<f32> {
    let n = (seconds * RATE as f32) as usize;
    let period = (60.0 / bpm * RATE as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let pad: f32 = chord
                .iter()
                .map(|&m| {
                    let f = 440.0 * 2f32.powf((m - 69) as f32 / 12.0);
                    (2.0 * PI * f * t).sin() + brightness * (6.0 * PI * f * t).sin()
                })
                .sum();
            let since = (i % period) as f32 / RATE as f32;
            let click = (2.0 * PI * 1500.0 * since).sin() * (-since * 200.0).exp();
            0.12 * pad + 0.5 * click
        })
        .collect()
}

pub fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

pub fn tool(name: &str, args: &[&str]) {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is needed to write test files ({e}); .ci/run installs it")
    });
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
