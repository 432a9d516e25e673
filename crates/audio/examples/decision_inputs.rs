//! Prints what the tempo and key decisions rest on, per file (thresholds are set from these).
//!     cargo run --release -p music-rag-audio --example decision_inputs -- FILE...
fn main() {
    for path in std::env::args().skip(1) {
        let d = music_rag_audio::decode_file(std::path::Path::new(&path)).expect("decodes");
        let (f, inputs) = music_rag_audio::analysis::measure(&d.samples, d.sample_rate);
        let (clarity, r) = (inputs.pulse_clarity, inputs.key_correlation);
        let period = inputs
            .period_clarity
            .map_or("none".into(), |c| format!("{c:.3}"));
        let (top, db, flux) = (inputs.chroma_contrast, inputs.loudness_dbfs, inputs.flux_db);
        let note_share = inputs.note_share;
        println!(
            "{:<40} clarity {:>6} period {period:>6} key r {:>6} top class {top:.2} note share {note_share:.3} loudness {db:>6.1} flux {flux:.3} -> tempo {:?} key {:?}",
            std::path::Path::new(&path).file_name().unwrap().to_string_lossy(),
            clarity.map_or("none".into(), |c| format!("{c:.3}")),
            r.map_or("none".into(), |c| format!("{c:.3}")),
            f.tempo_bpm,
            f.key
        );
    }
}
