//! The Subsonic wire format: parameters from the query string and a form body (repeated
//! names kept), the `subsonic-response` envelope in XML (the default), JSON or JSONP, and the
//! one place errors become Subsonic error codes (always HTTP 200, as clients expect).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The API version this server speaks.
pub const API_VERSION: &str = "1.16.1";
pub const SERVER_TYPE: &str = "music-rag";
const XMLNS: &str = "http://subsonic.org/restapi";

/// A request's parameters, in the order sent; a name may repeat (`id=1&id=2`).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, form: Option<&[u8]>) -> Self {
        let mut out: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            out.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if let Some(body) = form {
            out.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(out)
    }

    /// The first value of `name`, when sent and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` even when empty (a search for "" is a real search).
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every non-empty value of `name`, owned (for work moved to another thread).
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.all(name).into_iter().map(str::to_string).collect()
    }

    pub fn required(&self, name: &str) -> Result<&str, SubsonicError> {
        self.get(name).ok_or_else(|| SubsonicError::missing(name))
    }

    /// A whole number, with a default and bounds; a value that is no number is refused by
    /// name.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, SubsonicError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    SubsonicError::generic(format!(
                        "parameter {name} must be a whole number from {min} to {max} (got {v:?})"
                    ))
                }),
        }
    }

    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, SubsonicError> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.int(name, 0, min, max).map(Some),
        }
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, SubsonicError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(SubsonicError::generic(format!(
                "parameter {name} must be true or false (got {v:?})"
            ))),
        }
    }
}

/// The response format a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
    Jsonp(String),
}

impl Format {
    pub fn of(params: &Params) -> Self {
        match params.get("f") {
            Some("json") => Format::Json,
            Some("jsonp") => match params.get("callback") {
                Some(cb) if is_js_identifier(cb) => Format::Jsonp(cb.to_string()),
                _ => Format::Json,
            },
            _ => Format::Xml,
        }
    }
}

/// A JSONP callback must be a plain (dotted) identifier: nothing else reaches the script.
fn is_js_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// A Subsonic error: its code and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsonicError {
    pub code: u32,
    pub message: String,
}

impl SubsonicError {
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// 0: a generic error (a value out of range, a failure).
    pub fn generic(message: impl Into<String>) -> Self {
        Self::new(0, message)
    }
    /// 10: a required parameter is missing.
    pub fn missing(name: &str) -> Self {
        Self::new(10, format!("required parameter is missing: {name}"))
    }
    /// 40: wrong username or password.
    pub fn wrong_credentials() -> Self {
        Self::new(40, "wrong username or password")
    }
    /// 50: the user is not authorised for the operation.
    pub fn not_authorised(what: &str) -> Self {
        Self::new(50, format!("user is not authorized for {what}"))
    }
    /// 70: the requested data was not found.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(70, what)
    }
}

/// The one mapping from the API's errors (themselves mapped from the application and
/// operations layers) to Subsonic codes. Internal causes stay in the log.
impl From<ApiError> for SubsonicError {
    fn from(e: ApiError) -> Self {
        let message = match &e.field {
            Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
            _ => e.message.clone(),
        };
        match e.status {
            StatusCode::NOT_FOUND => Self::not_found(message),
            StatusCode::UNAUTHORIZED => Self::new(40, message),
            StatusCode::FORBIDDEN => Self::new(50, message),
            _ => Self::generic(message),
        }
    }
}

