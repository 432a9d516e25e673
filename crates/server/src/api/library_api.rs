//! `/v1/library`: the music library for the web page (albums, artists, their songs, cover
//! art), the same application-layer calls the Subsonic API makes, behind the API's keys.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use music_rag_core::app::library::{AlbumOrder, ListenerState, Paging};
use music_rag_core::domain::library::{Album, Artist};
use music_rag_core::{CoreError, Track};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// Albums at most per page.
const PAGE_MAX: usize = 500;

/// The orders albums are listed in.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlbumSort {
    /// Most recently added first.
    #[default]
    Newest,
    Name,
    Artist,
    Year,
    Random,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlbumsQuery {
    /// `newest` (default), `name`, `artist`, `year` or `random`.
    #[param(inline)]
    pub order: Option<AlbumSort>,
    #[param(minimum = 0)]
    pub offset: Option<usize>,
    /// 1-500, default 60.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// A page of albums and how many there are.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlbumPage {
    pub total: usize,
    pub albums: Vec<Album>,
}

/// An album with its songs.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlbumWithSongs {
    pub album: Album,
    #[schema(value_type = Vec<Track>)]
    pub songs: Vec<std::sync::Arc<Track>>,
}

/// Every artist, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtistList {
    pub artists: Vec<Artist>,
}

/// An artist with their albums.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtistWithAlbums {
    pub artist: Artist,
    pub albums: Vec<Album>,
}

fn invalid(field: &str, message: String) -> CoreError {
    CoreError::invalid(field, message)
}

/// Albums of the library, paged.
#[utoipa::path(get, path = "/v1/library/albums", tag = "library", params(AlbumsQuery),
    responses((status = 200, body = AlbumPage), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn albums(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AlbumsQuery>,
) -> ApiResult<Json<AlbumPage>> {
    let order = match q.order.unwrap_or_default() {
        AlbumSort::Newest => AlbumOrder::Newest,
        AlbumSort::Name => AlbumOrder::ByName,
        AlbumSort::Artist => AlbumOrder::ByArtist,
        AlbumSort::Year => AlbumOrder::ByYear { from: 0, to: 9999 },
        AlbumSort::Random => AlbumOrder::Random {
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        },
    };
    let limit = q.limit.unwrap_or(60);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(invalid("limit", format!("must be 1-{PAGE_MAX} (got {limit})")).into());
    }
    let paging = Paging {
        count: limit,
        offset: q.offset.unwrap_or(0),
    };
    let page = state
        .run_blocking(move |e| {
            let total = e.library()?.albums.len();
            let albums = e.album_list(&order, &ListenerState::default(), paging, None)?;
            Ok(AlbumPage { total, albums })
        })
        .await?;
    Ok(Json(page))
}

/// One album with its songs in disc and track order.
#[utoipa::path(get, path = "/v1/library/albums/{id}", tag = "library",
    params(("id" = String, Path, description = "Album id (al-…)")),
    responses((status = 200, body = AlbumWithSongs), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn album(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AlbumWithSongs>> {
    let found = state
        .run_blocking(move |e| {
            let index = e.library()?;
            let album = index
                .album(&id)
                .ok_or_else(|| CoreError::NotFound(format!("no album {id}")))?;
            Ok(AlbumWithSongs {
                songs: index.album_songs(album).into_iter().cloned().collect(),
                album: album.clone(),
            })
        })
        .await?;
    Ok(Json(found))
}

/// Every artist of the library, by name.
#[utoipa::path(get, path = "/v1/library/artists", tag = "library",
    responses((status = 200, body = ArtistList)), security(("api_key" = [])))]
pub async fn artists(State(state): State<AppState>) -> ApiResult<Json<ArtistList>> {
    let list = state
        .run_blocking(move |e| {
            Ok(ArtistList {
                artists: e
                    .library()?
                    .artists_by_name()
                    .into_iter()
                    .cloned()
                    .collect(),
            })
        })
        .await?;
    Ok(Json(list))
}

/// One artist with their albums.
#[utoipa::path(get, path = "/v1/library/artists/{id}", tag = "library",
    params(("id" = String, Path, description = "Artist id (ar-…)")),
    responses((status = 200, body = ArtistWithAlbums), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn artist(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ArtistWithAlbums>> {
    let found = state
        .run_blocking(move |e| {
            let index = e.library()?;
            let artist = index
                .artist(&id)
                .ok_or_else(|| CoreError::NotFound(format!("no artist {id}")))?;
            Ok(ArtistWithAlbums {
                albums: artist
                    .album_ids
                    .iter()
                    .filter_map(|a| index.album(a).cloned())
                    .collect(),
                artist: artist.clone(),
            })
        })
        .await?;
    Ok(Json(found))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CoverQuery {
    /// Fit the picture in size × size pixels (1-4096; never enlarged).
    #[param(minimum = 1, maximum = 4096)]
    pub size: Option<u32>,
}

/// The cover picture of a song, album or artist.
#[utoipa::path(get, path = "/v1/library/covers/{id}", tag = "library",
    params(("id" = String, Path, description = "Song, album (al-…) or artist (ar-…) id"), CoverQuery),
    responses((status = 200, description = "The picture", content_type = "image/*"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn cover(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CoverQuery>,
) -> ApiResult<Response> {
    if let Some(s) = q.size.filter(|s| !(1..=4096).contains(s)) {
        return Err(invalid("size", format!("must be 1-4096 (got {s})")).into());
    }
    let Some(library) = state.library.clone() else {
        return Err(CoreError::NotFound(format!("{id} has no cover art")).into());
    };
    let roots = state.audio_roots.clone();
    let picture = state
        .run_blocking(move |e| crate::covers::picture(e, &id, q.size, &roots, &library.covers))
        .await?;
    Ok(crate::covers::response(picture))
}
