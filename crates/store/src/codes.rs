//! The catalog's flat array of 8-bit vectors: owned, or read in place from the catalog's state
//! file. An open from the state file maps the file instead of copying its 384 MB of vectors
//! (at a million tracks) into memory only to copy them again into the vector index's lists and
//! free them; the mapping is dropped once the lists hold the vectors, and the first write
//! before that copies the array into memory (copy on write).

use memmap2::Mmap;

pub(crate) enum Codes {
    Owned(Vec<i8>),
    /// `len` bytes of `map` from `offset`: the state file's vectors section.
    Mapped {
        map: Mmap,
        offset: usize,
        len: usize,
    },
}

impl Default for Codes {
    fn default() -> Self {
        Codes::Owned(Vec::new())
    }
}

impl Codes {
    /// `len` bytes at `offset` of `map`, or `None` if the map does not hold them.
    pub(crate) fn mapped(map: Mmap, offset: usize, len: usize) -> Option<Self> {
        (offset.checked_add(len)? <= map.len()).then_some(Codes::Mapped { map, offset, len })
    }

    pub(crate) fn as_slice(&self) -> &[i8] {
        match self {
            Codes::Owned(v) => v,
            Codes::Mapped { map, offset, len } => as_i8(&map[*offset..*offset + *len]),
        }
    }

    /// The array to change, copied into memory first if it is still the file's.
    pub(crate) fn to_mut(&mut self) -> &mut Vec<i8> {
        if let Codes::Mapped { .. } = self {
            *self = Codes::Owned(self.as_slice().to_vec());
        }
        match self {
            Codes::Owned(v) => v,
            Codes::Mapped { .. } => unreachable!("copied into memory just above"),
        }
    }
}

fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: i8 and u8 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(bytes: &[u8], offset: usize, len: usize) -> Option<Codes> {
        let file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &file, bytes).unwrap();
        // SAFETY: the temporary file is this test's alone.
        let map = unsafe { Mmap::map(&file) }.unwrap();
        Codes::mapped(map, offset, len)
    }

    #[test]
    fn a_mapped_array_reads_its_section_and_is_copied_before_a_change() {
        let mut codes = mapped(&[9, 1, 2, 0xFF, 9], 1, 3).unwrap();
        assert_eq!(codes.as_slice(), &[1, 2, -1]);
        codes.to_mut().push(7);
        assert!(matches!(codes, Codes::Owned(_)));
        assert_eq!(codes.as_slice(), &[1, 2, -1, 7]);
    }

    #[test]
    fn a_section_beyond_the_file_is_refused() {
        assert!(mapped(&[1, 2, 3], 1, 3).is_none());
        assert!(mapped(&[1, 2, 3], usize::MAX, 2).is_none());
        assert!(mapped(&[1, 2, 3], 0, 3).is_some());
    }
}
