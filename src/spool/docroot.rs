//! Document roots: the directories a job's documents (`$fax_filename`, `$fax_cover`) may come
//! from, and turning a document name from a job into the canonical path of a file under one of
//! them.
//!
//! Owns the rule: a name is read with backslashes as `/`, a relative name is relative to the
//! daemon's base directory, then the path is canonicalized (every symbolic link and `..`
//! resolved by the file system) and must lie under the canonical path of one of the roots.
//! Roots are canonicalized once, when they are built (at start-up and on SIGHUP, with the
//! settings); a root that does not exist yet is tried again on every check.
//!
//! This module never opens or reads a document, never moves or writes a file, never logs, and
//! never decides an outcome code or a retry: it answers "which file is this, and may it be sent"
//! and says exactly why not. The answer holds when it is given: whoever may write inside a root
//! can still swap a file for a link afterwards, so roots must not be writable by those who must
//! not read outside them.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// One allowed directory.
#[derive(Debug, Clone)]
struct Root {
    /// As configured: absolute, `.` and `..` removed lexically.
    path: PathBuf,
    /// Its canonical path, when it existed when the roots were built.
    canonical: Option<PathBuf>,
}

impl Root {
    fn new(path: PathBuf) -> Root {
        let canonical = path.canonicalize().ok();
        Root { path, canonical }
    }

    /// The canonical path now (cached, or computed again for a root that did not exist).
    fn canonical(&self) -> Option<PathBuf> {
        self.canonical
            .clone()
            .or_else(|| self.path.canonicalize().ok())
    }
}

/// The allowed roots, with the base directory that relative names are resolved against.
#[derive(Debug, Clone)]
pub struct DocRoots {
    base: PathBuf,
    roots: Vec<Root>,
}

/// Why a document cannot be sent. Its `Display` continues a sentence that starts with the
/// document's name ("document \"x.tif\" …").
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The path (as resolved, not canonical: it could not be) does not lead to a file.
    #[error("is missing ({}: {source})", path.display())]
    Missing {
        /// The name resolved against the base directory, `..` removed lexically.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// It resolves, inside the roots, to something that is not a regular file (a directory, a
    /// FIFO, a device).
    #[error("resolves to {}, which is not a regular file", path.display())]
    NotAFile {
        /// The canonical path.
        path: PathBuf,
    },
    /// It resolves outside every root.
    #[error("resolves to {} outside the document roots ({roots})", resolved.display())]
    Outside {
        /// The canonical path (lexically resolved when it does not exist).
        resolved: PathBuf,
        /// The roots, as configured.
        roots: RootList,
    },
}

/// The roots as they are named in an error: comma separated.
#[derive(Debug, Clone)]
pub struct RootList(pub Vec<PathBuf>);

impl fmt::Display for RootList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", r.display())?;
        }
        Ok(())
    }
}

