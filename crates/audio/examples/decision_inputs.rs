//! Prints what the tempo and key decisions rest on, per file (thresholds are set from these).
//!     cargo run --release -p music-rag-audio --example decision_inputs -- FILE...
fn main() {
    for path in std::env::args().skip(1) {
        let d = music_rag_audio::decode_file(std::path::Path::new(&path)).expect("decodes");
        let (clarity, r, top, db, flux) =
            music_rag_audio::analysis::decision_inputs(&d.samples, d.sample_rate);
        let f = music_rag_audio::analyse(&d.samples, d.sample_rate);
        println!(
            "{:<40} clarity {:>6} key r {:>6} top class {top:.2} loudness {db:>6.1} flux {flux:.3} -> tempo {:?} key {:?}",
            std::path::Path::new(&path).file_name().unwrap().to_string_lossy(),
            clarity.map_or("none".into(), |c| format!("{c:.3}")),
            r.map_or("none".into(), |c| format!("{c:.3}")),
            f.tempo_bpm,
            f.key
        );
    }
}
