//! Small helpers the bench binaries share: settings from the environment, percentiles, and
//! counting a directory's entries.
#![allow(dead_code)]

use std::path::Path;

/// The environment variable `name` parsed, or `default`.
pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of `v` (sorted in place), nearest rank; NaN when empty.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// How many entries `dir` has (0 when it cannot be read).
pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |r| r.count())
}
