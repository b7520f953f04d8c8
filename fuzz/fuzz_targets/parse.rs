//! Fuzzes the command-language parser, the job view, the policy layer and the list grammar:
//! none may panic, and whatever parses must be written back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redial::command::Document;
use redial::job::Job;
use redial::retry::delays::parse_list;
use redial::retry::policy::{Level, PolicyLayer};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::parse(data, "fuzz.FS") {
        assert_eq!(doc.to_bytes(), data);
        let _ = Job::from_document(&doc);
        let _ = PolicyLayer::from_document(&doc, Level::Cfg);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = parse_list(text) {
            let _ = spec.expand(1);
        }
    }
});
