//! The vector index on disk, so an open fills it instead of training it (k-means over a
//! million vectors takes seconds). Derived data: written whole to a temporary file and renamed,
//! checked by a CRC-32 when read; anything unexpected reads as no file, and the index is
//! trained again. The file names the write sequence it reflects; tracks written after it are
//! placed again at open.

use std::io::Write;
use std::path::Path;

use crate::ivf::Saved;

pub(crate) const INDEX_FILE: &str = "vector-index.bin";
const MAGIC: &[u8; 8] = b"MRAGIVF1";
/// Magic, dim, lists, trained_for, sequence, members.
const HEADER_BYTES: usize = 8 + 4 + 4 + 8 + 8 + 8;
const MEMBER_BYTES: usize = 12;

/// Writes `saved` as reflecting write `sequence`, replacing any earlier file atomically.
pub(crate) fn write(path: &Path, dim: usize, sequence: u64, saved: &Saved) -> std::io::Result<()> {
    let lists = saved.centroids.len() / dim;
    let mut bytes = Vec::with_capacity(
        HEADER_BYTES + saved.centroids.len() * 4 + saved.members.len() * MEMBER_BYTES + 4,
    );
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(dim as u32).to_le_bytes());
    bytes.extend_from_slice(&(lists as u32).to_le_bytes());
    bytes.extend_from_slice(&(saved.trained_for as u64).to_le_bytes());
    bytes.extend_from_slice(&sequence.to_le_bytes());
    bytes.extend_from_slice(&(saved.members.len() as u64).to_le_bytes());
    for x in &saved.centroids {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    for (slot, list) in &saved.members {
        bytes.extend_from_slice(&slot.to_le_bytes());
        bytes.extend_from_slice(&list.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

/// The saved index and the sequence it reflects, if `path` holds a whole one for vectors of
/// `dim` floats.
pub(crate) fn read(path: &Path, dim: usize) -> Option<(u64, Saved)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "vector index file unreadable; training again");
            return None;
        }
    };
    let parsed = parse(&bytes, dim);
    if parsed.is_none() {
        tracing::warn!(path = %path.display(), "vector index file damaged or of another shape; training again");
    }
    parsed
}

fn parse(bytes: &[u8], dim: usize) -> Option<(u64, Saved)> {
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc || body.len() < HEADER_BYTES {
        return None;
    }
    let (header, rest) = body.split_at(HEADER_BYTES);
    let u32_at = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap_or_default());
    let u64_at = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or_default());
    if &header[..8] != MAGIC || u32_at(8) as usize != dim || dim == 0 {
        return None;
    }
    let lists = u32_at(12) as usize;
    let (trained_for, sequence, members) = (u64_at(16) as usize, u64_at(24), u64_at(32) as usize);
    let centroid_bytes = lists.checked_mul(dim)?.checked_mul(4)?;
    if lists == 0 || rest.len() != centroid_bytes.checked_add(members.checked_mul(MEMBER_BYTES)?)? {
        return None;
    }
    let (centroids, members) = rest.split_at(centroid_bytes);
    let centroids = centroids
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let members = members
        .chunks_exact(MEMBER_BYTES)
        .map(|b| {
            let (slot, list) = b.split_at(8);
            (
                u64::from_le_bytes(slot.try_into().unwrap_or_default()),
                u32::from_le_bytes(list.try_into().unwrap_or_default()),
            )
        })
        .collect();
    Some((
        sequence,
        Saved {
            centroids,
            trained_for,
            members,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> Saved {
        Saved {
            centroids: vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
            trained_for: 5,
            members: vec![(1, 0), (2, 2), (7, 1), (9, 2)],
        }
    }

    #[test]
    fn a_saved_index_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        write(&path, 2, 42, &saved()).unwrap();
        assert_eq!(read(&path, 2), Some((42, saved())));
        // Another dimension is another index.
        assert_eq!(read(&path, 3), None);
        assert_eq!(read(&dir.path().join("missing.bin"), 2), None);
    }

    #[test]
    fn any_damaged_or_cut_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        write(&path, 2, 42, &saved()).unwrap();
        let whole = std::fs::read(&path).unwrap();
        for at in [0, 9, HEADER_BYTES + 3, whole.len() - 7, whole.len() - 1] {
            let mut damaged = whole.clone();
            damaged[at] ^= 0x40;
            assert_eq!(parse(&damaged, 2), None, "byte {at} flipped");
        }
        for len in [0, 3, HEADER_BYTES, whole.len() - 1] {
            assert_eq!(parse(&whole[..len], 2), None, "cut at {len}");
        }
    }
}