/// `p` with `.` dropped and `..` taken off lexically (never above `/`).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl DocRoots {
    /// Roots `roots` (relative ones relative to `base`). `base` should be absolute; the daemon
    /// passes an absolute one.
    pub fn new(base: &Path, roots: impl IntoIterator<Item = PathBuf>) -> DocRoots {
        let base = lexical(base);
        let roots = roots
            .into_iter()
            .map(|r| Root::new(lexical(&base.join(r))))
            .collect();
        DocRoots { base, roots }
    }

    /// The defaults when the CFG names no `$document_root`: the base directory and the request
    /// directory `request_dir` (which holds `docs/` and every folder a job lives in). A default
    /// that is the file system's root `/` is left out: it would allow every file.
    pub fn defaults(base: &Path, request_dir: &Path) -> DocRoots {
        let mut d = DocRoots::new(base, [PathBuf::from("."), request_dir.to_path_buf()]);
        d.roots
            .retain(|r| r.path != Path::new("/") && r.canonical.as_deref() != Some(Path::new("/")));
        let mut seen = Vec::new();
        d.roots.retain(|r| {
            let new = !seen.contains(&r.path);
            seen.push(r.path.clone());
            new
        });
        d
    }

    /// The roots, as configured (absolute).
    pub fn roots(&self) -> impl Iterator<Item = &Path> {
        self.roots.iter().map(|r| r.path.as_path())
    }

    /// The path a job's document name stands for, before any link is followed: backslashes
    /// read as `/`, a relative name joined to the base directory.
    pub fn resolve(&self, name: &str) -> PathBuf {
        let path = PathBuf::from(name.replace('\\', "/"));
        if path.is_relative() {
            self.base.join(path)
        } else {
            path
        }
    }

    /// The canonical path of the regular file `name` stands for, when it lies under a root.
    ///
    /// A name outside every root is reported as outside whether or not the file exists, so a
    /// job cannot learn which files exist elsewhere.
    pub fn confine(&self, name: &str) -> Result<PathBuf, DocError> {
        let path = self.resolve(name);
        let roots: Vec<PathBuf> = self.roots.iter().filter_map(Root::canonical).collect();
        let canonical = match path.canonicalize() {
            Ok(c) => c,
            Err(source) => {
                let resolved = lexical(&path);
                let inside = self
                    .roots
                    .iter()
                    .map(|r| &r.path)
                    .chain(&roots)
                    .any(|r| resolved.starts_with(r));
                return Err(if inside {
                    DocError::Missing {
                        path: resolved,
                        source,
                    }
                } else {
                    DocError::Outside {
                        resolved,
                        roots: self.root_list(),
                    }
                });
            }
        };
        if !roots.iter().any(|r| canonical.starts_with(r)) {
            return Err(DocError::Outside {
                resolved: canonical,
                roots: self.root_list(),
            });
        }
        if !canonical.is_file() {
            return Err(DocError::NotAFile { path: canonical });
        }
        Ok(canonical)
    }

    fn root_list(&self) -> RootList {
        RootList(self.roots().map(Path::to_path_buf).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// base/ with docs/a.txt, base/spool/docs/b.txt, and outside/secret.txt beside base.
    fn tree() -> (tempfile::TempDir, PathBuf, DocRoots) {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().canonicalize().unwrap();
        let base = top.join("base");
        std::fs::create_dir_all(base.join("docs")).unwrap();
        std::fs::create_dir_all(base.join("spool/docs")).unwrap();
        std::fs::create_dir_all(top.join("outside")).unwrap();
        std::fs::write(base.join("docs/a.txt"), "a").unwrap();
        std::fs::write(base.join("spool/docs/b.txt"), "b").unwrap();
        std::fs::write(top.join("outside/secret.txt"), "s").unwrap();
        let roots = DocRoots::new(&base, [PathBuf::from("docs"), PathBuf::from("spool/docs")]);
        (t, base, roots)
    }

    #[test]
    fn relative_names_resolve_against_the_base() {
        let (_t, base, r) = tree();
        assert_eq!(r.confine("docs/a.txt").unwrap(), base.join("docs/a.txt"));
        assert_eq!(
            r.confine("spool\\docs\\b.txt").unwrap(),
            base.join("spool/docs/b.txt")
        );
        assert_eq!(r.confine("./docs/a.txt").unwrap(), base.join("docs/a.txt"));
    }

    #[test]
    fn absolute_names_inside_and_outside() {
        let (t, base, r) = tree();
        let good = base.join("docs/a.txt");
        assert_eq!(r.confine(good.to_str().unwrap()).unwrap(), good);
        match r.confine("/etc/passwd") {
            Err(DocError::Outside { resolved, roots }) => {
                assert_eq!(resolved, Path::new("/etc/passwd"));
                assert_eq!(roots.0, [base.join("docs"), base.join("spool/docs")]);
            }
            other => panic!("{other:?}"),
        }
        let secret = t.path().join("outside/secret.txt");
        assert!(matches!(
            r.confine(secret.to_str().unwrap()),
            Err(DocError::Outside { .. })
        ));
        // Roots match whole components: docs does not admit docs2.
        std::fs::create_dir(base.join("docs2")).unwrap();
        std::fs::write(base.join("docs2/x.txt"), "x").unwrap();
        assert!(matches!(
            r.confine("docs2/x.txt"),
            Err(DocError::Outside { .. })
        ));
    }

    #[test]
    fn dot_dot_is_resolved_before_the_check() {
        let (t, base, r) = tree();
        let e = r.confine("docs/../../outside/secret.txt").unwrap_err();
        let top = t.path().canonicalize().unwrap();
        match &e {
            DocError::Outside { resolved, .. } => {
                assert_eq!(resolved, &top.join("outside/secret.txt"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.to_string(),
            format!(
                "resolves to {} outside the document roots ({}, {})",
                top.join("outside/secret.txt").display(),
                base.join("docs").display(),
                base.join("spool/docs").display()
            )
        );
        // Climbing far above / ends at /.
        assert!(matches!(
            r.confine("../../../../../../../../etc/passwd"),
            Err(DocError::Outside { resolved, .. }) if resolved == Path::new("/etc/passwd")
        ));
        // Out and back in is fine.
        assert_eq!(
            r.confine("spool/docs/../../docs/a.txt").unwrap(),
            base.join("docs/a.txt")
        );
    }

    #[test]
    fn a_link_from_inside_to_outside_is_refused() {
        let (t, base, r) = tree();
        let secret = t.path().canonicalize().unwrap().join("outside/secret.txt");
        symlink(&secret, base.join("docs/link.txt")).unwrap();
        symlink("/etc", base.join("docs/etc")).unwrap();
        match r.confine("docs/link.txt") {
            Err(DocError::Outside { resolved, .. }) => assert_eq!(resolved, secret),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.confine("docs/etc/passwd"),
            Err(DocError::Outside { resolved, .. }) if resolved == Path::new("/etc/passwd")
        ));
    }

    #[test]
    fn a_link_from_inside_to_inside_gives_its_target() {
        let (_t, base, r) = tree();
        symlink("../spool/docs/b.txt", base.join("docs/b-link.txt")).unwrap();
        assert_eq!(
            r.confine("docs/b-link.txt").unwrap(),
            base.join("spool/docs/b.txt")
        );
        // A root reached through a link is the same root.
        symlink(base.join("spool/docs"), base.join("docs/sub")).unwrap();
        assert_eq!(
            r.confine("docs/sub/b.txt").unwrap(),
            base.join("spool/docs/b.txt")
        );
    }

    #[test]
    fn missing_inside_and_outside() {
        let (t, base, r) = tree();
        match r.confine("docs/nope.tif") {
            Err(e @ DocError::Missing { .. }) => {
                let DocError::Missing { path, source } = &e else {
                    unreachable!()
                };
                assert_eq!(path, &base.join("docs/nope.tif"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                assert!(e.to_string().starts_with("is missing ("), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // A missing file outside says outside: existence elsewhere is not revealed.
        assert!(matches!(
            r.confine("/etc/no-such-file"),
            Err(DocError::Outside { .. })
        ));
        let gone = t.path().join("outside/gone.txt");
        assert!(matches!(
            r.confine(gone.to_str().unwrap()),
            Err(DocError::Outside { .. })
        ));
        // A dangling link inside is missing.
        symlink(base.join("docs/never"), base.join("docs/dangling")).unwrap();
        assert!(matches!(
            r.confine("docs/dangling"),
            Err(DocError::Missing { .. })
        ));
    }

    #[test]
    fn a_directory_is_not_a_document() {
        let (_t, base, r) = tree();
        assert!(matches!(
            r.confine("spool/docs"),
            Err(DocError::NotAFile { path }) if path == base.join("spool/docs")
        ));
        assert!(matches!(r.confine(""), Err(DocError::Outside { .. })));
    }

    #[test]
    fn defaults_are_base_and_request_dir_but_never_slash() {
        let (t, base, _) = tree();
        let d = DocRoots::defaults(&base, Path::new("spool"));
        let roots: Vec<&Path> = d.roots().collect();
        assert_eq!(roots, [base.as_path(), &base.join("spool")]);
        assert!(d.confine("docs/a.txt").is_ok());
        assert!(d.confine("spool/docs/b.txt").is_ok());
        assert!(matches!(
            d.confine("../outside/secret.txt"),
            Err(DocError::Outside { .. })
        ));
        // A request directory elsewhere is a root of its own.
        let other = t.path().join("outside");
        let d = DocRoots::defaults(&base, &other);
        assert!(d.confine("../outside/secret.txt").is_ok());
        // A base of / is not a root: it would allow everything.
        let d = DocRoots::defaults(Path::new("/"), &base.join("spool"));
        let roots: Vec<&Path> = d.roots().collect();
        assert_eq!(roots, [base.join("spool").as_path()]);
        assert!(matches!(
            d.confine("etc/passwd"),
            Err(DocError::Outside { .. })
        ));
        // The same directory twice is listed once.
        let d = DocRoots::defaults(&base, Path::new("."));
        assert_eq!(d.roots().count(), 1);
    }

    #[test]
    fn a_root_created_later_counts() {
        let (_t, base, _) = tree();
        let r = DocRoots::new(&base, [PathBuf::from("later")]);
        assert!(matches!(
            r.confine("later/x.txt"),
            Err(DocError::Missing { .. })
        ));
        std::fs::create_dir(base.join("later")).unwrap();
        std::fs::write(base.join("later/x.txt"), "x").unwrap();
        assert_eq!(r.confine("later/x.txt").unwrap(), base.join("later/x.txt"));
    }
}
