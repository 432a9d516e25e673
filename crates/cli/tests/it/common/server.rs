//! The real server (`music-rag serve` on port 0 over a copy of the sample store) and an HTTP
//! client for it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const ADMIN: &str = "admin-key-0001";
pub const WRITER: &str = "writer-key-0001";
pub const READER: &str = "reader-key-0001";

pub struct App {
    pub base: String,
    pub child: Child,
    pub data: PathBuf,
    pub _tmp: Option<tempfile::TempDir>,
}

impl App {
    /// Stops the server as an orchestrator does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on a copy of the sample store with three keys, plus `env`.
pub fn spawn_app(env: &[(&str, &str)]) -> App {
    let (tmp, data) = super::fresh_copy();
    let mut app = spawn_on(&data, env);
    app._tmp = Some(tmp);
    app
}

pub fn spawn_on(data: &Path, env: &[(&str, &str)]) -> App {
    let mut cmd = super::bin();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--port", "0"]);
    cmd.env(
        "MUSIC_RAG_API_KEYS",
        format!("{ADMIN}:admin,{WRITER}:write,{READER}:read"),
    );
    cmd.env_remove("API_KEY").env("LOG_LEVEL", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    App {
        base,
        child,
        data: data.to_path_buf(),
        _tmp: None,
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// Sends a request and returns (status, headers we care about, JSON body or null).
pub fn call(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, ureq::Response) {
    let mut req = agent().request(method, url);
    if let Some(k) = key {
        req = req.set("X-API-Key", k);
    }
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match result {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

pub fn json_of(r: ureq::Response) -> Value {
    r.into_json().unwrap_or(Value::Null)
}

/// A multipart/form-data body of `(name, file name, bytes)` parts, and its content type.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "music-rag-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts a multipart form with `key`: (status, JSON body or null).
pub fn post_multipart(url: &str, key: &str, parts: &[(&str, Option<&str>, &[u8])]) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let r = agent()
        .post(url)
        .set("X-API-Key", key)
        .set("Content-Type", &content_type)
        .send_bytes(&body);
    match r {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{url}: {e}"),
    }
}
