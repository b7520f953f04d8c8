//! A child process with a mount namespace of its own (root only): `unshare(CLONE_NEWNS)`, `/`
//! made private, then the given mounts, all between fork and exec, so the test process and every
//! other process keep seeing the real file system.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// One step inside the child's namespace.
pub enum Mount<'a> {
    /// An empty tmpfs over a directory.
    Tmpfs(&'a Path),
    /// A new directory (on a tmpfs mounted before).
    Mkdir(&'a Path),
    /// `from` bind-mounted over `to`.
    Bind(&'a Path, &'a Path),
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// Runs `steps` in a private mount namespace of `cmd`'s process. Spawning fails with EPERM where
/// namespaces are not allowed.
pub fn private_mounts(cmd: &mut Command, steps: &[Mount<'_>]) {
    enum Step {
        Tmpfs(CString),
        Mkdir(CString),
        Bind(CString, CString),
    }
    let steps: Vec<Step> = steps
        .iter()
        .map(|s| match s {
            Mount::Tmpfs(p) => Step::Tmpfs(c(p)),
            Mount::Mkdir(p) => Step::Mkdir(c(p)),
            Mount::Bind(f, t) => Step::Bind(c(f), c(t)),
        })
        .collect();
    let (root, tmpfs) = (CString::new("/").unwrap(), CString::new("tmpfs").unwrap());
    // SAFETY: only async-signal-safe system calls between fork and exec, on strings made before.
    unsafe {
        cmd.pre_exec(move || {
            let check = |r: libc::c_int| {
                if r == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            let null = std::ptr::null::<libc::c_char>();
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                null,
                root.as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for s in &steps {
                match s {
                    Step::Tmpfs(p) => check(libc::mount(
                        tmpfs.as_ptr(),
                        p.as_ptr(),
                        tmpfs.as_ptr(),
                        0,
                        std::ptr::null(),
                    ))?,
                    Step::Mkdir(p) => check(libc::mkdir(p.as_ptr(), 0o755))?,
                    Step::Bind(f, t) => check(libc::mount(
                        f.as_ptr(),
                        t.as_ptr(),
                        null,
                        libc::MS_BIND,
                        std::ptr::null(),
                    ))?,
                }
            }
            Ok(())
        });
    }
}
