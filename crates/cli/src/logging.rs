//! One logging set-up for every command: the project's own crates at the chosen level, other
//! crates (decoders, index, HTTP stack) silent unless the user asks for debug or trace, or
//! writes their own directives; colour only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The crates whose log lines are the product's own.
const OWN_CRATES: &[&str] = &[
    "music_rag",
    "music_rag_core",
    "music_rag_embed",
    "music_rag_store",
    "music_rag_llm",
    "music_rag_audio",
    "music_rag_server",
];

/// The filter for a `LOG_LEVEL` value: a plain level applies to our crates (and to everyone at
/// `debug`/`trace`); anything else is taken as `EnvFilter` directives.
pub fn filter_for(level: &str) -> EnvFilter {
    let level = level.trim().to_ascii_lowercase();
    let directives = match level.as_str() {
        "error" | "warn" | "info" => {
            let own: Vec<String> = OWN_CRATES.iter().map(|c| format!("{c}={level}")).collect();
            format!("off,{}", own.join(","))
        }
        _ => level.clone(),
    };
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("off,music_rag=warn"))
}

/// Whether log lines on stderr may carry colour codes.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The server's logs: like [`init`], but written to stderr by a background thread, so a
/// request never waits on the terminal or pipe (an access line per request cost a fifth of
/// the cached-search throughput when written inline). Nothing is dropped: a full buffer
/// blocks. Keep the guard until exit; dropping it flushes.
pub fn init_server(level: &str, json: bool) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("music-rag-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter_for(level))
        .with_ansi(colour())
        .with_writer(writer);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    guard
}

/// Readable logs on stderr (`json` for log aggregation).
pub fn init(level: &str, json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter_for(level))
        .with_ansi(colour())
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling twice) keeps the first.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_levels_silence_other_crates() {
        assert_eq!(
            filter_for("warn").to_string(),
            EnvFilter::new(
                "off,music_rag=warn,music_rag_core=warn,music_rag_embed=warn,\
                 music_rag_store=warn,music_rag_llm=warn,music_rag_audio=warn,\
                 music_rag_server=warn"
            )
            .to_string()
        );
        assert_eq!(filter_for("debug").to_string(), "debug");
        assert_eq!(
            filter_for("info,symphonia=warn").to_string(),
            EnvFilter::new("info,symphonia=warn").to_string()
        );
    }
}
