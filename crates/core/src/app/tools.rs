//! A configured model plans an answer with tools (`AskRequest::tools`), in the style of
//! AudioMuse-AI's instant playlists: it may search, select under filters sorted by a fact,
//! count, and read a track, for a few rounds, then answer. Every track a tool returns is
//! numbered once, in the order first returned, and those are the answer's sources; the answer
//! may only name them. An answer that names a title no tool returned, cites none of them, or
//! never comes, is refused: the question is answered offline instead, and `fallback` says why.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::answer::{AskRequest, Fallback, PreparedAnswer};
use crate::app::search::SearchRequest;
use crate::app::Engine;
use crate::domain::answer::citations::check_citations;
use crate::domain::answer::source_card;
use crate::domain::catalog::measure::Measure;
use crate::domain::catalog::track::Track;
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::filter::Filter;
use crate::error::{CoreError, Result};
use crate::ports::{ChatMessage, ChatTurn, Selection, TokenUsage, ToolCall, ToolSpec};

/// Rounds of tool calls before the model must have answered.
const TOOL_ROUNDS: usize = 4;
/// Tracks one tool call returns at most.
const TOOL_TRACKS_MAX: usize = 20;

const SYSTEM: &str = "You answer questions about the music in one catalog, using tools to read \
it: search (tracks by meaning and words), select (tracks that pass filters, sorted by tempo, \
duration or year), count (how many pass), get_track (one track's facts). Every track a tool \
returns has a number like [3]. Answer in at most four sentences, naming only tracks the tools \
returned, in double quotes, and cite each by its number in square brackets. Never name a track, \
artist or fact that no tool returned; if the tools found nothing, say the catalog does not hold \
it.";

fn filter_schema() -> Value {
    json!({"type": "object", "description": "Filters: genres, moods, instruments, keys (lists, any of), tempo and year ({min, max}), live", "properties": {
        "genres": {"type": "array", "items": {"type": "string"}},
        "moods": {"type": "array", "items": {"type": "string"}},
        "instruments": {"type": "array", "items": {"type": "string"}},
        "keys": {"type": "array", "items": {"type": "string"}},
        "tempo": {"type": "object", "properties": {"min": {"type": "number"}, "max": {"type": "number"}}},
        "year": {"type": "object", "properties": {"min": {"type": "number"}, "max": {"type": "number"}}},
        "live": {"type": "boolean"}
    }})
}

/// The tools the model is offered.
pub fn tool_specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "search",
            description: "Tracks that best fit a description or name, in plain words.",
            parameters: json!({"type": "object", "required": ["text"], "properties": {
                "text": {"type": "string"}, "filters": filter_schema(),
                "limit": {"type": "integer", "minimum": 1, "maximum": TOOL_TRACKS_MAX}}}),
        },
        ToolSpec {
            name: "select",
            description: "Every track that passes the filters (and is by the artist, when given), sorted by a fact, highest first unless ascending; with the total that pass.",
            parameters: json!({"type": "object", "properties": {
                "filters": filter_schema(), "artist": {"type": "string"},
                "order_by": {"type": "string", "enum": ["tempo", "duration", "year"]},
                "ascending": {"type": "boolean"},
                "limit": {"type": "integer", "minimum": 1, "maximum": TOOL_TRACKS_MAX}}}),
        },
        ToolSpec {
            name: "count",
            description: "How many tracks pass the filters (and are by the artist, when given).",
            parameters: json!({"type": "object", "properties": {
                "filters": filter_schema(), "artist": {"type": "string"}}}),
        },
        ToolSpec {
            name: "get_track",
            description: "One track's facts, by its number from an earlier result or its id.",
            parameters: json!({"type": "object", "properties": {
                "number": {"type": "integer", "minimum": 1}, "id": {"type": "string"}}}),
        },
    ]
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ToolArgs {
    text: String,
    filters: Filter,
    artist: Option<String>,
    order_by: Option<String>,
    ascending: bool,
    limit: Option<usize>,
    number: Option<usize>,
    id: Option<String>,
}

