//! A [`Generator`] for any OpenAI-compatible chat-completions server: OpenAI, Ollama, vLLM,
//! llama.cpp. Answers stream as server-sent events; 429 and 5xx are retried with backoff;
//! failures surface as `Unavailable` so the engine falls back to the offline generator.

#[cfg(feature = "fake-server")]
pub mod fake;

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use music_rag_core::domain::answer::{answer_prompt, AnswerContext};
use music_rag_core::ports::{ChatMessage, ChatTurn, ToolCall, ToolSpec};
use music_rag_core::{CoreError, Generation, Generator, Result, TokenUsage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where the model server is and how patient to be with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1` (Ollama).
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; local servers usually need none.
    pub api_key: Option<String>,
    /// Longest wait for the server to connect or send the next bytes.
    pub timeout: Duration,
    /// Retries after a 429 or 5xx (or a dropped connection) before giving up.
    pub max_retries: u32,
    /// First backoff; doubled on each retry, capped at 8 s, or the server's Retry-After.
    pub backoff: Duration,
}

impl ProviderConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(30),
            max_retries: 2,
            backoff: Duration::from_millis(500),
        }
    }
}

pub struct OpenAiGenerator {
    config: ProviderConfig,
    agent: ureq::Agent,
    url: String,
}

fn unavailable(message: impl std::fmt::Display) -> CoreError {
    CoreError::Unavailable(format!("model provider: {message}"))
}

/// One attempt's failure: whether trying again may help, and the server's wish for a pause.
struct Failure {
    retry: bool,
    after: Option<Duration>,
    message: String,
}

impl OpenAiGenerator {
    pub fn new(config: ProviderConfig) -> Result<Self> {
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CoreError::invalid(
                "llm_base_url",
                "must start with http:// or https://",
            ));
        }
        if config.model.trim().is_empty() {
            return Err(CoreError::invalid(
                "llm_model",
                "must name the model to use",
            ));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.timeout)
            .timeout_read(config.timeout)
            .timeout_write(config.timeout)
            .build();
        Ok(Self { config, agent, url })
    }

    fn body(&self, system: &str, user: &str, stream: bool) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "stream": stream,
        });
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// Sends one request, retrying 429, 5xx and dropped connections with backoff.
    fn send(&self, body: &Value) -> Result<ureq::Response> {
        let payload = body.to_string();
        let mut attempt = 0;
        loop {
            let mut req = self
                .agent
                .post(&self.url)
                .set("Content-Type", "application/json");
            if let Some(key) = self.config.api_key.as_deref().filter(|k| !k.is_empty()) {
                req = req.set("Authorization", &format!("Bearer {key}"));
            }
            let failure = match req.send_string(&payload) {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(code, resp)) => Failure {
                    retry: code == 429 || code >= 500,
                    after: resp
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0))),
                    message: format!("HTTP {code}: {}", error_text(resp)),
                },
                Err(ureq::Error::Transport(t)) => {
                    let timed_out = t.to_string().to_ascii_lowercase().contains("timed out");
                    Failure {
                        // A slow server stays slow; a dropped connection may not.
                        retry: !timed_out,
                        after: None,
                        message: if timed_out {
                            format!("no reply within {:?}", self.config.timeout)
                        } else {
                            t.to_string()
                        },
                    }
                }
            };
            if !failure.retry || attempt >= self.config.max_retries {
                let tries = attempt + 1;
                return Err(unavailable(format!(
                    "{} (after {tries} attempt{})",
                    failure.message,
                    if tries == 1 { "" } else { "s" }
                )));
            }
            let backoff = self
                .config
                .backoff
                .saturating_mul(1 << attempt.min(4))
                .min(Duration::from_secs(8));
            let pause = failure.after.unwrap_or(backoff);
            tracing::warn!(attempt, ?pause, error = %failure.message, "model provider failed; retrying");
            std::thread::sleep(pause);
            attempt += 1;
        }
    }
}

/// The error message of a failed reply, short.
fn error_text(resp: ureq::Response) -> String {
    let mut body = String::new();
    let _ = resp.into_reader().take(2048).read_to_string(&mut body);
    serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(200).collect())
}

fn usage_of(v: &Value) -> Option<TokenUsage> {
    serde_json::from_value(v.get("usage")?.clone()).ok()
}

/// A complete (non-streamed) chat completion.
fn parse_completion(text: &str) -> Result<Generation> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| unavailable(format!("the reply is not valid JSON ({e})")))?;
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| unavailable("the reply has no choices[0].message.content"))?;
    Ok(Generation {
        text: content.to_string(),
        usage: usage_of(&v),
    })
}

/// Reads a streamed completion (`data: {...}` lines, then `data: [DONE]`).
fn read_stream(reader: impl Read, on_token: &mut dyn FnMut(&str)) -> Result<Generation> {
    let mut text = String::new();
    let mut usage = None;
    let mut done = false;
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| unavailable(format!("the stream broke off ({e})")))?;
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            break;
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| unavailable(format!("a streamed chunk is not valid JSON ({e})")))?;
        if let Some(message) = chunk["error"]["message"].as_str() {
            return Err(unavailable(format!("the stream reported: {message}")));
        }
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            if !piece.is_empty() {
                text.push_str(piece);
                on_token(piece);
            }
        }
        if let Some(u) = usage_of(&chunk) {
            usage = Some(u);
        }
    }
    if !done {
        return Err(unavailable("the stream ended without [DONE]"));
    }
    Ok(Generation { text, usage })
}

impl Generator for OpenAiGenerator {
    fn name(&self) -> &str {
        "openai"
    }

    fn answer(
        &self,
        ctx: &AnswerContext<'_>,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let (system, user) = answer_prompt(ctx);
        let resp = self.send(&self.body(&system, &user, true))?;
        let is_stream = resp.content_type().contains("event-stream");
        if is_stream {
            read_stream(resp.into_reader(), on_token)
        } else {
            // Some servers ignore `stream`; a whole reply is one token.
            let body = resp
                .into_string()
                .map_err(|e| unavailable(format!("reading the reply failed ({e})")))?;
            let g = parse_completion(&body)?;
            on_token(&g.text);
            Ok(g)
        }
    }

    fn complete(&self, system: &str, user: &str) -> Result<Generation> {
        let resp = self.send(&self.body(system, user, false))?;
        let body = resp
            .into_string()
            .map_err(|e| unavailable(format!("reading the reply failed ({e})")))?;
        parse_completion(&body)
    }

    /// One turn with tools, not streamed: the OpenAI `tools` / `tool_calls` wire format.
    fn chat(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> Result<ChatTurn> {
        let body = json!({
            "model": self.config.model,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "tools": tools.iter().map(|t| json!({
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            })).collect::<Vec<_>>(),
            "tool_choice": "auto",
            "temperature": 0,
            "stream": false,
        });
        let resp = self.send(&body)?;
        let text = resp
            .into_string()
            .map_err(|e| unavailable(format!("reading the reply failed ({e})")))?;
        parse_turn(&text)
    }
}

fn message_json(m: &ChatMessage) -> Value {
    match m {
        ChatMessage::System(c) => json!({"role": "system", "content": c}),
        ChatMessage::User(c) => json!({"role": "user", "content": c}),
        ChatMessage::Assistant {
            content,
            tool_calls,
        } => {
            let mut v = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                v["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect();
            }
            v
        }
        ChatMessage::Tool { call_id, content } => {
            json!({"role": "tool", "tool_call_id": call_id, "content": content})
        }
    }
}

/// A turn's reply: tool calls when the message has them, else its content.
fn parse_turn(text: &str) -> Result<ChatTurn> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| unavailable(format!("the reply is not valid JSON ({e})")))?;
    let message = &v["choices"][0]["message"];
    if let Some(calls) = message["tool_calls"].as_array().filter(|c| !c.is_empty()) {
        let calls = calls
            .iter()
            .map(|c| {
                let name = c["function"]["name"]
                    .as_str()
                    .ok_or_else(|| unavailable("a tool call has no function.name"))?;
                // Arguments are JSON text; some servers send an object instead.
                let arguments = match &c["function"]["arguments"] {
                    Value::String(s) => s.clone(),
                    Value::Null => "{}".to_string(),
                    other => other.to_string(),
                };
                Ok(ToolCall {
                    id: c["id"].as_str().unwrap_or(name).to_string(),
                    name: name.to_string(),
                    arguments,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(ChatTurn::Calls {
            calls,
            usage: usage_of(&v),
        });
    }
    parse_completion(text).map(ChatTurn::Answer)
}
