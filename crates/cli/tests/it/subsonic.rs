//! The music library and its OpenSubsonic API, for real: a folder of files tagged here in
//! ID3v2.3 (lame), ID3v2.4 (lofty), FLAC and Vorbis comments with pictures, a folder image and a
//! broken file; scanned by `music-rag scan` and by `serve --music-folder`; users made with
//! `music-rag user`; then the wire format, every way of logging in, the error codes, streaming,
//! cover art, per-user state across a restart and a backup, and the real client libraries
//! (PyPI py-opensonic and py-sonic, npm subsonic-api) driving the server.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::server::*;
use common::sound::{music, tool, write_wav};
use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::{ItemKey, Tag, TagType};
use serde_json::Value;

const PASSWORD: &str = "sesame-open-42";

pub(crate) fn png(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(96, 96, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Writes `tag` into `path` (replacing what lofty finds of its kind).
fn retag(path: &Path, tag: Tag, options: WriteOptions) {
    tag.save_to_path(path, options).unwrap();
}

/// A small library in every tag format, with albums, art, a compilation and a broken file.
pub fn tagged_library(dir: &Path) -> PathBuf {
    let lib = dir.join("Music");
    let one = lib.join("Artist One/First Album");
    let two = lib.join("Second Artist/Quiet Record");
    let mix = lib.join("Mixes/Summer Mix");
    for d in [&one, &two, &mix] {
        std::fs::create_dir_all(d).unwrap();
    }
    let cover = dir.join("cover.png");
    std::fs::write(&cover, png([200, 30, 30])).unwrap();
    let wav = |name: &str, bpm: f32, chord: &[i32]| {
        let p = dir.join(name);
        write_wav(&p, &music(bpm, chord, 6.0, 0.5));
        p
    };
    // ID3v2.3 with a picture, from lame itself.
    let a = wav("a.wav", 120.0, &[60, 64, 67]);
    tool(
        "lame",
        &[
            "--silent",
            "--id3v2-only",
            "--tt",
            "Opening",
            "--ta",
            "Artist One",
            "--tl",
            "First Album",
            "--ty",
            "2020",
            "--tn",
            "1",
            "--tg",
            "Rock",
            "--ti",
            cover.to_str().unwrap(),
            a.to_str().unwrap(),
            one.join("01 - Opening.mp3").to_str().unwrap(),
        ],
    );
    // ID3v2.4 written by lofty: album artist, disc, two genres, a MusicBrainz id.
    let b = wav("b.wav", 128.0, &[62, 65, 69]);
    let second = one.join("02 - Second Song.mp3");
    tool(
        "lame",
        &["--silent", b.to_str().unwrap(), second.to_str().unwrap()],
    );
    let mut tag = Tag::new(TagType::Id3v2);
    tag.set_title("Second Song".into());
    tag.set_artist("Artist One feat. Guest".into());
    tag.set_album("First Album".into());
    tag.insert_text(ItemKey::AlbumArtist, "Artist One".into());
    tag.set_track(2);
    tag.set_disk(1);
    tag.set_genre("Rock; Pop".into());
    tag.insert_text(ItemKey::RecordingDate, "2020-05-01".into());
    tag.insert_text(
        ItemKey::MusicBrainzReleaseId,
        "5b11f4ce-a62d-471e-81fc-a69a8278c7da".into(),
    );
    retag(&second, tag, WriteOptions::default());
    // FLAC with Vorbis comments and a FLAC picture.
    let c = wav("c.wav", 70.0, &[57, 60, 64]);
    tool(
        "flac",
        &[
            "--silent",
            "-f",
            "-T",
            "TITLE=Calm Piano",
            "-T",
            "ARTIST=Second Artist",
            "-T",
            "ALBUM=Quiet Record",
            "-T",
            "TRACKNUMBER=1",
            "-T",
            "DATE=2019",
            "-T",
            "GENRE=Classical",
            &format!("--picture={}", cover.display()),
            "-o",
            two.join("01 - Calm Piano.flac").to_str().unwrap(),
            c.to_str().unwrap(),
        ],
    );
    // OGG Vorbis; its album's art is the folder image.
    tool(
        "oggenc",
        &[
            "--quiet",
            "-t",
            "Night",
            "-a",
            "Second Artist",
            "-l",
            "Quiet Record",
            "-N",
            "2",
            "-G",
            "Classical",
            "-d",
            "2019",
            "-o",
            two.join("02 - Night.ogg").to_str().unwrap(),
            c.to_str().unwrap(),
        ],
    );
    std::fs::write(two.join("folder.png"), png([30, 30, 200])).unwrap();
    // A compilation without an album artist: filed under Various Artists.
    tool(
        "oggenc",
        &[
            "--quiet",
            "-t",
            "Beach",
            "-a",
            "Someone Else",
            "-l",
            "Summer Mix",
            "-c",
            "COMPILATION=1",
            "-o",
            mix.join("01 - Beach.ogg").to_str().unwrap(),
            a.to_str().unwrap(),
        ],
    );
    std::fs::write(
        lib.join("broken.mp3"),
        b"this is not audio, only a name".repeat(20),
    )
    .unwrap();
    lib
}

fn add_user(data: &Path, name: &str, admin: bool) {
    let pw = data.with_extension(format!("{name}.pw"));
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let mut args = vec!["user", "add", name, "--password-file", pw.to_str().unwrap()];
    if admin {
        args.push("--admin");
    }
    let out = common::run(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rest(app: &App, method: &str, query: &str) -> (String, String) {
    let url = format!("{}/rest/{method}?{query}", app.base);
    let r = agent()
        .get(&url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(r.status(), 200, "Subsonic answers 200 even for errors");
    let ct = r.content_type().to_string();
    (ct, r.into_string().unwrap())
}

fn auth(user: &str) -> String {
    format!("u={user}&p={PASSWORD}&c=test&v=1.16.1")
}

/// A JSON call as `user`; the `subsonic-response` object.
fn json(app: &App, method: &str, query: &str) -> Value {
    let (_, body) = rest(app, method, &format!("{query}&f=json&{}", auth("ann")));
    let v: Value = serde_json::from_str(&body).unwrap();
    v["subsonic-response"].clone()
}

fn error_code(app: &App, method: &str, query: &str) -> i64 {
    let (_, body) = rest(app, method, &format!("{query}&f=json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["subsonic-response"]["status"], "failed",
        "{method}?{query}: {v}"
    );
    v["subsonic-response"]["error"]["code"].as_i64().unwrap()
}

fn wait_for_scan(app: &App) {
    for _ in 0..600 {
        let s = json(app, "getScanStatus", "");
        if s["scanStatus"]["scanning"] == false && s["scanStatus"]["count"].as_i64() > Some(0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the scan did not finish");
}

fn serve_library(data: &Path, lib: &Path) -> App {
    spawn_on(data, &[("MUSIC_RAG_MUSIC_FOLDERS", lib.to_str().unwrap())])
}

/// The Python with the client libraries (`scripts/test.sh` makes it; SUBSONIC_CLIENTS_PYTHON
/// overrides).
fn clients_python() -> PathBuf {
    std::env::var_os("SUBSONIC_CLIENTS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/subsonic-clients/bin/python")
        })
}

#[test]
fn a_music_folder_served_to_subsonic_clients_keeps_each_listeners_state() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tagged_library(tmp.path());
    let data = tmp.path().join("data");
    add_user(&data, "ann", true);
    add_user(&data, "bob", false);
    let key =
        String::from_utf8(common::run(&data, &["user", "key", "ann", "--label", "phone"]).stdout)
            .unwrap()
            .trim()
            .to_string();
    assert!(key.starts_with("mrk_"), "{key}");
    let app = serve_library(&data, &lib);
    wait_for_scan(&app);
    let (_, r) = call("GET", &format!("{}/v1/stats", app.base), Some(READER), None);
    let stats = json_of(r);
    assert_eq!(stats["library"]["songs"], 5, "{stats}");
    assert_eq!(stats["library"]["albums"], 3);
    assert_eq!(stats["library"]["scanning"], false);
    assert_eq!(
        stats["library"]["last_scan"]["failed"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The envelope: XML by default, JSON and JSONP on request; getOpenSubsonicExtensions
    // needs no login.
    let (ct, xml) = rest(&app, "ping.view", &auth("ann"));
    assert!(ct.starts_with("application/xml"), "{ct}");
    assert!(
        xml.contains(r#"<subsonic-response xmlns="http://subsonic.org/restapi""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"status="ok""#) && xml.contains(r#"openSubsonic="true""#),
        "{xml}"
    );
    let (ct, jsonp) = rest(
        &app,
        "ping",
        &format!("f=jsonp&callback=cb&{}", auth("ann")),
    );
    assert!(
        ct.starts_with("application/javascript") && jsonp.starts_with("cb({"),
        "{jsonp}"
    );
    let (_, ext) = rest(&app, "getOpenSubsonicExtensions", "f=json");
    assert!(
        ext.contains("sonicSimilarity") && ext.contains("apiKeyAuthentication"),
        "{ext}"
    );

    // Every way of logging in, and each refusal's code.
    let salt = "c19b2d";
    let token = md5_hex(&format!("{PASSWORD}{salt}"));
    assert_eq!(
        json_with(&app, "ping", &format!("u=ann&t={token}&s={salt}"))["status"],
        "ok"
    );
    let hexed: String = PASSWORD.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        json_with(&app, "ping", &format!("u=ann&p=enc:{hexed}"))["status"],
        "ok"
    );
    assert_eq!(
        json_with(&app, "ping", &format!("apiKey={key}"))["status"],
        "ok"
    );
    assert_eq!(error_code(&app, "ping", "u=ann&p=wrong-password"), 40);
    assert_eq!(
        error_code(&app, "ping", &format!("u=ann&t={token}&s=other")),
        40
    );
    assert_eq!(error_code(&app, "ping", "u=nobody&p=whatever-at-all"), 40);
    assert_eq!(error_code(&app, "ping", &format!("apiKey={key}&u=ann")), 43);
    assert_eq!(error_code(&app, "ping", "apiKey=mrk_not_a_key"), 44);
    assert_eq!(error_code(&app, "ping", ""), 10);
    assert_eq!(error_code(&app, "getSong", &auth("ann")), 10);
    assert_eq!(
        error_code(&app, "getSong", &format!("id=audio:nope&{}", auth("ann"))),
        70
    );
    assert_eq!(
        error_code(&app, "getAlbum", &format!("id=al-0000&{}", auth("ann"))),
        70
    );
    assert_eq!(error_code(&app, "startScan", &auth("bob")), 50);
    assert_eq!(
        error_code(
            &app,
            "getAlbumList2",
            &format!("type=sideways&{}", auth("ann"))
        ),
        0
    );
    assert_eq!(
        error_code(
            &app,
            "search3",
            &format!("query=x&songCount=abc&{}", auth("ann"))
        ),
        0
    );

    // The library as the tags make it: artists, albums in track order, the compilation.
    let artists = json(&app, "getArtists", "");
    let names: Vec<String> = artists["artists"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["artist"].as_array().unwrap().iter())
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Artist One", "Second Artist", "Various Artists"]);
    let everything = json(&app, "search3", "query=&songCount=100");
    let songs = everything["searchResult3"]["song"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(songs.len(), 5, "the broken file is not a song");
    let second = songs.iter().find(|s| s["title"] == "Second Song").unwrap();
    assert_eq!(second["track"], 2);
    assert_eq!(second["discNumber"], 1);
    assert_eq!(second["year"], 2020);
    assert_eq!(second["displayAlbumArtist"], "Artist One");
    let genres: Vec<&str> = second["genres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(genres, ["Rock", "Pop"]);
    assert_eq!(second["contentType"], "audio/mpeg");
    assert!(
        !second["path"].as_str().unwrap().starts_with('/'),
        "no server path leaks"
    );
    let album = json(
        &app,
        "getAlbum",
        &format!("id={}", second["albumId"].as_str().unwrap()),
    );
    let titles: Vec<&str> = album["album"]["song"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Opening", "Second Song"]);
    assert_eq!(
        album["album"]["musicBrainzId"],
        "5b11f4ce-a62d-471e-81fc-a69a8278c7da"
    );
    // Paging through everything, as clients sync.
    let page = json(
        &app,
        "search3",
        "query=&songCount=2&songOffset=2&artistCount=1&artistOffset=1",
    );
    let paged: Vec<&Value> = page["searchResult3"]["song"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[0]["id"], songs[2]["id"]);
    assert_eq!(page["searchResult3"]["artist"][0]["name"], "Second Artist");
    // Plain words through the engine's search.
    let calm = json(&app, "search3", "query=calm%20piano&songCount=3");
    assert_eq!(calm["searchResult3"]["song"][0]["title"], "Calm Piano");
    // One music folder: id 1 holds everything, another id is no folder.
    let random = json(&app, "getRandomSongs", "size=50&musicFolderId=1");
    assert_eq!(random["randomSongs"]["song"].as_array().unwrap().len(), 5);
    let in_folder = json(
        &app,
        "getAlbumList2",
        "type=alphabeticalByName&musicFolderId=1",
    );
    assert_eq!(
        in_folder["albumList2"]["album"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        error_code(
            &app,
            "getRandomSongs",
            &format!("musicFolderId=2&{}", auth("ann"))
        ),
        70
    );
    for method in ["getIndexes", "getArtists"] {
        let key = if method == "getIndexes" {
            "indexes"
        } else {
            "artists"
        };
        let within = json(&app, method, "musicFolderId=1");
        let count: usize = within[key]["index"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["artist"].as_array().unwrap().len())
            .sum();
        assert_eq!(count, 3, "{method}: {within}");
        assert_eq!(
            error_code(&app, method, &format!("musicFolderId=2&{}", auth("ann"))),
            70
        );
    }
    let by_genre = json(&app, "getAlbumList2", "type=byGenre&genre=Classical");
    assert_eq!(by_genre["albumList2"]["album"][0]["name"], "Quiet Record");

    // Media: a byte range of the original file; cover art embedded, resized, or from the folder.
    let night = songs.iter().find(|s| s["title"] == "Night").unwrap();
    let id = night["id"].as_str().unwrap();
    let r = agent()
        .get(&format!("{}/rest/stream?id={id}&{}", app.base, auth("ann")))
        .set("Range", "bytes=10-29")
        .call()
        .unwrap();
    assert_eq!(r.status(), 206);
    let mut part = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut part).unwrap();
    let original = std::fs::read(lib.join("Second Artist/Quiet Record/02 - Night.ogg")).unwrap();
    assert_eq!(part, original[10..30]);
    let cover = |id: &str, size: &str| -> (String, Vec<u8>) {
        let r = agent()
            .get(&format!(
                "{}/rest/getCoverArt?id={id}{size}&{}",
                app.base,
                auth("ann")
            ))
            .call()
            .unwrap();
        let ct = r.content_type().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes).unwrap();
        (ct, bytes)
    };
    let (ct, bytes) = cover(second["albumId"].as_str().unwrap(), "");
    assert_eq!(ct, "image/png");
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 96);
    let (ct, small) = cover(second["albumId"].as_str().unwrap(), "&size=32");
    assert_eq!(ct, "image/jpeg");
    assert_eq!(image::load_from_memory(&small).unwrap().width(), 32);
    let (_, folder) = cover(id, "");
    let pixel = image::load_from_memory(&folder)
        .unwrap()
        .to_rgb8()
        .get_pixel(5, 5)
        .0;
    assert_eq!(
        pixel,
        [30, 30, 200],
        "the folder image, not the FLAC's picture"
    );

    // Per-user state, then a restart: kept; and bob sees none of ann's.
    let opening = songs.iter().find(|s| s["title"] == "Opening").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        json(
            &app,
            "star",
            &format!(
                "id={opening}&albumId={}",
                second["albumId"].as_str().unwrap()
            )
        )["status"],
        "ok"
    );
    assert_eq!(
        json(&app, "setRating", &format!("id={opening}&rating=5"))["status"],
        "ok"
    );
    assert_eq!(
        json(&app, "scrobble", &format!("id={opening}&submission=true"))["status"],
        "ok"
    );
    assert_eq!(
        json(&app, "scrobble", &format!("id={id}&submission=false"))["status"],
        "ok"
    );
    let playing = json(&app, "getNowPlaying", "");
    assert_eq!(playing["nowPlaying"]["entry"][0]["id"], id);
    assert_eq!(
        error_code(&app, "star", &format!("id=audio:nope&{}", auth("ann"))),
        70
    );
    assert_eq!(
        json(
            &app,
            "createPlaylist",
            &format!("name=Road&songId={opening}&songId={id}")
        )["status"],
        "ok"
    );
    drop(app);
    let app = serve_library(&data, &lib);
    let starred = json(&app, "getStarred2", "");
    assert_eq!(starred["starred2"]["song"][0]["id"], opening.as_str());
    assert_eq!(starred["starred2"]["song"][0]["userRating"], 5);
    assert_eq!(starred["starred2"]["song"][0]["playCount"], 1);
    assert_eq!(starred["starred2"]["album"][0]["name"], "First Album");
    let lists = json(&app, "getPlaylists", "");
    assert_eq!(lists["playlists"]["playlist"][0]["songCount"], 2);
    let (_, bobs) = rest(&app, "getStarred2", &format!("f=json&{}", auth("bob")));
    let bobs: Value = serde_json::from_str(&bobs).unwrap();
    assert!(bobs["subsonic-response"]["starred2"]["song"]
        .as_array()
        .unwrap()
        .is_empty());

    // Mixes: similar songs and a sonic path that starts and ends where asked.
    let similar = json(&app, "getSimilarSongs2", &format!("id={opening}&count=3"));
    assert!(!similar["similarSongs2"]["song"]
        .as_array()
        .unwrap()
        .is_empty());
    let path = json(
        &app,
        "findSonicPath",
        &format!("startSongId={opening}&endSongId={id}&count=3"),
    );
    let steps = path["sonicMatch"].as_array().unwrap();
    assert_eq!(steps.first().unwrap()["entry"]["id"], opening.as_str());
    assert_eq!(steps.last().unwrap()["entry"]["id"], id);
    assert!(steps
        .iter()
        .all(|s| (0.0..=1.0).contains(&s["similarity"].as_f64().unwrap())));

    // The real client libraries.
    let out = std::process::Command::new(clients_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/subsonic/clients.py"))
        .args([&app.base, "ann", PASSWORD, &key])
        .output()
        .expect("the Subsonic client venv (scripts/test.sh makes it)");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["calm_piano_first"], "Calm Piano", "{seen}");
    assert_eq!(seen["py_sonic_songs_legacy_True"], 5, "{seen}");
    // The npm client, over GET and form POST and with the API key.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui/subsonic-clients.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .args([&app.base, "ann", PASSWORD, &key])
        .output()
        .expect("node runs (the web page's tests need it too)");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["calm_piano_post_true"], "Calm Piano", "{seen}");
    assert_eq!(seen["wrong_password_code"], 40, "{seen}");

    // A backup holds the users and their state; restored elsewhere, they log in.
    drop(app);
    let snap = tmp.path().join("backup.mrsnap");
    let out = common::run(&data, &["backup", "--to", snap.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = tmp.path().join("restored");
    let out = common::run(&restored, &["restore", snap.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The secret is not in the snapshot (it guards the passwords): it moves with the operator.
    std::fs::copy(data.join("secret.key"), restored.join("secret.key")).unwrap();
    let app = spawn_on(
        &restored,
        &[
            ("MUSIC_RAG_MUSIC_FOLDERS", lib.to_str().unwrap()),
            ("MUSIC_RAG_SCAN_ON_START", "false"),
        ],
    );
    let starred = json(&app, "getStarred2", "");
    let ids: Vec<&str> = starred["starred2"]["song"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&opening.as_str()), "{ids:?}");
    assert_eq!(starred["starred2"]["album"][0]["name"], "First Album");
}

fn json_with(app: &App, method: &str, credentials: &str) -> Value {
    let (_, body) = rest(app, method, &format!("f=json&{credentials}"));
    serde_json::from_str::<Value>(&body).unwrap()["subsonic-response"].clone()
}

fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Scanning is incremental: unchanged files are not read, a failed file is retried only when
/// it changes, a vanished file's song leaves the catalog, and all of it is reported.
#[test]
fn rescans_read_only_what_changed_and_report_what_vanished() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tagged_library(tmp.path());
    let data = tmp.path().join("data");
    let scan = |extra: &[&str]| -> (i32, Value) {
        let mut args = vec!["scan", lib.to_str().unwrap(), "--no-analysis", "--json"];
        args.extend_from_slice(extra);
        let out = common::run(&data, &args);
        (
            out.status.code().unwrap(),
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr))),
        )
    };
    let (code, first) = scan(&[]);
    assert_eq!(code, 2, "a file failed: {first}");
    assert_eq!(first["files"], 6);
    assert_eq!(first["added"], 5);
    assert_eq!(
        first["failed"][0]["path"].as_str().unwrap(),
        lib.join("broken.mp3").to_str().unwrap()
    );
    let (code, again) = scan(&[]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(
        (
            again["read"].as_i64(),
            again["unchanged"].as_i64(),
            again["failed_unchanged"].as_i64()
        ),
        (Some(0), Some(5), Some(1))
    );
    // One file changes, one vanishes.
    let night = lib.join("Second Artist/Quiet Record/02 - Night.ogg");
    let mut tag = Tag::new(TagType::VorbisComments);
    tag.set_title("Night (remastered)".into());
    tag.set_artist("Second Artist".into());
    tag.set_album("Quiet Record".into());
    retag(&night, tag, WriteOptions::default());
    std::fs::remove_file(lib.join("Mixes/Summer Mix/01 - Beach.ogg")).unwrap();
    let (_, third) = scan(&[]);
    assert_eq!(third["read"], 1, "{third}");
    assert_eq!(third["updated"], 1);
    assert_eq!(third["vanished"].as_array().unwrap().len(), 1);
    let out = common::run(&data, &["list", "--json"]);
    let titles: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["title"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        titles.contains(&"Night (remastered)".to_string()),
        "{titles:?}"
    );
    assert!(!titles.contains(&"Beach".to_string()), "{titles:?}");
}

/// With watching on, a file copied into a music folder while the server runs becomes a song,
/// and one deleted leaves, without anyone asking for a scan.
#[test]
fn a_watched_folder_follows_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tagged_library(tmp.path());
    let data = tmp.path().join("data");
    add_user(&data, "ann", true);
    let app = spawn_on(
        &data,
        &[
            ("MUSIC_RAG_MUSIC_FOLDERS", lib.to_str().unwrap()),
            ("MUSIC_RAG_WATCH_FOLDERS", "true"),
        ],
    );
    wait_for_scan(&app);
    let titles = |app: &App| -> Vec<String> {
        json(app, "search3", "query=&songCount=100")["searchResult3"]["song"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(&app).len(), 5);
    let wav = tmp.path().join("new.wav");
    write_wav(&wav, &music(100.0, &[60, 63, 67], 5.0, 0.3));
    let staged = tmp.path().join("staged.ogg");
    tool(
        "oggenc",
        &[
            "--quiet",
            "-t",
            "Arrived Later",
            "-a",
            "Artist One",
            "-l",
            "First Album",
            "-o",
            staged.to_str().unwrap(),
            wav.to_str().unwrap(),
        ],
    );
    // Moved in whole, as a copy finishes.
    std::fs::rename(
        &staged,
        lib.join("Artist One/First Album/03 - Arrived Later.ogg"),
    )
    .unwrap();
    let arrived = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        titles(&app).contains(&"Arrived Later".to_string())
    });
    assert!(arrived, "the new file became a song: {:?}", titles(&app));
    std::fs::remove_file(lib.join("Second Artist/Quiet Record/02 - Night.ogg")).unwrap();
    let left = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !titles(&app).contains(&"Night".to_string())
    });
    assert!(left, "the deleted file's song left: {:?}", titles(&app));
}

/// A saved playlist keeps its rule; every library user's player lists it; a refresh makes it
/// again without what was played this week (while enough else fits).
#[test]
fn saved_playlists_are_shared_and_refresh_around_recent_plays() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tagged_library(tmp.path());
    // Enough songs of one tempo that a playlist can do without the one just played.
    let extra = lib.join("Extra/Steady");
    std::fs::create_dir_all(&extra).unwrap();
    for i in 0..8 {
        let wav = tmp.path().join(format!("extra{i}.wav"));
        write_wav(&wav, &music(118.0 + i as f32, &[60, 64, 67], 5.0, 0.4));
        tool(
            "oggenc",
            &[
                "--quiet",
                "-t",
                &format!("Steady {i}"),
                "-a",
                &format!("Band {i}"),
                "-l",
                "Steady",
                "-o",
                extra.join(format!("{i}.ogg")).to_str().unwrap(),
                wav.to_str().unwrap(),
            ],
        );
    }
    let data = tmp.path().join("data");
    add_user(&data, "ann", false);
    let app = serve_library(&data, &lib);
    wait_for_scan(&app);
    let url = format!("{}/v1/playlists", app.base);
    let everything = json(&app, "search3", "query=&songCount=100");
    let seed = everything["searchResult3"]["song"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rule = serde_json::json!({"name": "Evening", "rule": {"seed_ids": [seed], "length": 3}});
    let (status, r) = call("POST", &url, Some(WRITER), Some(rule.clone()));
    let saved = json_of(r);
    assert_eq!(status, 201, "{saved}");
    let id = saved["id"].as_i64().unwrap();
    let first: Vec<String> = saved["playlist"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first.len(), 3);
    assert_eq!(saved["rule"]["length"], 3);
    // A read key may not save; a bad rule is refused by field.
    let (status, _) = call("POST", &url, Some(READER), Some(rule));
    assert_eq!(status, 403);
    let (status, r) = call(
        "POST",
        &url,
        Some(WRITER),
        Some(serde_json::json!({"name": "", "rule": {"text": "x"}})),
    );
    assert_eq!(status, 422, "{}", json_of(r));
    // Shared with the library's users.
    let lists = json(&app, "getPlaylists", "");
    let listed = &lists["playlists"]["playlist"][0];
    assert_eq!(listed["name"], "Evening");
    assert_eq!(listed["owner"], "music-rag");
    assert_eq!(listed["songCount"], 3);
    assert_eq!(first[0], seed, "the seed opens it");
    // Played this week: a refresh leaves it out (the seed stays).
    assert_eq!(
        json(&app, "scrobble", &format!("id={}", first[1]))["status"],
        "ok"
    );
    let (status, r) = call("POST", &format!("{url}/{id}/refresh"), Some(WRITER), None);
    let refreshed = json_of(r);
    assert_eq!(status, 200, "{refreshed}");
    let again: Vec<&str> = refreshed["playlist"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(again.len(), 3);
    assert_eq!(again[0], seed);
    assert!(
        !again.contains(&first[1].as_str()),
        "{again:?} holds the track just played"
    );
    assert_eq!(refreshed["avoided"], 1);
    let listed = common::run(&data, &["playlists", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "Evening");
    let (status, _) = call("DELETE", &format!("{url}/{id}"), Some(WRITER), None);
    assert_eq!(status, 204);
    let (status, _) = call("GET", &format!("{url}/{id}"), Some(READER), None);
    assert_eq!(status, 404);
}

/// The admin API manages library users as `music-rag user` does; a changed password logs in,
/// the old one no longer, and a removed user not at all.
#[test]
fn library_users_through_the_admin_api() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), &[]);
    let url = format!("{}/v1/admin/users", app.base);
    let new = serde_json::json!({"name": "carol", "password": "first-password", "admin": false});
    let (status, _) = call("POST", &url, Some(WRITER), Some(new.clone()));
    assert_eq!(status, 403, "users need the admin scope");
    let (status, _) = call("POST", &url, Some(ADMIN), Some(new.clone()));
    assert_eq!(status, 201);
    let (status, r) = call("POST", &url, Some(ADMIN), Some(new));
    let refused = json_of(r);
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["field"], "name");
    let (status, r) = call(
        "POST",
        &url,
        Some(ADMIN),
        Some(serde_json::json!({"name": "dave", "password": "short"})),
    );
    assert_eq!(status, 422);
    assert_eq!(json_of(r)["error"]["field"], "password");
    let (_, r) = call("GET", &url, Some(ADMIN), None);
    let listed = json_of(r);
    assert_eq!(listed["users"][0]["name"], "carol");
    assert!(!listed.to_string().contains("first-password"));
    let ping =
        |password: &str| -> Value { json_with(&app, "ping", &format!("u=carol&p={password}")) };
    assert_eq!(ping("first-password")["status"], "ok");
    let (status, _) = call(
        "PUT",
        &format!("{url}/carol/password"),
        Some(ADMIN),
        Some(serde_json::json!({"password": "second-password"})),
    );
    assert_eq!(status, 204);
    assert_eq!(ping("first-password")["error"]["code"], 40);
    assert_eq!(ping("second-password")["status"], "ok");
    let (status, _) = call("DELETE", &format!("{url}/carol"), Some(ADMIN), None);
    assert_eq!(status, 204);
    assert_eq!(ping("second-password")["error"]["code"], 40);
    let (status, _) = call("DELETE", &format!("{url}/carol"), Some(ADMIN), None);
    assert_eq!(status, 404);
}
