//! Which `$command` names each file kind knows: the commands redial acts on, and the CopiaFacts
//! commands it accepts quietly without acting on them (docs/commands.md lists both; the test
//! `tests/docs_sync.rs` keeps that page in step with the tables here).
//!
//! Anything else is unknown: a typo (`$fax_phnoe`) or a command of another program. Callers
//! decide what an unknown name costs (a CFG or USR file is refused; an FS file is logged, or
//! failed when the name is a near miss of a document or destination command); this module only
//! answers "known?" and "did you mean …?". Suggestions use `strsim`'s Damerau–Levenshtein
//! distance (already in the tree through clap), so a swapped pair (`phnoe`) counts as one edit.

use super::Document;
use rustc_hash::FxHashMap;
use std::fmt;

/// The kind of file a command is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The system configuration.
    Cfg,
    /// A user profile (`$fax_user`).
    Usr,
    /// A job file.
    Fs,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Cfg => 'C',
            FileKind::Usr => 'U',
            FileKind::Fs => 'F',
        }
    }

    /// `CFG`, `USR` or `FS`.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Cfg => "CFG",
            FileKind::Usr => "USR",
            FileKind::Fs => "FS",
        }
    }
}

/// The retry and calendar commands, read at every level (FS over USR over CFG).
const POLICY: &str = "CUF";

/// Commands redial acts on: name and the file kinds (`C`, `U`, `F`) it reads them from.
pub const ACTED: &[(&str, &str)] = &[
    // Job: destinations, documents, schedule (FS).
    ("fax_phone", "F"),
    ("voice_phone", "F"),
    ("sms_phone", "F"),
    ("email_address", "F"),
    ("alternate_phone", "F"),
    ("email_alt_address", "F"),
    ("alternate_cover", "F"),
    // E-mail: subject, body lines, body text file, sender.
    ("email_subject", "F"),
    ("email_text", "F"),
    ("email_body", "F"),
    ("email_from", "F"),
    // SMS: the text, the price list (drop-down billing), the price step prefix `P` wrote, and
    // the submitted message waiting for its delivery report (written by the daemon).
    ("sms_text", "F"),
    ("sms_price", "F"),
    ("sms_price_step", "F"),
    ("sms_pending", "F"),
    ("fax_user", "F"),
    ("fax_filename", "F"),
    ("fax_cover", "F"),
    // The header line on every page (FS over USR over CFG) and the recipient it names.
    ("fax_header", "CUF"),
    ("fax_sender", "CUF"),
    ("fax_station_id", "CUF"),
    ("fax_to_name", "F"),
    ("fax_to_company", "F"),
    ("fax_send_date", "F"),
    ("fax_send_time", "F"),
    ("fax_send_line", "F"),
    // Written by redial into the job (and read back).
    ("fax_next_date", "F"),
    ("fax_next_time", "F"),
    ("fax_status1", "F"),
    ("fax_status2", "F"),
    ("fax_tosend", "F"),
    ("attempt_record", "F"),
    ("fail_reason", "F"),
    ("fax_use_alternate", "F"),
    ("email_use_alternate", "F"),
    ("email_use_relay", "F"),
    ("fax_resolution", "F"),
    ("fax_speed", "F"),
    ("late_report", "F"),
    ("retry_note", "F"),
    ("new_cycle", "F"),
    ("fax_hold", "F"),
    ("alter_note", "F"),
    // Retry policy and calendar (every level).
    ("retry_delays", POLICY),
    ("email_retry_delays", POLICY),
    ("retry_max", POLICY),
    ("email_retry_max", POLICY),
    ("retry_linegroup", POLICY),
    ("retry_channelgroup", POLICY),
    ("retry_tosend", POLICY),
    ("callback", POLICY),
    ("timezone", POLICY),
    ("working_days", POLICY),
    ("holiday", POLICY),
    ("pause_window", POLICY),
    // System configuration.
    ("request_dir", "C"),
    ("retry_parms", "C"),
    ("param_group", "C"),
    ("line", "C"),
    ("line_group", "C"),
    ("sim_number", "C"),
    ("node", "C"),
    ("queue_disable", "C"),
    ("max_concurrent_calls", "C"),
    ("destination_breaker", "C"),
    ("node_lease", "C"),
    ("rescan_interval", "C"),
    ("spool_shared", "C"),
    ("shutdown_grace", "C"),
    ("document_root", "C"),
    ("path_map", "C"),
    ("dnc_file", "C"),
    ("max_calls_per_day", "C"),
    ("max_pages", "CF"),
    ("retry_wait", "C"),
    ("auto_retry", "C"),
    ("archive_after", "C"),
    ("delete_after", "C"),
    ("web", "C"),
    ("web_token", "C"),
    ("web_token_file", "C"),
    // The console's named operators (`$web_user NAME role=view|operate hash=PHC`).
    ("web_user", "C"),
    // SMS gateway delivery reports (`POST /dlr/…` on `redial web`): the shared secret, and how
    // long a submitted SMS waits for its final report.
    ("sms_dlr_secret", "C"),
    ("sms_dlr_secret_file", "C"),
    ("sms_report_timeout", "CF"),
];

