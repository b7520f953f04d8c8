//! Shared spools: whether the spool is on a network file system, and whether that mount has the
//! options that make several machines safe on it.
//!
//! `$spool_shared yes|no|auto` (default `auto`: detected from the mount type of the spool
//! directory in `/proc/self/mountinfo`). On a shared spool inotify sees only this machine's
//! changes, so new jobs are found by rescans every second (unless `$rescan_interval` says
//! otherwise). Network clients cache directory listings and file attributes, and a cached
//! listing can hide a job, a lease renewal or a name already taken; each file system has
//! options that switch that cache off ([`required`]). At start the mount's options are read --
//! from mountinfo, or for sshfs (whose options mountinfo does not show) from the command line of
//! the sshfs process serving the mount -- and every missing one is reported with the mount.
//! This module reads and judges mounts; it never changes one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `$spool_shared`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharedSetting {
    /// Shared: poll.
    Yes,
    /// Local: trust inotify.
    No,
    /// From the mount type.
    #[default]
    Auto,
}

impl SharedSetting {
    /// Parses `yes`, `no` or `auto`.
    pub fn parse(s: &str) -> Option<SharedSetting> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Some(SharedSetting::Yes),
            "no" => Some(SharedSetting::No),
            "auto" => Some(SharedSetting::Auto),
            _ => None,
        }
    }
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// File system type (`nfs4`, `cifs`, `fuse.sshfs`, `ext4`…).
    pub fs_type: String,
    /// What is mounted (`server:/export`, `//server/share`, `user@host:dir`).
    pub source: String,
    /// The mount's and the super block's options (`name` or `name=value`).
    pub options: BTreeMap<String, String>,
}

/// mountinfo escapes blanks, tabs, newlines and backslashes in paths as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn add_options(map: &mut BTreeMap<String, String>, list: &str) {
    for o in list.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        map.insert(k.to_string(), v.to_string());
    }
}

/// Parses one mountinfo line (`None` when it is not one).
///
/// `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`:
/// id, parent, device, root, mount point, mount options, optional fields up to `-`, type,
/// source, super options.
pub fn parse_line(line: &str) -> Option<Mount> {
    let mut f = line.split(' ');
    let (_id, _parent, _dev, _root) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let mount_point = PathBuf::from(unescape(f.next()?));
    let mount_opts = f.next()?;
    for x in f.by_ref() {
        if x == "-" {
            break;
        }
    }
    let fs_type = f.next()?.to_string();
    let source = unescape(f.next()?);
    let mut options = BTreeMap::new();
    add_options(&mut options, mount_opts);
    add_options(&mut options, f.next().unwrap_or(""));
    Some(Mount {
        mount_point,
        fs_type,
        source,
        options,
    })
}

/// Every mount in a mountinfo text, in its order (later mounts cover earlier ones).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mount `path` is on: the last mount whose mount point is the longest prefix of it.
/// `path` should be absolute and canonical (see [`mount_of`]).
pub fn mount_for<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if path.starts_with(&m.mount_point)
            && best
                .is_none_or(|b| m.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(m);
        }
    }
    best
}

/// The mount `dir` (or its nearest existing ancestor) is on, from this process's mountinfo.
pub fn mount_of(dir: &Path) -> Option<Mount> {
    let mut p = dir.to_path_buf();
    let real = loop {
        if let Ok(r) = std::fs::canonicalize(&p) {
            break r;
        }
        if !p.pop() {
            return None;
        }
    };
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_for(&parse(&text), &real).cloned()
}

/// Whether a file system type is a network (or otherwise shared) one.
pub fn is_network(fs_type: &str) -> bool {
    matches!(
        fs_type,
        "nfs"
            | "nfs4"
            | "cifs"
            | "smb3"
            | "smbfs"
            | "fuse.sshfs"
            | "ceph"
            | "glusterfs"
            | "fuse.glusterfs"
            | "9p"
            | "afs"
            | "lustre"
            | "gpfs"
            | "fuse.s3fs"
    )
}

/// Whether a spool on `mount` is treated as shared under `setting`.
pub fn is_shared(setting: SharedSetting, mount: Option<&Mount>) -> bool {
    match setting {
        SharedSetting::Yes => true,
        SharedSetting::No => false,
        SharedSetting::Auto => mount.is_some_and(|m| is_network(&m.fs_type)),
    }
}

/// A mount option a shared spool needs, and the ways the mount may show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The option as written in fstab or on the command line.
    pub option: &'static str,
    /// What it stops.
    pub why: &'static str,
}

