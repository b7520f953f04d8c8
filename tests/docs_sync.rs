//! The outcome-code table in docs/outcome-codes.md must list exactly the built-in table.
//! Run with REDIAL_BLESS=1 to rewrite the file after changing the table.

use redial::retry::outcome::{Channel, DEFAULT_TABLE};

fn render() -> String {
    let mut s = String::from(
        "# Outcome codes\n\n\
         Every attempt ends with a numeric outcome code; the outcome table maps it to a class letter\n\
         (A-H, J-O retried by their `$retry_delays` list, I ignored and retried after a minute, S success,\n\
         Z final failure). A `$retry_parms` file in the CFG overrides rows (see retry.md).\n\n\
         Numbering: 0 success; 1-29 call placement and fax session; 30-49 system and job errors;\n\
         66 interrupted; 183 send window expired; 300-319 voice; 400-409 SMS delivery reports;\n\
         410-419 SMS gateway (HTTP); 420-429 SMS through a GSM modem (`+CMS ERROR`, status reports);\n\
         1000+n fax hang-up code n (`+FHS`/`+FHNG`, 2388-A decimal numbering; Class 2.0's A0-A3 are\n\
         1100-1103); 2000+n SMTP reply n, and 2001-2009 SMTP failures without a reply.\n\
         Unlisted codes: 1000-1199 class F, 2400-2499 class E, 2500-2599 class Z (every 5xx reply fails for good), anything else class E.\n\n\
         This file is checked against the built-in table by `tests/docs_sync.rs`.\n\n\
         | code | channel | class | meaning |\n|---:|---|:---:|---|\n",
    );
    for (code, ch, class, what) in DEFAULT_TABLE {
        let ch = match ch {
            None => "any",
            Some(Channel::Fax) => "fax",
            Some(Channel::Voice) => "voice",
            Some(Channel::Poll) => "poll",
            Some(Channel::Email) => "email",
            Some(Channel::Sms) => "sms",
        };
        s.push_str(&format!("| {code} | {ch} | {class} | {what} |\n"));
    }
    s
}

#[test]
fn outcome_code_doc_matches_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/outcome-codes.md");
    let want = render();
    if std::env::var_os("REDIAL_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/outcome-codes.md is out of date; run REDIAL_BLESS=1 cargo test --test docs_sync"
    );
}

/// docs/commands.md: its generated part lists exactly the command registry
/// (`src/command/registry.rs`): what redial acts on, and the CopiaFacts commands it accepts
/// quietly. The text above the marker is written by hand and kept.
fn render_commands(head: &str) -> String {
    use redial::command::registry::{FileKind, ACCEPTED, ACTED, CRITICAL_FS};
    let kinds = |k: &str| {
        [
            (FileKind::Cfg, 'C'),
            (FileKind::Usr, 'U'),
            (FileKind::Fs, 'F'),
        ]
        .iter()
        .filter(|(_, c)| k.contains(*c))
        .map(|(f, _)| f.label())
        .collect::<Vec<_>>()
        .join(", ")
    };
    let mut s =
        format!("{head}{MARKER}\n\n## Commands redial acts on\n\n| command | files |\n|---|---|\n");
    for (name, k) in ACTED {
        let star = if CRITICAL_FS.contains(name) {
            " †"
        } else {
            ""
        };
        s.push_str(&format!("| `${name}`{star} | {} |\n", kinds(k)));
    }
    s.push_str(
        "\n† a misspelling within two edits of this command fails the job (outcome 33).\n\n\
         ## CopiaFacts commands accepted quietly\n\n\
         redial reads these without acting on them (no warning).\n\n\
         | command | files | in CopiaFacts |\n|---|---|---|\n",
    );
    for (name, k, what) in ACCEPTED {
        s.push_str(&format!("| `${name}` | {} | {what} |\n", kinds(k)));
    }
    s
}

const MARKER: &str = "<!-- generated below by tests/docs_sync.rs from src/command/registry.rs -->";

#[test]
fn command_doc_matches_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
    let have = std::fs::read_to_string(path).unwrap_or_default();
    let head = have.split(MARKER).next().unwrap_or_default().to_string();
    let want = render_commands(&head);
    if std::env::var_os("REDIAL_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have.contains(MARKER) && have == want,
        "docs/commands.md is out of date; run REDIAL_BLESS=1 cargo test --test docs_sync"
    );
}
