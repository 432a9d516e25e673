//! The numeric facts of a track a question can sort by or compare ("the fastest", "the
//! longest", "the newest"): tempo, duration and year, each read the way the catalog states it.

use serde::{Deserialize, Serialize};

use crate::domain::catalog::track::Track;

/// A numeric fact of a track.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Beats per minute: the catalog's tempo, else the measured one.
    Tempo,
    /// Length in seconds.
    Duration,
    /// Release year.
    Year,
}

impl Measure {
    pub const ALL: [Measure; 3] = [Measure::Tempo, Measure::Duration, Measure::Year];

    /// The measure's place in [`Measure::ALL`], for values kept side by side.
    pub fn index(self) -> usize {
        match self {
            Measure::Tempo => 0,
            Measure::Duration => 1,
            Measure::Year => 2,
        }
    }

    /// The track's value, when the catalog knows it.
    pub fn of(self, t: &Track) -> Option<f64> {
        match self {
            Measure::Tempo => t
                .metadata
                .tempo
                .or_else(|| t.audio.as_ref().and_then(|a| a.tempo_bpm))
                .map(f64::from),
            Measure::Duration => t.metadata.duration.map(f64::from),
            Measure::Year => t.year.map(f64::from),
        }
        .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// What the fact is called in an answer: "tempo", "length", "year".
    pub fn noun(self) -> &'static str {
        match self {
            Measure::Tempo => "tempo",
            Measure::Duration => "length",
            Measure::Year => "year",
        }
    }

    /// The value in words: "174 BPM", "4:05", "1984".
    pub fn describe(self, value: f64) -> String {
        match self {
            Measure::Tempo => format!("{value:.0} BPM"),
            Measure::Duration => {
                let s = value.round() as u64;
                format!("{}:{:02}", s / 60, s % 60)
            }
            Measure::Year => format!("{value:.0}"),
        }
    }
}

/// Orders tracks by a measure: tracks without a value last, ties by id, so a page is stable.
pub fn order_by(tracks: &mut [std::sync::Arc<Track>], measure: Measure, highest_first: bool) {
    tracks.sort_by(|a, b| {
        compare_values(measure.of(a), measure.of(b), highest_first).then_with(|| a.id.cmp(&b.id))
    });
}

/// The order of [`order_by`] on two tracks' values (the caller breaks ties by id), for stores
/// that sort values they keep apart from the tracks.
pub fn compare_values(va: Option<f64>, vb: Option<f64>, highest_first: bool) -> std::cmp::Ordering {
    match (va, vb) {
        (Some(x), Some(y)) => {
            let o = x.total_cmp(&y);
            if highest_first {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn t(id: &str, tempo: Option<f32>) -> Arc<Track> {
        let mut t = Track {
            id: id.into(),
            ..Default::default()
        };
        t.metadata.tempo = tempo;
        Arc::new(t)
    }

    #[test]
    fn tracks_without_the_fact_come_last_either_way() {
        let mut v = vec![t("a", None), t("b", Some(90.0)), t("c", Some(174.0))];
        order_by(&mut v, Measure::Tempo, true);
        let ids: Vec<&str> = v.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        order_by(&mut v, Measure::Tempo, false);
        let ids: Vec<&str> = v.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(Measure::Duration.describe(245.0), "4:05");
    }
}
