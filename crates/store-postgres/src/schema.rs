//! Versioned migrations, run at open under an advisory lock so replicas starting together do
//! not race, and the model the stored vectors come from.

use postgres::Client;

use crate::PgError;

/// The newest schema this build writes; a database migrated further is refused.
pub const SCHEMA_VERSION: i64 = 3;

/// Any fixed number: every replica takes the same lock around migrations.
const MIGRATION_LOCK: i64 = 0x6d75_7369_6372_6167;

/// The HNSW index of text vectors (dropped during a bulk load into an empty catalog and built
/// once at its end; built at open if a load died before that).
pub const EMBEDDING_INDEX: &str = "CREATE INDEX IF NOT EXISTS tracks_embedding ON tracks \
     USING hnsw (embedding vector_cosine_ops) WITH (m = 32, ef_construction = 256)";

/// Statement settings for building an index over a large catalog: it outlasts the timeout
/// meant for queries and wants more memory than a query.
pub const INDEX_BUILD_SETTINGS: &str =
    "SET LOCAL statement_timeout = 0; SET LOCAL maintenance_work_mem = '512MB';";

/// Migration `n` (1-based) as SQL. `{dim}` is the vector size of the model the store is
/// created for (a pgvector HNSW index needs a fixed size).
fn migration(version: i64, dim: usize) -> Option<String> {
    match version {
        1 => Some(format!(
            r#"
CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);
-- The write sequence: every write transaction increments it first, so writers are serialised
-- in commit order and every replica reads the same number after a commit.
CREATE TABLE store_state (id int PRIMARY KEY CHECK (id = 1), sequence bigint NOT NULL);
INSERT INTO store_state VALUES (1, 0);
CREATE TABLE tracks (
    id text COLLATE "C" PRIMARY KEY,
    doc jsonb NOT NULL,
    content_hash text NOT NULL,
    text_hash text NOT NULL,
    embedding vector({dim}) NOT NULL,
    audio_vector vector,
    facet_keys text[] NOT NULL,
    tempo real,
    year int,
    live boolean,
    search_text tsvector NOT NULL,
    names text NOT NULL,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    sequence bigint NOT NULL
);
CREATE INDEX tracks_embedding ON tracks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX tracks_facet_keys ON tracks USING gin (facet_keys);
CREATE INDEX tracks_search_text ON tracks USING gin (search_text);
CREATE INDEX tracks_names ON tracks USING gin (names gin_trgm_ops);
CREATE INDEX tracks_tempo ON tracks (tempo);
CREATE INDEX tracks_year ON tracks (year);
"#
        )),
        // Text queries land between the clusters of stored vectors, where an HNSW graph built
        // with pgvector's defaults (m 16, ef_construction 64) found the exact nearest track
        // for only 64 % of text queries on 55k tracks; this graph with `hnsw.ef_search` 1000
        // finds 97 % (`bench/pg_recall.py`). Vectors stored inside the row (not TOASTed) make
        // an exact scan five times faster, which the planner picks for small catalogs and
        // selective filters. `CLUSTER` rewrites the rows once so existing vectors move in.
        2 => Some(format!(
            r#"
DROP INDEX tracks_embedding;
ALTER TABLE tracks ALTER COLUMN embedding SET STORAGE PLAIN;
CLUSTER tracks USING tracks_pkey;
{EMBEDDING_INDEX};
ANALYZE tracks;
"#
        )),
        // A replica's local copy follows the catalog by sequence (`changes_since`): rows
        // written after a sequence are found by an index, deleted tracks leave their id and
        // the sequence of their deletion, and the catalog has an identity a copy checks so it
        // never follows a catalog that was dropped and made again.
        3 => Some(
            r#"
CREATE INDEX tracks_sequence ON tracks (sequence);
CREATE TABLE deleted_tracks (
    id text COLLATE "C" PRIMARY KEY,
    sequence bigint NOT NULL
);
CREATE INDEX deleted_tracks_sequence ON deleted_tracks (sequence);
INSERT INTO store_meta (key, value)
    VALUES ('catalog_id', md5(random()::text || clock_timestamp()::text))
    ON CONFLICT (key) DO NOTHING;
"#
            .to_string(),
        ),
        _ => None,
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] and checks (or, in a new store, records) the
/// model. Returns the model id and vector size the store holds.
pub fn migrate(
    client: &mut Client,
    schema: &str,
    model: Option<(&str, usize)>,
) -> Result<(String, usize), PgError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = migrate_locked(client, schema, model, SCHEMA_VERSION);
    // Released even when migrating failed; the session ending would release it too.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result
}

