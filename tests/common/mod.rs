pub mod hwsim;
pub mod inproc;
pub mod spool;
