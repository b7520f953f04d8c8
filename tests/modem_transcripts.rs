//! The fax sender against scripted modem transcripts: every phase, no port, no sleeps.

use redial::modem::dialstring::DialString;
use redial::modem::dle::{DLE, ETX};
use redial::modem::fax_send::{FaxClass, FaxEvent, FaxPlan, FaxResult, FaxSend, FaxTimeouts};
use std::time::Instant;

fn plan(pages: usize) -> FaxPlan {
    FaxPlan {
        dial: DialString::new("555 0100", "").unwrap(),
        pages: (0..pages)
            .map(|i| vec![0x00, 0x10, i as u8, 0x80])
            .collect(),
        fine: true,
        two_d: false,
        pages_mr: vec![],
        local_id: "redial \"test\"".into(),
        init: vec!["S7=60".into()],
        max_speed: 5,
        page_retries: 2,
        flo: None,
        ec: 0,
    }
}

/// Runs a call against `modem` (bytes written → bytes answered). Returns the result, every
/// write (lossy text), and the progress events.
fn converse(
    class: FaxClass,
    plan: FaxPlan,
    modem: impl FnMut(&[u8]) -> Vec<u8>,
) -> (FaxResult, Vec<String>, Vec<FaxEvent>) {
    let (r, raw, ev) = converse_raw(class, plan, modem);
    (
        r,
        raw.iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
        ev,
    )
}

fn converse_raw(
    class: FaxClass,
    plan: FaxPlan,
    mut modem: impl FnMut(&[u8]) -> Vec<u8>,
) -> (FaxResult, Vec<Vec<u8>>, Vec<FaxEvent>) {
    let mut now = Instant::now();
    let mut send = FaxSend::new(now, plan, class, FaxTimeouts::default());
    let mut written = Vec::new();
    let mut events = Vec::new();
    for _ in 0..10_000 {
        while let Some(tx) = send.poll_transmit() {
            written.push(tx.clone());
            let answer = modem(&tx);
            if !answer.is_empty() {
                send.feed(now, &answer);
            }
        }
        while let Some(ev) = send.poll_event() {
            if let FaxEvent::Finished(r) = &ev {
                events.push(ev.clone());
                assert!(send.is_done());
                return (r.clone(), written, events);
            }
            events.push(ev);
        }
        let Some(t) = send.poll_timeout() else {
            panic!("stuck: nothing to send, no timer")
        };
        now = now.max(t);
        send.handle_timeout(now);
    }
    panic!("no result after 10000 steps");
}

fn ok() -> Vec<u8> {
    b"\r\nOK\r\n".to_vec()
}

/// A Class 2.0 modem whose call goes as `dial` says and whose pages get `page_answer`.
fn class20(
    dial: &'static str,
    mut page_answer: impl FnMut(usize, u8) -> &'static str,
) -> impl FnMut(&[u8]) -> Vec<u8> {
    let mut page = 0;
    move |tx: &[u8]| {
        let text = String::from_utf8_lossy(tx);
        if tx.len() >= 2 && tx[tx.len() - 2] == DLE && tx[0] != b'A' {
            page += 1;
            return page_answer(page, tx[tx.len() - 1]).as_bytes().to_vec();
        }
        match text.trim_end() {
            t if t.starts_with("ATD") => dial.as_bytes().to_vec(),
            "AT+FDT" => b"\r\n+FCS:1,5,0,2,0,0,0,0\r\n\r\nCONNECT\r\n".to_vec(),
            _ => ok(),
        }
    }
}

const ANSWERED: &str =
    "\r\n+FCO\r\n\r\n+FCI:\"ACME SALES\"\r\n\r\n+FIS:1,5,0,2,0,0,0,0\r\n\r\nOK\r\n";

