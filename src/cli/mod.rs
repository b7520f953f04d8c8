//! The command-line shell: one module per subcommand, each a thin layer over the library.

pub mod alter;
pub mod cancel;
pub mod clean;
pub mod demo;
pub mod dnc;
pub mod explain;
pub mod list;
pub mod logging;
pub mod ops;
pub mod preview;
pub mod retry;
pub mod run;
pub mod send;
pub mod web;
