//! `/v1/recommend`: more like these tracks, less like those.

use axum::extract::State;
use axum::Json;
use music_rag_core::app::recommend::{RecommendRequest, RecommendResponse};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Tracks like the positive seeds and unlike the negative ones; seeds are never returned.
#[utoipa::path(post, path = "/v1/recommend", tag = "answers", request_body = RecommendRequest,
    responses((status = 200, body = RecommendResponse), (status = 404, description = "Unknown seed ids, named in the message", body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn recommend(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RecommendRequest>,
) -> ApiResult<Json<RecommendResponse>> {
    req.validate()?;
    Ok(Json(state.run_blocking(move |e| e.recommend(&req)).await?))
}