#[test]
fn class20_two_pages() {
    let (r, raw, events) = converse_raw(
        FaxClass::Class20,
        plan(2),
        class20(ANSWERED, |_, end| {
            if end == b'.' {
                "\r\n+FHS:00\r\n\r\nOK\r\n"
            } else {
                "\r\nOK\r\n"
            }
        }),
    );
    let written: Vec<String> = raw
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(
        (r.code, r.pages_sent, r.baud, r.remote_id.as_str()),
        (0, 2, 14400, "ACME SALES"),
        "{r:?}"
    );
    let cmds: Vec<&str> = written
        .iter()
        .filter(|w| w.starts_with("AT"))
        .map(|w| w.trim_end())
        .collect();
    assert_eq!(
        cmds,
        [
            "ATZ",
            "ATE0",
            "ATV1",
            "ATQ0",
            "ATX4",
            "ATS7=60",
            "AT+FCLASS=2.0",
            "AT+FLI=\"redial test\"",
            "AT+FCC=1,5,0,2,0,0,0,0",
            "AT+FBO=0",
            "AT+FNR=1,1,1,1",
            "AT+FIS=1,5,0,2,0,0,0,0",
            "ATDT5550100",
            "AT+FDT",
            "AT+FDT",
            "ATH0"
        ]
    );
    // Page data: DLE doubled, MPS after page 1, EOP after page 2.
    let data: Vec<&Vec<u8>> = raw.iter().filter(|w| !w.starts_with(b"AT")).collect();
    assert_eq!(data[0].as_slice(), [0x00, DLE, DLE, 0, 0x80, DLE, b',']);
    assert_eq!(data[1].as_slice(), [0x00, DLE, DLE, 1, 0x80, DLE, b'.']);
    assert!(events.contains(&FaxEvent::PageSent(2)));
}

#[test]
fn call_placement_results_map_to_outcome_codes() {
    for (answer, code) in [
        ("\r\nBUSY\r\n", 2),
        ("\r\nNO ANSWER\r\n", 1),
        ("\r\nNO CARRIER\r\n", 3),
        ("\r\nNO DIALTONE\r\n", 4),
        ("\r\nERROR\r\n", 5),
        ("\r\nCONNECT 2400\r\n", 13),
        ("\r\nVCON\r\n", 6),
        ("\r\n+FHS:11\r\n\r\nNO CARRIER\r\n", 1011),
        ("\r\n+FHS:05\r\n\r\nERROR\r\n", 1005),
        ("\r\nOK\r\n", 3),
    ] {
        let (r, written, _) = converse(FaxClass::Class20, plan(1), class20(answer, |_, _| ""));
        assert_eq!((r.code, r.pages_sent), (code, 0), "{answer:?}: {r:?}");
        assert_eq!(
            written.last().unwrap().trim_end(),
            "ATH0",
            "always hangs up"
        );
    }
}

#[test]
fn phase_b_hangup_during_page_start() {
    let mut modem = class20(ANSWERED, |_, _| "");
    let (r, _, _) = converse(FaxClass::Class20, plan(1), move |tx| {
        if tx.starts_with(b"AT+FDT") {
            return b"\r\n+FHS:25\r\n\r\nERROR\r\n".to_vec();
        }
        modem(tx)
    });
    assert_eq!(
        (r.code, r.pages_sent, r.hangup.as_deref()),
        (1025, 0, Some("25"))
    );
}