impl From<music_rag_core::CoreError> for SubsonicError {
    fn from(e: music_rag_core::CoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<music_rag_ops::OpsError> for SubsonicError {
    fn from(e: music_rag_ops::OpsError) -> Self {
        ApiError::from(e).into()
    }
}

/// What an endpoint answers: the payload's name and value (none for an empty ok), or binary
/// (a stream or a picture) passed through as it is.
pub enum Reply {
    Ok(Vec<(&'static str, Value)>),
    Raw(Response),
}

impl Reply {
    pub fn empty() -> Self {
        Reply::Ok(Vec::new())
    }
    pub fn with(name: &'static str, value: Value) -> Self {
        Reply::Ok(vec![(name, value)])
    }
    /// Several payloads side by side (where clients disagree on a shape, both).
    pub fn with_all(payloads: Vec<(&'static str, Value)>) -> Self {
        Reply::Ok(payloads)
    }
}

fn envelope(status: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("status".into(), status.into());
    m.insert("version".into(), API_VERSION.into());
    m.insert("type".into(), SERVER_TYPE.into());
    m.insert("serverVersion".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("openSubsonic".into(), true.into());
    m
}

/// Renders an answer (or an error) in the requested format.
pub fn render(format: &Format, result: Result<Reply, SubsonicError>) -> Response {
    let body = match result {
        Ok(Reply::Raw(r)) => return r,
        Ok(Reply::Ok(payload)) => {
            let mut m = envelope("ok");
            for (name, value) in payload {
                m.insert(name.into(), value);
            }
            m
        }
        Err(e) => {
            let mut m = envelope("failed");
            let mut err = Map::new();
            err.insert("code".into(), e.code.into());
            err.insert("message".into(), e.message.into());
            m.insert("error".into(), Value::Object(err));
            m
        }
    };
    match format {
        Format::Json => {
            let json = serde_json::json!({ "subsonic-response": body });
            typed(json.to_string(), "application/json")
        }
        Format::Jsonp(callback) => {
            let json = serde_json::json!({ "subsonic-response": body });
            typed(format!("{callback}({json});"), "application/javascript")
        }
        Format::Xml => {
            let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
            write_element(&mut out, "subsonic-response", &body, Some(XMLNS));
            typed(out, "application/xml")
        }
    }
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("{content_type}; charset=utf-8"))
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    r
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The XML form of a JSON object, as the Subsonic schema lays it out: scalars become
/// attributes, objects child elements, arrays repeated child elements of the key's name, a
/// `value` key the element's text.
fn write_element(out: &mut String, name: &str, object: &Map<String, Value>, xmlns: Option<&str>) {
    out.push('<');
    out.push_str(name);
    if let Some(ns) = xmlns {
        out.push_str(&format!(r#" xmlns="{ns}""#));
    }
    let mut text = None;
    // The info elements hold their texts as child elements (`<biography>…</biography>`), not
    // attributes, as the Subsonic schema has them.
    let texts_as_children = TEXT_CHILDREN_OF.contains(&name);
    for (k, v) in object {
        if k == "value" {
            text = scalar(v);
            continue;
        }
        if texts_as_children {
            continue;
        }
        if let Some(s) = scalar(v) {
            out.push_str(&format!(r#" {k}="{}""#, quick_xml::escape::escape(&s)));
        }
    }
    let children: Vec<(&String, &Value)> = object
        .iter()
        .filter(|(k, v)| {
            *k != "value" && (matches!(v, Value::Object(_) | Value::Array(_)) || texts_as_children)
        })
        .collect();
    if children.is_empty() && text.is_none() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(t) = text {
        out.push_str(&quick_xml::escape::escape(&t));
    }
    for (k, v) in children {
        write_child(out, k, v);
    }
    out.push_str(&format!("</{name}>"));
}

/// Elements whose text fields are child elements in XML.
const TEXT_CHILDREN_OF: &[&str] = &["artistInfo", "artistInfo2", "albumInfo"];

fn write_child(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Object(o) => write_element(out, name, o, None),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(o) => write_element(out, name, o, None),
                    other => {
                        if let Some(s) = scalar(other) {
                            out.push_str(&format!(
                                "<{name}>{}</{name}>",
                                quick_xml::escape::escape(&s)
                            ));
                        }
                    }
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push_str(&format!(
                    "<{name}>{}</{name}>",
                    quick_xml::escape::escape(&s)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn one_payload_renders_as_xml_json_and_jsonp() {
        let payload = serde_json::json!({
            "ignoredArticles": "The",
            "index": [{"name": "A", "artist": [{"id": "ar-1", "name": "Abba & Co <live>"}]}],
            "lyrics": {"artist": "x", "value": "la la"}
        });
        let xml = text(render(
            &Format::Xml,
            Ok(Reply::with("artists", payload.clone())),
        ))
        .await;
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><subsonic-response xmlns="http://subsonic.org/restapi" "#), "{xml}");
        for attr in [
            r#"status="ok""#,
            r#"version="1.16.1""#,
            r#"openSubsonic="true""#,
            r#"type="music-rag""#,
        ] {
            assert!(xml.contains(attr), "{attr} in {xml}");
        }
        assert!(xml.contains(r#"<artists ignoredArticles="The"><index name="A"><artist id="ar-1" name="Abba &amp; Co &lt;live&gt;"/></index>"#), "{xml}");
        assert!(
            xml.contains(r#"<lyrics artist="x">la la</lyrics>"#),
            "{xml}"
        );
        let json: Value = serde_json::from_str(
            &text(render(
                &Format::Json,
                Ok(Reply::with("artists", payload.clone())),
            ))
            .await,
        )
        .unwrap();
        assert_eq!(json["subsonic-response"]["openSubsonic"], true);
        assert_eq!(
            json["subsonic-response"]["artists"]["index"][0]["name"],
            "A"
        );
        let jsonp = text(render(
            &Format::Jsonp("cb.x".into()),
            Err(SubsonicError::missing("id")),
        ))
        .await;
        assert!(
            jsonp.starts_with("cb.x({") && jsonp.ends_with(");"),
            "{jsonp}"
        );
        assert!(jsonp.contains(r#""code":10"#));
        let info = text(render(&Format::Xml, Ok(Reply::with("artistInfo2", serde_json::json!({
            "biography": "A & B", "musicBrainzId": "m1", "similarArtist": [{"id": "ar-2", "name": "C"}]
        }))))).await;
        assert!(info.contains("<artistInfo2><biography>A &amp; B</biography><musicBrainzId>m1</musicBrainzId><similarArtist id=\"ar-2\" name=\"C\"/></artistInfo2>"), "{info}");
        let params = Params::parse(Some("f=jsonp&callback=alert(1)"), None);
        assert_eq!(
            Format::of(&params),
            Format::Json,
            "a callback that is no identifier is refused"
        );
    }
}
