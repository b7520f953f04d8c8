//! Node identity: one process per node name on a spool, on one machine or many.
//!
//! At start the node claims its name ([`claim`](crate::spool::claim): `link(2)`, exclusive on
//! a network file system too, where flock is not). A claim already there is judged: a holder on
//! this machine lives while its process does (pid and start time); a holder elsewhere lives
//! while its lease is renewed, and is dead only when its lease is seen stale or missing on two
//! readings a renewal apart (a lease that cannot be read proves nothing). A live holder makes
//! the start fail with its node, host and pid; a dead one's claim is broken (only the judged
//! claim) and taken. While it runs the node checks that the claim is still its own; a node whose
//! claim was taken (it was stalled past its lease, and a new run of the node started) places no
//! call, ends and touches none of the node's files. This module never recovers jobs.

use super::*;
use crate::spool::claim::{self, Holder, Seen};
use std::time::{Duration as StdDuration, Instant};

/// What watching a holder's lease proved.
enum Verdict {
    /// Renewed while watched (the lease read last).
    Alive(lease::Lease),
    /// Stale or missing twice, a renewal apart.
    Dead,
    /// Neither within the watch (unreadable, or fresh but not renewed).
    Unproven(String),
}

impl Daemon {
    /// Claims this node's name, or fails naming the process that holds it.
    pub(super) fn claim_node(&mut self) -> anyhow::Result<()> {
        let layout = self.settings.layout.clone();
        let me = Holder::me(&self.node, fence::new_generation());
        for _ in 0..4 {
            if claim::acquire(&layout, &me)? {
                tracing::info!(node = %self.node, claim = %claim::path(&layout, &self.node).display(), "node name claimed");
                self.claim = Some(me);
                return self.refuse_an_unclaimed_twin();
            }
            let (holder, bytes) = match claim::read(&layout, &self.node) {
                Seen::Free => continue,
                Seen::Held(h, b) => (Some(h), b),
                Seen::Unreadable(why, b) => {
                    tracing::warn!(node = %self.node, reason = %why, "this node's claim cannot be read; judging it by the lease");
                    (None, b)
                }
            };
            if let Some(h) = &holder {
                if h.is_local() {
                    if h.pid == me.pid && h.started == me.started {
                        // An earlier daemon in this very process, dropped (its flock is gone).
                    } else if h.alive_here() {
                        anyhow::bail!(
                            "node {:?} is running on {} (pid {}); start this one under another name",
                            self.node,
                            h.host,
                            h.pid
                        );
                    } else {
                        tracing::info!(node = %self.node, pid = h.pid, "the last run of this node on this machine has ended: taking its claim over");
                    }
                } else {
                    match self.watch_lease(self.proof_window()) {
                        Verdict::Alive(l) => anyhow::bail!(
                            "node {:?} is running on {} (pid {}, lease renewed {}); start this one under another name",
                            self.node,
                            l.host,
                            l.pid,
                            l.renewed
                        ),
                        Verdict::Unproven(why) => anyhow::bail!(
                            "node {:?} is claimed by {} (pid {}) and it cannot be proved to have stopped ({why}); if it has, remove {}",
                            self.node,
                            h.host,
                            h.pid,
                            claim::path(&layout, &self.node).display()
                        ),
                        Verdict::Dead => {
                            tracing::warn!(node = %self.node, host = %h.host, pid = h.pid, "the last run of this node (on another machine) stopped renewing its lease: taking its claim over")
                        }
                    }
                }
            } else {
                match self.watch_lease(self.proof_window()) {
                    Verdict::Dead => {}
                    Verdict::Alive(l) => anyhow::bail!(
                        "node {:?} is running on {} (pid {}, lease renewed {}); start this one under another name",
                        self.node,
                        l.host,
                        l.pid,
                        l.renewed
                    ),
                    Verdict::Unproven(why) => anyhow::bail!(
                        "node {:?}: its claim {} cannot be read and its lease does not prove it stopped ({why})",
                        self.node,
                        claim::path(&layout, &self.node).display()
                    ),
                }
            }
            claim::break_judged(&layout, &self.node, &bytes, me.token)?;
        }
        anyhow::bail!(
            "node {:?}: cannot claim {}: other processes keep claiming it",
            self.node,
            claim::path(&layout, &self.node).display()
        )
    }

