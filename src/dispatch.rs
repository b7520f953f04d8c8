//! Dispatch: which queued job goes to which free line next.
//!
//! Pure decisions over the [`Index`]: queues in the node's priority order, FIFO by file name
//! among due jobs of a queue, only lines of the job's line group (`$fax_send_line`), at most
//! `$max_concurrent_calls` calls to one destination, and only lines that take the job's kind of
//! call: an e-mail job's group is written with [`EMAIL_GROUP`] in front and selects only e-mail
//! lines; any other group selects only lines that dial. A job whose group has no free line waits
//! without blocking jobs of other groups. It never performs I/O and never reads a clock: the
//! caller promotes the index to "now" first.

use crate::linegroup::LineSet;
use crate::spool::index::Index;
use crate::spool::JobName;
use std::collections::{BTreeMap, HashMap};

/// Put in front of an e-mail job's line group (`email:*`): the group selects lines that take
/// e-mail; without it, lines that dial.
pub const EMAIL_GROUP: &str = "email:";

/// Put in front of an SMS job's line group (`sms:*`): the group selects lines that take SMS
/// (SMS gateway lines, and lines that dial and say they take SMS).
pub const SMS_GROUP: &str = "sms:";

/// The line group a queued job is dispatched by: its `$fax_send_line` (`*` without one), with
/// [`EMAIL_GROUP`] in front for an e-mail job and [`SMS_GROUP`] for an SMS.
pub fn routed_group(job: &crate::job::Job) -> String {
    let spec = job.send_line.as_deref().unwrap_or("*");
    match job.channel() {
        Some(crate::retry::outcome::Channel::Email) => format!("{EMAIL_GROUP}{spec}"),
        Some(crate::retry::outcome::Channel::Sms) => format!("{SMS_GROUP}{spec}"),
        _ => spec.to_string(),
    }
}

/// How far down one group's FIFO the dispatcher looks past jobs whose destination is busy.
pub const MAX_SKIP: usize = 4096;

/// The state of one line as the dispatcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    /// Free.
    Idle,
    /// On a call.
    Busy,
    /// Out of service.
    Down,
}

/// Line groups and line states.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    lines: BTreeMap<u32, LineState>,
    groups: Vec<(String, LineSet)>,
    node: String,
    max_per_dest: u32,
    dest_calls: HashMap<u64, u32>,
    members: HashMap<u32, Vec<u32>>,
    /// Per line: (takes calls that dial, takes e-mail); a line not listed takes both.
    takes: HashMap<u32, (bool, bool)>,
    /// Per line: whether it takes SMS; a line not listed takes SMS when it dials.
    takes_sms: HashMap<u32, bool>,
}

/// One dispatch decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// Queue.
    pub queue: u8,
    /// Job.
    pub name: JobName,
    /// Line.
    pub line: u32,
}

impl Dispatcher {
    /// A dispatcher for `lines` (number, up) with the CFG's named groups; `node` names the
    /// predefined group of all this node's lines.
    pub fn new(
        lines: &[(u32, bool)],
        groups: Vec<(String, LineSet)>,
        node: &str,
        max_per_dest: u32,
    ) -> Dispatcher {
        Dispatcher {
            lines: lines
                .iter()
                .map(|&(n, up)| (n, if up { LineState::Idle } else { LineState::Down }))
                .collect(),
            groups,
            node: node.to_ascii_lowercase(),
            max_per_dest: max_per_dest.max(1),
            dest_calls: HashMap::new(),
            members: HashMap::new(),
            takes: HashMap::new(),
            takes_sms: HashMap::new(),
        }
    }

    /// Says which kinds of job `line` takes: calls that dial (fax, voice, SMS, poll) and e-mail.
    pub fn set_takes(&mut self, line: u32, dial: bool, email: bool) {
        self.takes.insert(line, (dial, email));
        self.members.clear();
    }

    /// Says whether `line` takes SMS jobs (groups with [`SMS_GROUP`] in front).
    pub fn set_takes_sms(&mut self, line: u32, sms: bool) {
        self.takes_sms.insert(line, sms);
        self.members.clear();
    }

