//! A scripted OpenAI-compatible chat-completions server on a local port. It speaks the real
//! wire format (JSON replies, `text/event-stream` chunks, error statuses, Retry-After), so
//! tests run the real client code over real HTTP.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// What the server does with the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A chat completion whose message is `content`.
    Completion(String),
    /// The content streamed in these pieces, then usage, then `[DONE]`.
    Stream(Vec<String>),
    /// A stream that breaks off after these pieces (no `[DONE]`).
    BrokenStream(Vec<String>),
    /// An error status with an OpenAI-style error body.
    Status(u16, Option<u64>),
    /// A 200 whose body is not JSON.
    Garbage,
    /// Waits, then replies.
    Slow(Duration, Box<Reply>),
    /// A completion whose message calls these tools: (function name, arguments as JSON).
    ToolCalls(Vec<(String, Value)>),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: Value,
}

pub struct FakeServer {
    pub base_url: String,
    script: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

const USAGE: &str = r#"{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}"#;

impl FakeServer {
    /// Starts on a free port. Replies are taken in order; the last one repeats.
    pub fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let base_url = format!(
            "http://{}/v1",
            listener.local_addr().expect("local address")
        );
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (script.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, r) = (s.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &s, &r);
                });
            }
        });
        Self {
            base_url,
            script,
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn push(&self, reply: Reply) {
        self.script.lock().expect("lock").push_back(reply);
    }
}

fn next_reply(script: &Mutex<VecDeque<Reply>>) -> Reply {
    let mut s = script.lock().expect("lock");
    if s.len() > 1 {
        s.pop_front().expect("non-empty")
    } else {
        s.front().cloned().unwrap_or(Reply::Status(500, None))
    }
}

fn handle(
    stream: TcpStream,
    script: &Mutex<VecDeque<Reply>>,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    received.lock().expect("lock").push(Received {
        authorization,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    respond(stream, next_reply(script))
}

fn respond(mut stream: TcpStream, reply: Reply) -> std::io::Result<()> {
    let head = |status: u16, kind: &str, extra: &str| {
        format!("HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n{extra}Connection: close\r\n")
    };
    match reply {
        Reply::Slow(pause, then) => {
            std::thread::sleep(pause);
            respond(stream, *then)
        }
        Reply::Completion(content) => {
            let body = json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content}}],
                "usage": serde_json::from_str::<Value>(USAGE).expect("usage json"),
            })
            .to_string();
            let h = head(200, "application/json", "");
            write!(stream, "{h}Content-Length: {}\r\n\r\n{body}", body.len())
        }
        Reply::ToolCalls(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": format!("call_{i}"), "type": "function",
                        "function": {"name": name, "arguments": args.to_string()}})
                })
                .collect();
            let body = json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
                "usage": serde_json::from_str::<Value>(USAGE).expect("usage json"),
            })
            .to_string();
            let h = head(200, "application/json", "");
            write!(stream, "{h}Content-Length: {}\r\n\r\n{body}", body.len())
        }
        Reply::Status(code, retry_after) => {
            let body = json!({"error": {"message": format!("fake failure {code}"), "type": "server_error"}})
                .to_string();
            let extra = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let h = head(code, "application/json", &extra);
            write!(stream, "{h}Content-Length: {}\r\n\r\n{body}", body.len())
        }
        Reply::Garbage => {
            let body = "<html>not json</html>";
            let h = head(200, "application/json", "");
            write!(stream, "{h}Content-Length: {}\r\n\r\n{body}", body.len())
        }
        Reply::Stream(pieces) => stream_pieces(stream, &pieces, true),
        Reply::BrokenStream(pieces) => stream_pieces(stream, &pieces, false),
    }
}

fn stream_pieces(mut stream: TcpStream, pieces: &[String], finish: bool) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    )?;
    for p in pieces {
        let chunk = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
        write!(stream, "data: {chunk}\n\n")?;
        stream.flush()?;
        std::thread::sleep(Duration::from_millis(5));
    }
    if finish {
        write!(
            stream,
            "data: {{\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{USAGE}}}\n\n"
        )?;
        write!(stream, "data: [DONE]\n\n")?;
    }
    stream.flush()
}
