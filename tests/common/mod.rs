pub mod spool;
