pub mod inproc;
pub mod spool;
