//! Where audio ingest spends its time: decoding against analysis, per file set.
//!     cargo run --release -p music-rag-audio --example analysis_speed -- DIR

use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: analysis_speed DIR");
    let files = music_rag_audio::find_audio_files(std::path::Path::new(&dir));
    let (mut decode, mut analyse, mut audio) = (0.0, 0.0, 0.0);
    for f in &files {
        let t = Instant::now();
        let d = music_rag_audio::decode_file(f).expect("decodes");
        decode += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = music_rag_audio::analyse(&d.samples, d.sample_rate);
        analyse += t.elapsed().as_secs_f64();
        audio += d.duration_seconds;
    }
    println!(
        "{} files, {audio:.0} s of audio: decode {decode:.2} s ({:.0}x), analyse {analyse:.2} s ({:.0}x)",
        files.len(),
        audio / decode,
        audio / analyse
    );
}