/// The options each shared file system needs (docs/scale-out.md lists the same).
pub fn required(fs_type: &str) -> &'static [Requirement] {
    const NFS: &[Requirement] = &[
        Requirement {
            option: "lookupcache=none",
            why: "a cached lookup can show a job or lease that is gone, or hide one that is there",
        },
        Requirement {
            option: "actimeo=0",
            why: "cached attributes can show an old lease as current",
        },
    ];
    const SMB: &[Requirement] = &[Requirement {
        option: "cache=none",
        why: "cached data and listings can show an old lease or hide a new job",
    }];
    const SSHFS: &[Requirement] = &[Requirement {
        option: "dir_cache=no",
        why: "a cached listing can hide a job or a lease renewal for up to 20 s",
    }];
    match fs_type {
        "nfs" | "nfs4" => NFS,
        "cifs" | "smb3" | "smbfs" => SMB,
        "fuse.sshfs" => SSHFS,
        _ => &[],
    }
}

/// Whether `options` (a mount's, or an sshfs command line's) satisfy `req`.
pub fn satisfies(options: &BTreeMap<String, String>, req: &Requirement) -> bool {
    let is = |k: &str, v: &str| options.get(k).is_some_and(|x| x == v);
    match req.option {
        // The kernel shows actimeo=0 as its four parts; noac implies it.
        "actimeo=0" => {
            is("actimeo", "0")
                || options.contains_key("noac")
                || ["acregmin", "acregmax", "acdirmin", "acdirmax"]
                    .iter()
                    .all(|k| is(k, "0"))
        }
        "dir_cache=no" => is("dir_cache", "no"),
        o => {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            is(k, v)
        }
    }
}

/// The `-o` options of the sshfs process serving `mount_point`, from `/proc/*/cmdline`
/// (`None` when no such process can be seen from here).
pub fn sshfs_options(mount_point: &Path) -> Option<BTreeMap<String, String>> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|c| c.is_ascii_digit()))
        {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(o) = sshfs_cmdline_options(&args, mount_point) {
            return Some(o);
        }
    }
    None
}

/// The options of an sshfs command line when it mounts `mount_point` (`None` otherwise).
pub fn sshfs_cmdline_options(
    args: &[String],
    mount_point: &Path,
) -> Option<BTreeMap<String, String>> {
    let prog = args.first()?;
    if Path::new(prog).file_name()? != "sshfs" {
        return None;
    }
    let mut options = BTreeMap::new();
    let mut mounts_it = false;
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "-o" {
            if let Some(v) = args.get(i + 1) {
                add_options(&mut options, v);
            }
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix("-o") {
            add_options(&mut options, v);
        } else if !a.starts_with('-') {
            let p = Path::new(a);
            if p == mount_point || std::fs::canonicalize(p).is_ok_and(|c| c == mount_point) {
                mounts_it = true;
            }
        }
        i += 1;
    }
    mounts_it.then_some(options)
}

/// What the start-up check reports about the spool's mount: one line per missing option (or
/// per mount whose options cannot be read), naming the option and the mount.
pub fn warnings(mount: &Mount) -> Vec<String> {
    let reqs = required(&mount.fs_type);
    if reqs.is_empty() {
        return Vec::new();
    }
    let sshfs;
    let options = if mount.fs_type == "fuse.sshfs" {
        match sshfs_options(&mount.mount_point) {
            Some(o) => {
                sshfs = o;
                &sshfs
            }
            None => {
                return vec![format!(
                    "the spool is on the sshfs mount {} ({}), whose options cannot be read here (no sshfs process for it is visible); make sure it is mounted with -o {}",
                    mount.mount_point.display(),
                    mount.source,
                    reqs.iter().map(|r| r.option).collect::<Vec<_>>().join(",")
                )]
            }
        }
    } else {
        &mount.options
    };
    missing(mount, options, reqs)
}

