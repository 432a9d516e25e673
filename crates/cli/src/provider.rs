//! The model provider for commands other than `serve` (`ask`, `search --enhance`,
//! `--model-summary`): read from the same layers as the server's settings (defaults, the TOML
//! file, `OPENAI_*` and `MUSIC_RAG_LLM_*` variables, `OPENAI_API_KEY_FILE`), but only the
//! provider's settings, so a command that answers questions needs nothing of the server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use music_rag_ops::ProviderSettings;
use serde::{Deserialize, Serialize};

/// The provider's settings as the configuration layers name them.
#[derive(Debug, Serialize, Deserialize)]
struct ProviderFields {
    llm_base_url: Option<String>,
    llm_model: Option<String>,
    llm_api_key: Option<String>,
    llm_timeout_seconds: u64,
    llm_max_retries: u32,
}

impl Default for ProviderFields {
    fn default() -> Self {
        // The server's defaults (`ServerConfig::default`); a test holds the two together.
        Self {
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_seconds: 30,
            llm_max_retries: 2,
        }
    }
}

const ORIGINAL_ENV: &[(&str, &str)] = &[
    ("OPENAI_BASE_URL", "llm_base_url"),
    ("OPENAI_MODEL", "llm_model"),
    ("OPENAI_API_KEY", "llm_api_key"),
];

/// The configured provider (none configured: offline answers), checked.
pub fn configured(config_file: Option<PathBuf>) -> Result<ProviderSettings> {
    let fig = crate::layers::layered(
        ProviderFields::default(),
        config_file,
        ORIGINAL_ENV,
        &[
            "llm_base_url",
            "llm_model",
            "llm_api_key",
            "llm_timeout_seconds",
            "llm_max_retries",
        ],
    )?;
    let mut fields: ProviderFields = fig
        .extract()
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    if let Some(path) = std::env::var_os("OPENAI_API_KEY_FILE").filter(|v| !v.is_empty()) {
        if ["OPENAI_API_KEY", "MUSIC_RAG_LLM_API_KEY"]
            .iter()
            .any(|d| std::env::var_os(d).is_some_and(|v| !v.is_empty()))
        {
            anyhow::bail!(
                "invalid setting OPENAI_API_KEY_FILE: OPENAI_API_KEY is set too; set one of them"
            );
        }
        let key = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "invalid setting OPENAI_API_KEY_FILE: cannot read {}: {e}",
                std::path::Path::new(&path).display()
            )
        })?;
        fields.llm_api_key = Some(key.trim().to_string());
    }
    let settings = ProviderSettings {
        base_url: fields.llm_base_url,
        model: fields.llm_model,
        api_key: fields.llm_api_key,
        timeout: Duration::from_secs(fields.llm_timeout_seconds),
        max_retries: fields.llm_max_retries,
    };
    settings
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid setting {e}"))?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_defaults_are_the_servers() {
        let server = music_rag_server::ServerConfig::default().provider();
        let ours = ProviderFields::default();
        assert_eq!(
            server.timeout,
            Duration::from_secs(ours.llm_timeout_seconds)
        );
        assert_eq!(server.max_retries, ours.llm_max_retries);
        assert_eq!(server.base_url, ours.llm_base_url);
    }
}
