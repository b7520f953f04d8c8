//! The call log: one JSON object per call, appended to `DIR/calls.jsonl`.
//!
//! Owns the record's field names (tests assert on them). The modem core fills a record; the
//! shell adds wall-clock times and appends the line.

use serde::Serialize;

/// A received page as the log shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PageRecord {
    /// 1-based page number within the call.
    pub page: u32,
    /// File name relative to the rack directory (`received/…tif`).
    pub file: String,
    /// Pixels per row.
    pub width: u32,
    /// Rows decoded.
    pub rows: u32,
    /// Lines per inch (98 or 196).
    pub yres: u32,
    /// `MH` or `MR`.
    pub coding: String,
    /// Data bytes received for the page (after DLE unstuffing).
    pub bytes: usize,
}

/// One call.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct CallRecord {
    /// Modem index.
    pub modem: usize,
    /// Per-modem call counter (1-based).
    pub call: u32,
    /// `out` (dialled) or `in` (incoming).
    pub direction: String,
    /// Digits routed on.
    pub number: String,
    /// The dial string as sent after `ATD`.
    pub dial_string: String,
    /// Scenario outcome kind played (`busy`, `fax`, …).
    pub outcome: String,
    /// Which sequence step it was (1-based call count of the matching entry).
    pub sequence_call: usize,
    /// Result code(s) given to the DTE for the dial, e.g. `BUSY`, `OK`, `VCON`.
    pub result: String,
    /// `+FCLASS` in force when dialling (`0`, `2`, `2.0`, `8`).
    pub class: String,
    /// Pages accepted (MCF) and stored.
    pub pages: Vec<PageRecord>,
    /// Page transmissions rejected with RTN.
    pub pages_rejected: u32,
    /// Final `+FHS`/`+FHNG` code reported, if any.
    pub hangup_code: Option<String>,
    /// DTMF the DTE generated (`+VTS`).
    pub dtmf_sent: String,
    /// DTMF the remote pressed and the modem reported.
    pub dtmf_reported: String,
    /// Audio bytes played with `+VTX`.
    pub audio_bytes_sent: usize,
    /// Start, milliseconds since the Unix epoch (filled by the shell).
    pub start_unix_ms: u64,
    /// End, milliseconds since the Unix epoch (filled by the shell).
    pub end_unix_ms: u64,
    /// Line time the call lasted (seconds of simulated line time).
    pub line_secs: f64,
    /// Why the call ended (`hangup by DTE`, `remote hangup`, `result`, …).
    pub ended_by: String,
    /// Class 1: the sender's ID from its TSI frame, as the remote read it.
    pub tsi: String,
    /// Class 1: the bit rate of the last training the remote confirmed (CFR), 0 if none.
    pub trained_bps: u32,
    /// Class 1: the sender's last DCS asked for error correction mode (T.30 Annex A);
    /// Class 2.0/2: the last `+FCS`/`+FDCS` had `ec` 1 or 2.
    pub ecm: bool,
    /// Class 1 with ECM: partial page requests (PPR) the remote sent.
    pub pprs: u32,
    /// Class 1 with ECM: receive-not-ready answers (RNR) the remote sent.
    pub rnrs: u32,
    /// Class 1 with ECM: partial pages the sender ended with EOR (end of retransmission),
    /// giving up the frames still bad.
    pub eors: Vec<EorRecord>,
}

/// A partial page the sender gave up on with EOR: the frames that never arrived.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EorRecord {
    /// 1-based page number within the call.
    pub page: u32,
    /// 0-based partial page (block) of the page.
    pub block: u32,
    /// The frame numbers abandoned.
    pub frames: Vec<u32>,
}
