//! The `$command args` language shared by CFG, USR and FS files.
//!
//! This module owns the grammar (one nom parser for every file kind), the lossless document
//! model that rewrites engine-owned lines in place and keeps every other line byte for byte, and
//! the value helpers for the US date and time formats the files use. It never touches the
//! filesystem: callers hand it bytes and a file name for error messages.

mod document;
mod parse;
pub mod registry;
mod value;

pub use document::{Document, Eol};
pub use parse::{parse_line, Arg, Args, Command, LineKind, ParseError, MAX_LINE_BYTES};
pub use value::{
    date_of, format_date, format_time, parse_date, parse_days, parse_int, parse_time, time_of,
    write_date, write_time, ValueError,
};