    /// With the claim made: a fresh lease of this node from another process that made no
    /// claim (a run of a version without claims) is watched for one renewal period; renewed,
    /// the start fails. A lease of a process gone from this machine is a dead earlier run.
    fn refuse_an_unclaimed_twin(&mut self) -> anyhow::Result<()> {
        let layout = self.settings.layout.clone();
        let Some(l) = lease::read(&layout, &self.node) else {
            return Ok(());
        };
        let me = lease::host_name();
        let gone_here = l.host == me && claim::process_start(l.pid).is_none();
        if l.is_stale(self.clock.now()) || l.pid == std::process::id() && l.host == me || gone_here
        {
            return Ok(());
        }
        let window = StdDuration::from_secs(self.settings.lease_renew.max(1) as u64 + 1);
        if let Verdict::Alive(l) = self.watch_lease(window) {
            self.release_claim();
            anyhow::bail!(
                "node {:?} is running on {} (pid {}, lease renewed {}); start this one under another name",
                self.node,
                l.host,
                l.pid,
                l.renewed
            );
        }
        Ok(())
    }

    /// How long a holder's lease is watched for proof of death: its stale limit plus two
    /// renewals (a cache that lies for less than that cannot fake a renewal or a death).
    fn proof_window(&self) -> StdDuration {
        let renew = self.settings.lease_renew.max(1);
        StdDuration::from_secs((self.settings.lease_stale + 2 * renew + 1) as u64)
    }

    /// Watches this node's lease (written by a holder on another machine) until it is renewed,
    /// or seen stale or missing twice a renewal apart, or `window` ends.
    fn watch_lease(&self, window: StdDuration) -> Verdict {
        let layout = &self.settings.layout;
        let renew = self.settings.lease_renew.max(1);
        let step = StdDuration::from_millis((renew as u64 * 1000 / 2).max(200));
        let end = Instant::now() + window;
        let mut first_live: Option<DateTime<Utc>> = None;
        let mut suspect: Option<DateTime<Utc>> = None;
        tracing::warn!(node = %self.node, "this node's name is claimed from another machine: watching its lease before starting");
        loop {
            let now = self.clock.now();
            let last = match lease::look(layout, &self.node, now) {
                lease::Look::Live(l) => {
                    suspect = None;
                    match first_live {
                        Some(r) if r != l.renewed => return Verdict::Alive(l),
                        Some(_) => {}
                        None => first_live = Some(l.renewed),
                    }
                    format!("lease fresh, renewed {}", l.renewed)
                }
                lease::Look::Stale(_) | lease::Look::Missing => {
                    let since = *suspect.get_or_insert(now);
                    if (now - since).num_seconds() >= renew && since != now {
                        return Verdict::Dead;
                    }
                    "lease stale or missing".to_string()
                }
                lease::Look::Unknown(why) => {
                    suspect = None;
                    format!("lease unreadable: {why}")
                }
            };
            if Instant::now() >= end {
                return Verdict::Unproven(last);
            }
            std::thread::sleep(step);
        }
    }

    /// Whether this run still holds its node's claim; when another process took it, fences
    /// this node for good: no calls, no rejoin, a drain, and a stop that touches nothing.
    pub(super) fn check_claim(&mut self) {
        let Some(me) = &self.claim else { return };
        if self.claim_lost || claim::is_mine(&self.settings.layout, me) != Some(false) {
            return;
        }
        let holder = match claim::read(&self.settings.layout, &self.node) {
            Seen::Held(h, _) => format!("{} pid {}", h.host, h.pid),
            _ => "nobody".into(),
        };
        tracing::error!(node = %self.node, holder = %holder,
            "this node's claim was taken over (it was stalled past its lease and the node was started again): no new calls; stopping");
        self.claim_lost = true;
        self.draining = true;
        if self.fenced.is_none() {
            self.fenced = Some(self.clock.now());
        }
    }

    /// Whether this run lost its claim (then it never rejoins).
    pub(super) fn claim_lost(&self) -> bool {
        self.claim_lost
    }

    /// Gives the claim back at a clean stop.
    pub(super) fn release_claim(&mut self) {
        if let Some(me) = self.claim.take() {
            claim::release(&self.settings.layout, &me);
        }
    }
}
