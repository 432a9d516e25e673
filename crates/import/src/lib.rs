//! Reading catalogs from JSON arrays, JSON lines and CSV, row by row, so one bad row is
//! reported with its line and reason while the good rows are still imported. The command line
//! (`music-rag ingest FILE`) and the HTTP API (`POST /v1/tracks` with `text/csv` or
//! `application/x-ndjson`) both read files with this.

use std::io::BufRead;

use music_rag_core::{GivenVector, Metadata, Track};

/// Why a whole file could not be read (a single bad row is reported in its [`Row`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a JSON array of tracks: {0}")]
    NotJsonArray(String),
    #[error("the CSV has no header row: {0}")]
    NoCsvHeader(String),
    #[error("the CSV has no id column; columns it may have: {}", CSV_COLUMNS.join(", "))]
    NoIdColumn,
}

/// The rows of a file, and the CSV columns that were not read.
pub struct Parsed {
    pub rows: Vec<Row>,
    pub ignored_columns: Vec<String>,
}

/// One row of an input file: the track, or why it could not be read.
pub struct Row {
    /// 1-based line (JSON lines, CSV) or item number (JSON array).
    pub line: usize,
    pub track: Result<Track, String>,
    /// A vector given with the track (`embedding`, with `embedding_model`), as `export
    /// --with-vectors` writes it.
    pub vector: Option<GivenVector>,
}

/// A JSON row: the track, and its vector when one is given.
fn json_row(line: usize, mut value: serde_json::Value) -> Row {
    let mut vector = None;
    let mut given_error = None;
    if let Some(obj) = value.as_object_mut() {
        let model = obj.remove("embedding_model");
        if let Some(values) = obj.remove("embedding") {
            match (serde_json::from_value::<Vec<f32>>(values), model) {
                (Ok(values), Some(serde_json::Value::String(model_id))) => {
                    vector = Some(GivenVector { model_id, values })
                }
                (Ok(_), _) => {
                    given_error = Some(
                        "embedding_model: must name the model that computed `embedding`".into(),
                    )
                }
                (Err(e), _) => given_error = Some(format!("embedding: {e}")),
            }
        }
    }
    let track = match given_error {
        Some(e) => Err(e),
        None => serde_path_to_error::deserialize(value).map_err(path_error),
    };
    Row {
        line,
        track,
        vector,
    }
}

/// Why a vectors file (`ingest --vectors`) cannot be paired with the catalog rows. Checked in
/// full before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum VectorsError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error(
        "{count} vectors name ids that no row of the catalog file has (the first: {first}); \
         the two files must describe the same tracks"
    )]
    Unmatched { count: usize, first: String },
}

/// Pairs a vectors file (JSON lines `{"id", "embedding", "embedding_model"}`, vectors computed
/// elsewhere, for example on a GPU) with the catalog's rows by id. A row that also carries its
/// own `embedding` is refused (two vectors for one track); rows without an entry are embedded
/// as usual.
pub fn attach_vectors(rows: &mut [Row], text: &str) -> Result<usize, VectorsError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        id: String,
        embedding: Vec<f32>,
        embedding_model: String,
    }
    let mut given: std::collections::HashMap<String, (usize, GivenVector)> =
        std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(line))
                .map_err(|e| VectorsError::Line {
                    line: line_no,
                    message: path_error(e),
                })?;
        let vector = GivenVector {
            model_id: entry.embedding_model,
            values: entry.embedding,
        };
        if let Some((first, _)) = given.insert(entry.id.clone(), (line_no, vector)) {
            return Err(VectorsError::Line {
                line: line_no,
                message: format!("id {} already has a vector on line {first}", entry.id),
            });
        }
    }
    let mut attached = 0;
    for row in rows.iter_mut() {
        let Ok(track) = &row.track else { continue };
        let Some((line, vector)) = given.remove(&track.id) else {
            continue;
        };
        if row.vector.is_some() {
            row.track = Err(format!(
                "embedding: given both in the row and on line {line} of the vectors file"
            ));
            continue;
        }
        row.vector = Some(vector);
        attached += 1;
    }
    if let Some(first) = given.keys().min() {
        return Err(VectorsError::Unmatched {
            count: given.len(),
            first: first.clone(),
        });
    }
    Ok(attached)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonArray,
    JsonLines,
    Csv,
}

