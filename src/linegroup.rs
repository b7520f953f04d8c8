//! Line groups: `$line_group name rangespec[,rangespec…]` and the `~0` retry exclusion.
//!
//! Owns the rangespec grammar (`7`, `8-12`, `~3`, `~1-2`, `*`, legacy `10000+n` = lines below n
//! and `20000+n` = lines above n) and membership: all inclusions apply before exclusions. It
//! knows nothing about modems; the line registry gives it the lines that exist.

/// One part of a rangespec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Range(u32, u32),
    Below(u32),
    Above(u32),
}

/// A parsed rangespec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineSet {
    include: Vec<Part>,
    exclude: Vec<Part>,
    /// A `~0` part: "not the line just used", resolved by the engine after a failure.
    pub excludes_last: bool,
}

fn part(s: &str) -> Result<Part, String> {
    if s == "*" {
        return Ok(Part::All);
    }
    let num = |t: &str| {
        t.parse::<u32>()
            .map_err(|_| format!("{t:?} is not a line number"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("range {s:?} runs backwards"));
            }
            Ok(Part::Range(a, b))
        }
        None => {
            let n = num(s)?;
            Ok(match n {
                10001..=19999 => Part::Below(n - 10000),
                20001..=29999 => Part::Above(n - 20000),
                _ => Part::Range(n, n),
            })
        }
    }
}

impl LineSet {
    /// Parses `1-4,~3,*`.
    pub fn parse(spec: &str) -> Result<LineSet, String> {
        let mut set = LineSet::default();
        for raw in spec.split(',').map(str::trim) {
            if raw.is_empty() {
                return Err(format!("empty part in line range {spec:?}"));
            }
            if let Some(ex) = raw.strip_prefix('~') {
                if ex == "0" {
                    set.excludes_last = true;
                } else {
                    set.exclude.push(part(ex)?);
                }
            } else {
                set.include.push(part(raw)?);
            }
        }
        Ok(set)
    }

    fn matches(p: Part, line: u32) -> bool {
        match p {
            Part::All => true,
            Part::Range(a, b) => (a..=b).contains(&line),
            Part::Below(n) => line < n,
            Part::Above(n) => line > n,
        }
    }

    /// Whether `line` belongs to the set (`~0` is not resolved here).
    pub fn contains(&self, line: u32) -> bool {
        let included = if self.include.is_empty() {
            true
        } else {
            self.include.iter().any(|&p| Self::matches(p, line))
        };
        included && !self.exclude.iter().any(|&p| Self::matches(p, line))
    }
}

/// Checks a group reference such as `$fax_send_line`'s or `$retry_linegroup`'s: parts that are
/// group names (`fax`, `*`), line ranges, or exclusions (`~3`, `~0`).
pub fn validate_group_ref(spec: &str) -> Result<(), String> {
    for raw in spec.split(',').map(str::trim) {
        let is_name = raw.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !is_name {
            LineSet::parse(raw).map_err(|e| format!("line group {spec:?}: {e}"))?;
        }
    }
    Ok(())
}

/// Adds "not line `failed`" to a group spec after a failure, as `$retry_linegroup G,~0` asks.
///
/// `retry_spec` is the configured retry group (it contains `~0`); `current` is the job's
/// `$fax_send_line` group. Exclusions already added for earlier failures are kept while the job
/// stays on the same base group, newest last, capped at `max_exclusions` (oldest dropped).
pub fn exclude_failed(
    retry_spec: &str,
    current: Option<&str>,
    failed: Option<u32>,
    max_exclusions: Option<usize>,
) -> String {
    let base: Vec<&str> = retry_spec
        .split(',')
        .map(str::trim)
        .filter(|p| *p != "~0")
        .collect();
    let base_text = base.join(",");
    let mut excluded: Vec<u32> = Vec::new();
    if let Some(cur) = current {
        let parts: Vec<&str> = cur.split(',').map(str::trim).collect();
        let (head, tail) = parts.split_at(base.len().min(parts.len()));
        if head == base.as_slice() {
            for p in tail {
                match p.strip_prefix('~').and_then(|n| n.parse::<u32>().ok()) {
                    Some(n) => excluded.push(n),
                    None => {
                        excluded.clear();
                        break;
                    }
                }
            }
        }
    }
    if let Some(line) = failed {
        excluded.retain(|&n| n != line);
        excluded.push(line);
    }
    if let Some(cap) = max_exclusions {
        let cap = cap.max(1);
        if excluded.len() > cap {
            excluded.drain(..excluded.len() - cap);
        }
    }
    let mut out = if base_text.is_empty() {
        "*".to_string()
    } else {
        base_text
    };
    for n in excluded {
        out.push_str(&format!(",~{n}"));
    }
    out
}

