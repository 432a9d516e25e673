//! The web page in a real browser: starts two real servers (one without keys over the sample
//! catalog plus generated audio, one with keys over an empty catalog) and runs
//! `tests/ui/ui.test.mjs` in headless Chromium against them. Needs Node.js, the npm packages
//! of `tests/ui` (`npm ci --prefix tests/ui`) and Chromium, which `scripts/test.sh` and
//! `.ci/run` install. Screenshots go to a temporary folder, or to `docs/screenshots` with
//! `UPDATE_SCREENSHOTS=1`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{spawn_on, READER, WRITER};
use common::sound::{music, tool, write_wav};

/// Generated tracks with audio: (file, title, artist, bpm, chord).
const SONGS: &[(&str, &str, &str, f32, &[i32])] = &[
    (
        "lantern.ogg",
        "Lantern Waltz",
        "The Test Ensemble",
        90.0,
        &[57, 60, 64],
    ),
    (
        "harbour.ogg",
        "Harbour Lights",
        "The Test Ensemble",
        120.0,
        &[60, 64, 67],
    ),
    (
        "copper.ogg",
        "Copper Engine",
        "Echo Choir",
        140.0,
        &[62, 66, 69],
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the songs as tagged OGG Vorbis into `dir`; returns one of them for uploads.
fn audio_library(dir: &Path, scratch: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    // Cover art for the library view: the folder's image.
    std::fs::write(dir.join("cover.png"), crate::subsonic::png([40, 120, 90])).unwrap();
    for (n, (file, title, artist, bpm, chord)) in SONGS.iter().enumerate() {
        let wav = scratch.join(format!("{file}.wav"));
        write_wav(&wav, &music(*bpm, chord, 24.0, 0.4));
        tool(
            "oggenc",
            &[
                "--quiet",
                "-t",
                title,
                "-a",
                artist,
                "-G",
                "Folk",
                "-l",
                "Harbour Sessions",
                "-N",
                &(n + 1).to_string(),
                "-c",
                "ALBUMARTIST=The Test Ensemble",
                "-o",
                dir.join(file).to_str().unwrap(),
                wav.to_str().unwrap(),
            ],
        );
    }
    dir.join(SONGS[0].0)
}

#[test]
fn the_web_page_works_in_a_real_browser() {
    let ui = repo().join("tests/ui");
    assert!(
        ui.join("node_modules/playwright-core").is_dir() && ui.join("node_modules/axe-core").is_dir(),
        "the browser tests need their npm packages: run `npm ci --prefix tests/ui` (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "the browser tests need Chromium at {chromium} (Debian package `chromium`; .ci/run installs it)"
    );

    let (_tmp, data) = common::fresh_copy();
    let scratch = tempfile::tempdir().unwrap();
    let upload = audio_library(&data.join("audio"), scratch.path());
    let clip = scratch.path().join("clip.ogg");
    std::fs::copy(&upload, &clip).unwrap();
    let ingest = common::run(
        &data,
        &["ingest-audio", data.join("audio").to_str().unwrap()],
    );
    assert!(
        ingest.status.success(),
        "ingest-audio: {}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    // The same folder is the open server's music library (its songs already analysed).
    let music = data.join("audio");
    let open = spawn_on(
        &data,
        &[
            ("MUSIC_RAG_API_KEYS", ""),
            ("MUSIC_RAG_QUERY_LOG", "texts"),
            ("MUSIC_RAG_MUSIC_FOLDERS", music.to_str().unwrap()),
        ],
    );
    let empty = tempfile::tempdir().unwrap();
    let keyed = spawn_on(empty.path(), &[]);

    let screenshots = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        repo().join("docs/screenshots")
    } else {
        scratch.path().join("screenshots")
    };
    let out = Command::new("node")
        .current_dir(&ui)
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-reporter=tap",
            "ui.test.mjs",
        ])
        .env("OPEN_URL", &open.base)
        .env("KEYED_URL", &keyed.base)
        .env("WRITE_KEY", WRITER)
        .env("READ_KEY", READER)
        .env("AUDIO_TITLE", SONGS[0].1)
        .env("AUDIO_FILE", &clip)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (Node.js 18 or later)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(out.status.success(), "browser tests failed:\n{report}");
    assert!(report.contains("# fail 0"), "{report}");
}