/// CopiaFacts commands redial accepts without acting on them: name, file kinds, what it does
/// in CopiaFacts.
pub const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "fax_origin",
        "F",
        "origin of the request (CopiaFacts bookkeeping)",
    ),
    (
        "fax_csid",
        "UF",
        "calling station id sent in the fax protocol (redial: the line's `id=`)",
    ),
    (
        "delete_option",
        "F",
        "what to delete after the last attempt",
    ),
    ("convert_options", "F", "Document Converter options"),
    (
        "apply_gct",
        "F",
        "graphical customization template annotations",
    ),
    (
        "dns_file",
        "F",
        "user-specific do-not-send file (redial: `$dnc_file` in the CFG)",
    ),
    ("email_altbody", "F", "e-mail alternate body text file"),
    ("email_alttext", "F", "e-mail alternate body text line"),
    ("email_attach", "F", "e-mail attachment"),
    ("email_charset", "F", "e-mail character set"),
];

/// FS commands whose misspelling can send a job without its document, to nobody, or without
/// its user's lists: a near miss of one of them fails the job (outcome 33) instead of a warning.
pub const CRITICAL_FS: &[&str] = &[
    "fax_phone",
    "voice_phone",
    "sms_phone",
    "email_address",
    "alternate_phone",
    "email_alt_address",
    "fax_filename",
    "fax_cover",
    "alternate_cover",
    "fax_user",
];

/// Edits at most this far from a known name count as a near miss.
pub const NEAR: usize = 2;

/// How redial treats a command name in one kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// redial reads it.
    Acted,
    /// A CopiaFacts command redial accepts and ignores.
    Accepted,
    /// Not a command of this file kind.
    Unknown,
}

/// A command name redial knows (acted on or accepted in some file kind): its place in
/// [`ACTED`], then in [`ACCEPTED`]. A document notes each line's id once, when it is read, so
/// the passes over a file's commands compare small numbers instead of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameId(u16);

/// How many [`NameId`]s there are.
pub const NAME_COUNT: usize = ACTED.len() + ACCEPTED.len();

impl NameId {
    /// The id of `name` (lower case, no `$`), evaluated at compile time where it is used in a
    /// `const`: a name missing from the tables stops the build.
    pub const fn of(name: &str) -> NameId {
        let mut i = 0;
        while i < ACTED.len() {
            if const_eq(ACTED[i].0, name) {
                return NameId(i as u16);
            }
            i += 1;
        }
        let mut j = 0;
        while j < ACCEPTED.len() {
            if const_eq(ACCEPTED[j].0, name) {
                return NameId((ACTED.len() + j) as u16);
            }
            j += 1;
        }
        panic!("not a command name in the registry");
    }

    /// Its place, `0..NAME_COUNT`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id at `index` (below [`NAME_COUNT`]).
    pub(crate) fn from_index(index: u16) -> NameId {
        debug_assert!(usize::from(index) < NAME_COUNT);
        NameId(index)
    }

    /// The name.
    pub fn name(self) -> &'static str {
        let i = self.index();
        match ACTED.get(i) {
            Some((n, _)) => n,
            None => ACCEPTED[i - ACTED.len()].0,
        }
    }

    /// Whether it is known in a `kind` file, and how.
    pub fn known(self, kind: FileKind) -> Known {
        let i = self.index();
        let letter = kind.letter();
        let (acted, accepted) = match ACTED.get(i) {
            Some((_, k)) => (*k, ""),
            None => ("", ACCEPTED[i - ACTED.len()].1),
        };
        if acted.contains(letter) {
            Known::Acted
        } else if accepted.contains(letter) {
            Known::Accepted
        } else {
            Known::Unknown
        }
    }
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Slots in [`id_of`]'s table: a power of two, more than twice [`NAME_COUNT`].
const ID_SLOTS: usize = 256;
const _: () = assert!(ID_SLOTS >= 2 * NAME_COUNT && ID_SLOTS.is_power_of_two());

/// A hash of a command name that ignores ASCII case: name bytes are letters, digits, `_` and
/// `-`, and `| 0x20` lower-cases the letters and leaves the others apart. Names of eight
/// bytes or more are hashed by their first and last eight, in two loads.
fn name_hash(name: &[u8]) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    let h = if n >= 8 {
        let head = u64::from_le_bytes(name[..8].try_into().expect("8 bytes")) | FOLD;
        let tail = u64::from_le_bytes(name[n - 8..].try_into().expect("8 bytes")) | FOLD;
        (head ^ tail.rotate_left(29)).wrapping_mul(K)
    } else {
        name.iter()
            .fold(0u64, |h, &b| (h << 8) | u64::from(b | 0x20))
            .wrapping_mul(K)
    };
    ((h ^ n as u64).wrapping_mul(K) >> 56) as usize
}