/// Which lines exist on any node, and what every group name selects there: the CFG's `$line`s
/// (with their `group=`), `$line_group`s and `$node NAME lines=…` (a node's name selects its
/// lines; a node without `lines=` runs every line). It answers "can any node ever dial a job
/// of this `$fax_send_line`?", which one node's dispatcher cannot (it knows only its lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    lines: Vec<u32>,
    groups: Vec<(String, LineSet)>,
    /// The lines that take e-mail (`smtp` and `sim`); the others dial and take no e-mail.
    mail: Vec<u32>,
    /// The `smtp` lines (they take nothing but e-mail).
    mail_only: Vec<u32>,
    /// The `sms_http` and GSM (`type=sms`) lines (they take nothing but SMS).
    sms_only: Vec<u32>,
    /// The lines that take SMS (`sms_http`, GSM and `sim`).
    sms: Vec<u32>,
}

impl LineMap {
    /// The lines and groups of a CFG (a `$line` that does not parse is left out: loading the
    /// lines reports it).
    pub fn from_cfg(cfg: &crate::command::Document) -> LineMap {
        let defs = crate::line::line_defs(cfg).unwrap_or_default();
        let kind = |k: &str| -> Vec<u32> {
            defs.iter()
                .filter(|d| d.kind == k)
                .map(|d| d.number)
                .collect()
        };
        let mail_only = kind("smtp");
        let gsm: Vec<u32> = defs
            .iter()
            .filter(|d| crate::line::gsm::is_gsm(d))
            .map(|d| d.number)
            .collect();
        let mut mail = kind("sim");
        mail.extend(&mail_only);
        let mut m = LineMap {
            lines: defs.iter().map(|d| d.number).collect(),
            groups: Vec::new(),
            mail,
            mail_only,
            sms_only: [kind("sms_http"), gsm.clone()].concat(),
            sms: [kind("sms_http"), gsm, kind("sim")].concat(),
        };
        for d in &defs {
            for name in d.param("group").into_iter().flat_map(|g| g.split(',')) {
                if let Ok(set) = LineSet::parse(&d.number.to_string()) {
                    m.groups.push((name.trim().to_ascii_lowercase(), set));
                }
            }
        }
        for c in cfg.all("line_group") {
            if let (Some(n), Some(Ok(set))) = (c.arg(0), c.arg(1).map(LineSet::parse)) {
                m.groups.push((n.to_ascii_lowercase(), set));
            }
        }
        for c in cfg.all("node") {
            let Some(name) = c.arg(0) else { continue };
            let lines = c.args[1..]
                .iter()
                .find_map(|a| a.text.strip_prefix("lines="))
                .and_then(|v| LineSet::parse(v).ok())
                .unwrap_or_else(|| LineSet::parse("*").expect("valid"));
            m.groups.push((name.to_ascii_lowercase(), lines));
        }
        m
    }

    /// Adds a node that runs without a `$node` definition (every line).
    pub fn add_node(&mut self, name: &str) {
        let lower = name.to_ascii_lowercase();
        if !self.groups.iter().any(|(n, _)| *n == lower) {
            self.groups
                .push((lower, LineSet::parse("*").expect("valid")));
        }
    }