    /// The lines a group reference such as `fax,~3` or `*,~7,~2` selects, of this node's lines.
    pub fn resolve(&self, spec: &str) -> Vec<u32> {
        let (spec, email) = match spec.strip_prefix(EMAIL_GROUP) {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let (spec, sms) = match spec.strip_prefix(SMS_GROUP) {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let fits = |l: u32| {
            let (dial, mail) = self.takes.get(&l).copied().unwrap_or((true, true));
            if email {
                mail
            } else if sms {
                self.takes_sms.get(&l).copied().unwrap_or(dial)
            } else {
                dial
            }
        };
        let mut include: Vec<Box<dyn Fn(u32) -> bool + '_>> = Vec::new();
        let mut exclude: Vec<LineSet> = Vec::new();
        for raw in spec.split(',').map(str::trim) {
            if let Some(ex) = raw.strip_prefix('~') {
                if ex != "0" {
                    if let Ok(s) = LineSet::parse(ex) {
                        exclude.push(s);
                    }
                }
                continue;
            }
            let lower = raw.to_ascii_lowercase();
            if raw == "*" || lower == self.node {
                include.push(Box::new(|_| true));
            } else if let Some((_, set)) = self.groups.iter().rev().find(|(n, _)| *n == lower) {
                include.push(Box::new(move |l| set.contains(l)));
            } else if let Ok(set) = LineSet::parse(raw) {
                include.push(Box::new(move |l| set.contains(l)));
            }
            // An unknown name selects nothing here (it may be another node's group).
        }
        self.lines
            .keys()
            .copied()
            .filter(|&l| {
                fits(l) && include.iter().any(|f| f(l)) && !exclude.iter().any(|s| s.contains(l))
            })
            .collect()
    }

    fn members(&mut self, index: &Index, group: u32) -> &[u32] {
        if !self.members.contains_key(&group) {
            let m = self.resolve(index.group(group));
            self.members.insert(group, m);
        }
        &self.members[&group]
    }

    /// Whether any line is idle.
    pub fn has_idle(&self) -> bool {
        self.lines.values().any(|s| *s == LineState::Idle)
    }

    /// The next job and line, if some due job has a free line: queues in `order`, then FIFO.
    pub fn pick(&mut self, index: &Index, order: &[u8]) -> Option<Pick> {
        if !self.has_idle() {
            return None;
        }
        for &q in order {
            let mut best: Option<(JobName, u32)> = None;
            let groups: Vec<u32> = index.ready(q).map(|(g, _)| g).collect();
            for g in groups {
                let free: Vec<u32> = self
                    .members(index, g)
                    .to_vec()
                    .into_iter()
                    .filter(|l| self.lines.get(l) == Some(&LineState::Idle))
                    .collect();
                let Some(&line) = free.first() else { continue };
                let set = index.ready(q).find(|(id, _)| *id == g).map(|(_, s)| s)?;
                let candidate = set
                    .iter()
                    .take(MAX_SKIP)
                    .take_while(|n| best.as_ref().is_none_or(|(b, _)| *n < b))
                    .find(|n| {
                        let dest = index.get(q, n).map_or(0, |e| e.dest);
                        self.dest_calls.get(&dest).copied().unwrap_or(0) < self.max_per_dest
                    });
                if let Some(n) = candidate {
                    best = Some((n.clone(), line));
                }
            }
            if let Some((name, line)) = best {
                return Some(Pick {
                    queue: q,
                    name,
                    line,
                });
            }
        }
        None
    }

    /// A call started on `line` to `dest`.
    /// Brings a line's health in: an idle line that went down takes no call; a down line that
    /// is up again is idle. A busy line keeps its call (its result settles the breaker).
    pub fn set_up(&mut self, line: u32, up: bool) {
        if let Some(s) = self.lines.get_mut(&line) {
            *s = match (*s, up) {
                (LineState::Idle, false) => LineState::Down,
                (LineState::Down, true) => LineState::Idle,
                (s, _) => s,
            };
        }
    }

    pub fn start(&mut self, line: u32, dest: u64) {
        self.lines.insert(line, LineState::Busy);
        *self.dest_calls.entry(dest).or_default() += 1;
    }

    /// The call on `line` to `dest` ended.
    /// A call on `line` ended.
    pub fn finish(&mut self, line: u32, dest: u64) {
        if let Some(s) = self.lines.get_mut(&line) {
            if *s == LineState::Busy {
                *s = LineState::Idle;
            }
        }
        if let Some(n) = self.dest_calls.get_mut(&dest) {
            *n -= 1;
            if *n == 0 {
                self.dest_calls.remove(&dest);
            }
        }
    }

    /// Every line and its state.
    /// A line's state (Down for an unknown line).
    pub fn state(&self, line: u32) -> LineState {
        self.lines.get(&line).copied().unwrap_or(LineState::Down)
    }

    pub fn states(&self) -> impl Iterator<Item = (u32, LineState)> + '_ {
        self.lines.iter().map(|(n, s)| (*n, *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::index::Entry;

    fn setup() -> (Dispatcher, Index) {
        let groups = vec![("fax".to_string(), LineSet::parse("1-2").unwrap())];
        let d = Dispatcher::new(
            &[(1, true), (2, true), (3, true), (4, false)],
            groups,
            "n1",
            1,
        );
        (d, Index::new())
    }

    #[test]
    fn groups_resolve_to_this_nodes_lines() {
        let (d, _) = setup();
        assert_eq!(d.resolve("*"), [1, 2, 3, 4]);
        assert_eq!(d.resolve("fax"), [1, 2]);
        assert_eq!(d.resolve("fax,~1"), [2]);
        assert_eq!(d.resolve("*,~0,~2"), [1, 3, 4]);
        assert_eq!(d.resolve("N1,~3-4"), [1, 2]);
        assert_eq!(d.resolve("3"), [3]);
        assert!(d.resolve("other").is_empty());
    }

    #[test]
    fn sms_jobs_get_the_lines_that_take_sms_and_calls_never_an_sms_line() {
        let (mut d, _) = setup();
        // Line 4 is an sms_http line; line 2 a sim line (takes everything); 1 and 3 modems.
        for (l, dial, mail, sms) in [
            (1, true, false, false),
            (2, true, true, true),
            (3, true, false, false),
            (4, false, false, true),
        ] {
            d.set_takes(l, dial, mail);
            d.set_takes_sms(l, sms);
        }
        assert_eq!(d.resolve("sms:*"), [2, 4]);
        assert_eq!(d.resolve("sms:4"), [4]);
        assert!(d.resolve("sms:1").is_empty(), "no SMS goes to a modem");
        assert_eq!(d.resolve("*"), [1, 2, 3]);
        assert!(
            d.resolve("4").is_empty(),
            "no call goes to an sms_http line"
        );
    }

    #[test]
    fn e_mail_jobs_get_e_mail_lines_and_calls_get_the_others() {
        let (mut d, mut ix) = setup();
        // Line 3 is an smtp line; line 2 a sim line (takes both); 1 and 4 modems.
        d.set_takes(1, true, false);
        d.set_takes(2, true, true);
        d.set_takes(3, false, true);
        d.set_takes(4, true, false);
        assert_eq!(d.resolve("*"), [1, 2, 4]);
        assert_eq!(d.resolve("email:*"), [2, 3]);
        assert_eq!(d.resolve("email:fax"), [2]);
        assert_eq!(d.resolve("email:3"), [3]);
        assert!(d.resolve("3").is_empty(), "no call goes to an smtp line");
        let mail = ix.group_id("email:3");
        ix.upsert(
            0,
            JobName::new("m.FS"),
            Entry {
                due: 0,
                group: mail,
                dest: 1,
                wait: crate::spool::index::Wait::Nothing,
                stamp: 0,
            },
        );
        ix.promote(0);
        assert_eq!(d.pick(&ix, &[0]).map(|p| p.line), Some(3));
    }

    #[test]
    fn priority_fifo_no_head_of_line_blocking_and_one_call_per_number() {
        let (mut d, mut ix) = setup();
        let fax = ix.group_id("fax");
        let three = ix.group_id("3");
        let e = |group, dest| Entry {
            due: 0,
            group,
            dest,
            wait: crate::spool::index::Wait::Nothing,
            stamp: 0,
        };
        ix.upsert(1, JobName::new("1.FS"), e(fax, 10));
        ix.upsert(1, JobName::new("2.FS"), e(fax, 10));
        ix.upsert(1, JobName::new("3.FS"), e(fax, 11));
        ix.upsert(2, JobName::new("0.FS"), e(three, 12));
        ix.upsert(0, JobName::new("9.FS"), e(fax, 13));
        ix.promote(0);
        let order = [0, 1, 2];
        let take = |d: &mut Dispatcher, ix: &mut Index| {
            let p = d.pick(ix, &order)?;
            let dest = ix.remove(p.queue, &p.name).unwrap().dest;
            d.start(p.line, dest);
            Some((p.queue, p.name.to_string(), p.line))
        };
        assert_eq!(take(&mut d, &mut ix), Some((0, "9.FS".into(), 1)));
        assert_eq!(take(&mut d, &mut ix), Some((1, "1.FS".into(), 2)));
        // Fax lines are full: the TOSEND2 job for line 3 is not blocked behind TOSEND1.
        assert_eq!(take(&mut d, &mut ix), Some((2, "0.FS".into(), 3)));
        assert_eq!(take(&mut d, &mut ix), None);
        d.finish(1, 13);
        // 2.FS dials the number 1.FS is on: 3.FS goes first.
        assert_eq!(take(&mut d, &mut ix), Some((1, "3.FS".into(), 1)));
        d.finish(2, 10);
        assert_eq!(take(&mut d, &mut ix), Some((1, "2.FS".into(), 2)));
    }
}