#[test]
fn rtn_is_retransmitted_then_gives_up() {
    let mut fps_answers = vec!["\r\n+FPS:2\r\n\r\nOK\r\n"; 10].into_iter();
    let mut base = class20(ANSWERED, |n, _| {
        if n == 1 {
            "\r\nERROR\r\n"
        } else if n == 2 {
            "\r\nOK\r\n"
        } else {
            "\r\n+FHS:00\r\n\r\nOK\r\n"
        }
    });
    let (r, written, events) = converse(FaxClass::Class20, plan(2), |tx| {
        if tx.starts_with(b"AT+FPS?") {
            return fps_answers.next().unwrap().as_bytes().to_vec();
        }
        base(tx)
    });
    assert_eq!((r.code, r.pages_sent), (0, 2), "{r:?}");
    assert_eq!(
        written.iter().filter(|w| w.starts_with("AT+FDT")).count(),
        3
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, FaxEvent::Progress(p) if p.contains("rejected"))));
    // Always rejected: two retries, then outcome 20.
    let mut always = class20(ANSWERED, |_, _| "\r\nERROR\r\n");
    let (r, written, _) = converse(FaxClass::Class20, plan(1), |tx| {
        if tx.starts_with(b"AT+FPS?") {
            b"\r\n2\r\n\r\nOK\r\n".to_vec()
        } else {
            always(tx)
        }
    });
    assert_eq!((r.code, r.pages_sent), (20, 0));
    assert_eq!(
        written.iter().filter(|w| w.starts_with("AT+FDT")).count(),
        3
    );
}

#[test]
fn remote_hangup_after_a_page_keeps_the_pages_sent() {
    let (r, _, _) = converse(
        FaxClass::Class20,
        plan(3),
        class20(ANSWERED, |n, _| {
            if n == 1 {
                "\r\nOK\r\n"
            } else {
                "\r\n+FHS:54\r\n\r\nERROR\r\n"
            }
        }),
    );
    assert_eq!((r.code, r.pages_sent), (1054, 1));
}

#[test]
fn class2_waits_for_xon_and_uses_fet() {
    let modem = move |tx: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(tx);
        if tx.ends_with(&[DLE, ETX]) {
            return ok();
        }
        match text.trim_end() {
            t if t.starts_with("ATD") => {
                b"\r\n+FCON\r\n\r\n+FCSI:\" 555 0100\"\r\n\r\n+FDIS:0,3,0,2,0,0,0,0\r\n\r\nOK\r\n"
                    .to_vec()
            }
            "AT+FDT" => b"\r\n+FDCS:0,3,0,2,0,0,0,0\r\n\r\nCONNECT\r\n\x11".to_vec(),
            "AT+FET=0" => b"\r\n+FPTS:1\r\n\r\nOK\r\n".to_vec(),
            "AT+FET=2" => b"\r\n+FPTS:1\r\n\r\n+FHNG:0\r\n\r\nOK\r\n".to_vec(),
            _ => ok(),
        }
    };
    let (r, written, _) = converse(FaxClass::Class2, plan(2), modem);
    assert_eq!(
        (r.code, r.pages_sent, r.baud, r.remote_id.as_str()),
        (0, 2, 9600, "555 0100"),
        "{r:?}"
    );
    assert!(written.iter().any(|w| w.trim_end() == "AT+FCLASS=2"));
    assert!(written
        .iter()
        .any(|w| w.trim_end() == "AT+FLID=\"redial test\""));
}

#[test]
fn class2_without_xon_aborts() {
    let (r, written, _) = converse(FaxClass::Class2, plan(1), |tx: &[u8]| {
        let text = String::from_utf8_lossy(tx);
        match text.trim_end() {
            t if t.starts_with("ATD") => b"\r\n+FCON\r\n\r\nOK\r\n".to_vec(),
            "AT+FDT" => b"\r\nCONNECT\r\n".to_vec(),
            _ => ok(),
        }
    });
    assert_eq!(r.code, 1043);
    assert!(written.iter().any(|w| w.as_bytes() == [0x18]), "CAN sent");
}

#[test]
fn a_wedged_modem_is_reported_unresponsive() {
    let (r, written, _) = converse(FaxClass::Class20, plan(1), |tx: &[u8]| {
        if tx.starts_with(b"ATZ") {
            ok()
        } else {
            Vec::new()
        }
    });
    assert_eq!((r.code, r.modem_unresponsive), (34, true));
    assert_eq!(
        written.len(),
        3,
        "ATZ, ATE0 (no answer), ATH0 (no answer): {written:?}"
    );
}

