//! The log of the long-running commands (`redial run`, `redial web`): journald under systemd,
//! else text (colour only at a terminal) or JSON lines on stderr that never fail the process.

use std::io::Write;

/// The log's stderr, for a service: what cannot be written (the pipe to a log collector or the
/// terminal has gone) is dropped, never an error. An error would make tracing report it with
/// `eprintln!`, which panics on a closed stderr, in whichever task was logging. SIGPIPE is
/// ignored for `redial run` (see `main`), so a closed pipe is EPIPE here, not the end of the node.
pub struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Whether stderr is the journal stream systemd connected (`JOURNAL_STREAM=DEV:INODE`, the
/// device and inode of that stream): then the log goes to journald with its fields.
fn stderr_is_the_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
        v.split_once(':')
            .map(|(d, i)| (d.to_string(), i.to_string()))
    }) else {
        return false;
    };
    // stat(2) of the fd's magic link is the stream itself (a socket, a pipe or a file).
    std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|m| dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()))
}

/// The node's log: journald (fields and priorities) when systemd connected stderr to the
/// journal, else text on stderr (colour only at a terminal) or JSON lines with `--json`.
pub fn init(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    if !json && stderr_is_the_journal() {
        match tracing_journald::layer() {
            Ok(layer) => {
                // Fields by their own names (JOB=, LINE=, CODE=…: `journalctl JOB=00000001.FS`),
                // and syslog's priorities: info is 6, not journald's default 5 (notice).
                let layer = layer
                    .with_field_prefix(None)
                    .with_syslog_identifier("redial".into())
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    });
                tracing_subscriber::registry()
                    .with(filter())
                    .with(layer)
                    .init();
                return;
            }
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "redial: the journal socket does not answer ({e}); logging to stderr"
                );
            }
        }
    }
    let sub = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(|| QuietStderr)
        // Colour only for a person at a terminal: a file, a pipe or the journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false);
    if json {
        sub.json().init();
    } else {
        sub.init();
    }
}
