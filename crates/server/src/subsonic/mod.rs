//! The OpenSubsonic API at `/rest`: every player app that speaks Subsonic reaches the library,
//! its plain-words search and its mixes. `/rest/NAME` and `/rest/NAME.view`, GET or form POST,
//! XML (default), JSON or JSONP. Handlers are thin: they read parameters, make one call to the
//! application layer (`Engine::library`, `search_library`, `album_list`, `similar_songs`,
//! `sonic_similar`, `sonic_path`) or to the library's records (`music_rag_ops::users`), and
//! render the Subsonic shapes (`views`). Errors become Subsonic codes in one place (`wire`).

mod browse;
mod media;
mod mixes;
mod personal;
pub mod views;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use music_rag_core::app::library::ListenerState;
use music_rag_core::domain::library::LibraryIndex;
use music_rag_core::Engine;
use music_rag_ops::users::{Credentials, Listener, Refusal};
use serde_json::json;

use crate::state::{AppState, LibraryState};
use wire::{render, Format, Params, Reply, SubsonicError};

/// Form bodies larger than this are refused (a playlist update with thousands of ids fits).
const FORM_MAX_BYTES: usize = 1 << 20;

/// One authenticated call: who, with what parameters, against which library.
pub struct Call {
    pub state: AppState,
    pub library: Arc<LibraryState>,
    pub params: Params,
    pub listener: Listener,
    pub headers: HeaderMap,
}

impl Call {
    /// Runs blocking work (the engine, the records) on a blocking thread once a slot is free.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, SubsonicError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine, &LibraryState) -> Result<T, SubsonicError> + Send + 'static,
    {
        let _permit = self
            .state
            .blocking
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SubsonicError::generic("shutting down"))?;
        let engine = self.state.engine.clone();
        let library = self.library.clone();
        match tokio::task::spawn_blocking(move || f(&engine, &library)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "subsonic task failed");
                Err(SubsonicError::generic("internal error"))
            }
        }
    }

    /// Blocking work over the library at the current write and what this listener has done:
    /// what most endpoints read.
    pub async fn with_library<T, F>(&self, f: F) -> Result<T, SubsonicError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine, &LibraryIndex, &ListenerState) -> Result<T, SubsonicError>
            + Send
            + 'static,
    {
        let user = self.listener.name.clone();
        self.blocking(move |engine, library| {
            let index = engine.library()?;
            let listener = Call::listener_state(library, &user)?;
            f(engine, &index, &listener)
        })
        .await
    }

    /// What the listener has starred, rated and played.
    pub fn listener_state(
        library: &LibraryState,
        user: &str,
    ) -> Result<ListenerState, SubsonicError> {
        let db = library.users.db();
        let io = |e: music_rag_store::StoreError| {
            tracing::error!(error = %e, "library records");
            SubsonicError::generic("the library records cannot be read")
        };
        Ok(ListenerState {
            starred: db
                .starred(user)
                .map_err(io)?
                .into_iter()
                .map(|s| (s.item, s.at))
                .collect(),
            ratings: db.ratings(user).map_err(io)?,
            plays: db
                .plays(user)
                .map_err(io)?
                .into_iter()
                .map(|(k, p)| (k, (p.count, p.last_played)))
                .collect(),
        })
    }
}

/// Endpoints answered without credentials (the spec lets clients discover extensions first).
const OPEN: &[&str] = &["getOpenSubsonicExtensions"];

/// Parameters every Subsonic call may carry (each endpoint reads its own too).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Common {
    /// User name (with `p`, or `t` and `s`).
    u: Option<String>,
    /// Password, plain or `enc:` followed by its hex.
    p: Option<String>,
    /// Token: md5(password + salt), hex.
    t: Option<String>,
    /// Salt of the token.
    s: Option<String>,
    /// An API key (the `apiKeyAuthentication` extension); not with `u`.
    #[serde(rename = "apiKey")]
    #[param(rename = "apiKey")]
    api_key: Option<String>,
    /// Response format: `xml` (default), `json` or `jsonp`.
    f: Option<String>,
    /// The client's name.
    c: Option<String>,
    /// The API version the client speaks.
    v: Option<String>,
}

/// `/rest/{method}` by form POST (the `formPost` extension): the same endpoints, parameters in
/// an `application/x-www-form-urlencoded` body (and the query).
#[utoipa::path(post, path = "/rest/{method}", tag = "subsonic", operation_id = "subsonicForm",
    params(("method" = String, Path, description = "The endpoint, e.g. `ping`, `search3.view`"), Common),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Parameters as a form"),
    responses((status = 200, description = "A subsonic-response (XML, JSON or JSONP), or media",
        content(("application/xml"), ("application/json"), ("application/javascript"), ("application/octet-stream")))))]