/// The id of a command name as written (any case, no `$`); `None` for a name redial does not
/// know in any file kind.
pub fn id_of(name: &[u8]) -> Option<NameId> {
    // Asked once per command line when a file is read: an open-addressing table of ids plus
    // one (0: empty), probed from the name's hash.
    static TABLE: std::sync::LazyLock<[u16; ID_SLOTS]> = std::sync::LazyLock::new(|| {
        let mut t = [0u16; ID_SLOTS];
        for i in 0..NAME_COUNT {
            let id = NameId(i as u16);
            // The first of a name listed twice keeps it.
            if id_in(&t, id.name().as_bytes()).is_some() {
                continue;
            }
            let mut slot = name_hash(id.name().as_bytes());
            while t[slot] != 0 {
                slot = (slot + 1) % ID_SLOTS;
            }
            t[slot] = i as u16 + 1;
        }
        t
    });
    id_in(&TABLE, name)
}

fn id_in(table: &[u16; ID_SLOTS], name: &[u8]) -> Option<NameId> {
    let mut slot = name_hash(name);
    loop {
        let id = NameId(table[slot].checked_sub(1)?);
        let known = id.name().as_bytes();
        // Names are mostly written in lower case, as listed: compared whole first.
        if known == name || (known.len() == name.len() && known.eq_ignore_ascii_case(name)) {
            return Some(id);
        }
        slot = (slot + 1) % ID_SLOTS;
    }
}

/// Whether `name` (lower case, no `$`) is known in a `kind` file.
pub fn known(kind: FileKind, name: &str) -> Known {
    // Looked up once per command line: a file of attempt records asks for every line.
    static BY_NAME: std::sync::LazyLock<FxHashMap<&'static str, (&'static str, &'static str)>> =
        std::sync::LazyLock::new(|| {
            let mut m: FxHashMap<&str, (&str, &str)> = FxHashMap::default();
            for (n, k) in ACTED {
                m.entry(n).or_default().0 = k;
            }
            for (n, k, _) in ACCEPTED {
                m.entry(n).or_default().1 = k;
            }
            m
        });
    let letter = kind.letter();
    match BY_NAME.get(name) {
        Some((acted, _)) if acted.contains(letter) => Known::Acted,
        Some((_, accepted)) if accepted.contains(letter) => Known::Accepted,
        _ => Known::Unknown,
    }
}

/// Every name known in a `kind` file.
pub fn names(kind: FileKind) -> impl Iterator<Item = &'static str> {
    let l = kind.letter();
    ACTED
        .iter()
        .filter(move |(_, k)| k.contains(l))
        .map(|(n, _)| *n)
        .chain(
            ACCEPTED
                .iter()
                .filter(move |(_, k, _)| k.contains(l))
                .map(|(n, _, _)| *n),
        )
}

/// The closest known name and its distance, when one is within a third of the name's length
/// (at least 1, at most 3 edits).
pub fn suggest(kind: FileKind, name: &str) -> Option<(&'static str, usize)> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    names(kind)
        .map(|n| (n, strsim::damerau_levenshtein(name, n)))
        .filter(|(_, d)| *d <= limit)
        .min_by_key(|(n, d)| (*d, *n))
}

/// A command a file kind does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The name as read (lower case).
    pub name: String,
    /// What it was probably meant to be, with the distance.
    pub suggestion: Option<(&'static str, usize)>,
    /// The file kind.
    pub kind: FileKind,
}

impl Unknown {
    /// Whether this FS typo is within [`NEAR`] edits of a document or destination command.
    pub fn is_critical(&self) -> bool {
        self.kind == FileKind::Fs
            && self
                .suggestion
                .is_some_and(|(n, d)| d <= NEAR && CRITICAL_FS.contains(&n))
    }

    /// What the daemon does about it: fails the job ([`Unknown::is_critical`]) or ignores
    /// the command.
    pub fn consequence(&self) -> &'static str {
        if self.is_critical() {
            "the daemon fails the job (outcome 33) without dialling"
        } else {
            "the command is ignored"
        }
    }

    /// `unknown command $x` and the suggestion, without the location.
    pub fn reason(&self) -> String {
        match self.suggestion {
            Some((s, _)) => format!(
                "unknown {} command ${} (did you mean ${s}?)",
                self.kind.label(),
                self.name
            ),
            None => format!(
                "unknown {} command ${} (see docs/commands.md)",
                self.kind.label(),
                self.name
            ),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason())
    }
}

