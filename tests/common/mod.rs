pub mod calls;
pub mod hwsim;
pub mod inproc;
pub mod ns;
pub mod spool;
pub mod sshfs;
pub mod web;
