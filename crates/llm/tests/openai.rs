//! The OpenAI-compatible client against a local server that speaks the chat-completions wire
//! format: replies, streamed chunks, 429 with Retry-After, 5xx, slow replies, invalid JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use music_rag_core::domain::answer::{AnswerContext, Fact};
use music_rag_core::{CoreError, Generator, Track};
use music_rag_llm::fake::{FakeServer, Reply};
use music_rag_llm::{OpenAiGenerator, ProviderConfig};

fn client(server: &FakeServer, timeout_ms: u64) -> OpenAiGenerator {
    let mut c = ProviderConfig::new(&server.base_url, "test-model");
    c.api_key = Some("sk-test".into());
    c.timeout = Duration::from_millis(timeout_ms);
    c.backoff = Duration::from_millis(10);
    OpenAiGenerator::new(c).expect("valid config")
}

fn sources() -> Vec<Arc<Track>> {
    vec![Arc::new(Track {
        id: "harmonix:0004_abc".into(),
        title: "ABC".into(),
        artist: "The Jackson 5".into(),
        ..Default::default()
    })]
}

fn ask(g: &OpenAiGenerator) -> (Result<music_rag_core::Generation, CoreError>, Vec<String>) {
    let sources = sources();
    let ctx = AnswerContext {
        question: "what tempo is ABC?",
        sources: &sources,
        fact: Some(Fact::Tempo),
        named: vec![1],
    };
    let mut tokens = Vec::new();
    let r = g.answer(&ctx, &mut |t| tokens.push(t.to_string()));
    (r, tokens)
}

fn unavailable_message(r: Result<music_rag_core::Generation, CoreError>) -> String {
    match r {
        Err(CoreError::Unavailable(m)) => m,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn complete_sends_the_wire_format_and_reads_usage() {
    let server = FakeServer::start(vec![Reply::Completion("{\"query\": \"x\"}".into())]);
    let g = client(&server, 2000)
        .complete("be brief", "hello")
        .expect("reply");
    assert_eq!(g.text, "{\"query\": \"x\"}");
    let usage = g.usage.expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (42, 7, 49)
    );
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(got[0].body["model"], "test-model");
    assert_eq!(got[0].body["stream"], false);
    assert_eq!(got[0].body["messages"][0]["role"], "system");
    assert_eq!(got[0].body["messages"][1]["content"], "hello");
}

#[test]
fn streamed_answers_arrive_token_by_token_with_sources_in_the_prompt() {
    let pieces: Vec<String> = ["ABC", " runs at", " 94 BPM", " [1]."]
        .map(String::from)
        .into();
    let server = FakeServer::start(vec![Reply::Stream(pieces.clone())]);
    let (r, tokens) = ask(&client(&server, 2000));
    let g = r.expect("streamed reply");
    assert_eq!(tokens, pieces);
    assert_eq!(g.text, "ABC runs at 94 BPM [1].");
    assert_eq!(g.usage.expect("usage in the last chunk").total_tokens, 49);
    let body = &server.received()[0].body;
    assert_eq!(body["stream"], true);
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("[1] \"ABC\" by The Jackson 5"), "{prompt}");
    let rules = body["messages"][0]["content"].as_str().unwrap();
    assert!(rules.contains("ONLY the numbered sources"));
}

#[test]
fn rate_limits_are_retried_after_the_servers_pause() {
    let server = FakeServer::start(vec![
        Reply::Status(429, Some(0)),
        Reply::Status(503, None),
        Reply::Stream(vec!["ok [1]".into()]),
    ]);
    let (r, _) = ask(&client(&server, 2000));
    assert_eq!(r.expect("third attempt succeeds").text, "ok [1]");
    assert_eq!(server.received().len(), 3);
}

#[test]
fn persistent_server_errors_give_up_after_the_retries() {
    let server = FakeServer::start(vec![Reply::Status(500, None)]);
    let m = unavailable_message(ask(&client(&server, 2000)).0);
    assert!(
        m.contains("HTTP 500") && m.contains("after 3 attempts"),
        "{m}"
    );
    assert!(
        m.contains("fake failure 500"),
        "the provider's message is kept: {m}"
    );
    assert_eq!(server.received().len(), 3);
}

#[test]
fn client_errors_are_not_retried() {
    let server = FakeServer::start(vec![Reply::Status(401, None)]);
    let m = unavailable_message(ask(&client(&server, 2000)).0);
    assert!(
        m.contains("HTTP 401") && m.contains("after 1 attempt"),
        "{m}"
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn slow_replies_time_out_without_retrying() {
    let server = FakeServer::start(vec![Reply::Slow(
        Duration::from_millis(1500),
        Box::new(Reply::Completion("late".into())),
    )]);
    let start = Instant::now();
    let m = unavailable_message(ask(&client(&server, 300)).0);
    assert!(m.contains("no reply within"), "{m}");
    assert!(
        start.elapsed() < Duration::from_millis(1200),
        "gave up promptly"
    );
}

#[test]
fn invalid_json_and_broken_streams_are_errors() {
    let server = FakeServer::start(vec![Reply::Garbage]);
    let m = unavailable_message(ask(&client(&server, 2000)).0);
    assert!(m.contains("not valid JSON"), "{m}");
    let server = FakeServer::start(vec![Reply::BrokenStream(vec!["half".into()])]);
    let (r, tokens) = ask(&client(&server, 2000));
    assert!(unavailable_message(r).contains("without [DONE]"));
    assert_eq!(
        tokens,
        vec!["half"],
        "tokens before the break were delivered"
    );
}

#[test]
fn bad_configuration_names_the_setting() {
    let e = OpenAiGenerator::new(ProviderConfig::new("localhost:11434", "m")).err();
    assert!(matches!(e, Some(CoreError::Invalid(f)) if f.field == "llm_base_url"));
    let e = OpenAiGenerator::new(ProviderConfig::new("http://x/v1", " ")).err();
    assert!(matches!(e, Some(CoreError::Invalid(f)) if f.field == "llm_model"));
}
