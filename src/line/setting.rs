//! The words of a `$line` definition that the network line kinds (`smtp`, `sms_http`) share:
//! an unknown key answered with the nearest known one, a login from `user=` and
//! `password_file=` (the file read at start, so a missing one stops the start with its name),
//! and a timeout in seconds within limits.
//!
//! Pure checks of the definition's words; it never connects and never logs a password.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// "unknown `kind` setting" with the nearest of `keys` when one is close, else the list.
pub fn unknown(kind: &str, key: &str, keys: &[&str]) -> String {
    let near = keys
        .iter()
        .map(|k| (*k, strsim::damerau_levenshtein(key, k)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d);
    match near {
        Some((k, _)) => format!("unknown {kind} setting {key:?} (did you mean {k}=?)"),
        None => format!(
            "unknown {kind} setting {key:?} (known: {})",
            keys.iter()
                .map(|k| format!("{k}="))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The login `user=` and `password_file=` give together (the password is the file's first
/// line), none when neither is given; one without the other, or an empty or unreadable file,
/// is an error naming the setting.
pub fn login(
    user: Option<String>,
    password_file: Option<PathBuf>,
) -> Result<Option<(String, String)>, String> {
    match (user, password_file) {
        (Some(u), Some(p)) => Ok(Some((u, first_line(&p)?))),
        (Some(_), None) => Err("user= needs password_file=PATH".into()),
        (None, Some(_)) => Err("password_file= needs user=NAME".into()),
        (None, None) => Ok(None),
    }
}

fn first_line(p: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("password_file={}: {e}", p.display()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(format!("password_file={}: the file is empty", p.display()));
    }
    Ok(pw)
}

/// `timeout=v`: whole seconds from 1 to `max`.
pub fn timeout(v: &str, max: u64) -> Result<Duration, String> {
    v.parse::<u64>()
        .ok()
        .filter(|t| (1..=max).contains(t))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("timeout={v}: expected seconds (1 to {max})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_login_and_timeouts() {
        let keys = ["relay", "timeout"];
        assert_eq!(
            unknown("smtp", "rely", &keys),
            "unknown smtp setting \"rely\" (did you mean relay=?)"
        );
        assert_eq!(
            unknown("smtp", "colour", &keys),
            "unknown smtp setting \"colour\" (known: relay=, timeout=)"
        );
        let d = tempfile::tempdir().unwrap();
        let pw = d.path().join("pw");
        std::fs::write(&pw, "s3cret\nignored\n").unwrap();
        assert_eq!(
            login(Some("u".into()), Some(pw.clone())).unwrap(),
            Some(("u".into(), "s3cret".into()))
        );
        assert_eq!(login(None, None).unwrap(), None);
        assert!(login(Some("u".into()), None)
            .unwrap_err()
            .contains("password_file="));
        assert!(login(None, Some(pw)).unwrap_err().contains("user="));
        std::fs::write(d.path().join("empty"), "").unwrap();
        assert!(login(Some("u".into()), Some(d.path().join("empty")))
            .unwrap_err()
            .contains("empty"));
        assert_eq!(timeout("30", 600).unwrap(), Duration::from_secs(30));
        assert!(timeout("0", 600).is_err() && timeout("601", 600).is_err());
        assert_eq!(
            timeout("x", 60).unwrap_err(),
            "timeout=x: expected seconds (1 to 60)"
        );
    }
}
