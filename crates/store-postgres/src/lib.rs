//! The PostgreSQL store: PostgreSQL holds the tracks, their vectors (pgvector, HNSW on cosine)
//! and the keyword index (weighted `tsvector`, `pg_trgm` on names), and does the retrieval.
//! This store keeps only a connection pool and a vocabulary it can rebuild, so any number of
//! `music-rag serve` processes can share one database; a serving replica also keeps a local
//! copy that follows the catalog through `changes_since` and searches that instead
//! (`music-rag-ops`'s `replica`).

mod changes;
mod query;
mod schema;
pub mod test_database;

pub use changes::Change;
pub use schema::SCHEMA_VERSION;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use music_rag_core::domain::query::names::searchable_name;
use music_rag_core::domain::retrieval::filter::TrackFacets;
use music_rag_core::domain::retrieval::hit::TermMatch;
use music_rag_core::{
    Candidate, CoreError, Filter, Known, Page, Store, StoreStats, StoredTrack, Track, Vocabulary,
};
use pgvector::Vector;
use postgres::types::Json;
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use query::Params;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("database: {0}")]
    Db(#[from] postgres::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("{0}")]
    Incompatible(String),
    #[error("{0}")]
    Config(String),
}

impl PgError {
    /// Whether the database cannot be reached or is restarting: a request can succeed later.
    fn is_unreachable(&self) -> bool {
        match self {
            PgError::Pool(_) => true,
            PgError::Db(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        let code = c.code();
                        // Connection exceptions, shutdown, too many connections, read-only.
                        code.starts_with("08")
                            || code.starts_with("57P")
                            || code == "53300"
                            || code == "25006"
                    })
                    || (e.code().is_none() && e.as_db_error().is_none())
            }
            _ => false,
        }
    }

    fn is_disk_full(&self) -> bool {
        matches!(self, PgError::Db(e) if e.code().is_some_and(|c| c.code() == "53100"))
    }
}

