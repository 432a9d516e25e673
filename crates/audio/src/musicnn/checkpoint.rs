//! Reading a TensorFlow 1 checkpoint (a "tensor bundle") without TensorFlow.
//!
//! A bundle is two files: `NAME.index`, a LevelDB-format sorted table mapping each tensor's name
//! to a `BundleEntryProto` (dtype, shape, shard, offset, size, CRC-32C), and
//! `NAME.data-00000-of-00001`, the tensors' raw little-endian bytes back to back. MusiCNN's
//! checkpoints are written uncompressed in one shard, which is all this reader accepts; anything
//! else is refused by name rather than misread.

use std::collections::BTreeMap;

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint index: {0}")]
    Index(String),
    #[error("checkpoint tensor {name}: {rule}")]
    Tensor { name: String, rule: String },
}

fn index_err(rule: impl Into<String>) -> CheckpointError {
    CheckpointError::Index(rule.into())
}

/// One float tensor of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The table's footer ends with this number (LevelDB's magic).
const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;
const FOOTER_LEN: usize = 48;
/// `DT_FLOAT` in TensorFlow's `types.proto`.
const DT_FLOAT: u64 = 1;

/// Reads every float tensor whose name `keep` accepts (e.g. to skip the optimiser's slots).
pub fn read_bundle(
    index: &[u8],
    data: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let mut out = BTreeMap::new();
    for (name, entry) in table_entries(index)? {
        if name.is_empty() || !keep(&name) {
            continue; // the empty key holds the bundle's header
        }
        let entry = BundleEntry::decode(&entry).map_err(|rule| CheckpointError::Tensor {
            name: name.clone(),
            rule,
        })?;
        let tensor = entry.read(data).map_err(|rule| CheckpointError::Tensor {
            name: name.clone(),
            rule,
        })?;
        out.insert(name, tensor);
    }
    Ok(out)
}

/// Every key and value of a LevelDB-format table, in order.
fn table_entries(table: &[u8]) -> Result<Vec<(String, Vec<u8>)>, CheckpointError> {
    if table.len() < FOOTER_LEN {
        return Err(index_err("shorter than a table footer"));
    }
    let footer = &table[table.len() - FOOTER_LEN..];
    let magic = u64::from_le_bytes(footer[40..48].try_into().expect("8 bytes"));
    if magic != TABLE_MAGIC {
        return Err(index_err("not a tensor bundle index (wrong magic number)"));
    }
    let mut pos = 0;
    let _metaindex = BlockHandle::decode(footer, &mut pos)?;
    let index_handle = BlockHandle::decode(footer, &mut pos)?;
    let mut out = Vec::new();
    for (_, handle) in block_entries(index_handle.block(table)?)? {
        let mut p = 0;
        let data_handle = BlockHandle::decode(&handle, &mut p)?;
        for (key, value) in block_entries(data_handle.block(table)?)? {
            let key = String::from_utf8(key).map_err(|_| index_err("a key is not UTF-8"))?;
            out.push((key, value));
        }
    }
    Ok(out)
}

/// Where a block lies in the table.
struct BlockHandle {
    offset: usize,
    size: usize,
}

impl BlockHandle {
    fn decode(bytes: &[u8], pos: &mut usize) -> Result<Self, CheckpointError> {
        let offset = varint(bytes, pos).map_err(index_err)? as usize;
        let size = varint(bytes, pos).map_err(index_err)? as usize;
        Ok(Self { offset, size })
    }

    /// The block's contents; the trailer after it (compression type, CRC) must say "none".
    fn block<'a>(&self, table: &'a [u8]) -> Result<&'a [u8], CheckpointError> {
        let end = self
            .offset
            .checked_add(self.size)
            .filter(|&e| e < table.len())
            .ok_or_else(|| index_err("a block lies outside the file"))?;
        if table[end] != 0 {
            return Err(index_err(
                "compressed blocks are not supported (only uncompressed bundles)",
            ));
        }
        Ok(&table[self.offset..end])
    }
}

/// A table entry: key and value bytes.
type Entry = (Vec<u8>, Vec<u8>);

