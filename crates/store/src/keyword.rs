//! The keyword index (tantivy, BM25): a derived index that records, as its commit payload,
//! the source-of-truth sequence number it reflects.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use music_rag_core::domain::query::names::searchable_name;
use music_rag_core::domain::query::text::{digit_for, typo_budget};
use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::{
    BooleanQuery, BoostQuery, EnableScoring, FuzzyTermQuery, Occur, Query, Scorer, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{doc, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use crate::StoreError;
use music_rag_core::domain::query::parse::keyword_terms;
use music_rag_core::domain::retrieval::hit::TermMatch;
use music_rag_core::Track;

const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Fields {
    slot: Field,
    title: Field,
    artist: Field,
    album: Field,
    facets: Field,
    description: Field,
    lyrics: Field,
}

/// Field, tokenizer name, BM25 boost, and whether typos are tolerated in it.
fn weighted(f: &Fields) -> [(Field, &'static str, f32, bool); 6] {
    [
        (f.title, "default", 3.0, true),
        (f.artist, "default", 2.5, true),
        (f.album, "default", 1.5, false),
        (f.facets, "en_stem", 1.5, false),
        (f.description, "en_stem", 1.0, false),
        (f.lyrics, "en_stem", 0.5, false),
    ]
}

pub struct KeywordIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

/// The version of what a document holds, recorded with every commit; an index written under
/// other rules is indexed again at open. 2: placeholder titles ("Sad ballad") are not titles;
/// stylized names are indexed as typed too ("P!nk" also as "Pink").
const RULES: &str = "rules-2";

fn add_all(
    writer: &mut IndexWriter,
    f: Fields,
    tracks: &[(u64, &Track)],
) -> Result<(), StoreError> {
    for (slot, t) in tracks {
        writer.add_document(doc!(
            f.slot => *slot,
            f.title => searchable_name(t.name_title()),
            f.artist => searchable_name(&t.artist),
            f.album => t.album.as_deref().unwrap_or(""),
            f.facets => t.facet_text(),
            f.description => t.description.as_deref().unwrap_or(""),
            f.lyrics => t.metadata.lyrics.as_deref().unwrap_or(""),
        ))?;
    }
    Ok(())
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tok: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tok)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        slot: b.add_u64_field("slot", INDEXED | FAST),
        title: b.add_text_field("title", text("default")),
        artist: b.add_text_field("artist", text("default")),
        album: b.add_text_field("album", text("default")),
        facets: b.add_text_field("facets", text("en_stem")),
        description: b.add_text_field("description", text("en_stem")),
        lyrics: b.add_text_field("lyrics", text("en_stem")),
    };
    (b.build(), fields)
}

impl KeywordIndex {
    /// Opens the index in `dir`, or makes a new empty one if it is missing or unreadable: a
    /// missing or damaged segment file included, since opening the reader opens every file
    /// (it is derived: the caller catches it up from the source of truth).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let fresh = !dir.join("meta.json").exists();
        match Self::open_existing(dir) {
            Ok(index) => Ok(index),
            Err(why) => {
                if !fresh {
                    tracing::warn!(dir = %dir.display(), %why, "keyword index unreadable; rebuilding it");
                }
                Self::create_empty(dir)
            }
        }
    }

    /// A new empty index in `dir`, replacing whatever was there.
    pub fn create_empty(dir: &Path) -> Result<Self, StoreError> {
        let (schema, fields) = schema();
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let index = Index::create_in_dir(dir, schema)?;
        Self::over(dir, index, fields)
    }

    /// Opens the index in `dir` with its reader, or says why it cannot be read.
    pub fn open_existing(dir: &Path) -> Result<Self, String> {
        let (schema, fields) = schema();
        let index = Index::open_in_dir(dir).map_err(|e| e.to_string())?;
        if index.schema() != schema {
            return Err("it was written with another schema".into());
        }
        Self::over(dir, index, fields).map_err(|e| e.to_string())
    }

    /// Files of the index whose contents no longer match their checksums (reads every file).
    pub fn damaged_files(&self) -> Result<Vec<String>, String> {
        let damaged = self.index.validate_checksum().map_err(|e| e.to_string())?;
        let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
        names.sort();
        Ok(names)
    }

    /// Opens the index without ever writing it; an unreadable or missing index reads as an
    /// empty one (the writer rebuilds it).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        match Self::open_existing(dir) {
            Ok(index) => Ok(index),
            Err(_) => {
                let (schema, fields) = schema();
                Self::over(dir, Index::create_in_ram(schema), fields)
            }
        }
    }

    /// The index with its reader (reloaded by hand after each commit); the writer is opened on
    /// first write.
    fn over(dir: &Path, index: Index, fields: Fields) -> Result<Self, StoreError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
        })
    }

    /// Documents in the index as last committed.
    pub fn num_docs(&self) -> u64 {
        let _ = self.reader.reload();
        self.reader.searcher().num_docs()
    }

    /// Replaces the whole index with `tracks`, as reflecting `seq`.
    pub fn rebuild(&self, tracks: &[(u64, &Track)], seq: u64) -> Result<(), StoreError> {
        self.write(seq, |writer, f| {
            writer.delete_all_documents()?;
            add_all(writer, f, tracks)
        })
    }

    /// The sequence number the last commit reflects (0 when none, or when it was written
    /// under other indexing rules: then every track is indexed again).
    pub fn sequence(&self) -> u64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| {
                p.strip_prefix(RULES)
                    .and_then(|s| s.strip_prefix(':'))
                    .and_then(|s| s.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Applies deletes and upserts and commits them as reflecting `seq`. The writer is opened
    /// on first use so read-only users of a data directory never take its lock.
    pub fn apply(
        &self,
        deleted: &[u64],
        upserted: &[(u64, &Track)],
        seq: u64,
    ) -> Result<(), StoreError> {
        self.write(seq, |writer, f| {
            for slot in deleted.iter().chain(upserted.iter().map(|(s, _)| s)) {
                writer.delete_term(Term::from_field_u64(f.slot, *slot));
            }
            add_all(writer, f, upserted)
        })
    }

    /// Runs `change` on the writer and commits it as reflecting `seq`. On any failure the
    /// writer is dropped with its uncommitted changes, so the index stays as last committed
    /// and the next write starts afresh (a writer that failed once is not reused).
    fn write(
        &self,
        seq: u64,
        change: impl FnOnce(&mut IndexWriter, Fields) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| StoreError::Corrupt("writer lock poisoned".into()))?;
        if guard.is_none() {
            let started = std::time::Instant::now();
            *guard = Some(
                self.index
                    .writer_with_num_threads(1, WRITER_HEAP_BYTES)
                    .map_err(|e| match e {
                        tantivy::TantivyError::LockFailure(..) => StoreError::Busy(format!(
                            "the keyword index in {} is locked by another music-rag process",
                            self.dir.display()
                        )),
                        other => other.into(),
                    })?,
            );
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                "keyword index writer made"
            );
        }
        let writer = guard.as_mut().expect("writer was just set");
        let started = std::time::Instant::now();
        let committed = (|| {
            change(writer, self.fields)?;
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&format!("{RULES}:{seq}"));
            commit.commit()?;
            Ok::<_, StoreError>(())
        })();
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "keyword index committed"
        );
        if let Err(e) = committed {
            *guard = None;
            return Err(e);
        }
        // Committed: a failed reload only delays visibility until the next one succeeds, so
        // it must not be reported as a failed write.
        if let Err(e) = self.reader.reload() {
            tracing::warn!(error = %e, "keyword index reader not reloaded");
        }
        Ok(())
    }

    fn analyze(&self, tokenizer: &str, word: &str) -> Vec<String> {
        let Some(mut analyzer): Option<TextAnalyzer> = self.index.tokenizers().get(tokenizer)
        else {
            return vec![word.to_string()];
        };
        let mut stream = analyzer.token_stream(word);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// Each query word's clauses: its terms in every field, and typo expansions in the fields
    /// that tolerate them when the catalog does not hold the word as typed.
    fn word_clauses(&self, text: &str, searcher: &tantivy::Searcher) -> Vec<WordClauses> {
        keyword_terms(text)
            .into_iter()
            .map(|word| {
                let mut variants = vec![word.clone()];
                variants.extend(digit_for(&word).map(str::to_string));
                // Each field's terms for the word, analysed once.
                let fields: Vec<(f32, bool, Vec<Term>)> = weighted(&self.fields)
                    .into_iter()
                    .map(|(field, tokenizer, boost, fuzzy)| {
                        let terms = variants
                            .iter()
                            .flat_map(|v| self.analyze(tokenizer, v))
                            .map(|t| Term::from_field_text(field, &t))
                            .collect();
                        (boost, fuzzy, terms)
                    })
                    .collect();
                // A word the catalog itself holds (in any field) is typed correctly and gets no
                // typo expansion, so "morning" does not match "Mourning" nor "good" "Gold".
                let correct = fields.iter().any(|(_, _, terms)| {
                    terms
                        .iter()
                        .any(|t| searcher.doc_freq(t).is_ok_and(|n| n > 0))
                });
                let mut clauses = WordClauses {
                    word,
                    exact: Vec::new(),
                    typo: Vec::new(),
                };
                for (boost, fuzzy, terms) in fields {
                    for term in terms {
                        let distance = term.value().as_str().map_or(0, typo_budget);
                        if fuzzy && !correct && distance > 0 {
                            clauses.typo.push((boost * 0.5, term.clone(), distance));
                        }
                        clauses.exact.push((boost, term));
                    }
                }
                clauses
            })
            .collect()
    }

    /// Top `k` (slot, BM25, words matched) for `text`, keeping only slots `allowed` accepts.
    pub fn search(
        &self,
        text: &str,
        k: usize,
        allowed: Option<Arc<dyn Fn(u64) -> bool + Send + Sync>>,
    ) -> Result<Vec<KeywordHit>, StoreError> {
        let searcher = self.reader.searcher();
        let words = self.word_clauses(text, &searcher);
        let clauses: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .flat_map(|w| w.exact_queries().chain(w.typo_queries()))
            .map(|q| (Occur::Should, q))
            .collect();
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(clauses);
        // Equal scores in slot order (a track's slot is its row in the catalog database, kept
        // by snapshots): without it they fall in index layout order, which a rebuilt index
        // does not share.
        let top = TopDocs::with_limit(k.max(1)).tweak_score(|segment: &tantivy::SegmentReader| {
            let slots = segment.fast_fields().u64("slot").ok();
            move |doc: tantivy::DocId, score: tantivy::Score| {
                let slot = slots
                    .as_ref()
                    .and_then(|c| c.first(doc))
                    .unwrap_or(u64::MAX);
                (score, std::cmp::Reverse(slot))
            }
        });
        let docs = match allowed {
            None => searcher.search(&query, &top)?,
            Some(pred) => {
                let collector =
                    FilterCollector::new("slot".to_string(), move |s: u64| pred(s), top);
                searcher.search(&query, &collector)?
            }
        };
        let addresses: Vec<DocAddress> = docs.iter().map(|(_, a)| *a).collect();
        let matched = matched_words(&searcher, &words, &addresses)?;
        let mut out = Vec::with_capacity(docs.len());
        for (((score, _), addr), matched) in docs.into_iter().zip(matched) {
            let column = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("slot")?;
            if let Some(slot) = column.first(addr.doc_id) {
                out.push(KeywordHit {
                    slot,
                    score,
                    matched,
                });
            }
        }
        Ok(out)
    }
}

