//! Where audio ingest spends its time: decoding, the measured analysis, and hearing (MusiCNN,
//! at the default patch cap and over every patch), per file set, on one thread.
//!     cargo run --release -p music-rag-audio --example analysis_speed -- DIR
//! (the sound model from `SOUND_MODEL_DIR` or the cache; hearing is skipped without it).

use std::time::Instant;

use music_rag_audio::musicnn::{HearingOptions, SoundModel};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: analysis_speed DIR");
    let files = music_rag_audio::find_audio_files(std::path::Path::new(&dir));
    let model = SoundModel::load(&music_rag_audio::musicnn::default_sound_model_dir()).ok();
    let (mut decode, mut analyse, mut hear, mut hear_all, mut audio) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut patches, mut all_patches) = (0, 0);
    let mut agreement: Vec<(f32, f32)> = Vec::new();
    for f in &files {
        let t = Instant::now();
        let d = music_rag_audio::decode_file(f).expect("decodes");
        decode += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = music_rag_audio::analyse(&d.samples, d.sample_rate);
        analyse += t.elapsed().as_secs_f64();
        audio += d.duration_seconds;
        if let Some(model) = &model {
            let t = Instant::now();
            let capped = model.hear(&d.samples, d.sample_rate, HearingOptions::default());
            hear += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let full = model.hear(
                &d.samples,
                d.sample_rate,
                HearingOptions { max_patches: None },
            );
            hear_all += t.elapsed().as_secs_f64();
            patches += capped.patches;
            all_patches += full.patches;
            let worst = capped
                .tags
                .iter()
                .zip(&full.tags)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            agreement.push((worst, cosine(&capped.embedding, &full.embedding)));
        }
    }
    println!(
        "{} files, {audio:.0} s of audio: decode {decode:.2} s ({:.0}x), analyse {analyse:.2} s ({:.0}x)",
        files.len(),
        audio / decode,
        audio / analyse
    );
    if model.is_some() {
        let total = decode + analyse + hear;
        println!(
            "hear (at most {} patches per file, {patches} in all): {hear:.2} s ({:.0}x); every patch ({all_patches}): {hear_all:.2} s ({:.0}x)",
            music_rag_audio::musicnn::DEFAULT_MAX_PATCHES,
            audio / hear,
            audio / hear_all
        );
        println!(
            "decode + analyse + hear: {total:.2} s, {:.0}x real time on one core; a 4-minute song {:.2} s",
            audio / total,
            240.0 * total / audio
        );
        let worst_tag = agreement.iter().map(|a| a.0).fold(0.0, f32::max);
        let worst_cos = agreement.iter().map(|a| a.1).fold(1.0, f32::min);
        let mut tags: Vec<f32> = agreement.iter().map(|a| a.0).collect();
        tags.sort_by(f32::total_cmp);
        println!(
            "capped against every patch: tag difference median {:.3}, worst {worst_tag:.3}; embedding cosine worst {worst_cos:.3}",
            tags[tags.len() / 2]
        );
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}
