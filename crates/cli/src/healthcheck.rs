//! `music-rag healthcheck`: the container's health probe (slim images have no curl).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::serve::{load_config, ServeArgs};
use crate::Global;

#[derive(Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// The server's base URL (default: the configured port on 127.0.0.1, https when a TLS
    /// certificate is configured).
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// `GET /ready` on a running server: exit 0 when it answers 200 (ready, or degraded: reads
/// work), 1 otherwise, with the reason on stderr.
pub fn healthcheck(g: &Global, args: &HealthcheckArgs) -> Result<ExitCode> {
    let base = match &args.url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let config = load_config(&ServeArgs::default())?;
            let scheme = if config.tls_files().is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://127.0.0.1:{}", config.port)
        }
    };
    let mut agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(args.timeout.max(1)));
    if is_loopback_https(&base) {
        agent = agent.tls_config(crate::tls_client::any_certificate());
    }
    let answer = agent.build().get(&format!("{base}/ready")).call();
    let (ok, body) = match answer {
        Ok(r) => (r.status() == 200, r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (
            false,
            format!("{code}: {}", r.into_string().unwrap_or_default()),
        ),
        Err(e) => (false, format!("cannot reach {base}: {e}")),
    };
    if g.json {
        outln!(
            "{}",
            serde_json::json!({"url": base, "ready": ok, "answer": body})
        );
    } else if ok {
        outln!("ready: {body}");
    } else {
        eprintln!("not ready: {body}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn is_loopback_https(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_https;

    #[test]
    fn only_https_to_this_machine_skips_the_certificate_check() {
        assert!(is_loopback_https("https://127.0.0.1:8443"));
        assert!(is_loopback_https("https://localhost:8443/x"));
        assert!(is_loopback_https("https://[::1]:8443"));
        assert!(!is_loopback_https("http://127.0.0.1:8000"));
        assert!(!is_loopback_https("https://music.example.com"));
        assert!(!is_loopback_https("https://10.0.0.5:8443"));
    }
}
