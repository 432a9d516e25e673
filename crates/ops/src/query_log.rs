//! What people search for (the original service's "analyze query patterns"): per day, for the
//! last eight, how many queries ran by route, how many found nothing, how many were slow, and —
//! only when texts are enabled — which normalised texts were asked, found nothing or were slow.
//!
//! `MUSIC_RAG_QUERY_LOG`: `off` keeps nothing (no counts, no file; a file an earlier setting
//! left is deleted at start), `counts` (the default) keeps numbers only, `texts` keeps texts
//! too. Bounded: at most [`TEXTS_PER_DAY`] distinct texts a day (a new text replaces the least
//! asked one, keeping its count as an overestimate, the "space-saving" sketch) and eight days;
//! saved to `DATA_DIR/query-log.json` (atomically) every minute and at shutdown. API keys and
//! client addresses are never recorded: only the query text the user typed, normalised.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{OpsError, Result};

/// Distinct texts kept per day.
pub const TEXTS_PER_DAY: usize = 2_000;
/// Days kept (today and the seven before: "this week" whatever the hour).
pub const DAYS_KEPT: i64 = 8;
/// Longest text kept, in characters.
const TEXT_MAX_CHARS: usize = 200;
const FILE: &str = "query-log.json";

/// Queries, by route.
pub const QUERIES: &str = "music_rag_queries_total";
/// Queries that found nothing.
pub const ZERO_RESULT_QUERIES: &str = "music_rag_zero_result_queries_total";
/// Queries slower than the slow threshold.
pub const SLOW_QUERIES: &str = "music_rag_slow_queries_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueryLogMode {
    Off,
    Counts,
    Texts,
}

impl std::str::FromStr for QueryLogMode {
    type Err = OpsError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "counts" | "" => Ok(Self::Counts),
            "texts" => Ok(Self::Texts),
            other => Err(OpsError::Setting {
                setting: "query_log (MUSIC_RAG_QUERY_LOG)",
                message: format!("{other:?} must be off, counts or texts"),
            }),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TextCounts {
    count: u64,
    zero: u64,
    slow: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Day {
    /// Days since 1970-01-01 (UTC).
    day: i64,
    total: u64,
    by_route: BTreeMap<String, u64>,
    zero_results: u64,
    slow: u64,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    texts: HashMap<String, TextCounts>,
}

impl Day {
    /// Counts a text, replacing the least asked one when the day holds its maximum.
    fn count_text(&mut self, text: String, zero: bool, slow: bool) {
        if !self.texts.contains_key(&text) && self.texts.len() >= TEXTS_PER_DAY {
            if let Some((least, counts)) = self
                .texts
                .iter()
                .min_by(|a, b| a.1.count.cmp(&b.1.count).then_with(|| b.0.cmp(a.0)))
                .map(|(t, c)| (t.clone(), c.clone()))
            {
                self.texts.remove(&least);
                // The newcomer inherits the evicted count (an upper bound on its own).
                self.texts.insert(
                    text.clone(),
                    TextCounts {
                        count: counts.count,
                        zero: 0,
                        slow: 0,
                    },
                );
            }
        }
        let c = self.texts.entry(text).or_default();
        c.count += 1;
        c.zero += u64::from(zero);
        c.slow += u64::from(slow);
    }
}

/// One text and how often it was asked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TextCount {
    pub text: String,
    pub count: u64,
}

/// The report `GET /v1/stats/queries` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryReport {
    pub mode: QueryLogMode,
    /// Days covered, ending today (UTC).
    pub days: u32,
    /// The first day covered (YYYY-MM-DD).
    pub since: String,
    pub total: u64,
    /// Queries by how they were read: `keywords`, `description`, `ask`.
    pub by_route: BTreeMap<String, u64>,
    pub zero_results: u64,
    pub slow: u64,
    /// A query slower than this many milliseconds is slow.
    pub slow_ms: u64,
    /// The most asked texts (only with `texts`).
    pub top: Vec<TextCount>,
    /// The texts that most often found nothing (only with `texts`).
    pub zero_result_top: Vec<TextCount>,
    /// The texts most often slow (only with `texts`).
    pub slow_top: Vec<TextCount>,
}

