//! Preferences: a filter's fields, read as soft wishes (hits fitting them are boosted, others
//! still come), with their own rule for what fitting means.

use serde::{Deserialize, Serialize};

use super::wire::Filter;

/// Soft constraints: hits that satisfy them rank higher (the targeted track), the others still
/// come. Written like a [`Filter`] (the same fields on the wire), but matched more loosely: a
/// preferred genre may also be named by a track's tags, while a genre filter reads the genre.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = Filter))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Preferences(Filter);

impl Preferences {
    /// The filter a track passes when it fits these preferences.
    pub fn matching(&self) -> Filter {
        let mut f = self.0.clone();
        for g in std::mem::take(&mut f.genres) {
            if !f.genres_or_tags.contains(&g) {
                f.genres_or_tags.push(g);
            }
        }
        f
    }

    /// Either set's preferences: lists are joined, ranges kept from `self` first.
    pub fn union(self, other: &Preferences) -> Preferences {
        Preferences(self.0.union(&other.0))
    }
}

impl From<Filter> for Preferences {
    fn from(wanted: Filter) -> Self {
        Preferences(wanted)
    }
}

/// Preferences read (and, while a parser builds them, written) field by field as a filter's.
impl std::ops::Deref for Preferences {
    type Target = Filter;
    fn deref(&self) -> &Filter {
        &self.0
    }
}

impl std::ops::DerefMut for Preferences {
    fn deref_mut(&mut self) -> &mut Filter {
        &mut self.0
    }
}