pub async fn endpoint_form(
    state: State<AppState>,
    method: Path<String>,
    request: Request,
) -> Response {
    endpoint(state, method, request).await
}

/// The OpenSubsonic API (docs/SUBSONIC.md lists every endpoint): `/rest/NAME` or
/// `/rest/NAME.view`, GET or form POST. Always HTTP 200: a failure is a `subsonic-response`
/// with `status="failed"` and a Subsonic error code; `stream`, `download` and `getCoverArt`
/// answer with the file or picture.
#[utoipa::path(get, path = "/rest/{method}", tag = "subsonic", operation_id = "subsonic",
    params(("method" = String, Path, description = "The endpoint, e.g. `ping`, `search3.view`"), Common),
    responses((status = 200, description = "A subsonic-response (XML, JSON or JSONP), or media",
        content(("application/xml"), ("application/json"), ("application/javascript"), ("application/octet-stream")))))]
pub async fn endpoint(
    State(state): State<AppState>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let name = method.strip_suffix(".view").unwrap_or(&method).to_string();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    let form = if parts.method == Method::POST
        && parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
    {
        match axum::body::to_bytes(body, FORM_MAX_BYTES).await {
            Ok(b) => Some(b),
            Err(_) => {
                let params = Params::parse(parts.uri.query(), None);
                return render(
                    &Format::of(&params),
                    Err(SubsonicError::generic(format!(
                        "the form body is larger than {FORM_MAX_BYTES} bytes"
                    ))),
                );
            }
        }
    } else {
        None
    };
    let params = Params::parse(parts.uri.query(), form.as_deref());
    let format = Format::of(&params);
    let Some(library) = state.library.clone() else {
        return render(
            &format,
            Err(SubsonicError::generic(
                "the music library is not enabled on this server",
            )),
        );
    };
    if OPEN.contains(&name.as_str()) {
        return render(&format, system(&name));
    }
    let listener = match authenticate(&state, &library, &params, client).await {
        Ok(l) => l,
        Err(e) => return render(&format, Err(e)),
    };
    let call = Call {
        state,
        library,
        params,
        listener,
        headers: parts.headers,
    };
    let result = dispatch(&name, &call).await;
    if let Err(e) = &result {
        tracing::debug!(method = %name, code = e.code, message = %e.message, "subsonic error");
    }
    render(&format, result)
}

async fn authenticate(
    state: &AppState,
    library: &Arc<LibraryState>,
    params: &Params,
    client: Option<std::net::IpAddr>,
) -> Result<Listener, SubsonicError> {
    if let Some(wait) = client.and_then(|ip| state.auth_blocked_for(ip)) {
        return Err(SubsonicError::new(
            40,
            format!(
                "too many failed logins from this address; try again in {} s",
                wait.as_secs().max(1)
            ),
        ));
    }
    let key = params.get("apiKey").map(str::to_string);
    let user = params.get("u").map(str::to_string);
    if key.is_some() && user.is_some() {
        return Err(SubsonicError::new(
            43,
            "multiple conflicting authentication mechanisms provided: send apiKey without u",
        ));
    }
    let password = params.get("p").map(str::to_string);
    let token = params.get("t").map(str::to_string);
    let salt = params.get("s").map(str::to_string);
    if key.is_none() {
        if user.is_none() {
            return Err(SubsonicError::missing("u"));
        }
        if password.is_none() && (token.is_none() || salt.is_none()) {
            return Err(SubsonicError::missing(if token.is_some() {
                "s"
            } else {
                "p"
            }));
        }
    }
    let users = library.users.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let credentials = match (&key, &user, &password, &token, &salt) {
            (Some(k), ..) => Credentials::ApiKey(k),
            (None, Some(u), Some(p), ..) => Credentials::Password {
                user: u,
                password: p,
            },
            (None, Some(u), None, Some(t), Some(s)) => Credentials::Token {
                user: u,
                token: t,
                salt: s,
            },
            _ => return Ok(Err(Refusal::WrongCredentials)),
        };
        users.authenticate(&credentials)
    })
    .await
    .map_err(|_| SubsonicError::generic("internal error"))?
    .map_err(SubsonicError::from)?;
    match outcome {
        Ok(listener) => Ok(listener),
        Err(refusal) => {
            if let Some(ip) = client {
                state.note_auth_failure(ip);
            }
            Err(match refusal {
                Refusal::WrongCredentials => SubsonicError::wrong_credentials(),
                Refusal::UnknownApiKey => SubsonicError::new(44, "invalid API key"),
            })
        }
    }
}