/// One command, by name (lower case) and line, checked against a file kind.
fn check_name(kind: FileKind, file: &str, name: &str, line: usize) -> Option<Unknown> {
    (known(kind, name) == Known::Unknown).then(|| Unknown {
        file: file.to_string(),
        line,
        name: name.to_string(),
        suggestion: suggest(kind, name),
        kind,
    })
}

/// Every command of `doc` that a `kind` file does not know, in file order (names only: no
/// argument is read; a known name is judged by its id).
pub fn unknown_commands(doc: &Document, kind: FileKind) -> Vec<Unknown> {
    doc.ids()
        .filter(|(id, _)| id.is_none_or(|id| id.known(kind) == Known::Unknown))
        .filter_map(|(_, line)| {
            let name = doc.name_at(line)?;
            check_name(kind, doc.origin(), &name, line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each known name has one id that gives the name back and judges it in every file kind
    /// as the name itself is judged; ids are found whatever the case; other names have none.
    #[test]
    fn ids_judge_as_names_do() {
        let all: Vec<&str> = ACTED
            .iter()
            .map(|(n, _)| *n)
            .chain(ACCEPTED.iter().map(|(n, _, _)| *n))
            .collect();
        assert_eq!(all.len(), NAME_COUNT);
        for n in &all {
            let id = id_of(n.as_bytes()).unwrap();
            assert_eq!(id.name(), *n);
            assert_eq!(NameId::of(n), id);
            assert_eq!(id_of(n.to_ascii_uppercase().as_bytes()), Some(id));
            for kind in [FileKind::Cfg, FileKind::Usr, FileKind::Fs] {
                assert_eq!(id.known(kind), known(kind, n), "{n} in {kind:?}");
            }
        }
        for other in ["fax_phnoe", "", "x", &"a".repeat(60)] {
            assert_eq!(id_of(other.as_bytes()), None, "{other}");
        }
        // Near misses of every name (a byte changed, added or dropped, `_` for `-` and back,
        // DEL for `_`, which the hash folds alike) are unknown unless they are names too.
        for n in &all {
            let b = n.as_bytes();
            let mut variants = vec![b[..b.len() - 1].to_vec(), [b, b"x"].concat()];
            for i in 0..b.len() {
                for c in [b'_', b'-', b'x', b'0', 0x7f, b[i] ^ 0x20] {
                    let mut v = b.to_vec();
                    v[i] = c;
                    variants.push(v);
                }
            }
            for v in variants {
                let want = all
                    .iter()
                    .position(|m| m.as_bytes().eq_ignore_ascii_case(&v))
                    .map(|i| NameId(i as u16));
                assert_eq!(id_of(&v), want, "{:?}", String::from_utf8_lossy(&v));
            }
        }
    }

    fn unknown(text: &str, kind: FileKind) -> Vec<String> {
        let d = Document::parse_str(text, "f").unwrap();
        unknown_commands(&d, kind)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            unknown("$fax_phnoe 1\n$fax_filname a.tif\n", FileKind::Fs),
            [
                "f:1: unknown FS command $fax_phnoe (did you mean $fax_phone?)",
                "f:2: unknown FS command $fax_filname (did you mean $fax_filename?)"
            ]
        );
        assert_eq!(
            unknown("; c\n$retry_delay B \"1\"\n", FileKind::Cfg),
            ["f:2: unknown CFG command $retry_delay (did you mean $retry_delays?)"]
        );
        assert_eq!(
            unknown("$frobnicate 1\n", FileKind::Usr),
            ["f:1: unknown USR command $frobnicate (see docs/commands.md)"]
        );
    }

    #[test]
    fn kinds_and_accepted_commands() {
        assert_eq!(known(FileKind::Fs, "fax_origin"), Known::Accepted);
        assert_eq!(known(FileKind::Cfg, "fax_origin"), Known::Unknown);
        assert_eq!(known(FileKind::Usr, "retry_delays"), Known::Acted);
        assert_eq!(known(FileKind::Fs, "line"), Known::Unknown);
        assert!(unknown("$FAX_PHONE 1\n$fax_header x\n$retry_max 2\n", FileKind::Fs).is_empty());
    }

    #[test]
    fn near_misses_of_documents_and_destinations_are_critical() {
        let d = Document::parse_str(
            "$fax_filname a\n$fax_phnoe 1\n$retry_mx 3\n$fax_usr X.USR\n$zzz_unrelated 1\n",
            "f",
        )
        .unwrap();
        let u = unknown_commands(&d, FileKind::Fs);
        let crit: Vec<bool> = u.iter().map(Unknown::is_critical).collect();
        assert_eq!(crit, [true, true, false, true, false]);
        assert_eq!(u[2].suggestion.map(|s| s.0), Some("retry_max"));
    }
}