/// The entries of one block: keys are stored as a shared prefix length plus a new suffix.
fn block_entries(block: &[u8]) -> Result<Vec<Entry>, CheckpointError> {
    if block.len() < 4 {
        return Err(index_err("a block is too short"));
    }
    let restarts =
        u32::from_le_bytes(block[block.len() - 4..].try_into().expect("4 bytes")) as usize;
    let entries_end = restarts
        .checked_mul(4)
        .and_then(|r| block.len().checked_sub(4 + r))
        .ok_or_else(|| index_err("a block's restart array is larger than the block"))?;
    let mut out: Vec<Entry> = Vec::new();
    let mut pos = 0;
    let mut key: Vec<u8> = Vec::new();
    while pos < entries_end {
        let shared = varint(block, &mut pos).map_err(index_err)? as usize;
        let unshared = varint(block, &mut pos).map_err(index_err)? as usize;
        let value_len = varint(block, &mut pos).map_err(index_err)? as usize;
        let end = pos + unshared + value_len;
        if shared > key.len() || end > entries_end {
            return Err(index_err("an entry runs past its block"));
        }
        key.truncate(shared);
        key.extend_from_slice(&block[pos..pos + unshared]);
        out.push((key.clone(), block[pos + unshared..end].to_vec()));
        pos = end;
    }
    Ok(out)
}

/// A base-128 varint as protobuf and LevelDB write them.
fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or("a number runs past the end")?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a number is longer than 64 bits".into())
}

/// The fields of `BundleEntryProto` a reader needs.
#[derive(Debug, Default)]
struct BundleEntry {
    dtype: u64,
    shape: Vec<usize>,
    shard: u64,
    offset: usize,
    size: usize,
    crc32c: Option<u32>,
}

impl BundleEntry {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut e = BundleEntry::default();
        for field in fields(bytes)? {
            match field {
                (1, Field::Varint(v)) => e.dtype = v,
                (2, Field::Bytes(shape)) => {
                    // TensorShapeProto: repeated Dim dim = 2 { int64 size = 1; }
                    for dim in fields(shape)? {
                        if let (2, Field::Bytes(d)) = dim {
                            let size = fields(d)?
                                .into_iter()
                                .find_map(|f| match f {
                                    (1, Field::Varint(s)) => Some(s as usize),
                                    _ => None,
                                })
                                .unwrap_or(0);
                            e.shape.push(size);
                        }
                    }
                }
                (3, Field::Varint(v)) => e.shard = v,
                (4, Field::Varint(v)) => e.offset = v as usize,
                (5, Field::Varint(v)) => e.size = v as usize,
                (6, Field::Fixed32(v)) => e.crc32c = Some(v),
                (7, _) => return Err("sliced tensors are not supported".into()),
                _ => {}
            }
        }
        Ok(e)
    }

    fn read(&self, data: &[u8]) -> Result<Tensor, String> {
        if self.dtype != DT_FLOAT {
            return Err(format!("dtype {} is not float32", self.dtype));
        }
        if self.shard != 0 {
            return Err("only single-shard checkpoints are supported".into());
        }
        let count: usize = self.shape.iter().product();
        if count * 4 != self.size {
            return Err(format!(
                "shape {:?} needs {} bytes but the entry says {}",
                self.shape,
                count * 4,
                self.size
            ));
        }
        let bytes = data
            .get(self.offset..self.offset + self.size)
            .ok_or("lies outside the data file")?;
        if let Some(expected) = self.crc32c {
            let actual = masked_crc32c(bytes);
            if actual != expected {
                return Err(format!(
                    "checksum mismatch (stored {expected:#x}, computed {actual:#x}): the data file is damaged"
                ));
            }
        }
        let values = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(Tensor {
            shape: self.shape.clone(),
            values,
        })
    }
}

enum Field<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8]),
}

/// The top-level fields of a protobuf message, as (number, value).
fn fields(bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let tag = varint(bytes, &mut pos)?;
        let value = match tag & 7 {
            0 => Field::Varint(varint(bytes, &mut pos)?),
            1 => {
                pos += 8;
                Field::Fixed64
            }
            2 => {
                let len = varint(bytes, &mut pos)? as usize;
                let slice = bytes
                    .get(pos..pos + len)
                    .ok_or("a field runs past its message")?;
                pos += len;
                Field::Bytes(slice)
            }
            5 => {
                let b = bytes
                    .get(pos..pos + 4)
                    .ok_or("a field runs past its message")?;
                pos += 4;
                Field::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            other => return Err(format!("unknown protobuf wire type {other}")),
        };
        out.push((tag >> 3, value));
    }
    if pos > bytes.len() {
        return Err("a field runs past its message".into());
    }
    Ok(out)
}

/// CRC-32C as TensorFlow stores it: rotated and offset ("masked") so a CRC of data holding CRCs
/// stays well distributed.
fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_an_index_is_refused_by_name() {
        let err = read_bundle(&[0u8; 64], &[], |_| true).unwrap_err();
        assert!(err.to_string().contains("wrong magic"), "{err}");
        let err = read_bundle(b"short", &[], |_| true).unwrap_err();
        assert!(
            err.to_string().contains("shorter than a table footer"),
            "{err}"
        );
    }
}