impl From<PgError> for CoreError {
    fn from(e: PgError) -> Self {
        if e.is_disk_full() {
            return CoreError::StorageFull(
                "the database's disk is full; nothing of this write was committed".into(),
            );
        }
        if e.is_unreachable() {
            return CoreError::Unavailable(format!("PostgreSQL is unreachable: {e}"));
        }
        match e {
            PgError::Incompatible(m) | PgError::Config(m) => CoreError::Unavailable(m),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/dbname` (libpq URL or key=value form).
    pub url: String,
    /// The schema holding this catalog's tables (several catalogs can share a database).
    pub schema: String,
    /// Connections per replica.
    pub pool_size: u32,
    /// How long a request waits for a connection (and a connection for the server).
    pub connect_timeout: Duration,
    /// How long the first open keeps retrying an unreachable database.
    pub startup_wait: Duration,
    /// The longest a statement may run before the server cancels it.
    pub statement_timeout: Duration,
    /// The HNSW candidate list per query (`hnsw.ef_search`): larger is slower and closer to
    /// exact; iterative scans extend it when filters reject candidates. 1000 (pgvector's
    /// maximum) also makes the planner prefer an exact scan for small catalogs and selective
    /// filters, where it is cheaper.
    pub ef_search: u32,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "public".into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(3),
            startup_wait: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
            ef_search: 1000,
        }
    }

    fn validate(&self) -> Result<(), PgError> {
        let ok = self
            .schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && self
                .schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && self.schema.len() <= 63;
        if !ok {
            return Err(PgError::Config(format!(
                "database schema {:?} must be lower-case letters, digits and _ (at most 63), \
                 starting with a letter or _",
                self.schema
            )));
        }
        if self.pool_size == 0 {
            return Err(PgError::Config(
                "database pool size must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Every connection searches this schema first and the extensions' schema after it, lets
/// HNSW scans continue past candidates a filter rejects, and accepts a name word one typo
/// away (one edit in a six-letter word scores 0.5 word similarity; the default bar is 0.6;
/// two shared trigrams of five, as "five" in "drive", score 0.4 and stay out).
#[derive(Debug)]
struct SessionSettings {
    sql: String,
}

impl r2d2::CustomizeConnection<postgres::Client, postgres::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        conn.batch_execute(&self.sql)
    }
}

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// How long a replica may answer from a vocabulary older than the latest write: rebuilding it
/// reads every track's names and facets, so a stream of writes does not rebuild it per query.
/// Retrieval itself always reads the database as of now.
pub const VOCABULARY_MAX_LAG: Duration = Duration::from_secs(1);

struct CachedVocabulary {
    sequence: u64,
    vocabulary: Arc<Vocabulary>,
}

/// The database's write sequence as last read, and when: the caches of a replica (vocabulary,
/// word statistics) check it at most once per `VOCABULARY_MAX_LAG`, together.
struct RecentSequence {
    sequence: u64,
    read_at: Instant,
}

/// What the database said of single query words (`analyse_words`), kept per replica: queries
/// share most of their words, and the two retrievals of one query (broad and targeted) ask for
/// the same ones. Emptied when a write changes the sequence (a word no track held may now be
/// held) and at least every `WORD_STATS_MAX_AGE` (the shares come from the statistics
/// `ANALYZE` refreshes, which no write announces).
struct WordCache {
    sequence: u64,
    filled_at: Instant,
    /// (typed word, whether it may be a typo) -> (share of tracks, look for it as a typo).
    words: HashMap<(String, bool), (f32, bool)>,
}

/// How long word shares are reused before the statistics are read again.
const WORD_STATS_MAX_AGE: Duration = Duration::from_secs(60);
/// Words a replica remembers before it starts over.
const WORD_CACHE_MAX: usize = 20_000;

#[derive(Default)]
struct WordAnalysis {
    /// Per query word, its share of tracks.
    shares: Vec<f32>,
    /// Words to look for among names by trigram similarity.
    typos: Vec<String>,
}

/// A load this large into an empty catalog builds the vector index once at its end instead
/// of row by row (several times faster; searches meanwhile are exact scans).
pub const BULK_LOAD_MIN_ROWS: usize = 1_000;

pub struct PgStore {
    pool: Pool,
    /// This store dropped the vector index for a bulk load and builds it when the load ends.
    deferred_index: AtomicBool,
    schema: String,
    model_id: String,
    dim: usize,
    vocabulary: Mutex<Option<CachedVocabulary>>,
    words: Mutex<Option<WordCache>>,
    recent_sequence: Mutex<Option<RecentSequence>>,
}

/// The database's clock as the embedded store writes times (RFC 3339, UTC, milliseconds).
const NOW: &str =
    r#"to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#;

impl PgStore {
    /// Connects, migrates the schema and checks the model. Without a model (commands that
    /// only read or delete), the stored one is assumed. Retries an unreachable database for
    /// `startup_wait`, so replicas may start before it.
    pub fn open(options: &PgOptions, model: Option<(&str, usize)>) -> Result<Self, PgError> {
        options.validate()?;
        let mut config = postgres::Config::from_str(&options.url).map_err(|e| {
            PgError::Config(format!(
                "the database URL is not valid ({e}); write it like \
                 postgres://user:password@host:5432/dbname"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("music-rag");
        }
        config.keepalives(true);
        let schema = options.schema.clone();
        let session = SessionSettings {
            sql: format!(
                "SET search_path = {schema}, public;
                 SET statement_timeout = {};
                 SET hnsw.ef_search = {};
                 SET hnsw.iterative_scan = relaxed_order;
                 SET pg_trgm.word_similarity_threshold = 0.45;",
                options.statement_timeout.as_millis(),
                options.ef_search
            ),
        };
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            // A connection that died with the server is found by its failed query and
            // dropped; checking each one out with a round trip would cost every query.
            .test_on_check_out(false)
            .connection_customizer(Box::new(session))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        let deadline = Instant::now() + options.startup_wait;
        let (model_id, dim) = loop {
            let attempt = pool
                .get()
                .map_err(PgError::from)
                .and_then(|mut c| schema::migrate(&mut c, &schema, model));
            match attempt {
                Ok(m) => break m,
                Err(e) if e.is_unreachable() && Instant::now() < deadline => {
                    tracing::warn!(error = %e, "waiting for PostgreSQL");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Self {
            pool,
            schema,
            model_id,
            dim,
            vocabulary: Mutex::new(None),
            words: Mutex::new(None),
            recent_sequence: Mutex::new(None),
            deferred_index: AtomicBool::new(false),
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Runs a read, once more on a fresh connection when the first one had died (the server
    /// restarted since it was opened).
    fn read<T>(
        &self,
        f: impl Fn(&mut postgres::Client) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let mut conn = self.pool.get()?;
        match f(&mut conn) {
            Err(e) if e.is_unreachable() => {
                drop(conn);
                let mut fresh = self.pool.get()?;
                f(&mut fresh)
            }
            other => other,
        }
    }

    fn check_dim(&self, what: &str, v: &[f32]) -> Result<(), CoreError> {
        if v.len() != self.dim {
            return Err(CoreError::Internal(format!(
                "{what} has {} floats, expected {}",
                v.len(),
                self.dim
            )));
        }
        Ok(())
    }

    fn write_tracks(&self, items: &[StoredTrack]) -> Result<(), PgError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        let sequence: i64 = tx
            .query_one(
                "UPDATE store_state SET sequence = sequence + 1 RETURNING sequence",
                &[],
            )?
            .get(0);
        let statement = tx.prepare(&format!(
            "INSERT INTO tracks (id, doc, content_hash, text_hash, embedding, audio_vector,
                 facet_keys, tempo, year, live, search_text, names, created_at, updated_at,
                 sequence)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 setweight(to_tsvector('english', $11), 'A')
                 || setweight(to_tsvector('english', $12), 'B')
                 || setweight(to_tsvector('english', $13), 'C')
                 || setweight(to_tsvector('english', $14), 'D'),
                 $15, {NOW}, {NOW}, $16)
             ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc,
                 content_hash = EXCLUDED.content_hash, text_hash = EXCLUDED.text_hash,
                 embedding = EXCLUDED.embedding, audio_vector = EXCLUDED.audio_vector,
                 facet_keys = EXCLUDED.facet_keys, tempo = EXCLUDED.tempo,
                 year = EXCLUDED.year, live = EXCLUDED.live,
                 search_text = EXCLUDED.search_text, names = EXCLUDED.names,
                 updated_at = EXCLUDED.updated_at, sequence = EXCLUDED.sequence"
        ))?;
        for item in items {
            let t = &item.track;
            let mut doc = t.clone();
            // Kept in their own columns, set by the database.
            doc.created_at = None;
            doc.updated_at = None;
            let names = format!(
                "{} {}",
                searchable_name(t.name_title()),
                searchable_name(&t.artist)
            )
            .to_lowercase();
            let audio = t
                .audio
                .as_ref()
                .filter(|a| !a.vector.is_empty())
                .map(|a| Vector::from(a.vector.clone()));
            tx.execute(
                &statement,
                &[
                    &t.id,
                    &Json(&doc),
                    &item.content_hash,
                    &item.text_hash,
                    &Vector::from(item.embedding.clone()),
                    &audio,
                    &TrackFacets::of(t).index_keys(),
                    &t.metadata.tempo,
                    &t.year,
                    &t.metadata.is_live_performance,
                    &names,
                    &format!("{} {}", t.album.as_deref().unwrap_or(""), t.facet_text()),
                    &t.description.as_deref().unwrap_or(""),
                    &t.metadata.lyrics.as_deref().unwrap_or(""),
                    &names,
                    &sequence,
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn delete_track(&self, id: &str) -> Result<bool, PgError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        // Taken first, as every write does, so writes commit in sequence order.
        let sequence: i64 = tx
            .query_one(
                "UPDATE store_state SET sequence = sequence + 1 RETURNING sequence",
                &[],
            )?
            .get(0);
        let deleted = tx.execute("DELETE FROM tracks WHERE id = $1", &[&id])?;
        if deleted == 0 {
            // Nothing changed: the sequence stays, so no cache is invalidated for nothing.
            tx.rollback()?;
            return Ok(false);
        }
        // For replicas' copies, which follow the catalog by sequence (`changes_since`).
        tx.execute(
            "INSERT INTO deleted_tracks (id, sequence) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET sequence = EXCLUDED.sequence",
            &[&id, &sequence],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn track_of(row: &postgres::Row) -> Result<Arc<Track>, PgError> {
        let Json(mut track): Json<Track> = row.try_get(0)?;
        track.created_at = Some(row.try_get(1)?);
        track.updated_at = Some(row.try_get(2)?);
        Ok(Arc::new(track))
    }

    fn candidates(rows: Vec<postgres::Row>) -> Result<Vec<Candidate>, PgError> {
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(Candidate::scored(
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, f64>(1)? as f32,
                ))
            })
            .collect::<Result<Vec<_>, PgError>>()?;
        // Iterative index scans return in relaxed order.
        out.sort_by(Candidate::rank_order);
        Ok(out)
    }

    /// Nearest vectors in `column` among tracks that pass the filter.
    fn nearest(
        &self,
        column: &str,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Candidate>, PgError> {
        let mut params = Params::default();
        let q = params.push(Vector::from(query.to_vec()));
        let condition = query::filter_condition(&filter.compile(), &mut params);
        let limit = params.push(k as i64);
        let sql = format!(
            "SELECT id, (1 - ({column} <=> {q}))::float8 FROM tracks
             WHERE {column} IS NOT NULL AND {condition}
             ORDER BY {column} <=> {q} LIMIT {limit}"
        );
        self.read(|c| Self::candidates(c.query(&sql, &params.refs())?))
    }

    fn keyword(&self, text: &str, filter: &Filter, k: usize) -> Result<Vec<Candidate>, PgError> {
        let compiled = filter.compile();
        let mut params = Params::default();
        if text.trim().is_empty() {
            // Browsing: the tracks that pass the filter, in id order.
            let condition = query::filter_condition(&compiled, &mut params);
            let limit = params.push(k as i64);
            let sql = format!(
                "SELECT id, 0::float8 FROM tracks WHERE {condition} ORDER BY id LIMIT {limit}"
            );
            return self.read(|c| Self::candidates(c.query(&sql, &params.refs())?));
        }
        let words = query::query_words(text);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let analysis = self.analyse_words(&words)?;
        let tsquery = params.push(query::any_word_tsquery(&words));
        let candidates = params.push(query::candidate_tsquery(&words, &analysis.shares));
        let mut matched = vec!["search_text @@ q.mq".to_string()];
        let mut similarity = Vec::new();
        let mut typo_of = Vec::new();
        for w in &analysis.typos {
            let p = params.push(w.clone());
            matched.push(format!("names %> {p}"));
            similarity.push(format!(
                "CASE WHEN names %> {p} THEN word_similarity({p}, names) ELSE 0 END"
            ));
            typo_of.push(p);
        }
        let similarity = if similarity.is_empty() {
            "0".to_string()
        } else {
            similarity.join(" + ")
        };
        // Which words each of the `k` ranked rows holds, asked of those rows only.
        let holds: Vec<String> = words
            .iter()
            .map(|forms| {
                let p = params.push(query::any_word_tsquery(std::slice::from_ref(forms)));
                format!("search_text @@ to_tsquery('english', {p})")
            })
            .collect();
        let holds_typo: Vec<String> = typo_of.iter().map(|p| format!("names %> {p}")).collect();
        let condition = query::filter_condition(&compiled, &mut params);
        let limit = params.push(k as i64);
        // Every candidate is ranked (no index orders by rank), so the candidates are the rows
        // holding a distinctive word (`mq`), ranked by all the words (`tq`); ts_rank costs half
        // of ts_rank_cd per row, measured.
        let sql = format!(
            "SELECT id, score, ARRAY[{}]::bool[], ARRAY[{}]::bool[] FROM (
                 SELECT id, search_text, names,
                     (ts_rank('{{0.1, 0.3, 0.6, 1.0}}', search_text, q.tq, 1)
                         + 0.5 * ({similarity}))::float8 AS score
                 FROM tracks, (SELECT to_tsquery('english', {tsquery}) AS tq,
                                      to_tsquery('english', {candidates}) AS mq) AS q
                 WHERE ({}) AND {condition}
                 ORDER BY score DESC, id LIMIT {limit}) AS ranked
             ORDER BY score DESC, id",
            holds.join(", "),
            holds_typo.join(", "),
            matched.join(" OR ")
        );
        let rows = self.read(|c| Ok(c.query(&sql, &params.refs())?))?;
        rows.iter()
            .map(|r| {
                let exact: Vec<bool> = r.try_get(2)?;
                let typo: Vec<bool> = r.try_get(3)?;
                let mut matched: Vec<TermMatch> = words
                    .iter()
                    .zip(&exact)
                    .filter(|(_, held)| **held)
                    .map(|(forms, _)| TermMatch::exact(&forms[0]))
                    .collect();
                for (word, _) in analysis.typos.iter().zip(&typo).filter(|(_, t)| **t) {
                    if !matched.iter().any(|m| &m.term == word) {
                        matched.push(TermMatch::typo(word));
                    }
                }
                Ok(Candidate {
                    id: r.try_get(0)?,
                    score: r.try_get::<_, f64>(1)? as f32,
                    matched,
                })
            })
            .collect()
    }

    /// Each word's share of tracks (from the planner's statistics of the keyword index, 0 for
    /// words rarer than its most common thousand or before the first `ANALYZE`), and the words
    /// no track holds as typed that may be typos of a title or artist word ("morning" must
    /// not find "Mourning"; a number word stands for its digit). One round trip.
    fn analyse_words(&self, words: &[Vec<String>]) -> Result<WordAnalysis, PgError> {
        let typo_candidates = query::typo_candidates(words);
        let keys: Vec<(String, bool)> = words
            .iter()
            .map(|forms| (forms[0].clone(), typo_candidates.contains(&forms[0])))
            .collect();
        let mut known = self.cached_words(&keys)?;
        let missing: Vec<Vec<String>> = words
            .iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .map(|(forms, _)| forms.clone())
            .collect();
        if !missing.is_empty() {
            let asked = self.analyse_words_in_database(&missing)?;
            let mut answers = asked.shares.iter().zip(&missing).map(|(share, forms)| {
                let typo = asked.typos.contains(&forms[0]);
                (*share, typo)
            });
            let mut fresh = Vec::new();
            for (slot, key) in known.iter_mut().zip(&keys) {
                if slot.is_none() {
                    let answer = answers.next().unwrap_or((0.0, false));
                    *slot = Some(answer);
                    fresh.push((key.clone(), answer));
                }
            }
            if let Ok(mut cache) = self.words.lock() {
                if let Some(c) = cache.as_mut() {
                    if c.words.len() + fresh.len() > WORD_CACHE_MAX {
                        c.words.clear();
                    }
                    c.words.extend(fresh);
                }
            }
        }
        let mut analysis = WordAnalysis::default();
        for ((word, _), answer) in keys.into_iter().zip(known) {
            let (share, typo) = answer.unwrap_or((0.0, false));
            analysis.shares.push(share);
            if typo {
                analysis.typos.push(word);
            }
        }
        Ok(analysis)
    }

    /// The cached answers for `keys` (None where not cached), emptied first when a write
    /// changed the catalog since they were read or they are older than `WORD_STATS_MAX_AGE`.
    fn cached_words(&self, keys: &[(String, bool)]) -> Result<Vec<Option<(f32, bool)>>, PgError> {
        let sequence = self.recent_sequence()?;
        let Ok(mut cache) = self.words.lock() else {
            return Ok(vec![None; keys.len()]);
        };
        let c = match cache.as_mut() {
            Some(c) if c.sequence == sequence && c.filled_at.elapsed() < WORD_STATS_MAX_AGE => c,
            _ => cache.insert(WordCache {
                sequence,
                filled_at: Instant::now(),
                words: HashMap::new(),
            }),
        };
        Ok(keys.iter().map(|k| c.words.get(k).copied()).collect())
    }

    /// The write sequence, read from the database at most once per `VOCABULARY_MAX_LAG`.
    fn recent_sequence(&self) -> Result<u64, PgError> {
        if let Ok(recent) = self.recent_sequence.lock() {
            if let Some(r) = recent
                .as_ref()
                .filter(|r| r.read_at.elapsed() < VOCABULARY_MAX_LAG)
            {
                return Ok(r.sequence);
            }
        }
        let sequence = self.sequence_now()?;
        if let Ok(mut recent) = self.recent_sequence.lock() {
            *recent = Some(RecentSequence {
                sequence,
                read_at: Instant::now(),
            });
        }
        Ok(sequence)
    }

    fn sequence_now(&self) -> Result<u64, PgError> {
        self.read(|c| {
            Ok(c.query_one("SELECT sequence FROM store_state", &[])?
                .get::<_, i64>(0) as u64)
        })
    }

    /// `analyse_words` asked of the database, in one round trip.
    fn analyse_words_in_database(&self, words: &[Vec<String>]) -> Result<WordAnalysis, PgError> {
        let typed: Vec<String> = words.iter().map(|forms| forms[0].clone()).collect();
        let typo_candidates = query::typo_candidates(words);
        let schema = self.schema.clone();
        self.read(|c| {
            let rows = c.query(
                "WITH common AS (
                     SELECT s.lexeme, s.share FROM pg_stats,
                         unnest(most_common_elems::text::text[], most_common_elem_freqs)
                             AS s(lexeme, share)
                     WHERE schemaname = $3 AND tablename = 'tracks' AND attname = 'search_text')
                 SELECT w,
                     coalesce((SELECT max(common.share) FROM common WHERE common.lexeme IN
                         (SELECT unnest(tsvector_to_array(to_tsvector('english', w))))), 0)::float4,
                     w = ANY($2) AND NOT EXISTS
                         (SELECT 1 FROM tracks WHERE search_text @@ plainto_tsquery('english', w))
                 FROM unnest($1::text[]) WITH ORDINALITY AS t(w, n) ORDER BY n",
                &[&typed, &typo_candidates, &schema],
            )?;
            let mut analysis = WordAnalysis::default();
            for row in rows {
                analysis.shares.push(row.try_get(1)?);
                if row.try_get(2)? {
                    analysis.typos.push(row.try_get(0)?);
                }
            }
            Ok(analysis)
        })
    }

    /// The vocabulary of every track's names and facets, read from the database.
    fn build_vocabulary(&self) -> Result<Vocabulary, PgError> {
        self.read(|c| {
            let mut vocabulary = Vocabulary::default();
            // Only what the vocabulary reads: names and facets, not descriptions or lyrics.
            let rows = c.query(
                "SELECT jsonb_set(doc - 'description' - 'audio', '{metadata}',
                     (doc -> 'metadata') - 'lyrics' - 'venue' - 'audience_response')
                 FROM tracks",
                &[],
            )?;
            for row in rows {
                let Json(track): Json<Track> = row.try_get(0)?;
                let facets = TrackFacets::of(&track);
                vocabulary.count_track(&track, &facets, true);
            }
            Ok(vocabulary)
        })
    }
}

impl Store for PgStore {
    fn upsert(&self, items: Vec<StoredTrack>) -> music_rag_core::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        for item in &items {
            self.check_dim(&format!("vector for {}", item.track.id), &item.embedding)?;
        }
        Ok(self.write_tracks(&items)?)
    }

    fn begin_bulk_load(&self, rows: usize) -> music_rag_core::Result<()> {
        if rows < BULK_LOAD_MIN_ROWS || self.deferred_index.load(Ordering::SeqCst) {
            return Ok(());
        }
        let dropped = self.read(|c| {
            let mut tx = c.transaction()?;
            // Only into an empty catalog: a served catalog keeps its fast searches.
            let empty: bool = tx
                .query_one("SELECT NOT EXISTS (SELECT 1 FROM tracks)", &[])?
                .get(0);
            if empty {
                tx.batch_execute("DROP INDEX IF EXISTS tracks_embedding")?;
            }
            tx.commit()?;
            Ok(empty)
        })?;
        if dropped {
            tracing::info!(rows, "bulk load: the vector index is built when it ends");
            self.deferred_index.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn end_bulk_load(&self) -> music_rag_core::Result<()> {
        if self.deferred_index.swap(false, Ordering::SeqCst) {
            let schema = self.schema.clone();
            self.read(|c| schema::ensure_embedding_index(c, &schema))?;
        }
        Ok(())
    }

    fn get(&self, id: &str) -> music_rag_core::Result<Option<Arc<Track>>> {
        Ok(self.read(|c| {
            c.query_opt(
                "SELECT doc, created_at, updated_at FROM tracks WHERE id = $1",
                &[&id],
            )?
            .map(|r| Self::track_of(&r))
            .transpose()
        })?)
    }

    /// One statement for every id a search ranks and shows.
    fn get_many(&self, ids: &[&str]) -> music_rag_core::Result<Vec<Option<Arc<Track>>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.read(|c| {
            Ok(c.query(
                "SELECT doc, created_at, updated_at FROM tracks WHERE id = ANY($1)",
                &[&ids],
            )?)
        })?;
        let mut found: HashMap<String, Arc<Track>> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let track = Self::track_of(row)?;
            found.insert(track.id.clone(), track);
        }
        Ok(ids.iter().map(|id| found.get(*id).cloned()).collect())
    }

    fn count_matching(&self, filter: &Filter) -> music_rag_core::Result<usize> {
        let mut params = query::Params::default();
        let condition = query::filter_condition(&filter.compile(), &mut params);
        let sql = format!("SELECT count(*) FROM tracks WHERE {condition}");
        Ok(self.read(|c| Ok(c.query_one(&sql, &params.refs())?.get::<_, i64>(0) as usize))?)
    }

    fn get_embedding(&self, id: &str) -> music_rag_core::Result<Option<Vec<f32>>> {
        Ok(self.read(|c| {
            Ok(
                c.query_opt("SELECT embedding FROM tracks WHERE id = $1", &[&id])?
                    .map(|r| r.get::<_, Vector>(0).to_vec()),
            )
        })?)
    }

    fn delete(&self, id: &str) -> music_rag_core::Result<bool> {
        Ok(self.delete_track(id)?)
    }

    fn list(&self, cursor: Option<&str>, limit: usize) -> music_rag_core::Result<Page> {
        let rows = self.read(|c| {
            Ok(c.query(
                "SELECT doc, created_at, updated_at FROM tracks
                 WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
                &[&cursor, &(limit as i64 + 1)],
            )?)
        })?;
        let mut tracks = rows
            .iter()
            .map(Self::track_of)
            .collect::<Result<Vec<_>, PgError>>()?;
        let next_cursor = if tracks.len() > limit {
            tracks.truncate(limit);
            tracks.last().map(|t| t.id.clone())
        } else {
            None
        };
        Ok(Page {
            tracks,
            next_cursor,
        })
    }

    fn count(&self) -> music_rag_core::Result<usize> {
        Ok(self.read(|c| {
            Ok(c.query_one("SELECT count(*) FROM tracks", &[])?
                .get::<_, i64>(0) as usize)
        })?)
    }

    fn known(&self, ids: &[&str]) -> music_rag_core::Result<HashMap<String, Known>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self.read(|c| {
            Ok(c.query(
                "SELECT id, content_hash, text_hash FROM tracks WHERE id = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Known {
                        content_hash: r.get(1),
                        text_hash: r.get(2),
                    },
                )
            })
            .collect())
        })?)
    }

    fn dense_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.check_dim("query vector", query)?;
        Ok(self.nearest("embedding", query, filter, k)?)
    }

    /// Each filter's statement on its own connection, side by side: the query waits for the
    /// slowest statement, not for their sum.
    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> music_rag_core::Result<Vec<Vec<Candidate>>> {
        self.check_dim("query vector", query)?;
        std::thread::scope(|scope| {
            let searches: Vec<_> = filters
                .iter()
                .map(|f| scope.spawn(move || self.nearest("embedding", query, f, k)))
                .collect();
            searches
                .into_iter()
                .map(|search| match search.join() {
                    Ok(found) => Ok(found?),
                    Err(_) => Err(CoreError::Internal("dense search panicked".into())),
                })
                .collect()
        })
    }

    fn audio_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        Ok(self.nearest("audio_vector", query, filter, k)?)
    }

    fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        Ok(self.keyword(text, filter, k)?)
    }

    /// Every search parses with the vocabulary: the sequence is read at most once per
    /// `VOCABULARY_MAX_LAG`, not once per query (the response cache reads it already).
    fn vocabulary(&self) -> music_rag_core::Result<Arc<Vocabulary>> {
        let mut cached = self
            .vocabulary
            .lock()
            .map_err(|_| CoreError::Internal("vocabulary lock poisoned".into()))?;
        let sequence = self.recent_sequence()?;
        if let Some(c) = cached.as_ref().filter(|c| c.sequence == sequence) {
            return Ok(c.vocabulary.clone());
        }
        let vocabulary = Arc::new(self.build_vocabulary()?);
        *cached = Some(CachedVocabulary {
            sequence,
            vocabulary: vocabulary.clone(),
        });
        Ok(vocabulary)
    }

    fn sequence(&self) -> music_rag_core::Result<u64> {
        Ok(self.sequence_now()?)
    }

    fn stats(&self) -> music_rag_core::Result<StoreStats> {
        let (tracks, audio, sequence) = self.read(|c| {
            let r = c.query_one(
                "SELECT count(*), count(audio_vector), (SELECT sequence FROM store_state)
                 FROM tracks",
                &[],
            )?;
            Ok((r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)))
        })?;
        Ok(StoreStats {
            tracks: tracks as usize,
            text_embeddings: tracks as usize,
            audio_embeddings: audio as usize,
            sequence: sequence as u64,
            backend: "postgres".into(),
        })
    }

    fn schema_version(&self) -> Option<i64> {
        Some(SCHEMA_VERSION)
    }
}
