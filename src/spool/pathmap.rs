//! Path mapping: CopiaFacts job files name documents and user profiles as the Windows machines
//! that wrote them see them (`C:\FAX\DOCS\order.tif`, `\\FFSERVER\FAXSHARE\USERS\JOHN.USR`).
//! `$path_map PREFIX DIR` in the CFG maps such a prefix to a local directory.
//!
//! Owns the rule: backslashes read as `/`; a prefix matches case-insensitively and only at a
//! path component boundary; the longest matching prefix wins; the rest of the path is kept as
//! written. A path no prefix matches is only given forward slashes. It never touches files.

/// The CFG's `$path_map` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMap {
    /// (prefix normalized: forward slashes, lower case, no trailing slash; local directory)
    entries: Vec<(String, String)>,
}

fn normalize(p: &str) -> String {
    p.replace('\\', "/")
}

impl PathMap {
    /// Adds a mapping from `prefix` (as jobs write it) to `local`.
    pub fn add(&mut self, prefix: &str, local: &str) {
        let key = normalize(prefix).trim_end_matches('/').to_ascii_lowercase();
        self.entries
            .push((key, local.trim_end_matches('/').to_string()));
        // Longest first, so `C:\FAX\DOCS` wins over `C:\FAX`.
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
    }

    /// Whether no mapping is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The local form of a path a job names.
    pub fn map(&self, path: &str) -> String {
        let p = normalize(path);
        let lower = p.to_ascii_lowercase();
        for (prefix, local) in &self.entries {
            if lower.starts_with(prefix.as_str())
                && (lower.len() == prefix.len() || lower.as_bytes()[prefix.len()] == b'/')
            {
                return format!("{local}{}", &p[prefix.len()..]);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_prefixes_map_case_insensitively_at_component_boundaries() {
        let mut m = PathMap::default();
        m.add("C:\\FAX", "/srv/fax");
        m.add("c:\\fax\\DOCS\\", "/srv/docs");
        m.add("\\\\FFSERVER\\FaxShare", "/mnt/faxshare");
        assert_eq!(m.map("C:\\FAX\\DOCS\\Order77.TIF"), "/srv/docs/Order77.TIF");
        assert_eq!(m.map("c:\\Fax\\cover.txt"), "/srv/fax/cover.txt");
        assert_eq!(
            m.map("\\\\ffserver\\FAXSHARE\\USERS\\JOHN.USR"),
            "/mnt/faxshare/USERS/JOHN.USR"
        );
        // Not at a boundary, or not mapped: only the slashes change.
        assert_eq!(m.map("C:\\FAXES\\x.tif"), "C:/FAXES/x.tif");
        assert_eq!(m.map("docs\\a.txt"), "docs/a.txt");
        assert_eq!(m.map("/abs/a.txt"), "/abs/a.txt");
    }
}