/// Tracks every tool returned, each numbered once.
#[derive(Default)]
struct Returned {
    tracks: Vec<Arc<Track>>,
    numbers: HashMap<String, usize>,
}

impl Returned {
    fn number(&mut self, t: &Arc<Track>) -> usize {
        if let Some(n) = self.numbers.get(&t.id) {
            return *n;
        }
        self.tracks.push(t.clone());
        let n = self.tracks.len();
        self.numbers.insert(t.id.clone(), n);
        n
    }

    fn cards(&mut self, tracks: &[Arc<Track>]) -> Vec<String> {
        tracks
            .iter()
            .map(|t| {
                let n = self.number(t);
                source_card(n, t)
            })
            .collect()
    }
}

/// The titles an answer names in double quotes.
fn quoted(text: &str) -> Vec<String> {
    text.split(['"', '“', '”'])
        .enumerate()
        .filter(|(i, part)| i % 2 == 1 && !part.trim().is_empty())
        .map(|(_, part)| part.trim().to_string())
        .collect()
}

fn add_usage(total: &mut Option<TokenUsage>, more: Option<TokenUsage>) {
    if let Some(m) = more {
        let t = total.get_or_insert_with(TokenUsage::default);
        t.prompt_tokens += m.prompt_tokens;
        t.completion_tokens += m.completion_tokens;
        t.total_tokens += m.total_tokens;
    }
}

impl Engine {
    /// The answer a configured model plans with tools; `None` without a model.
    pub(crate) fn answer_with_tools(
        &self,
        req: &AskRequest,
        started: Instant,
    ) -> Result<Option<PreparedAnswer>> {
        let Some(model) = self.provider().cloned() else {
            return Ok(None);
        };
        let specs = tool_specs();
        let mut returned = Returned::default();
        let mut usage = None;
        let mut messages = vec![
            ChatMessage::System(SYSTEM.to_string()),
            ChatMessage::User(req.question.clone()),
        ];
        for _ in 0..TOOL_ROUNDS {
            let turn = match model.chat(&messages, &specs) {
                Ok(turn) => turn,
                Err(e) => {
                    return self
                        .tools_refused(req, model.name(), e.to_string())
                        .map(Some)
                }
            };
            match turn {
                ChatTurn::Calls { calls, usage: u } => {
                    add_usage(&mut usage, u);
                    messages.push(ChatMessage::Assistant {
                        content: None,
                        tool_calls: calls.clone(),
                    });
                    for call in calls {
                        let content = self
                            .run_tool(req, &call, &mut returned)
                            .unwrap_or_else(|e| json!({"error": e.to_string()}).to_string());
                        messages.push(ChatMessage::Tool {
                            call_id: call.id,
                            content,
                        });
                    }
                }
                ChatTurn::Answer(g) => {
                    add_usage(&mut usage, g.usage);
                    let titles: Vec<String> = returned
                        .tracks
                        .iter()
                        .map(|t| normalize_term(&t.title))
                        .collect();
                    let invented: Vec<String> = quoted(&g.text)
                        .into_iter()
                        .filter(|q| !titles.contains(&normalize_term(q)))
                        .collect();
                    if !invented.is_empty() {
                        let reason = format!(
                            "the model named tracks no tool returned: \"{}\"",
                            invented.join("\", \"")
                        );
                        return self.tools_refused(req, model.name(), reason).map(Some);
                    }
                    let ids: Vec<&str> = returned.tracks.iter().map(|t| t.id.as_str()).collect();
                    let checked = check_citations(&g.text, &ids);
                    if checked.cited.is_empty() && !returned.tracks.is_empty() {
                        let reason =
                            "the model's answer cites none of the tracks its tools returned";
                        return self
                            .tools_refused(req, model.name(), reason.into())
                            .map(Some);
                    }
                    let mut p = self.planned(req, returned.tracks.clone(), g.text, started);
                    p.response.generator = model.name().to_string();
                    p.response.usage = usage;
                    p.response.grounded = !checked.cited.is_empty();
                    return Ok(Some(p));
                }
            }
        }
        let reason = format!("the model did not answer within {TOOL_ROUNDS} rounds of tool calls");
        self.tools_refused(req, model.name(), reason).map(Some)
    }

