//! The web console's named operators: `$web_user NAME role=view|operate hash=PHC` in the CFG,
//! their roles, and their passwords as argon2id hashes in the PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, what `redial web passwd NAME` prints).
//!
//! Owns reading the `$web_user` lines (every error names the file, the line and the reason; a
//! mistyped key is answered with the nearest known one), hashing a new password and checking
//! one. It never stores a password in clear, never logs one, and never decides who is signed
//! in (see `session.rs`).

use crate::command::Document;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde::Serialize;
use std::fmt;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read every page and the JSON API; no action.
    View,
    /// Also act on jobs (retry, cancel, hold, release, alter) and read the audit trail.
    Operate,
}

impl Role {
    /// `view` or `operate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::View => "view",
            Role::Operate => "operate",
        }
    }
    fn parse(s: &str) -> Result<Role, String> {
        match s {
            "view" => Ok(Role::View),
            "operate" => Ok(Role::Operate),
            _ => Err(format!("role={s:?} is not a role (view or operate)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `$web_user` line.
#[derive(Clone, PartialEq, Eq)]
pub struct WebUser {
    /// The sign-in name.
    pub name: String,
    /// What the operator may do.
    pub role: Role,
    /// The password's argon2 hash (PHC string).
    pub hash: String,
}

impl fmt::Debug for WebUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash stays out of debug output (and so out of logs).
        f.debug_struct("WebUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Whether `name` may name an operator: 1 to 32 letters, digits, `.`, `_` or `-`.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 32 {
        return Err(format!("{name:?}: a name is 1 to 32 characters"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!(
            "{name:?}: {c:?} is not allowed in a name (letters, digits, '.', '_', '-')"
        )),
        None => Ok(()),
    }
}

/// Every `$web_user` line of the CFG; the first bad one is the error (`FILE line N: reason`).
pub fn from_cfg(doc: &Document) -> Result<Vec<WebUser>, String> {
    let mut users: Vec<WebUser> = Vec::new();
    for cmd in doc.all("web_user") {
        let at = |msg: String| format!("{} line {}: $web_user {msg}", doc.origin(), cmd.line);
        let name = cmd
            .arg(0)
            .ok_or_else(|| at("needs NAME role=view|operate hash=PHC".into()))?;
        valid_name(name).map_err(at)?;
        if users.iter().any(|u| u.name == name) {
            return Err(at(format!("{name:?} is defined twice")));
        }
        let (mut role, mut hash) = (None, None);
        for arg in &cmd.args[1..] {
            match arg.text.split_once('=') {
                Some(("role", v)) => role = Some(Role::parse(v).map_err(at)?),
                Some(("hash", v)) => {
                    PasswordHash::new(v).map_err(|e| {
                        at(format!(
                            "hash= is not an argon2 PHC string ({e}): make one with `redial web passwd {name}`"
                        ))
                    })?;
                    if !v.starts_with("$argon2") {
                        return Err(at(format!(
                            "hash= is not an argon2 hash: make one with `redial web passwd {name}`"
                        )));
                    }
                    hash = Some(v.to_string());
                }
                Some((key, _)) => {
                    return Err(at(crate::line::setting::unknown(
                        "$web_user",
                        key,
                        &["role", "hash"],
                    )))
                }
                None => {
                    return Err(at(format!(
                        "{:?} is not KEY=VALUE (role=, hash=)",
                        arg.text
                    )))
                }
            }
        }
        users.push(WebUser {
            name: name.to_string(),
            role: role.ok_or_else(|| at("needs role=view or role=operate".into()))?,
            hash: hash.ok_or_else(|| {
                at(format!(
                    "needs hash= (make one with `redial web passwd {name}`)"
                ))
            })?,
        });
    }
    Ok(users)
}

/// A new argon2id hash of `password` with a random salt (RustCrypto's default parameters:
/// 19 MiB, 2 passes, 1 lane, OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash` (checked when the CFG is read).
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The `$web_user` line for `name` with `role` and a new hash of `password`.
pub fn cfg_line(name: &str, role: Role, password: &str) -> Result<String, String> {
    valid_name(name)?;
    if password.chars().count() < 8 {
        return Err("the password must be at least 8 characters".into());
    }
    Ok(format!(
        "$web_user {name} role={role} hash={}",
        hash_password(password)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<WebUser>, String> {
        from_cfg(&Document::parse_str(text, "redial.cfg").unwrap())
    }

    #[test]
    fn a_printed_line_reads_back_and_checks_its_password_only() {
        let line = cfg_line("alice", Role::Operate, "correct horse").unwrap();
        let users = read(&format!("$request_dir spool 1\n{line}\n")).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(
            (users[0].name.as_str(), users[0].role),
            ("alice", Role::Operate)
        );
        assert!(users[0].hash.starts_with("$argon2id$"), "{}", users[0].hash);
        assert!(verify("correct horse", &users[0].hash));
        assert!(!verify("correct hors", &users[0].hash));
        assert!(!verify("correct horse", "not a hash"));
        assert!(
            !format!("{users:?}").contains("argon2"),
            "no hash in debug output"
        );
    }

    #[test]
    fn bad_lines_name_the_file_line_and_reason() {
        let h = cfg_line("x", Role::View, "12345678").unwrap();
        let hash = h.split_once("hash=").unwrap().1;
        let cases = [
            (
                format!("$web_user bob rol=view hash={hash}\n"),
                "line 1: $web_user unknown $web_user setting \"rol\" (did you mean role=?)",
            ),
            (
                format!("$web_user bob role=admin hash={hash}\n"),
                "line 1: $web_user role=\"admin\" is not a role (view or operate)",
            ),
            (
                "$web_user bob role=view hash=plaintext\n".into(),
                "hash= is not an argon2 PHC string",
            ),
            (
                "$web_user bob role=view\n".into(),
                "needs hash= (make one with `redial web passwd bob`)",
            ),
            (
                format!("$web_user bob hash={hash}\n"),
                "needs role=view or role=operate",
            ),
            (
                format!("\n$web_user ../bob role=view hash={hash}\n"),
                "line 2: $web_user \"../bob\": '/' is not allowed",
            ),
            (
                format!(
                    "$web_user a role=view hash={hash}\n$web_user a role=operate hash={hash}\n"
                ),
                "line 2: $web_user \"a\" is defined twice",
            ),
            ("$web_user\n".into(), "needs NAME"),
        ];
        for (text, want) in cases {
            let e = read(&text).unwrap_err();
            assert!(e.starts_with("redial.cfg line "), "{e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn short_passwords_and_bad_names_get_no_line() {
        assert!(cfg_line("alice", Role::View, "short")
            .unwrap_err()
            .contains("at least 8"));
        assert!(cfg_line("a b", Role::View, "long enough").is_err());
    }
}
