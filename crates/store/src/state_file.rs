//! What a large catalog keeps in memory, on disk beside the database, so an open reads one
//! file instead of parsing every track's document (about 10 s at a million tracks). Derived
//! data, like `vector-index.bin`: written whole to a temporary file and renamed, checked by a
//! CRC-32 when read; anything unexpected reads as no file, and the open loads from the
//! database. The file names the write sequence it reflects; the tracks written after it are
//! loaded from the database on top, and deletions since are found by the count.
//!
//! Layout (little-endian): magic, dim, sequence, the facet values once (each entry names
//! its values by number), the entries in position order (slot, id, hashes, names,
//! measures, sound vector, facets), each entry's 8-bit scale, the 8-bit vectors, CRC-32.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use music_rag_core::domain::catalog::vocabulary::TrackNames;
use music_rag_core::domain::retrieval::filter::{FacetParts, FacetValue, TrackFacets};

use crate::codes::Codes;
use crate::memory::{Entry, Saved8, StoredHash};

pub(crate) const STATE_FILE: &str = "catalog-state.bin";
const MAGIC: &[u8; 8] = b"MRAGCAT1";
const NONE: u32 = u32::MAX;

/// A catalog as read from its file, and the write sequence it reflects.
pub(crate) struct SavedCatalog {
    pub sequence: u64,
    pub catalog: Saved8,
}

/// Magic, dim, sequence, entries' bytes, count.
const HEADER_BYTES: usize = 8 + 4 + 8 + 8 + 8;

/// Writes the entries (with each one's 8-bit vector and scale) as reflecting `sequence`,
/// replacing any earlier file atomically. `entries` is called twice (the entries, then their
/// vectors streamed after them) and must give the same entries both times.
pub(crate) fn write<'a, I>(
    path: &Path,
    dim: usize,
    sequence: u64,
    values: impl Iterator<Item = &'a FacetValue>,
    entries: impl Fn() -> I,
) -> std::io::Result<()>
where
    I: Iterator<Item = (&'a Entry, &'a [i8], f32)>,
{
    let values: Vec<&FacetValue> = values.collect();
    let ids: HashMap<&FacetValue, u32> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i as u32))
        .collect();
    let mut body = Out(Vec::with_capacity(64 << 20));
    body.u32(values.len() as u32);
    for v in &values {
        let (padded, compact) = v.forms();
        body.str(padded);
        body.str(compact);
    }
    let mut count = 0u64;
    for (e, code, scale) in entries() {
        if code.len() != dim {
            return Err(std::io::Error::other("an entry without its 8-bit vector"));
        }
        body.entry(e, &ids);
        body.f32(scale);
        count += 1;
    }
    let mut header = Out(Vec::with_capacity(HEADER_BYTES));
    header.0.extend_from_slice(MAGIC);
    header.u32(dim as u32);
    header.u64(sequence);
    header.u64(body.0.len() as u64);
    header.u64(count);

    let partial = path.with_extension("partial");
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
    let mut crc = crc32fast::Hasher::new();
    for part in [&header.0, &body.0] {
        crc.update(part);
        file.write_all(part)?;
    }
    drop(body);
    let mut written = 0u64;
    for (_, code, _) in entries().take(count as usize) {
        let bytes = as_bytes(code);
        crc.update(bytes);
        file.write_all(bytes)?;
        written += 1;
    }
    if written != count {
        return Err(std::io::Error::other(
            "the catalog changed while it was saved",
        ));
    }
    file.write_all(&crc.finalize().to_le_bytes())?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

fn as_bytes(code: &[i8]) -> &[u8] {
    // SAFETY: i8 and u8 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(code.as_ptr().cast::<u8>(), code.len()) }
}

/// The saved catalog, if `path` holds a whole one for vectors of `dim` floats.
pub(crate) fn read(path: &Path, dim: usize) -> Option<SavedCatalog> {
    let read = std::fs::File::open(path).and_then(|f| read_from(f, dim));
    match read {
        Ok(Some(saved)) => Some(saved),
        Ok(None) => {
            tracing::warn!(path = %path.display(), "catalog state file damaged or of another shape; loading from the database");
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::warn!(path = %path.display(), "catalog state file cut short; loading from the database");
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "catalog state file unreadable; loading from the database");
            None
        }
    }
}