/// The format of a file from its name's extension, else from its first characters.
pub fn detect_format(file_name: &str, head: &str) -> Format {
    let extension = file_name.rsplit_once('.').map(|(_, e)| e.to_lowercase());
    match extension.as_deref() {
        Some("csv") => Format::Csv,
        Some("jsonl" | "ndjson") => Format::JsonLines,
        _ => match head.trim_start().chars().next() {
            Some('[') => Format::JsonArray,
            Some('{') => Format::JsonLines,
            _ => Format::Csv,
        },
    }
}

/// Every row of a file's text in the given format.
pub fn parse(text: &str, format: Format) -> Result<Parsed, ImportError> {
    Ok(match format {
        Format::JsonArray => Parsed {
            rows: json_array(text)?,
            ignored_columns: Vec::new(),
        },
        Format::JsonLines => Parsed {
            rows: json_lines(text),
            ignored_columns: Vec::new(),
        },
        Format::Csv => csv_rows(text)?,
    })
}

/// A row's type error named by its field: `metadata.year: invalid type: string "nineteen",
/// expected i32`.
fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    let inner = e.into_inner();
    // The row's own line is reported separately; serde's "at line 1 column 40" is noise.
    let message = inner.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    if path.is_empty() || path == "." {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

fn json_array(text: &str) -> Result<Vec<Row>, ImportError> {
    let items: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ImportError::NotJsonArray(e.to_string()))?;
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, v)| json_row(i + 1, v))
        .collect())
}

fn json_lines(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(
            |(i, l)| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) => json_row(i + 1, v),
                Err(e) => Row {
                    line: i + 1,
                    track: Err(e
                        .to_string()
                        .split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_string()),
                    vector: None,
                },
            },
        )
        .collect()
}

/// Splits a list cell on `;` or `|`.
fn split_list(cell: &str) -> Vec<String> {
    cell.split([';', '|'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_num<T: std::str::FromStr>(column: &str, cell: &str) -> Result<Option<T>, String> {
    if cell.trim().is_empty() {
        return Ok(None);
    }
    cell.trim()
        .parse()
        .map(Some)
        .map_err(|_| format!("{column} must be a number (got {cell:?})"))
}

fn parse_bool(column: &str, cell: &str) -> Result<Option<bool>, String> {
    match cell.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" | "y" => Ok(Some(true)),
        "false" | "no" | "0" | "n" => Ok(Some(false)),
        other => Err(format!("{column} must be true or false (got {other:?})")),
    }
}

/// Columns a CSV may have; metadata columns may also be written `metadata.NAME`.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "title",
    "artist",
    "description",
    "audio_path",
    "album",
    "year",
    "tags",
    "genre",
    "subgenre",
    "cultural_origin",
    "tempo",
    "key",
    "time_signature",
    "instrumentation",
    "mood",
    "era",
    "duration",
    "is_live_performance",
    "venue",
    "audience_response",
    "lyrics",
];

fn csv_track(headers: &[String], record: &csv::StringRecord) -> Result<Track, String> {
    let mut t = Track::default();
    let mut m = Metadata::default();
    for (name, cell) in headers.iter().zip(record.iter()) {
        let opt = || Some(cell.to_string()).filter(|s| !s.trim().is_empty());
        match name.as_str() {
            "id" => t.id = cell.to_string(),
            "title" => t.title = cell.to_string(),
            "artist" => t.artist = cell.to_string(),
            "description" => t.description = opt(),
            "audio_path" => t.audio_path = opt(),
            "album" => t.album = opt(),
            "year" => t.year = parse_num("year", cell)?,
            "tags" => t.tags = split_list(cell),
            "genre" => m.genre = opt(),
            "subgenre" => m.subgenre = opt(),
            "cultural_origin" => m.cultural_origin = opt(),
            "tempo" => m.tempo = parse_num("tempo", cell)?,
            "key" => m.key = opt(),
            "time_signature" => m.time_signature = opt(),
            "instrumentation" => m.instrumentation = split_list(cell),
            "mood" => m.mood = split_list(cell),
            "era" => m.era = opt(),
            "duration" => m.duration = parse_num("duration", cell)?,
            "is_live_performance" => {
                m.is_live_performance = parse_bool("is_live_performance", cell)?
            }
            "venue" => m.venue = opt(),
            "audience_response" => m.audience_response = opt(),
            "lyrics" => m.lyrics = opt(),
            _ => {}
        }
    }
    t.metadata = m;
    Ok(t)
}

fn csv_rows(text: &str) -> Result<Parsed, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| ImportError::NoCsvHeader(e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches("metadata.").to_lowercase())
        .collect();
    let ignored_columns: Vec<String> = headers
        .iter()
        .filter(|h| !CSV_COLUMNS.contains(&h.as_str()))
        .cloned()
        .collect();
    if !headers.iter().any(|h| h == "id") {
        return Err(ImportError::NoIdColumn);
    }
    let mut out = Vec::new();
    for record in rdr.records() {
        match record {
            Ok(r) => {
                let line = r.position().map(|p| p.line() as usize).unwrap_or(0);
                out.push(Row {
                    line,
                    track: csv_track(&headers, &r),
                    vector: None,
                });
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                out.push(Row {
                    line,
                    track: Err(e.to_string()),
                    vector: None,
                });
            }
        }
    }
    Ok(Parsed {
        rows: out,
        ignored_columns,
    })
}

