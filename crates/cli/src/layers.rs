//! The configuration layers every setting is read through, lowest first: defaults, the TOML file
//! (`--config`, `MUSIC_RAG_CONFIG`, or `music-rag.toml` when it exists), the original service's
//! variables (`API_PORT`, `OPENAI_MODEL`, …) and `MUSIC_RAG_<SETTING>` variables. The server's
//! settings (`serve.rs`) and the model provider's (`provider.rs`) are both read through here.

use std::path::PathBuf;

use anyhow::Result;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::Serialize;

/// The layers over `defaults`: the file, then `original` variables (name, setting), then
/// `MUSIC_RAG_` variables for the settings named in `prefixed`.
pub fn layered(
    defaults: impl Serialize,
    file: Option<PathBuf>,
    original: &[(&str, &str)],
    prefixed: &[&str],
) -> Result<Figment> {
    let mut fig = Figment::from(Serialized::defaults(defaults));
    let file = file.or_else(|| Some(PathBuf::from("music-rag.toml")).filter(|p| p.exists()));
    if let Some(f) = &file {
        anyhow::ensure!(
            f.exists(),
            "the configuration file {} does not exist",
            f.display()
        );
        fig = fig.merge(Toml::file_exact(f));
    }
    let names: Vec<&str> = original.iter().map(|(k, _)| *k).collect();
    let original: Vec<(String, String)> = original
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(fig
        .merge(Env::raw().only(&names).map(move |k| {
            let name = k.as_str().to_ascii_uppercase();
            original
                .iter()
                .find(|(e, _)| *e == name)
                .map(|(_, f)| f.clone().into())
                .unwrap_or_else(|| k.into())
        }))
        .merge(Env::prefixed("MUSIC_RAG_").only(prefixed)))
}
