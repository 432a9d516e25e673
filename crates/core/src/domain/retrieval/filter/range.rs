//! An inclusive numeric range with open ends, as filters and preferences use it for tempo and
//! year: parsed from `90-120`, `90-` or `-120`, checked, intersected.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// An inclusive numeric range; either end may be open.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: Option<f32>,
    pub max: Option<f32>,
}

impl Range {
    pub fn new(min: Option<f32>, max: Option<f32>) -> Self {
        Self { min, max }
    }

    pub fn contains(&self, v: f32) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }

    /// The overlap of two ranges (both must hold).
    pub fn intersect(self, other: Range) -> Range {
        let pick = |a: Option<f32>, b: Option<f32>, f: fn(f32, f32) -> f32| match (a, b) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, y) => x.or(y),
        };
        Range {
            min: pick(self.min, other.min, f32::max),
            max: pick(self.max, other.max, f32::min),
        }
    }

    /// Parses "90-120", "90-", "-120" or "100".
    pub fn parse(field: &str, s: &str) -> Result<Range> {
        let bad = || {
            CoreError::invalid(
                field,
                format!("must be a range like 90-120, 90- or -120 (got {s:?})"),
            )
        };
        let num = |t: &str| -> Result<Option<f32>> {
            let t = t.trim();
            if t.is_empty() {
                Ok(None)
            } else {
                t.parse::<f32>().map(Some).map_err(|_| bad())
            }
        };
        let range = match s.split_once('-') {
            Some((a, b)) => Range::new(num(a)?, num(b)?),
            None => {
                let v = num(s)?.ok_or_else(bad)?;
                Range::new(Some(v), Some(v))
            }
        };
        range.validate(field)?;
        Ok(range)
    }

    pub fn validate(&self, field: &str) -> Result<()> {
        if let (Some(a), Some(b)) = (self.min, self.max) {
            if a > b {
                return Err(CoreError::invalid(
                    field,
                    format!("minimum {a} must not exceed maximum {b}"),
                ));
            }
        }
        if self.min.is_some_and(|v| !v.is_finite()) || self.max.is_some_and(|v| !v.is_finite()) {
            return Err(CoreError::invalid(field, "bounds must be finite numbers"));
        }
        Ok(())
    }

    pub(super) fn describe(&self, name: &str, unit: &str) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("{name} {a}-{b}{unit}"),
            (Some(a), None) => format!("{name} >= {a}{unit}"),
            (None, Some(b)) => format!("{name} <= {b}{unit}"),
            (None, None) => format!("{name} any"),
        }
    }
}