/// The query log of one store (a server's data directory).
#[derive(Debug)]
pub struct QueryLog {
    mode: QueryLogMode,
    slow_ms: u64,
    file: Option<PathBuf>,
    days: Mutex<Vec<Day>>,
}

fn today() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0)
}

fn date_of(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// The text as counted: lower case, single spaces, at most [`TEXT_MAX_CHARS`] characters.
pub fn normalise(text: &str) -> String {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    words.join(" ").chars().take(TEXT_MAX_CHARS).collect()
}

impl QueryLog {
    /// The log kept in `data_dir` (`None`: memory only), loading what was saved there. `off`
    /// deletes a file an earlier setting left.
    pub fn open(mode: QueryLogMode, slow_ms: u64, data_dir: Option<&Path>) -> Self {
        let file = data_dir.map(|d| d.join(FILE));
        let mut days = Vec::new();
        if let Some(f) = &file {
            if mode == QueryLogMode::Off {
                if std::fs::remove_file(f).is_ok() {
                    tracing::info!(file = %f.display(), "query log off: the saved log was deleted");
                }
            } else if let Ok(bytes) = std::fs::read(f) {
                match serde_json::from_slice::<Vec<Day>>(&bytes) {
                    Ok(mut saved) => {
                        if mode == QueryLogMode::Counts {
                            // Texts kept under `texts` are dropped once the setting says counts.
                            saved.iter_mut().for_each(|d| d.texts.clear());
                        }
                        days = saved;
                    }
                    Err(e) => {
                        tracing::warn!(file = %f.display(), error = %e, "the saved query log cannot be read; starting a new one")
                    }
                }
            }
        }
        Self {
            mode,
            slow_ms,
            file,
            days: Mutex::new(days),
        }
    }

    pub fn mode(&self) -> QueryLogMode {
        self.mode
    }

    /// Counts one query: its text, how it was read, how many hits it found, how long it took.
    pub fn record(&self, text: &str, route: &str, hits: usize, elapsed_ms: f64) {
        if self.mode == QueryLogMode::Off {
            return;
        }
        let zero = hits == 0;
        let slow = elapsed_ms > self.slow_ms as f64;
        metrics::counter!(QUERIES, "route" => route.to_string()).increment(1);
        if zero {
            metrics::counter!(ZERO_RESULT_QUERIES).increment(1);
        }
        if slow {
            metrics::counter!(SLOW_QUERIES).increment(1);
        }
        // Only `texts` keeps the text: normalised then, and before the lock.
        let text = (self.mode == QueryLogMode::Texts)
            .then(|| normalise(text))
            .filter(|t| !t.is_empty());
        let today = today();
        let Ok(mut days) = self.days.lock() else {
            return;
        };
        if days.last().is_none_or(|d| d.day != today) {
            days.push(Day {
                day: today,
                ..Default::default()
            });
            let oldest = today - (DAYS_KEPT - 1);
            days.retain(|d| d.day >= oldest);
        }
        let Some(day) = days.last_mut() else {
            return;
        };
        day.total += 1;
        *day.by_route.entry(route.to_string()).or_default() += 1;
        day.zero_results += u64::from(zero);
        day.slow += u64::from(slow);
        if let Some(text) = text {
            day.count_text(text, zero, slow);
        }
    }

    /// The last `days` days (1-8, today included), the top `limit` texts of each kind.
    pub fn report(&self, days: u32, limit: usize) -> QueryReport {
        let days = days.clamp(1, DAYS_KEPT as u32);
        let first = today() - (days as i64 - 1);
        let kept = self.days.lock().map(|d| d.clone()).unwrap_or_default();
        let mut report = QueryReport {
            mode: self.mode,
            days,
            since: date_of(first),
            total: 0,
            by_route: BTreeMap::new(),
            zero_results: 0,
            slow: 0,
            slow_ms: self.slow_ms,
            top: Vec::new(),
            zero_result_top: Vec::new(),
            slow_top: Vec::new(),
        };
        let mut texts: HashMap<String, TextCounts> = HashMap::new();
        for d in kept.iter().filter(|d| d.day >= first) {
            report.total += d.total;
            for (route, n) in &d.by_route {
                *report.by_route.entry(route.clone()).or_default() += n;
            }
            report.zero_results += d.zero_results;
            report.slow += d.slow;
            for (t, c) in &d.texts {
                let sum = texts.entry(t.clone()).or_default();
                sum.count += c.count;
                sum.zero += c.zero;
                sum.slow += c.slow;
            }
        }
        let top = |pick: fn(&TextCounts) -> u64| {
            let mut all: Vec<TextCount> = texts
                .iter()
                .filter(|(_, c)| pick(c) > 0)
                .map(|(t, c)| TextCount {
                    text: t.clone(),
                    count: pick(c),
                })
                .collect();
            all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
            all.truncate(limit);
            all
        };
        report.top = top(|c| c.count);
        report.zero_result_top = top(|c| c.zero);
        report.slow_top = top(|c| c.slow);
        report
    }

    /// Writes the log to its file (to a temporary name, then renamed); nothing with `off` or
    /// without a data directory.
    pub fn save(&self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if self.mode == QueryLogMode::Off {
            return Ok(());
        }
        let json = {
            let days = self.days.lock().map(|d| d.clone()).unwrap_or_default();
            if days.is_empty() {
                return Ok(());
            }
            serde_json::to_vec(&days).map_err(|e| OpsError::Io {
                what: "query log".into(),
                source: std::io::Error::other(e),
            })?
        };
        let tmp = file.with_extension("json.tmp");
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, file))
            .map_err(OpsError::io(format!("cannot write {}", file.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_numbers_and_texts_keep_texts() {
        let log = QueryLog::open(QueryLogMode::Counts, 100, None);
        log.record("Calm  Piano", "description", 10, 5.0);
        log.record("zzz", "keywords", 0, 500.0);
        let r = log.report(7, 10);
        assert_eq!((r.total, r.zero_results, r.slow), (2, 1, 1));
        assert_eq!(r.by_route["description"], 1);
        assert!(r.top.is_empty() && r.zero_result_top.is_empty());

        let log = QueryLog::open(QueryLogMode::Texts, 100, None);
        for _ in 0..3 {
            log.record("Calm  Piano", "description", 10, 5.0);
        }
        log.record("calm piano", "description", 10, 5.0);
        log.record("qqq", "keywords", 0, 5.0);
        let r = log.report(1, 10);
        assert_eq!(r.top[0].text, "calm piano");
        assert_eq!(r.top[0].count, 4);
        assert_eq!(r.zero_result_top[0].text, "qqq");
    }

    #[test]
    fn off_keeps_nothing_and_texts_are_bounded() {
        let log = QueryLog::open(QueryLogMode::Off, 100, None);
        log.record("anything", "keywords", 0, 1000.0);
        assert_eq!(log.report(8, 10).total, 0);

        let log = QueryLog::open(QueryLogMode::Texts, 100, None);
        for i in 0..(TEXTS_PER_DAY + 50) {
            log.record(&format!("query {i}"), "keywords", 1, 1.0);
        }
        log.record("query 0", "keywords", 1, 1.0);
        let days = log.days.lock().unwrap();
        assert!(days[0].texts.len() <= TEXTS_PER_DAY);
        assert_eq!(days[0].total, TEXTS_PER_DAY as u64 + 51);
    }

    #[test]
    fn modes_parse_by_name() {
        assert_eq!(
            "TEXTS".parse::<QueryLogMode>().unwrap(),
            QueryLogMode::Texts
        );
        let e = "verbose".parse::<QueryLogMode>().unwrap_err().to_string();
        assert!(
            e.contains("MUSIC_RAG_QUERY_LOG") && e.contains("off, counts or texts"),
            "{e}"
        );
    }
}
