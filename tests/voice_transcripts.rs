//! The voice call against a scripted far end with timed events: person, machine, DTMF, SIT.

use redial::modem::dialstring::DialString;
use redial::modem::dle::{DLE, ETX};
use redial::modem::voice_call::{VoiceCall, VoicePlan, VoiceResult};
use std::time::{Duration, Instant};

fn plan() -> VoicePlan {
    VoicePlan {
        dial: DialString::new("5550142", "").unwrap(),
        audio: vec![0xff, DLE, 0x7f, 0x00],
        init: vec![],
        machine_greeting: Duration::from_millis(1500),
        amd_timeout: Duration::from_secs(5),
        opt_out_digit: Some('9'),
        command_timeout: Duration::from_secs(5),
        dial_timeout: Duration::from_secs(120),
    }
}

/// A far end: what ATD answers, and shielded events at seconds after the answer.
struct FarEnd {
    dial: &'static str,
    events: Vec<(f64, u8)>,
}

fn call(far: FarEnd) -> (VoiceResult, Vec<Vec<u8>>) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut call = VoiceCall::new(now, plan());
    let mut written: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<(Instant, Vec<u8>)> = Vec::new();
    for _ in 0..1000 {
        while let Some(tx) = call.poll_transmit() {
            let text = String::from_utf8_lossy(&tx).trim_end().to_string();
            written.push(tx.clone());
            let answer: Vec<u8> = if text.starts_with("ATD") {
                if far.dial == "VCON" {
                    for (at, e) in &far.events {
                        pending.push((now + Duration::from_secs_f64(*at), vec![DLE, *e]));
                    }
                }
                format!("\r\n{}\r\n", far.dial).into_bytes()
            } else if text == "AT+VTX" {
                b"\r\nCONNECT\r\n".to_vec()
            } else if tx.ends_with(&[DLE, ETX]) {
                // Playback takes half a second of line time.
                pending.push((now + Duration::from_millis(500), b"\r\nOK\r\n".to_vec()));
                Vec::new()
            } else {
                b"\r\nOK\r\n".to_vec()
            };
            if !answer.is_empty() {
                call.feed(now, &answer);
            }
        }
        if let Some(r) = call.poll_result() {
            return (r, written);
        }
        pending.sort_by_key(|(t, _)| *t);
        let next_event = pending.first().map(|(t, _)| *t);
        match (call.poll_timeout(), next_event) {
            (Some(timer), Some(ev)) if ev <= timer => {
                now = ev;
                let (_, bytes) = pending.remove(0);
                call.feed(now, &bytes);
            }
            (Some(timer), _) => {
                now = timer;
                call.handle_timeout(now);
            }
            (None, Some(ev)) => {
                now = ev;
                let (_, bytes) = pending.remove(0);
                call.feed(now, &bytes);
            }
            (None, None) => panic!("stuck"),
        }
    }
    panic!("no result");
}

fn cmds(written: &[Vec<u8>]) -> Vec<String> {
    written
        .iter()
        .filter(|w| w.starts_with(b"AT"))
        .map(|w| String::from_utf8_lossy(w).trim_end().to_string())
        .collect()
}

#[test]
fn a_person_answers_listens_and_presses_digits() {
    let (r, written) = call(FarEnd {
        dial: "VCON",
        events: vec![
            (0.1, b'v'),
            (1.1, b'q'),
            (1.3, b'4'),
            (1.35, b'2'),
            (3.1, b's'),
        ],
    });
    assert_eq!(
        (r.code, r.machine, r.digits.as_str(), r.greeting_ms),
        (300, Some(false), "42", 1000),
        "{r:?}"
    );
    assert_eq!(
        cmds(&written),
        [
            "ATZ",
            "ATE0",
            "ATV1",
            "ATQ0",
            "ATX4",
            "AT+FCLASS=8",
            "AT+VSM=4,8000",
            "ATDT5550142",
            "AT+VTX",
            "ATH0"
        ]
    );
    let audio = written.iter().find(|w| !w.starts_with(b"AT")).unwrap();
    assert_eq!(audio.as_slice(), [0xff, DLE, DLE, 0x7f, 0x00, DLE, ETX]);
}

#[test]
fn an_answering_machine_gets_the_message_after_its_beep() {
    let (r, _) = call(FarEnd {
        dial: "VCON",
        events: vec![(0.1, b'v'), (12.1, b'q'), (14.1, b's')],
    });
    assert_eq!(
        (r.code, r.machine, r.greeting_ms),
        (302, Some(true), 12000),
        "{r:?}"
    );
}

#[test]
fn silence_means_could_not_tell() {
    let (r, _) = call(FarEnd {
        dial: "VCON",
        events: vec![],
    });
    assert_eq!((r.code, r.machine), (304, None), "{r:?}");
}

#[test]
fn opt_out_digit_and_hang_up_during_the_message() {
    let (r, _) = call(FarEnd {
        dial: "VCON",
        events: vec![(0.1, b'v'), (0.9, b'q'), (1.0, b'9')],
    });
    assert_eq!(r.code, 305);
    let (r, _) = call(FarEnd {
        dial: "VCON",
        events: vec![(0.1, b'v'), (0.9, b'q'), (1.0, b'b')],
    });
    assert_eq!(r.code, 301);
    let (r, _) = call(FarEnd {
        dial: "VCON",
        events: vec![(0.1, b'v'), (0.5, b'b')],
    });
    assert_eq!(r.code, 301, "hung up before the message");
}

#[test]
fn tones_and_call_placement() {
    assert_eq!(
        call(FarEnd {
            dial: "VCON",
            events: vec![(0.2, b'a')]
        })
        .0
        .code,
        12
    );
    assert_eq!(
        call(FarEnd {
            dial: "VCON",
            events: vec![(0.1, b'J')]
        })
        .0
        .code,
        7
    );
    for (dial, code) in [
        ("BUSY", 2),
        ("NO ANSWER", 1),
        ("NO DIALTONE", 4),
        ("NO CARRIER", 3),
        ("ERROR", 5),
    ] {
        let (r, written) = call(FarEnd {
            dial,
            events: vec![],
        });
        assert_eq!(r.code, code, "{dial}");
        assert_eq!(cmds(&written).last().unwrap(), "ATH0");
    }
}