/// Maps the file and checks it: the sizes against the file's length, then the CRC. The
/// entries are parsed from the mapping, and the 8-bit vectors (most of the file) stay in it
/// until the vector index copies them into its lists ([`Codes::Mapped`]).
fn read_from(file: std::fs::File, dim: usize) -> std::io::Result<Option<SavedCatalog>> {
    // SAFETY: the file is only ever replaced whole (written to a temporary file and renamed),
    // never changed in place, so the mapped bytes do not change under us; a file cut by
    // something else fails the size and CRC checks before it is used.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let file_len = map.len() as u64;
    if map.len() < HEADER_BYTES {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let header = &map[..HEADER_BYTES];
    let mut h = In(header);
    let (magic, file_dim, sequence, body_len, count) =
        match (h.take(8), h.u32(), h.u64(), h.u64(), h.u64()) {
            (Some(m), Some(d), Some(s), Some(b), Some(c)) => (m, d, s, b, c),
            _ => return Ok(None),
        };
    if magic != MAGIC || file_dim as usize != dim || dim == 0 {
        return Ok(None);
    }
    let code_bytes = count.checked_mul(dim as u64);
    let total = code_bytes
        .and_then(|c| c.checked_add(body_len))
        .and_then(|n| n.checked_add(HEADER_BYTES as u64 + 4));
    if total != Some(file_len) {
        return Ok(None);
    }
    // The sizes add up to the file's length, so they fit in memory as much as the file does.
    let (body_len, count) = (body_len as usize, count as usize);
    let codes_at = HEADER_BYTES + body_len;
    let crc_at = codes_at + count * dim;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&map[..crc_at]);
    if crc.finalize().to_le_bytes() != map[crc_at..] {
        return Ok(None);
    }
    let Some((values, entries, scales)) = parse_body(&map[HEADER_BYTES..codes_at], count) else {
        return Ok(None);
    };
    Ok(
        Codes::mapped(map, codes_at, count * dim).map(|codes| SavedCatalog {
            sequence,
            catalog: Saved8 {
                values,
                entries,
                scales,
                codes,
            },
        }),
    )
}