fn system(name: &str) -> Result<Reply, SubsonicError> {
    match name {
        "getOpenSubsonicExtensions" => Ok(Reply::with(
            "openSubsonicExtensions",
            json!([
                {"name": "apiKeyAuthentication", "versions": [1]},
                {"name": "formPost", "versions": [1]},
                {"name": "sonicSimilarity", "versions": [1]},
            ]),
        )),
        _ => Err(SubsonicError::not_found(format!(
            "no such endpoint: {name}"
        ))),
    }
}

async fn dispatch(name: &str, call: &Call) -> Result<Reply, SubsonicError> {
    match name {
        "ping" => Ok(Reply::empty()),
        "getLicense" => Ok(Reply::with(
            "license",
            json!({"valid": true, "email": "", "licenseExpires": "2999-12-31T00:00:00Z"}),
        )),
        "getOpenSubsonicExtensions" => system(name),
        "getUser" => personal::get_user(call),
        "getScanStatus" => Ok(Reply::with("scanStatus", scan_status(call))),
        "startScan" => start_scan(call),
        "getMusicFolders" => browse::music_folders(call),
        "getIndexes" => browse::indexes(call, "indexes").await,
        "getArtists" => browse::indexes(call, "artists").await,
        "getMusicDirectory" => browse::music_directory(call).await,
        "getArtist" => browse::artist(call).await,
        "getAlbum" => browse::album(call).await,
        "getSong" => browse::song(call).await,
        "getAlbumList2" => browse::album_list(call, "albumList2").await,
        "getAlbumList" => browse::album_list(call, "albumList").await,
        "getGenres" => browse::genres(call).await,
        "getArtistInfo2" => browse::artist_info(call, "artistInfo2").await,
        "getArtistInfo" => browse::artist_info(call, "artistInfo").await,
        "getAlbumInfo2" | "getAlbumInfo" => browse::album_info(call).await,
        "search3" => browse::search(call, "searchResult3").await,
        "search2" => browse::search(call, "searchResult2").await,
        "getRandomSongs" => browse::random_songs(call).await,
        "getSongsByGenre" => browse::songs_by_genre(call).await,
        "getTopSongs" => mixes::top_songs(call).await,
        "getSimilarSongs2" => mixes::similar_songs(call, "similarSongs2").await,
        "getSimilarSongs" => mixes::similar_songs(call, "similarSongs").await,
        "getSonicSimilarTracks" => mixes::sonic_similar(call).await,
        "findSonicPath" => mixes::sonic_path(call).await,
        "stream" | "download" => media::stream(call).await,
        "getCoverArt" => media::cover_art(call).await,
        "star" => personal::star(call, true).await,
        "unstar" => personal::star(call, false).await,
        "getStarred2" => personal::starred(call, "starred2").await,
        "getStarred" => personal::starred(call, "starred").await,
        "setRating" => personal::set_rating(call).await,
        "scrobble" => personal::scrobble(call).await,
        "getNowPlaying" => personal::now_playing(call).await,
        "getPlaylists" => personal::playlists(call).await,
        "getPlaylist" => personal::playlist(call).await,
        "createPlaylist" => personal::create_playlist(call).await,
        "updatePlaylist" => personal::update_playlist(call).await,
        "deletePlaylist" => personal::delete_playlist(call).await,
        _ => Err(SubsonicError::not_found(format!(
            "endpoint {name} is not implemented by this server; see docs/SUBSONIC.md"
        ))),
    }
}

fn scan_status(call: &Call) -> serde_json::Value {
    let s = call.library.scan.snapshot();
    let count = if s.scanning {
        s.done
    } else {
        s.last.as_ref().map_or(0, |r| r.files as u64)
    };
    let mut v = json!({"scanning": s.scanning, "count": count});
    if let Some(last) = &s.last {
        v["folderCount"] = json!(last.folders.len());
    }
    v
}

/// `startScan`: scans the configured folders in the background (admin only); answers with
/// the status at once.
fn start_scan(call: &Call) -> Result<Reply, SubsonicError> {
    if !call.listener.admin {
        return Err(SubsonicError::not_authorised("scanning"));
    }
    if call.library.folders.is_empty() {
        return Err(SubsonicError::generic(
            "no music folders are configured (serve --music-folder DIR)",
        ));
    }
    crate::state::spawn_scan(&call.state);
    Ok(Reply::with("scanStatus", scan_status(call)))
}
