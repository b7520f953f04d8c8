//! Retry: list grammar, outcome classes, policy resolution, attempt records and the engine.
//!
//! Everything here is pure: files come in as parsed documents, the clock comes in as a value.

pub mod attempt;
pub mod delays;
pub mod engine;
pub mod outcome;
pub mod policy;
pub mod remote;