    /// The question answered offline, saying why the model's planned answer was not used.
    fn tools_refused(
        &self,
        req: &AskRequest,
        from: &str,
        reason: String,
    ) -> Result<PreparedAnswer> {
        let fresh = AskRequest {
            tools: false,
            ..req.clone()
        };
        let mut p = self.prepare_fresh(&fresh)?;
        p.offline = true;
        p.response.fallback = Some(Fallback {
            from: from.to_string(),
            reason,
        });
        Ok(p)
    }

    /// Runs one tool call; the result is JSON text for the model.
    fn run_tool(
        &self,
        req: &AskRequest,
        call: &ToolCall,
        returned: &mut Returned,
    ) -> Result<String> {
        let args: ToolArgs = serde_json::from_str(&call.arguments).map_err(|e| {
            CoreError::invalid(call.name.clone(), format!("arguments are not valid: {e}"))
        })?;
        args.filters.validate()?;
        let limit = args.limit.unwrap_or(10).clamp(1, TOOL_TRACKS_MAX);
        // The request's own filters bound every tool.
        let filters = req.filters.clone().and(&args.filters);
        let artists = match &args.artist {
            Some(a) if !a.trim().is_empty() => {
                let parsed = self.parse(&format!("songs by {a}"))?;
                if parsed.artists.is_empty() {
                    return Ok(json!({"total": 0, "tracks": [], "note": format!("the catalog has no artist named {a:?}")}).to_string());
                }
                parsed.artists
            }
            _ => Vec::new(),
        };
        match call.name.as_str() {
            "search" => {
                if args.text.trim().is_empty() {
                    return Err(CoreError::invalid("text", "must not be empty"));
                }
                let found = self.search(&SearchRequest {
                    text: args.text.clone(),
                    filters,
                    top_k: limit,
                    ..Default::default()
                })?;
                let tracks: Vec<Arc<Track>> = found.hits.iter().map(|h| h.track.clone()).collect();
                Ok(json!({"tracks": returned.cards(&tracks)}).to_string())
            }
            "select" | "count" => {
                let order = match args.order_by.as_deref() {
                    None => None,
                    Some("tempo") => Some((Measure::Tempo, !args.ascending)),
                    Some("duration") => Some((Measure::Duration, !args.ascending)),
                    Some("year") => Some((Measure::Year, !args.ascending)),
                    Some(other) => {
                        return Err(CoreError::invalid(
                            "order_by",
                            format!("must be tempo, duration or year (got {other:?})"),
                        ))
                    }
                };
                let counting = call.name == "count";
                let selected = self.store().select(&Selection {
                    filter: filters,
                    artists,
                    order,
                    offset: 0,
                    limit: if counting { 0 } else { limit },
                })?;
                if counting {
                    return Ok(json!({"total": selected.total}).to_string());
                }
                Ok(
                    json!({"total": selected.total, "tracks": returned.cards(&selected.tracks)})
                        .to_string(),
                )
            }
            "get_track" => {
                let track = match (args.number, &args.id) {
                    (Some(n), _) => returned.tracks.get(n.wrapping_sub(1)).cloned(),
                    (None, Some(id)) => self.store().get(id)?,
                    (None, None) => {
                        return Err(CoreError::invalid("number", "give a number or an id"))
                    }
                };
                let Some(track) = track else {
                    return Ok(json!({"error": "no such track"}).to_string());
                };
                Ok(json!({"track": returned.cards(&[track])[0]}).to_string())
            }
            other => Err(CoreError::invalid(
                "tool",
                format!("no tool named {other:?}; the tools are search, select, count, get_track"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_titles_are_read_from_either_quote() {
        assert_eq!(
            quoted("The fastest is \"Master of Puppets\" [1], then “One” [2]."),
            ["Master of Puppets", "One"]
        );
        assert!(quoted("no titles here [1]").is_empty());
    }

    #[test]
    fn every_tool_has_an_object_schema() {
        for t in tool_specs() {
            assert_eq!(t.parameters["type"], "object", "{}", t.name);
        }
    }
}