/// Migrates up to `target` (below [`SCHEMA_VERSION`] only in tests of old databases).
fn migrate_locked(
    client: &mut Client,
    schema: &str,
    model: Option<(&str, usize)>,
    target: i64,
) -> Result<(String, usize), PgError> {
    client.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;
         CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
         CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version bigint PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))?;
    let current: i64 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(PgError::Incompatible(format!(
            "the database schema is at version {current}, newer than this build understands \
             ({SCHEMA_VERSION}); run the newer music-rag, or restore a backup taken before it"
        )));
    }
    let stored = if current > 0 {
        stored_model(client)?
    } else {
        None
    };
    let (model_id, dim) = match (stored, model) {
        (Some((m, d)), Some((want, want_dim))) if m != want || d != want_dim => {
            return Err(PgError::Incompatible(format!(
                "the database holds vectors from model {m} ({d} dimensions), not {want} \
                 ({want_dim}); vectors of two models are never mixed: use the model that wrote \
                 it, another database or schema, or re-embed the catalog"
            )))
        }
        (Some(stored), _) => stored,
        (None, Some((m, d))) => (m.to_string(), d),
        (None, None) => {
            return Err(PgError::Incompatible(
                "the database holds no catalog yet; a command that loads the model creates it"
                    .into(),
            ))
        }
    };
    for version in current + 1..=target {
        let sql = migration(version, dim).expect("every version up to SCHEMA_VERSION exists");
        let mut tx = client.transaction()?;
        tx.batch_execute(INDEX_BUILD_SETTINGS)?;
        tx.batch_execute(&sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )?;
        if version == 1 {
            tx.execute(
                "INSERT INTO store_meta VALUES ('model_id', $1), ('dim', $2)",
                &[&model_id, &dim.to_string()],
            )?;
        }
        tx.commit()?;
        tracing::info!(version, schema, "database schema migrated");
    }
    ensure_embedding_index(client, schema)?;
    Ok((model_id, dim))
}

/// Builds the text vectors' index if it is missing (a bulk load that died before its end);
/// searches are exact, and slower, without it.
pub fn ensure_embedding_index(client: &mut Client, schema: &str) -> Result<(), PgError> {
    let present: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.tracks_embedding")],
        )?
        .get(0);
    if !present {
        let start = std::time::Instant::now();
        let mut tx = client.transaction()?;
        tx.batch_execute(INDEX_BUILD_SETTINGS)?;
        tx.batch_execute(EMBEDDING_INDEX)?;
        tx.commit()?;
        tracing::info!(
            seconds = start.elapsed().as_secs_f64(),
            "built the vector index of the catalog"
        );
    }
    Ok(())
}

fn stored_model(client: &mut Client) -> Result<Option<(String, usize)>, PgError> {
    let rows = client.query(
        "SELECT key, value FROM store_meta WHERE key IN ('model_id', 'dim')",
        &[],
    )?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.get::<_, &str>(0) == k)
            .map(|r| r.get::<_, String>(1))
    };
    match (get("model_id"), get("dim").and_then(|d| d.parse().ok())) {
        (Some(m), Some(d)) => Ok(Some((m, d))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_database::TestSchema;
    use crate::PgStore;
    use music_rag_core::{Filter, Store};

    /// A catalog written by the first release (vectors TOASTed, the first HNSW index) opens
    /// in this one with its tracks, vectors inside the rows and the denser index.
    #[test]
    fn a_version_1_catalog_migrates_with_its_tracks() {
        let test = TestSchema::new("migrate");
        let mut c = Client::connect(&test.url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("SET search_path = {}, public", test.name))
            .unwrap();
        migrate_locked(&mut c, &test.name, Some(("model-a", 3)), 1).unwrap();
        c.batch_execute(
            r#"INSERT INTO tracks VALUES ('t1', '{"id": "t1", "title": "Old Song",
               "artist": "Someone"}', 'h', 'h', '[1, 0, 0]', NULL, '{}', NULL, NULL, NULL,
               to_tsvector('english', 'old song someone'), 'old song someone',
               '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1)"#,
        )
        .unwrap();

        let store = PgStore::open(&test.options(), Some(("model-a", 3))).unwrap();
        assert_eq!(store.schema_version(), Some(SCHEMA_VERSION));
        let track = store.get("t1").unwrap().expect("the old track survives");
        assert_eq!(track.title, "Old Song");
        let hits = store
            .dense_search(&[0.9, 0.1, 0.0], &Filter::default(), 5)
            .unwrap();
        assert_eq!(hits.first().map(|h| h.id.as_str()), Some("t1"));
        let storage: i8 = c
            .query_one(
                "SELECT attstorage FROM pg_attribute
                 WHERE attrelid = 'tracks'::regclass AND attname = 'embedding'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(storage as u8, b'p', "vectors are kept inside the row");
        let options: Vec<String> = c
            .query_one(
                "SELECT reloptions FROM pg_class WHERE oid = 'tracks_embedding'::regclass",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(
            options.contains(&"ef_construction=256".to_string()),
            "{options:?}"
        );
    }
}