/// The facet values, and the entries with their 8-bit scales.
fn parse_body(body: &[u8], count: usize) -> Option<(Vec<FacetValue>, Vec<Entry>, Vec<f32>)> {
    let mut r = In(body);
    let n_values = r.u32()? as usize;
    let mut values = Vec::with_capacity(n_values.min(body.len() / 8));
    for _ in 0..n_values {
        let (padded, compact) = (r.str()?, r.str()?);
        values.push(FacetValue::from_forms(padded, compact));
    }
    // Every entry takes more than 40 bytes: a count beyond that is damage, not a size to
    // reserve.
    let mut entries = Vec::with_capacity(count.min(body.len() / 40));
    let mut scales = Vec::with_capacity(count.min(body.len() / 40));
    for _ in 0..count {
        entries.push(r.entry(&values)?);
        scales.push(r.f32()?);
    }
    if !r.0.is_empty() {
        return None;
    }
    Some((values, entries, scales))
}

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn hash(&mut self, h: &StoredHash) {
        match h {
            StoredHash::Fnv(n) => {
                self.u8(0);
                self.0.extend_from_slice(&n.to_le_bytes());
            }
            StoredHash::Other(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn opt_f32(&mut self, v: Option<f32>) {
        self.u8(v.is_some() as u8);
        self.f32(v.unwrap_or(0.0));
    }
    fn entry(&mut self, e: &Entry, ids: &HashMap<&FacetValue, u32>) {
        self.u64(e.slot);
        self.str(&e.id);
        self.hash(&e.content_hash);
        self.hash(&e.text_hash);
        let (joined, ends, has_album) = e.names.parts();
        self.str(joined);
        self.u32(ends[0]);
        self.u32(ends[1]);
        self.u8(has_album as u8);
        for m in e.measures {
            self.opt_f32(m);
        }
        match &e.audio {
            Some(v) => {
                self.u32(v.len() as u32);
                v.iter().for_each(|x| self.f32(*x));
            }
            None => self.u32(NONE),
        }
        let parts = e.facets.clone().into_parts();
        let id = |v: &FacetValue| ids.get(v).copied().unwrap_or(NONE);
        for list in &parts.lists {
            self.u32(list.len() as u32);
            list.iter().for_each(|v| self.u32(id(v)));
        }
        for single in &parts.single {
            self.u32(single.as_ref().map_or(NONE, id));
        }
        self.opt_f32(parts.tempo);
        self.u8(parts.year.is_some() as u8);
        self.u32(parts.year.unwrap_or(0) as u32);
        self.u8(match parts.live {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn hash(&mut self) -> Option<StoredHash> {
        match self.u8()? {
            0 => Some(StoredHash::Fnv(u128::from_le_bytes(
                self.take(16)?.try_into().ok()?,
            ))),
            1 => Some(StoredHash::Other(self.str()?.into())),
            _ => None,
        }
    }
    fn opt_f32(&mut self) -> Option<Option<f32>> {
        let present = self.flag()?;
        let v = self.f32()?;
        Some(present.then_some(v))
    }
    fn value(&mut self, values: &[FacetValue]) -> Option<Option<FacetValue>> {
        match self.u32()? {
            NONE => Some(None),
            i => Some(Some(values.get(i as usize)?.clone())),
        }
    }
    fn entry(&mut self, values: &[FacetValue]) -> Option<Entry> {
        let slot = self.u64()?;
        let id: std::sync::Arc<str> = self.str()?.into();
        let (content_hash, text_hash) = (self.hash()?, self.hash()?);
        let joined = self.str()?;
        let ends = [self.u32()?, self.u32()?];
        let names = TrackNames::from_parts(joined, ends, self.flag()?)?;
        let measures = [self.opt_f32()?, self.opt_f32()?, self.opt_f32()?];
        let audio = match self.u32()? {
            NONE => None,
            n => Some(
                self.take((n as usize).checked_mul(4)?)?
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
        };
        let mut parts = FacetParts::default();
        for list in &mut parts.lists {
            let n = self.u32()? as usize;
            if n > self.0.len() / 4 {
                return None;
            }
            *list = (0..n)
                .map(|_| self.value(values)?)
                .collect::<Option<Vec<_>>>()?;
        }
        for single in &mut parts.single {
            *single = self.value(values)?;
        }
        parts.tempo = self.opt_f32()?;
        let has_year = self.flag()?;
        let year = self.u32()? as i32;
        parts.year = has_year.then_some(year);
        parts.live = match self.u8()? {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return None,
        };
        Some(Entry {
            slot,
            id,
            facets: TrackFacets::from_parts(parts),
            names,
            measures,
            audio,
            content_hash,
            text_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use music_rag_core::Track;

    fn entries() -> Vec<Entry> {
        let mut a = Track {
            id: "a".into(),
            title: "Blue in Green".into(),
            artist: "Miles Davis".into(),
            album: Some("Kind of Blue".into()),
            year: Some(1959),
            ..Default::default()
        };
        a.metadata.genre = Some("jazz".into());
        a.metadata.mood = vec!["calm".into(), "night".into()];
        a.metadata.key = Some("C major".into());
        a.metadata.tempo = Some(64.5);
        a.metadata.is_live_performance = Some(false);
        let mut b = Track {
            id: "b".into(),
            title: "So What".into(),
            artist: "Miles Davis".into(),
            ..Default::default()
        };
        b.metadata.genre = Some("jazz".into());
        b.metadata.duration = Some(562.0);
        vec![
            Entry::of(3, &a, "f3750e6296a1e080a3b25bc79d44a859".into(), "x".into()),
            Entry::of(
                9,
                &b,
                String::new(),
                "00000000000000000000000000000002".into(),
            ),
        ]
    }

    fn written(dir: &Path) -> std::path::PathBuf {
        let path = dir.join(STATE_FILE);
        let entries = entries();
        let mut values: Vec<FacetValue> = Vec::new();
        for e in &entries {
            for (_, v) in e.facets.values() {
                if !values.contains(v) {
                    values.push(v.clone());
                }
            }
        }
        let codes = [[1i8, -2, 3, 127], [0, 0, -128, 5]];
        write(&path, 4, 42, values.iter(), || {
            entries
                .iter()
                .zip(&codes)
                .zip([0.5f32, 0.25])
                .map(|((e, c), s)| (e, &c[..], s))
        })
        .unwrap();
        path
    }

    #[test]
    fn a_saved_catalog_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path());
        let saved = read(&path, 4).expect("read back");
        assert_eq!(saved.sequence, 42);
        let saved = saved.catalog;
        assert_eq!(saved.scales, [0.5, 0.25]);
        assert_eq!(saved.codes.as_slice(), [1, -2, 3, 127, 0, 0, -128, 5]);
        for (got, want) in saved.entries.iter().zip(entries()) {
            assert_eq!(got.slot, want.slot);
            assert_eq!(got.id, want.id);
            assert_eq!(got.content_hash, want.content_hash);
            assert_eq!(got.text_hash, want.text_hash);
            assert_eq!(got.names, want.names);
            assert_eq!(got.measures, want.measures);
            assert_eq!(got.audio, want.audio);
            assert_eq!(
                got.facets.clone().into_parts(),
                want.facets.clone().into_parts()
            );
            assert_eq!(got.facets.index_keys(), want.facets.index_keys());
        }
        assert_eq!(saved.entries.len(), 2);
        assert!(
            read(&path, 5).is_none(),
            "another dimension is another file"
        );
        assert!(read(&dir.path().join("missing.bin"), 4).is_none());
    }

    #[test]
    fn any_damaged_cut_or_lengthened_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path());
        let whole = std::fs::read(&path).unwrap();
        let damaged = dir.path().join("damaged.bin");
        let reads_as_none = |bytes: &[u8]| {
            std::fs::write(&damaged, bytes).unwrap();
            read(&damaged, 4).is_none()
        };
        assert!(!reads_as_none(&whole), "the whole file reads");
        for at in 0..whole.len() {
            let mut flipped = whole.clone();
            flipped[at] ^= 0x40;
            assert!(reads_as_none(&flipped), "byte {at} flipped");
        }
        for len in 0..whole.len() {
            assert!(reads_as_none(&whole[..len]), "cut at {len}");
        }
        assert!(
            reads_as_none(&[whole.as_slice(), &[0]].concat()),
            "a byte more"
        );
    }
}