#[test]
fn required_init_error_is_outcome_36_and_optional_errors_are_tolerated() {
    let (r, _, _) = converse(FaxClass::Class20, plan(1), |tx: &[u8]| {
        if tx.starts_with(b"AT+FCLASS") {
            b"\r\nERROR\r\n".to_vec()
        } else {
            ok()
        }
    });
    assert_eq!(r.code, 36);
    let mut base = class20(ANSWERED, |_, _| "\r\n+FHS:00\r\n\r\nOK\r\n");
    let (r, _, _) = converse(FaxClass::Class20, plan(1), |tx: &[u8]| {
        if tx.starts_with(b"AT+FNR") || tx.starts_with(b"ATX4") {
            b"\r\nERROR\r\n".to_vec()
        } else {
            base(tx)
        }
    });
    assert_eq!((r.code, r.pages_sent), (0, 1));
}

#[test]
fn dial_timeout_is_outcome_9() {
    let (r, _, _) = converse(FaxClass::Class20, plan(1), |tx: &[u8]| {
        if tx.starts_with(b"ATD") {
            Vec::new()
        } else {
            ok()
        }
    });
    assert_eq!(r.code, 9);
}

#[test]
fn the_negotiated_data_format_picks_mh_or_mr() {
    let mut p = plan(1);
    p.two_d = true;
    p.pages_mr = vec![vec![0xAA, 0xBB]];
    for (fcs, want) in [
        ("1,5,0,2,1,0,0,0", vec![0xAA, 0xBB, DLE, b'.']),
        ("1,5,0,2,0,0,0,0", vec![0x00, DLE, DLE, 0, 0x80, DLE, b'.']),
    ] {
        let mut pages = 0;
        let (r, raw, _) = converse_raw(FaxClass::Class20, p.clone(), |tx: &[u8]| {
            let text = String::from_utf8_lossy(tx).trim_end().to_string();
            if tx.ends_with(&[DLE, b'.']) {
                pages += 1;
                return b"\r\n+FHS:00\r\n\r\nOK\r\n".to_vec();
            }
            match text.as_str() {
                t if t.starts_with("ATD") => ANSWERED.as_bytes().to_vec(),
                "AT+FDT" => format!("\r\n+FCS:{fcs}\r\n\r\nCONNECT\r\n").into_bytes(),
                _ => ok(),
            }
        });
        assert_eq!((r.code, r.pages_sent), (0, 1));
        let data = raw.iter().find(|w| !w.starts_with(b"AT")).unwrap();
        assert_eq!(data, &want, "+FCS:{fcs}");
        assert!(
            raw.iter().any(|w| w.starts_with(b"AT+FCC=1,5,0,2,1,")),
            "MR offered in +FCC"
        );
    }
}