    /// The configured lines a group reference (`fax`, `1-4,~3`, `*`) selects on any node: lines
    /// that dial, or with [`crate::dispatch::EMAIL_GROUP`] in front, lines that take e-mail.
    pub fn resolve(&self, spec: &str) -> Vec<u32> {
        let (spec, email) = match spec.strip_prefix(crate::dispatch::EMAIL_GROUP) {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let (spec, sms) = match spec.strip_prefix(crate::dispatch::SMS_GROUP) {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let fits = |l: u32| {
            if email {
                self.mail.contains(&l)
            } else if sms {
                self.sms.contains(&l)
            } else {
                !self.mail_only.contains(&l) && !self.sms_only.contains(&l)
            }
        };
        let mut include: Vec<&LineSet> = Vec::new();
        let mut owned: Vec<LineSet> = Vec::new();
        let mut exclude: Vec<LineSet> = Vec::new();
        for raw in spec.split(',').map(str::trim) {
            if let Some(ex) = raw.strip_prefix('~') {
                if let Some(s) = LineSet::parse(ex).ok().filter(|_| ex != "0") {
                    exclude.push(s);
                }
                continue;
            }
            let lower = raw.to_ascii_lowercase();
            let named: Vec<&LineSet> = self
                .groups
                .iter()
                .filter(|(n, _)| *n == lower)
                .map(|(_, s)| s)
                .collect();
            if !named.is_empty() {
                include.extend(named);
            } else if let Ok(s) = LineSet::parse(raw) {
                owned.push(s);
            }
        }
        self.lines
            .iter()
            .copied()
            .filter(|&l| {
                fits(l)
                    && (include.iter().any(|s| s.contains(l))
                        || owned.iter().any(|s| s.contains(l)))
                    && !exclude.iter().any(|s| s.contains(l))
            })
            .collect()
    }

    /// Why no node can ever dial a job of group `spec`, or `None` when some line serves it.
    pub fn unserved(&self, spec: &str) -> Option<String> {
        if !self.resolve(spec).is_empty() {
            return None;
        }
        if let Some(group) = spec.strip_prefix(crate::dispatch::SMS_GROUP) {
            return Some(format!(
                "an SMS job's $fax_send_line {group} has no SMS line on any node ($line N sms_http url=… or $line N /dev/ttyX type=sms)"
            ));
        }
        if let Some(group) = spec.strip_prefix(crate::dispatch::EMAIL_GROUP) {
            return Some(format!(
                "an e-mail job's $fax_send_line {group} has no e-mail line on any node ($line N smtp relay=… tls=…)"
            ));
        }
        let mail_only = self.resolve(&format!("{}{spec}", crate::dispatch::EMAIL_GROUP));
        if !mail_only.is_empty() && mail_only.iter().all(|l| self.mail_only.contains(l)) {
            let lines: Vec<String> = mail_only.iter().map(u32::to_string).collect();
            return Some(format!(
                "$fax_send_line {spec} selects only e-mail lines ({}), which place no calls",
                lines.join(",")
            ));
        }
        Some(if self.lines.is_empty() {
            format!("$fax_send_line {spec} matches no configured line (the CFG defines no $line)")
        } else {
            let lines: Vec<String> = self.lines.iter().map(u32::to_string).collect();
            format!(
                "$fax_send_line {spec} matches no configured line on any node (lines {})",
                lines.join(",")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let s = LineSet::parse("1-8,~3,~5-6").unwrap();
        let members: Vec<u32> = (0..10).filter(|&n| s.contains(n)).collect();
        assert_eq!(members, [1, 2, 4, 7, 8]);
        assert!(LineSet::parse("*").unwrap().contains(42));
        assert!(
            LineSet::parse("~2").unwrap().contains(1),
            "exclusion only means all but"
        );
        let legacy = LineSet::parse("10004").unwrap();
        assert!(legacy.contains(3) && !legacy.contains(4));
        assert!(LineSet::parse("20004").unwrap().contains(5));
        assert!(LineSet::parse("*,~0").unwrap().excludes_last);
    }

    #[test]
    fn group_references() {
        for ok in ["fax", "*,~0", "night,~3", "1-4", "main_2"] {
            assert!(validate_group_ref(ok).is_ok(), "{ok}");
        }
        for bad in ["", "fax,,x", "~y", "a b", "5-2"] {
            assert!(validate_group_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_specs() {
        for bad in ["", "1,,2", "a", "5-2", "~x"] {
            assert!(LineSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exclusions_accumulate_and_are_capped() {
        assert_eq!(exclude_failed("*,~0", None, Some(7), None), "*,~7");
        assert_eq!(
            exclude_failed("*,~0", Some("*,~7"), Some(2), None),
            "*,~7,~2"
        );
        assert_eq!(
            exclude_failed("*,~0", Some("*,~7,~2"), Some(7), None),
            "*,~2,~7"
        );
        assert_eq!(
            exclude_failed("*,~0", Some("*,~7,~2"), Some(4), Some(2)),
            "*,~2,~4"
        );
        assert_eq!(
            exclude_failed("fax,~0", Some("other,~7"), Some(1), None),
            "fax,~1"
        );
        assert_eq!(exclude_failed("*,~0", None, None, None), "*");
    }

    #[test]
    fn line_map_across_nodes() {
        let d = crate::command::Document::parse_str(
            "$line 1 sim group=fax\n$line 2 sim\n$line 3 sim\n$line_group night 3\n$node n2 lines=2\n",
            "t.cfg",
        )
        .unwrap();
        let mut m = LineMap::from_cfg(&d);
        assert_eq!(m.resolve("fax"), [1]);
        assert_eq!(m.resolve("n2,night"), [2, 3]);
        assert_eq!(m.resolve("*,~1-2"), [3]);
        assert_eq!(m.resolve("fax,~0"), [1]);
        assert!(m.unserved("fax,~1").unwrap().contains("lines 1,2,3"));
        assert!(m.unserved("7").is_some() && m.unserved("n1").is_some());
        m.add_node("N1");
        assert_eq!(m.resolve("n1"), [1, 2, 3]);
        let none = LineMap::from_cfg(&crate::command::Document::new("x"));
        assert!(none.unserved("*").unwrap().contains("defines no $line"));
    }

    #[test]
    fn e_mail_jobs_need_an_e_mail_line() {
        let d = crate::command::Document::parse_str(
            "$line 1 /dev/ttyS0
$line 2 sim
$line 3 smtp relay=h:25 tls=none
",
            "t.cfg",
        )
        .unwrap();
        let m = LineMap::from_cfg(&d);
        assert_eq!(m.resolve("*"), [1, 2]);
        assert_eq!(m.resolve("email:*"), [2, 3]);
        assert!(m.unserved("email:1").unwrap().contains("no e-mail line"));
        assert_eq!(
            m.unserved("3").unwrap(),
            "$fax_send_line 3 selects only e-mail lines (3), which place no calls"
        );
        let modems = crate::command::Document::parse_str(
            "$line 1 /dev/ttyS0
",
            "t.cfg",
        )
        .unwrap();
        assert!(LineMap::from_cfg(&modems).unserved("email:*").is_some());
    }

    #[test]
    fn gsm_lines_take_sms_and_no_calls() {
        let d = crate::command::Document::parse_str(
            "$line 1 /dev/ttyS0
$line 2 /dev/ttyUSB2 type=sms
$line 3 sms_http url=http://h/send
",
            "t.cfg",
        )
        .unwrap();
        let m = LineMap::from_cfg(&d);
        assert_eq!(m.resolve("*"), [1], "no call goes to an SMS line");
        assert_eq!(m.resolve("sms:*"), [2, 3]);
        assert_eq!(m.resolve("sms:2"), [2]);
        let modems = crate::command::Document::parse_str("$line 1 /dev/ttyS0\n", "t.cfg").unwrap();
        let why = LineMap::from_cfg(&modems).unserved("sms:*").unwrap();
        assert!(why.contains("type=sms"), "{why}");
    }
}