fn missing(mount: &Mount, options: &BTreeMap<String, String>, reqs: &[Requirement]) -> Vec<String> {
    reqs.iter()
        .filter(|r| !satisfies(options, r))
        .map(|r| {
            format!(
                "the spool's {} mount {} ({}) lacks the option {}: {}; several nodes on it can dial a job twice (see docs/scale-out.md)",
                mount.fs_type,
                mount.mount_point.display(),
                mount.source,
                r.option,
                r.why
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as the kernel writes them (from real machines: NFS 4.2 with and without the
    // options, CIFS, sshfs, ext4, and a mount point with a blank).
    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
97 22 0:50 / /srv/spool rw,relatime shared:60 - nfs4 files:/export/spool rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.5,lookupcache=none,local_lock=none,addr=10.0.0.2
98 22 0:51 / /srv/cached rw,relatime shared:61 - nfs4 files:/export/spool rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,acregmin=0,acregmax=0,acdirmin=0,acdirmax=0,hard,proto=tcp,timeo=600,retrans=2,sec=sys,local_lock=none,addr=10.0.0.2
99 22 0:52 / /srv/smb rw,relatime shared:62 - cifs //files/spool rw,vers=3.1.1,cache=strict,username=redial,uid=0,noforceuid,gid=0,noforcegid,addr=10.0.0.2,file_mode=0755,dir_mode=0755,soft,nounix,serverino,mapposix,rsize=4194304,wsize=4194304,bsize=1048576,echo_interval=60,actimeo=1
100 22 0:53 / /mnt/a rw,nosuid,nodev,relatime shared:63 - fuse.sshfs redial@127.0.0.1:/srv/spool rw,user_id=0,group_id=0
101 22 0:54 / /mnt/with\\040blank rw,relatime shared:64 - ext4 /dev/sdb1 rw
";

    #[test]
    fn mountinfo_lines_parse_into_type_source_and_options() {
        let ms = parse(MOUNTINFO);
        assert_eq!(ms.len(), 6);
        assert_eq!(ms[1].fs_type, "nfs4");
        assert_eq!(ms[1].source, "files:/export/spool");
        assert_eq!(
            ms[1].options.get("lookupcache").map(String::as_str),
            Some("none")
        );
        assert_eq!(ms[4].fs_type, "fuse.sshfs");
        assert_eq!(ms[5].mount_point, Path::new("/mnt/with blank"));
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn the_spool_is_on_the_longest_matching_mount() {
        let ms = parse(MOUNTINFO);
        let m = mount_for(&ms, Path::new("/srv/spool/TOSEND")).unwrap();
        assert_eq!(m.mount_point, Path::new("/srv/spool"));
        assert!(is_shared(SharedSetting::Auto, Some(m)));
        let m = mount_for(&ms, Path::new("/srv/spoolx")).unwrap();
        assert_eq!(m.fs_type, "ext4", "a prefix of a name is not a parent");
        assert!(!is_shared(SharedSetting::Auto, Some(m)));
        assert!(is_shared(SharedSetting::Yes, Some(m)));
        assert!(!is_shared(
            SharedSetting::No,
            mount_for(&ms, Path::new("/mnt/a"))
        ));
    }

    #[test]
    fn each_missing_option_is_named_with_its_mount() {
        let ms = parse(MOUNTINFO);
        let nfs = &ms[1];
        let w = missing(nfs, &nfs.options, required("nfs4"));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("actimeo=0") && w[0].contains("/srv/spool"),
            "{w:?}"
        );
        // actimeo=0 as the kernel shows it, but the lookup cache on.
        let cached = &ms[2];
        let w = missing(cached, &cached.options, required("nfs4"));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("lookupcache=none") && w[0].contains("/srv/cached"));
        let smb = &ms[3];
        let w = warnings(smb);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("cache=none") && w[0].contains("//files/spool"),
            "{w:?}"
        );
        assert!(warnings(&ms[0]).is_empty(), "a local disk needs nothing");
    }

    #[test]
    fn sshfs_options_come_from_its_command_line() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mp = Path::new("/mnt/a");
        let o = sshfs_cmdline_options(
            &s(&[
                "sshfs",
                "-o",
                "dir_cache=no,IdentityFile=/k",
                "u@h:/srv",
                "/mnt/a",
            ]),
            mp,
        )
        .unwrap();
        assert!(satisfies(&o, &required("fuse.sshfs")[0]));
        let o = sshfs_cmdline_options(
            &s(&["/usr/bin/sshfs", "u@h:/srv", "/mnt/a", "-oreconnect"]),
            mp,
        )
        .unwrap();
        assert!(!satisfies(&o, &required("fuse.sshfs")[0]));
        assert!(sshfs_cmdline_options(&s(&["sshfs", "u@h:/srv", "/mnt/b"]), mp).is_none());
        assert!(sshfs_cmdline_options(&s(&["ssh", "u@h", "/mnt/a"]), mp).is_none());
        assert_eq!(SharedSetting::parse("AUTO"), Some(SharedSetting::Auto));
        assert_eq!(SharedSetting::parse("maybe"), None);
    }
}
