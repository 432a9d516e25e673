//! `/v1/ask`: an answer grounded in the retrieved tracks, citing them; JSON, or server-sent
//! events when `stream` is true (`token` events, then `sources`, then `done` with the checked
//! answer; a `restart` event voids the tokens so far when the model failed mid-answer).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use music_rag_core::{AnswerEvent, AskRequest, AskResponse, CoreError};
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Answer a question from the catalog, with citations.
#[utoipa::path(post, path = "/v1/ask", tag = "answers", request_body = AskRequest,
    responses((status = 200, description = "The answer as JSON, or server-sent events when `stream` is true: `token` events (`{text}`), then `sources`, then `done` (the whole answer), or `error`; `restart` voids the tokens so far",
            content((AskResponse = "application/json"), (Object = "text/event-stream"))),
        (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn ask(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AskRequest>,
) -> ApiResult<Response> {
    req.validate()?;
    let started = std::time::Instant::now();
    let question = req.question.clone();
    if !req.stream {
        // Retrieval takes a search slot; writing (maybe waiting on a model server) does not.
        let prepared = state.run_blocking(move |e| e.prepare_answer(&req)).await?;
        let engine = state.engine.clone();
        let resp = tokio::task::spawn_blocking(move || engine.write_answer(prepared, &mut |_| {}))
            .await
            .map_err(|e| {
                ApiError::from(CoreError::Internal(format!("answer task failed: {e}")))
            })??;
        crate::metrics::record_ask(&resp);
        state.record_query(&question, "ask", resp.sources.len(), started.elapsed());
        return Ok(Json(resp).into_response());
    }
    let permit = state
        .blocking
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::from(CoreError::Unavailable("shutting down".into())))?;
    let (tx, rx) = mpsc::channel::<Event>(256);
    let engine = state.engine.clone();
    let log = state.clone();
    tokio::task::spawn_blocking(move || {
        let send = |e: Event| {
            // A client that went away stops receiving; the answer still completes.
            let _ = tx.blocking_send(e);
        };
        // The search slot is held for retrieval only, not while a model writes.
        let prepared = engine.prepare_answer(&req);
        drop(permit);
        let result = prepared.and_then(|p| {
            engine.write_answer(p, &mut |ev| match ev {
                AnswerEvent::Token(t) => send(
                    Event::default()
                        .event("token")
                        .data(json!({"text": t}).to_string()),
                ),
                AnswerEvent::Restart => send(Event::default().event("restart").data("{}")),
            })
        });
        match result {
            Ok(resp) => {
                crate::metrics::record_ask(&resp);
                log.record_query(&question, "ask", resp.sources.len(), started.elapsed());
                let sources = json!({"sources": resp.sources, "cited": resp.cited, "citation_issues": resp.citation_issues});
                send(Event::default().event("sources").data(sources.to_string()));
                send(
                    Event::default()
                        .event("done")
                        .data(serde_json::to_string(&resp).unwrap_or_default()),
                );
            }
            Err(e) => {
                let api = ApiError::from(e);
                let body = json!({"error": {"code": api.code, "message": api.message, "field": api.field}});
                send(Event::default().event("error").data(body.to_string()));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
