//! Putting the sound model in place: the `musicnn` wheel from PyPI (through `pip download`, the
//! registry's own client), checked by its SHA-256, its MagnaTagATune and Million Song Dataset
//! checkpoints read in Rust and written as safetensors files with only the inference tensors.
//! TensorFlow is never needed.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use super::checkpoint::{read_bundle, Tensor};

/// The wheel that carries the checkpoints (ISC licence).
pub const WHEEL: &str = "musicnn==0.1.0";
/// SHA-256 of `musicnn-0.1.0-py3-none-any.whl`.
pub const WHEEL_SHA256: &str = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa";
/// The checkpoints used, as (folder in the wheel, converted file in the model folder):
/// MagnaTagATune's tags name instruments, voices, genres and moods; the Million Song Dataset's
/// name the genres MagnaTagATune lacks (jazz, blues, hip hop, folk, soul, funk, punk).
pub const CHECKPOINTS: [(&str, &str); 2] = [
    ("musicnn/MTT_musicnn/", MTT_WEIGHTS),
    ("musicnn/MSD_musicnn/", MSD_WEIGHTS),
];
pub const MTT_WEIGHTS: &str = "mtt_musicnn.safetensors";
pub const MSD_WEIGHTS: &str = "msd_musicnn.safetensors";

/// `SOUND_MODEL_DIR` if set, else the user's cache folder.
pub fn default_sound_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOUND_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("music-rag").join("models").join("musicnn")
}

/// Whether the folder already holds every converted checkpoint.
pub fn sound_model_present(dir: &Path) -> bool {
    CHECKPOINTS.iter().all(|(_, file)| dir.join(file).is_file())
}

/// Makes sure `dir` holds the sound model; true when it had to be fetched.
pub fn fetch_sound_model(dir: &Path) -> Result<bool, String> {
    if sound_model_present(dir) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(".download");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let pip = ["pip3", "pip"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|p| vec![p.to_string()])
        .unwrap_or_else(|| vec!["python3".into(), "-m".into(), "pip".into()]);
    let out = Command::new(&pip[0])
        .args(&pip[1..])
        .args(["download", "--no-deps", "--quiet", "-d"])
        .arg(&tmp)
        .arg(WHEEL)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip download {WHEEL} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let wheel = tmp.join("musicnn-0.1.0-py3-none-any.whl");
    convert_wheel(&wheel, dir)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(true)
}

/// Checks the wheel's hash, reads its checkpoints and writes the safetensors files.
pub fn convert_wheel(wheel: &Path, dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    if digest != WHEEL_SHA256 {
        return Err(format!(
            "{} has SHA-256 {digest}, expected {WHEEL_SHA256}: not the published musicnn 0.1.0 wheel",
            wheel.display()
        ));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    for (folder, file) in CHECKPOINTS {
        let mut member = |suffix: &str| -> Result<Vec<u8>, String> {
            let name = format!("{folder}{suffix}");
            let mut entry = zip
                .by_name(&name)
                .map_err(|e| format!("the wheel has no {name}: {e}"))?;
            let mut out = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        };
        let index = member(".index")?;
        let data = member(".data-00000-of-00001")?;
        let tensors = inference_tensors(&index, &data)?;
        // The network checks every shape now, so a bad conversion fails here, not at first use.
        super::network::Network::from_tensors(&tensors, super::Precision::F32)
            .map_err(|e| e.to_string())?;
        let serialized = to_safetensors(&tensors)?;
        let target = dir.join(file);
        let part = target.with_extension("part");
        std::fs::write(&part, serialized).map_err(|e| e.to_string())?;
        std::fs::rename(&part, &target).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The checkpoint's tensors minus the optimiser's state (Adam moments and step powers).
pub fn inference_tensors(index: &[u8], data: &[u8]) -> Result<BTreeMap<String, Tensor>, String> {
    read_bundle(index, data, |name| {
        !name.contains("/Adam")
            && !name.starts_with("beta1_power")
            && !name.starts_with("beta2_power")
    })
    .map_err(|e| e.to_string())
}

fn to_safetensors(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, String> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let raw = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), t.shape.clone(), raw)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                .map(|v| (name.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// Reads the converted weights back into named tensors.
pub fn read_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(format!("{name} is not float32"));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            Ok((
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            ))
        })
        .collect()
}