/// One keyword hit: the track's slot, its BM25 score and the query words it matched.
#[derive(Debug, Clone)]
pub struct KeywordHit {
    pub slot: u64,
    pub score: f32,
    pub matched: Vec<TermMatch>,
}

/// One query word's clauses: (boost, term) as typed, (boost, term, edits) as typos.
struct WordClauses {
    word: String,
    exact: Vec<(f32, Term)>,
    typo: Vec<(f32, Term, u8)>,
}

impl WordClauses {
    fn exact_queries(&self) -> impl Iterator<Item = Box<dyn Query>> + '_ {
        self.exact.iter().map(|(boost, term)| {
            let q = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
            Box::new(BoostQuery::new(Box::new(q), *boost)) as Box<dyn Query>
        })
    }

    fn typo_queries(&self) -> impl Iterator<Item = Box<dyn Query>> + '_ {
        self.typo.iter().map(|(boost, term, distance)| {
            let q = FuzzyTermQuery::new(term.clone(), *distance, true);
            Box::new(BoostQuery::new(Box::new(q), *boost)) as Box<dyn Query>
        })
    }
}

/// Which words each document matched, as typed or as a typo: the same clauses the ranking
/// query ran, asked of each document, so "why" says what the index really matched.
fn matched_words(
    searcher: &tantivy::Searcher,
    words: &[WordClauses],
    docs: &[DocAddress],
) -> Result<Vec<Vec<TermMatch>>, StoreError> {
    let mut out = vec![Vec::new(); docs.len()];
    // Documents of each segment in order: a scorer only moves forward.
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by_key(|&i| docs[i]);
    let scoring = EnableScoring::disabled_from_searcher(searcher);
    for word in words {
        let exact = BooleanQuery::new(word.exact_queries().map(|q| (Occur::Should, q)).collect())
            .weight(scoring)?;
        let typo = (!word.typo.is_empty())
            .then(|| {
                BooleanQuery::new(word.typo_queries().map(|q| (Occur::Should, q)).collect())
                    .weight(scoring)
            })
            .transpose()?;
        // The scorers of the segment the last document was in.
        let mut current: Option<SegmentScorers> = None;
        for &i in &order {
            let addr = docs[i];
            if current.as_ref().is_none_or(|c| c.0 != addr.segment_ord) {
                let reader = searcher.segment_reader(addr.segment_ord);
                current = Some((
                    addr.segment_ord,
                    exact.scorer(reader, 1.0)?,
                    typo.as_ref().map(|t| t.scorer(reader, 1.0)).transpose()?,
                ));
            }
            let Some((_, as_typed, as_typo)) = current.as_mut() else {
                continue;
            };
            if holds(as_typed.as_mut(), addr.doc_id) {
                out[i].push(TermMatch::exact(&word.word));
            } else if as_typo
                .as_mut()
                .is_some_and(|s| holds(s.as_mut(), addr.doc_id))
            {
                out[i].push(TermMatch::typo(&word.word));
            }
        }
    }
    Ok(out)
}

/// One word's scorers over one segment: (segment, as typed, as a typo).
type SegmentScorers = (u32, Box<dyn Scorer>, Option<Box<dyn Scorer>>);

/// Whether the scorer's documents include `doc` (documents are asked in increasing order).
fn holds(scorer: &mut dyn Scorer, doc: u32) -> bool {
    scorer.doc() <= doc && scorer.seek(doc) == doc
}
