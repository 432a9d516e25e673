//! `/v1/search`: text, filters, parsing on or off, hybrid weight, dual-track; every hit says why.

use axum::extract::State;
use axum::Json;
use music_rag_core::{SearchRequest, SearchResponse};

use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;

/// Hybrid search in plain words.
#[utoipa::path(post, path = "/v1/search", tag = "search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn search(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    req.validate()?;
    let started = std::time::Instant::now();
    let text = req.text.clone();
    let resp = state.run_blocking(move |e| e.search(&req)).await?;
    crate::metrics::record_search(&resp.timings);
    state.record_query(&text, resp.route.name(), resp.hits.len(), started.elapsed());
    Ok(Json(resp))
}