/// Reads JSON lines from any reader (for the embedded demo catalog).
pub fn json_lines_from(reader: impl BufRead) -> Vec<Row> {
    let text: String = reader
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    json_lines(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_pair_by_id_and_conflicts_are_named() {
        let catalog = r#"{"id": "a", "title": "A", "artist": "X"}
{"id": "b", "title": "B", "artist": "X", "embedding": [1, 0], "embedding_model": "m"}
{"id": "c", "title": "C", "artist": "X"}"#;
        let mut rows = json_lines(catalog);
        let vectors = r#"{"id": "a", "embedding": [0, 1], "embedding_model": "m"}
{"id": "b", "embedding": [0, 1], "embedding_model": "m"}"#;
        assert_eq!(attach_vectors(&mut rows, vectors).unwrap(), 1);
        assert_eq!(rows[0].vector.as_ref().unwrap().values, [0.0, 1.0]);
        let twice = rows[1].track.as_ref().unwrap_err();
        assert!(
            twice.starts_with("embedding:") && twice.contains("line 2"),
            "{twice}"
        );
        assert!(rows[2].vector.is_none(), "embedded here");

        let duplicate = r#"{"id": "a", "embedding": [0, 1], "embedding_model": "m"}
{"id": "a", "embedding": [1, 0], "embedding_model": "m"}"#;
        let e = attach_vectors(&mut json_lines(catalog), duplicate).unwrap_err();
        assert_eq!(e.to_string(), "line 2: id a already has a vector on line 1");
        let e = attach_vectors(
            &mut json_lines(catalog),
            r#"{"id": "a", "embedding": "x", "embedding_model": "m"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("line 1: embedding:"), "{e}");
    }

    #[test]
    fn csv_lists_numbers_and_bad_cells() {
        let text = "id,title,artist,tempo,mood,metadata.instrumentation\n\
                    a,T,A,120,happy;calm,piano|drums\n\
                    b,T,A,fast,,\n";
        let rows = csv_rows(text).unwrap().rows;
        let a = rows[0].track.as_ref().unwrap();
        assert_eq!(a.metadata.tempo, Some(120.0));
        assert_eq!(a.metadata.mood, vec!["happy", "calm"]);
        assert_eq!(a.metadata.instrumentation, vec!["piano", "drums"]);
        assert_eq!(rows[1].line, 3);
        assert!(rows[1].track.as_ref().unwrap_err().contains("tempo"));
    }

    #[test]
    fn json_lines_report_their_line() {
        let rows = json_lines("{\"id\":\"a\",\"title\":\"t\",\"artist\":\"x\"}\n\nnot json\n");
        assert_eq!(rows.len(), 2);
        assert!(rows[0].track.is_ok());
        assert_eq!(rows[1].line, 3);
        assert!(rows[1].track.is_err());
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(detect_format("x.csv", "["), Format::Csv);
        assert_eq!(detect_format("x.json", " [{"), Format::JsonArray);
        assert_eq!(detect_format("x.json", "{\"id\""), Format::JsonLines);
        assert_eq!(detect_format("upload", "id,title"), Format::Csv);
    }
}