/// ECM in Class 2.0 and Class 2: the plan's `ec` goes into `+FCC`/`+FIS` (`+FDCC`/`+FDIS`) as
/// the sixth subparameter (0 off, 1 ECM with 64-octet frames, 2 with 256), and what the modem's
/// `+FCS`/`+FDCS` says was negotiated is reported as a progress line for the session log.
#[test]
fn ecm_is_offered_in_the_ec_subparameter_and_the_negotiated_ec_is_reported() {
    use redial::modem::fax_send::{EC_256, EC_64, EC_OFF};
    for (class, ec, fcs, offered, said) in [
        (
            FaxClass::Class20,
            EC_256,
            "1,5,0,2,0,2,0,0",
            "1,5,0,2,0,2,0,0",
            "ECM with 256-octet frames",
        ),
        (
            FaxClass::Class20,
            EC_64,
            "1,5,0,2,0,1,0,0",
            "1,5,0,2,0,1,0,0",
            "ECM with 64-octet frames",
        ),
        (
            FaxClass::Class20,
            EC_256,
            "1,5,0,2,0,0,0,0",
            "1,5,0,2,0,2,0,0",
            "no ECM",
        ),
        (
            FaxClass::Class20,
            EC_OFF,
            "1,5,0,2,0,0,0,0",
            "1,5,0,2,0,0,0,0",
            "no ECM",
        ),
        (
            FaxClass::Class2,
            EC_256,
            "1,3,0,2,0,2,0,0",
            "1,5,0,2,0,2,0,0",
            "ECM with 256-octet frames",
        ),
    ] {
        let what = format!("{class:?} ec={ec} +FCS:{fcs}");
        let p = FaxPlan { ec, ..plan(1) };
        let (r, written, events) = converse(class, p, |tx: &[u8]| {
            let text = String::from_utf8_lossy(tx).trim_end().to_string();
            if tx.ends_with(&[DLE, b'.']) {
                return b"\r\n+FHS:00\r\n\r\nOK\r\n".to_vec();
            }
            if tx.ends_with(&[DLE, ETX]) {
                return ok();
            }
            match text.as_str() {
                t if t.starts_with("ATD") => ANSWERED.as_bytes().to_vec(),
                "AT+FDT" if class == FaxClass::Class20 => {
                    format!("\r\n+FCS:{fcs}\r\n\r\nCONNECT\r\n").into_bytes()
                }
                "AT+FDT" => format!("\r\n+FDCS:{fcs}\r\n\r\nCONNECT\r\n\x11").into_bytes(),
                "AT+FET=2" => b"\r\n+FPTS:1\r\n\r\n+FHNG:0\r\n\r\nOK\r\n".to_vec(),
                _ => ok(),
            }
        });
        assert_eq!((r.code, r.pages_sent), (0, 1), "{what}: {r:?}");
        let (cc, is) = if class == FaxClass::Class20 {
            ("AT+FCC=", "AT+FIS=")
        } else {
            ("AT+FDCC=", "AT+FDIS=")
        };
        for cmd in [cc, is] {
            assert!(
                written
                    .iter()
                    .any(|w| w.trim_end() == format!("{cmd}{offered}")),
                "{what}: {cmd}{offered} not in {written:?}"
            );
        }
        let want = format!(", {said}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, FaxEvent::Progress(p) if p.starts_with("session: ") && p.ends_with(&want))),
            "{what}: {events:?}"
        );
    }
}

#[test]
fn the_line_flow_control_is_told_to_a_class_20_modem_and_an_error_is_tolerated() {
    for (flo, answer) in [(1u8, "\r\nOK\r\n"), (2, "\r\nERROR\r\n")] {
        let mut modem = class20(ANSWERED, |_, end| {
            if end == b'.' {
                "\r\n+FHS:00\r\n\r\nOK\r\n"
            } else {
                "\r\nOK\r\n"
            }
        });
        let (r, written, _) = converse(
            FaxClass::Class20,
            FaxPlan {
                flo: Some(flo),
                ..plan(1)
            },
            |tx: &[u8]| {
                if tx.starts_with(b"AT+FLO=") {
                    answer.as_bytes().to_vec()
                } else {
                    modem(tx)
                }
            },
        );
        assert_eq!(r.code, 0, "+FLO={flo} answered {answer:?}: {r:?}");
        let cmds: Vec<&str> = written.iter().map(|w| w.trim_end()).collect();
        let at = |c: &str| cmds.iter().position(|w| *w == c).unwrap();
        let flo_at = at(&format!("AT+FLO={flo}"));
        assert!(at("AT+FCLASS=2.0") < flo_at && flo_at < at("ATDT5550100"));
    }
    // Class 2 (SP-2388) has no +FLO.
    let (_, written, _) = converse(
        FaxClass::Class2,
        FaxPlan {
            flo: Some(1),
            ..plan(1)
        },
        |_| ok(),
    );
    assert!(!written.iter().any(|w| w.starts_with("AT+FLO")));
}
