//! The Class 1 sender against scripted DCEs: the rig's own exchange (bytes taken from an efax
//! `-v` run through two iaxmodems, see `../shared/spec/iaxmodem-rig.md`) and faults a real
//! modem pair cannot be made to produce (FTT, RTN, silence, +FCERROR, PIN). A fake clock drives
//! every T.30 timer, so a T4 expiry costs nothing.

use redial::fax::{render_text, Page};
use redial::line::flow::XonXoff;
use redial::modem::dialstring::DialString;
use redial::modem::fax_send::{FaxEvent, FaxResult, FaxTimeouts};
use redial::modem::t30::frame::fcf;
use redial::modem::t30::{Class1Plan, Class1Send, T30Timers};
use std::time::{Duration, Instant};

mod class1_dce;

use class1_dce::{dis_with_2d, dis_with_ecm_mmr, frame, wire, Dce, Faults};

struct Run {
    result: FaxResult,
    dce: Dce,
    events: Vec<FaxEvent>,
    elapsed: Duration,
}

fn run(plan: Class1Plan, faults: Faults) -> Run {
    let start = Instant::now();
    let mut t = start;
    let mut m = Class1Send::new(t, plan, FaxTimeouts::default(), T30Timers::default());
    let mut dce = Dce::new(faults);
    let mut gate = XonXoff::new(true);
    let mut events = Vec::new();
    for _ in 0..10_000 {
        while let Some(tx) = m.poll_transmit() {
            dce.input(&tx);
        }
        if m.is_done() {
            break;
        }
        if !dce.out.is_empty() {
            let out = std::mem::take(&mut dce.out);
            // Deliver in small chunks, as a port would, through the serial shell's XON/XOFF
            // gate: this DCE never sends XOFF, so a pause means a data byte was taken for one.
            for chunk in out.chunks(7) {
                gate.feed(&mut m, t, chunk);
                assert!(
                    !gate.paused(),
                    "a DC3 in the modem's data was taken for XOFF after {chunk:02x?}"
                );
            }
            continue;
        }
        let next = m
            .poll_timeout()
            .expect("a machine with nothing to do must wait for something");
        t = t.max(next);
        m.handle_timeout(t);
    }
    while let Some(e) = m.poll_event() {
        events.push(e);
    }
    let result = events
        .iter()
        .find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r.clone()),
            _ => None,
        })
        .expect("finished");
    Run {
        result,
        dce,
        events,
        elapsed: t - start,
    }
}

fn pages(n: usize) -> Vec<Page> {
    (0..n)
        .flat_map(|i| render_text(format!("page {}\n", i + 1).as_bytes()))
        .collect()
}

fn plan(n: usize) -> Class1Plan {
    Class1Plan {
        dial: DialString::new("5550002", "").unwrap(),
        pages: pages(n),
        fine: true,
        two_d: false,
        local_id: "+1 555 0001".into(),
        init: vec![],
        max_speed: 5,
        page_retries: 2,
        flo: None,
        ecm: false,
        ecm_frame: 256,
        ecm_host_hdlc: false,
    }
}

fn kinds(d: &Dce) -> Vec<&'static str> {
    d.sent_frames
        .iter()
        .map(|f| redial::modem::t30::frame::fcf_name(f[2]))
        .collect()
}

#[test]
fn the_rigs_exchange_one_page() {
    let r = run(plan(1), Faults::default());
    assert_eq!(r.result.code, 0, "{:?}", r.events);
    assert_eq!((r.result.pages_sent, r.result.baud), (1, 14400));
    assert_eq!(r.result.remote_id, "");
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "EOP", "DCN"]);
    // Our DCS is the one efax sent through the rig: "ff c8 c1 00 46 1e" in its notation.
    assert_eq!(
        r.dce.sent_frames[1],
        wire(&[0xff, 0xc8, 0xc1, 0x00, 0x46, 0x1e])
    );
    assert_eq!(&r.dce.sent_frames[0][..3], [0xff, 0x03, 0x43]);
    assert_eq!(r.dce.sent_frames[2], [0xff, 0x13, 0x2f]);
    assert_eq!(r.dce.tcf, [(145, 2700)]);
    assert_eq!(
        r.dce.commands,
        [
            "ATZ",
            "ATE0",
            "ATV1",
            "ATQ0",
            "ATX4",
            "AT+FCLASS=1",
            "AT+FTM=?",
            "ATDT5550002",
            "AT+FRH=3",
            "AT+FRS=7",
            "AT+FTH=3",
            "AT+FTS=8",
            "AT+FTM=145",
            "AT+FRH=3",
            "AT+FRS=7",
            "AT+FTM=146",
            "AT+FTS=8",
            "AT+FTH=3",
            "AT+FRH=3",
            "AT+FTH=3",
            "ATH0"
        ]
    );
    // The page ends with RTC and decodes to the page we gave (fine, 1728 wide).
    let data = &r.dce.pages[0];
    let want = plan(1).pages[0].to_resolution(redial::fax::Resolution::Fine);
    let got = redial::fax::decode::decode(
        data,
        1728,
        want.lines(),
        redial::fax::Scheme::Mh,
        redial::fax::BitOrder::LsbFirst,
    )
    .expect("the page decodes");
    assert_eq!(&got, want.bitmap());
    // RTC: the page ends with six EOLs (000000000001) in transmission order, then fill.
    let bits: String = data[data.len() - 12..]
        .iter()
        .flat_map(|b| (0..8).map(move |i| if b >> i & 1 == 1 { '1' } else { '0' }))
        .collect();
    assert!(
        bits.trim_end_matches('0')
            .ends_with(&"000000000001".repeat(6)),
        "{bits}"
    );
    // The live steps: dialling, then the page going out at the trained speed, then confirmed.
    let dialling = r.events.iter().position(|e| *e == FaxEvent::Dialling);
    let started = r.events.iter().position(|e| {
        matches!(
            e,
            FaxEvent::PageStarted {
                page: 1,
                of: 1,
                baud
            } if *baud == r.result.baud
        )
    });
    let confirmed = r.events.iter().position(|e| *e == FaxEvent::PageSent(1));
    assert!(
        dialling.is_some() && dialling < started && started < confirmed,
        "{:?}",
        r.events
    );
}

#[test]
fn ftt_once_then_cfr_steps_down_one_speed() {
    let r = run(
        plan(1),
        Faults {
            ftt: 1,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0);
    assert_eq!(r.result.baud, 12000);
    assert_eq!(r.dce.tcf, [(145, 2700), (121, 2250)]);
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "TSI", "DCS", "EOP", "DCN"]);
    assert!(r.dce.commands.contains(&"AT+FTM=122".to_string()));
}

#[test]
fn ftt_at_every_speed_is_failure_to_train() {
    let r = run(
        plan(1),
        Faults {
            ftt: 99,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1027);
    let codes: Vec<u32> = r.dce.tcf.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [145, 121, 97, 96, 73, 72, 48, 24]);
    assert_eq!(kinds(&r.dce).last(), Some(&"DCN"));
}

#[test]
fn a_speed_cap_and_a_v29_only_receiver() {
    let r = run(
        Class1Plan {
            max_speed: 3,
            ..plan(1)
        },
        Faults::default(),
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 97);
    // DIS with rate bits 1000 (V.29 only), standard resolution only, 20 ms scan time.
    let dis = vec![0xff, 0x13, 0x80, 0x00, 0x02 | 0x04, 0x00]; // bits 10 and 11
    let r = run(
        plan(1),
        Faults {
            dis: Some(dis),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 96);
    let dcs = &r.dce.sent_frames[1][3..];
    assert_eq!(dcs[1] & 0x40, 0, "standard resolution: bit 15 clear");
    // 20 ms at 9600 bit/s: every coded line is at least 24 bytes.
    assert!(r.dce.pages[0].len() >= 24 * plan(1).pages[0].to_standard().lines() as usize);
}

#[test]
fn rtn_on_page_two_retrains_and_resends() {
    let r = run(
        plan(3),
        Faults {
            rtn_on_page: Some(2),
            rtn_times: 1,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0, "{:?}", r.events);
    assert_eq!(r.result.pages_sent, 3);
    assert_eq!(r.dce.pages.len(), 4, "page 2 went twice");
    assert_eq!(r.dce.pages[1], r.dce.pages[2]);
    assert_eq!(
        kinds(&r.dce),
        ["TSI", "DCS", "MPS", "MPS", "TSI", "DCS", "MPS", "EOP", "DCN"]
    );
}

#[test]
fn rtn_beyond_the_limit_is_20_with_partial_pages() {
    let r = run(
        plan(3),
        Faults {
            rtn_on_page: Some(2),
            rtn_times: 9,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (20, 1));
    assert_eq!(kinds(&r.dce).last(), Some(&"DCN"));
}

#[test]
fn no_mcf_three_times_is_1054_after_eop_and_1052_after_mps() {
    let r = run(
        plan(1),
        Faults {
            silent_ppm: 3,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1054, 0));
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "EOP", "EOP", "EOP", "DCN"]);
    // Three T4 waits (3 s each) plus the cancels: the fake clock moved, no real time passed.
    assert!(r.elapsed >= Duration::from_secs(9));
    let r = run(
        plan(2),
        Faults {
            silent_ppm: 3,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1052);
    // Silence twice, then MCF: the page counts.
    let r = run(
        plan(1),
        Faults {
            silent_ppm: 2,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (0, 1));
}

#[test]
fn pin_is_1058() {
    let r = run(
        plan(2),
        Faults {
            pin_on_page: Some(2),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1058, 1));
}

#[test]
fn fcerror_on_a_frame_reception_is_retried() {
    let r = run(
        plan(1),
        Faults {
            fcerror_first_frh: true,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0);
}

#[test]
fn page_carrier_refused_is_1040() {
    let r = run(
        plan(1),
        Faults {
            ftm_error: true,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1040);
}

#[test]
fn call_placement_results() {
    for (text, code) in [
        ("BUSY", 2),
        ("NO ANSWER", 1),
        ("NO DIALTONE", 4),
        ("NO CARRIER", 3),
        ("ERROR", 5),
    ] {
        let r = run(
            plan(1),
            Faults {
                dial_result: Some(text),
                ..Faults::default()
            },
        );
        assert_eq!(r.result.code, code, "{text}");
        assert_eq!(r.dce.commands.last().map(String::as_str), Some("ATH0"));
    }
}

#[test]
fn no_dis_before_t1_is_1011() {
    // The receiver answers, sends CSI, and then nothing: T1 runs out.
    let r = run(
        plan(1),
        Faults {
            dis: Some(frame(fcf::NSF)),
            ..Faults::default()
        },
    );
    // NSF as a final frame is not a DIS: keep listening until T1.
    assert_eq!(r.result.code, 1023);
    assert!(r.elapsed >= Duration::from_secs(35));
}

#[test]
fn a_silent_modem_is_34_and_unresponsive() {
    let start = Instant::now();
    let mut m = Class1Send::new(start, plan(1), FaxTimeouts::default(), T30Timers::default());
    while !m.is_done() {
        while m.poll_transmit().is_some() {}
        let t = m.poll_timeout().unwrap();
        m.handle_timeout(t);
    }
    let r = std::iter::from_fn(|| m.poll_event())
        .find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(r.code, 34);
    assert!(r.modem_unresponsive);
}

#[test]
fn a_modem_without_v17_trains_at_v29() {
    let r = run(
        plan(1),
        Faults {
            ftm_codes: Some("24,48,72,96"),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 96);
}

#[test]
fn a_receiver_offering_2d_gets_dcs_bit_16_and_mr_pages_that_decode_equal() {
    use redial::fax::{decode::decode, BitOrder, Resolution, Scheme};
    use redial::modem::t30::caps::bit;
    for fine in [true, false] {
        let r = run(
            Class1Plan {
                two_d: true,
                fine,
                ..plan(2)
            },
            Faults {
                dis: Some(dis_with_2d()),
                ..Faults::default()
            },
        );
        assert_eq!(
            (r.result.code, r.result.pages_sent),
            (0, 2),
            "{:?}",
            r.events
        );
        let dcs = &r.dce.sent_frames[1];
        assert_eq!(dcs[2] & 0xFE, fcf::DCS);
        assert!(bit(&dcs[3..], 16), "DCS asks for 2-D coding");
        assert_eq!(bit(&dcs[3..], 15), fine);
        let resolution = if fine {
            Resolution::Fine
        } else {
            Resolution::Standard
        };
        for (i, data) in r.dce.pages.iter().enumerate() {
            let want = plan(2).pages[i].to_resolution(resolution);
            // Decoded as MR the page is the source, pixel for pixel; as MH it is not.
            let got = decode(data, 1728, want.lines(), Scheme::Mr, BitOrder::LsbFirst)
                .expect("the MR page decodes");
            assert_eq!(&got, want.bitmap(), "fine={fine} page {}", i + 1);
            let mh = decode(data, 1728, want.lines(), Scheme::Mh, BitOrder::LsbFirst);
            assert!(mh.map_or(true, |b| &b != want.bitmap()), "not MH");
            // K: one 1-D line every 4 (fine) or 2 (standard) lines; MR is shorter than MH.
            let mh_len = redial::fax::encode(
                &want,
                &redial::fax::EncodeOptions {
                    rtc: true,
                    align_eol: true,
                    ..Default::default()
                },
            )
            .len();
            assert!(data.len() < mh_len, "MR {} bytes, MH {mh_len}", data.len());
        }
    }
    // The same receiver with 2-D turned off on our side: DCS bit 16 clear, MH pages.
    let r = run(
        plan(1),
        Faults {
            dis: Some(dis_with_2d()),
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0);
    assert!(!bit(&r.dce.sent_frames[1][3..], 16));
    let want = plan(1).pages[0].to_resolution(Resolution::Fine);
    let got = decode(
        &r.dce.pages[0],
        1728,
        want.lines(),
        Scheme::Mh,
        BitOrder::LsbFirst,
    )
    .unwrap();
    assert_eq!(&got, want.bitmap());
}

#[test]
fn the_line_flow_control_is_told_after_fclass_1() {
    let r = run(
        Class1Plan {
            flo: Some(1),
            ..plan(1)
        },
        Faults::default(),
    );
    assert_eq!(r.result.code, 0);
    let at = |c: &str| r.dce.commands.iter().position(|w| w == c).unwrap();
    assert!(at("AT+FCLASS=1") < at("AT+FLO=1") && at("AT+FLO=1") < at("AT+FTM=?"));
}

#[test]
fn a_frame_that_starts_as_the_wait_is_cancelled_is_not_taken_for_flow_control() {
    // T4 runs out waiting for the answer to TCF; the CFR frame (control octet 0x13, the DC3
    // code) starts just as the sender cancels, and arrives after CONNECT in command mode.
    let r = run(
        plan(1),
        Faults {
            cfr_as_cancelled: true,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0, "{:?}", r.events);
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "TSI", "DCS", "EOP", "DCN"]);
}

/// Pages dense enough that MMR needs more than one block of 256 frames of 256 octets.
fn dense(n: usize) -> Vec<Page> {
    let text = (1..=66 * n)
        .map(|i| format!("{i:3} {}", "W#M@ ".repeat(15)))
        .collect::<Vec<_>>()
        .join("\n");
    let pages = render_text(text.as_bytes());
    assert_eq!(pages.len(), n);
    pages
}

/// The FCD frame numbers of an ECM transmission, and its RCP count.
fn fcd_numbers(frames: &[Vec<u8>]) -> (Vec<usize>, usize) {
    let fcd = frames
        .iter()
        .filter(|f| f[2] == fcf::FCD)
        .map(|f| usize::from(f[3]))
        .collect();
    let rcp = frames.iter().filter(|f| f[2] == fcf::RCP).count();
    (fcd, rcp)
}

/// ECM with MMR in the sans-IO machine: DCS bits 24/27/31 (28 clear: 256-octet frames, 16
/// clear: T.6, not MR), each page MMR-coded and cut into numbered FCD frames sent with
/// `+FTH=146` (V.17 14400, short training), blocks of 256 frames each closed by three RCP and
/// PPS with the page, block and frame counts (PPS-NULL inside a page, PPS-MPS/EOP at its end).
/// A PPR listing frames 3 and 200 gets exactly those two again (and the same PPS); the
/// reassembled pages decode with hayro-ccitt's T.6 decoder equal to the source.
#[test]
fn ecm_blocks_pps_counts_and_ppr_resends_only_the_bad_frames() {
    use redial::fax::{decode::decode, BitOrder, Resolution, Scheme};
    use redial::modem::t30::caps::bit;
    let sent = dense(2);
    let r = run(
        Class1Plan {
            two_d: true,
            ecm: true,
            pages: sent.clone(),
            ..plan(2)
        },
        Faults {
            dis: Some(dis_with_ecm_mmr()),
            ppr: [vec![3, 200]].into(),
            ..Faults::default()
        },
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent),
        (0, 2),
        "{:?}",
        r.events
    );
    let dcs = &r.dce.sent_frames[1][3..];
    assert_eq!(dcs.len(), 4);
    assert!(bit(dcs, 24) && bit(dcs, 27) && bit(dcs, 31));
    assert!(!bit(dcs, 28) && !bit(dcs, 16));
    assert!(r.dce.ecm_tx.iter().all(|(code, _)| *code == 146));
    // Page 1: block 0 (256 frames), the two frames PPR asked for, block 1; page 2: 2 blocks.
    let tx: Vec<(Vec<usize>, usize)> = r.dce.ecm_tx.iter().map(|(_, f)| fcd_numbers(f)).collect();
    assert_eq!(tx.len(), 5, "{:?}", r.dce.pps);
    assert_eq!(tx[0].0, (0..256).collect::<Vec<_>>());
    assert_eq!(
        tx[1],
        (vec![3, 200], 3),
        "only the frames PPR listed, then RCP x3"
    );
    assert!(tx.iter().all(|(_, rcp)| *rcp == 3));
    let (mps, eop) = (fcf::MPS | fcf::X, fcf::EOP | fcf::X);
    let last1 = tx[2].0.len() - 1;
    let last2 = tx[4].0.len() - 1;
    assert_eq!(
        r.dce.pps,
        [
            vec![fcf::NULL, 0, 0, 255],
            vec![fcf::NULL, 0, 0, 255],
            vec![mps, 0, 1, last1 as u8],
            vec![fcf::NULL, 1, 0, 255],
            vec![eop, 1, 1, last2 as u8],
        ]
    );
    // Reassemble each page from its frames (the latest copy of each number wins).
    let mut pages: Vec<Vec<u8>> = Vec::new();
    for (block_tx, page) in [(&[0usize, 1, 2][..], 0usize), (&[3, 4][..], 1)] {
        let mut data = Vec::new();
        let mut blocks: Vec<std::collections::BTreeMap<u8, Vec<u8>>> = Vec::new();
        for &i in block_tx {
            let frames = &r.dce.ecm_tx[i].1;
            let pps = &r.dce.pps[i];
            let b = usize::from(pps[2]);
            if blocks.len() <= b {
                blocks.resize(b + 1, Default::default());
            }
            for f in frames.iter().filter(|f| f[2] == fcf::FCD) {
                blocks[b].insert(f[3], f[4..].to_vec());
            }
        }
        for b in blocks {
            data.extend(b.into_values().flatten());
        }
        assert_eq!(usize::from(r.dce.pps[block_tx[0]][1]), page);
        pages.push(data);
    }
    for (i, data) in pages.iter().enumerate() {
        let want = sent[i].to_resolution(Resolution::Fine);
        let got = decode(data, 1728, 0, Scheme::G4, BitOrder::LsbFirst).expect("T.6 decodes");
        assert_eq!(&got, want.bitmap(), "page {}", i + 1);
    }
    let log: Vec<String> = r
        .events
        .iter()
        .filter_map(|e| match e {
            FaxEvent::Progress(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert!(
        log.iter()
            .any(|l| l == "PPR 1 for page 1 block 0: frames [3, 200] to resend"),
        "{log:?}"
    );
}

/// Four PPRs for one block: CTC with the DCS's first two octets at the next slower rate
/// (V.17 12000), CTR, then the frames still bad go with long training (`+FTH=121`) and the
/// call goes on at 12000. Without CTR the CTC is repeated three times, then 1050. A receiver
/// that does not offer ECM gets neither ECM nor MMR; `ecm: false` turns it off.
#[test]
fn four_pprs_bring_ctc_and_a_slower_speed() {
    use redial::modem::t30::caps::bit;
    let r = run(
        Class1Plan {
            ecm: true,
            ..plan(1)
        },
        Faults {
            dis: Some(dis_with_ecm_mmr()),
            ppr: [vec![0], vec![0], vec![0], vec![0]].into(),
            ctr: true,
            ..Faults::default()
        },
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent, r.result.baud),
        (0, 1, 12000),
        "{:?}",
        r.events
    );
    assert_eq!(r.dce.ctc.len(), 1);
    let ctc = &r.dce.ctc[0];
    // 12000 is rate bits 11-14 = 0101.
    assert!(!bit(ctc, 11) && bit(ctc, 12) && !bit(ctc, 13) && bit(ctc, 14));
    let codes: Vec<u32> = r.dce.ecm_tx.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [146, 146, 146, 146, 121]);
    assert_eq!(fcd_numbers(&r.dce.ecm_tx[4].1).0, [0]);

    let r = run(
        Class1Plan {
            ecm: true,
            ..plan(1)
        },
        Faults {
            dis: Some(dis_with_ecm_mmr()),
            ppr: [vec![0], vec![0], vec![0], vec![0]].into(),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1050, 0));
    assert_eq!(r.dce.ctc.len(), 3, "CTC repeated after T4");
    assert_eq!(
        r.dce.sent_frames.last().map(|f| f[2] & 0xFE),
        Some(fcf::DCN)
    );

    for (dis, ecm) in [(dis_with_2d(), true), (dis_with_ecm_mmr(), false)] {
        let r = run(
            Class1Plan {
                ecm,
                two_d: true,
                ..plan(1)
            },
            Faults {
                dis: Some(dis),
                ..Faults::default()
            },
        );
        assert_eq!(r.result.code, 0);
        let dcs = &r.dce.sent_frames[1][3..];
        assert!(!bit(dcs, 27) && !bit(dcs, 31) && bit(dcs, 16), "{dcs:02x?}");
        assert!(r.dce.ecm_tx.is_empty() && r.dce.pps.is_empty());
        assert_eq!(r.dce.pages.len(), 1, "the page as +FTM data");
    }
}

/// RNR (receive not ready) to PPS: RR goes instead, again after every RNR, until the receiver
/// answers the PPS (here MCF after three RNRs); the page counts once.
#[test]
fn rnr_is_answered_with_rr_until_the_receiver_is_ready() {
    let r = run(
        Class1Plan {
            ecm: true,
            ..plan(1)
        },
        Faults {
            dis: Some(dis_with_ecm_mmr()),
            rnr: 3,
            ..Faults::default()
        },
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent),
        (0, 1),
        "{:?}",
        r.events
    );
    let kinds: Vec<&str> = kinds(&r.dce)
        .into_iter()
        .filter(|k| matches!(*k, "PPS" | "RR"))
        .collect();
    assert_eq!(kinds, ["PPS", "RR", "RR", "RR"]);
    assert_eq!(r.dce.pps.len(), 1);
}

/// `ecm_frame: 64`: DCS bit 28 set, every FCD frame but the last of a page carries 64 octets,
/// and PPS counts them (a page of more than 256 of them takes several blocks).
#[test]
fn sixty_four_octet_frames() {
    use redial::modem::t30::caps::bit;
    let r = run(
        Class1Plan {
            ecm: true,
            ecm_frame: 64,
            two_d: true,
            pages: dense(1),
            ..plan(1)
        },
        Faults {
            dis: Some(dis_with_ecm_mmr()),
            ..Faults::default()
        },
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent),
        (0, 1),
        "{:?}",
        r.events
    );
    assert!(bit(&r.dce.sent_frames[1][3..], 28));
    let frames: Vec<&Vec<u8>> = r
        .dce
        .ecm_tx
        .iter()
        .flat_map(|(_, f)| f.iter().filter(|f| f[2] == fcf::FCD))
        .collect();
    assert!(frames.len() > 256, "{} frames", frames.len());
    assert!(frames[..frames.len() - 1].iter().all(|f| f.len() == 4 + 64));
    assert_eq!(r.dce.pps.len(), r.dce.ecm_tx.len());
    assert_eq!(r.dce.pps[0][3], 255, "a full block of 256 frames");
}

/// EOR on the line: with MH in ECM frames (no MMR: `two_d` off) and a receiver offering V.27ter
/// 2400 only, four PPRs for frame 0 of page 1's only block bring EOR-MPS (`FF 13 CF 4F`: the
/// post-page message with the X bit), ERR moves on to page 2, whose PPS-EOP gets MCF; page 1
/// counts as sent and the result lists frame 0 as abandoned. The page after it is sent whole.
/// Without ERR, EOR is repeated three times (T4 each), then 1052 (no response to the MPS three
/// times). With MMR there is no EOR: 1050.
#[test]
fn eor_after_four_pprs_at_the_lowest_speed() {
    use redial::modem::fax_send::AbandonedFrames;
    let mut dis = dis_with_ecm_mmr();
    // Rates: V.27ter 2400 only (DIS bits 11-14 clear).
    dis[4] &= !0b0011_1100;
    let faults = |err: bool| Faults {
        dis: Some(dis.clone()),
        ppr: [vec![0], vec![0], vec![0], vec![0]].into(),
        err,
        ..Faults::default()
    };
    let r = run(
        Class1Plan {
            ecm: true,
            ..plan(2)
        },
        faults(true),
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent, r.result.baud),
        (0, 2, 2400),
        "{:?}",
        r.events
    );
    assert!(r.dce.ctc.is_empty(), "no CTC at the lowest speed");
    assert_eq!(r.dce.eor, [vec![fcf::MPS | fcf::X]]);
    let eor = r
        .dce
        .sent_frames
        .iter()
        .find(|f| f[2] & 0xFE == fcf::EOR)
        .unwrap();
    assert_eq!(eor, &[0xff, 0x13, 0xCF, 0x4F]);
    assert_eq!(
        r.result.abandoned,
        [AbandonedFrames {
            page: 1,
            block: 0,
            frames: vec![0]
        }]
    );
    assert_eq!(
        r.result.detail,
        "2 page(s) sent; page 1 with 1 frame(s) abandoned after EOR"
    );
    // Page 1: the block, three resends of frame 0; page 2: one block, PPS-EOP.
    assert_eq!(r.dce.ecm_tx.len(), 5);
    assert_eq!(fcd_numbers(&r.dce.ecm_tx[3].1).0, [0]);
    assert!(r.dce.ecm_tx.iter().all(|(code, _)| *code == 24));
    assert_eq!(r.dce.pps.last().map(|p| p[0]), Some(fcf::EOP | fcf::X));
    assert!(r.events.contains(&FaxEvent::PageSent(1)));

    let r = run(
        Class1Plan {
            ecm: true,
            ..plan(2)
        },
        faults(false),
    );
    assert_eq!(
        (r.result.code, r.result.pages_sent),
        (1052, 0),
        "{:?}",
        r.events
    );
    assert_eq!(r.dce.eor.len(), 3, "EOR repeated after T4");
    assert_eq!(
        r.dce.sent_frames.last().map(|f| f[2] & 0xFE),
        Some(fcf::DCN)
    );

    let r = run(
        Class1Plan {
            ecm: true,
            two_d: true,
            ..plan(2)
        },
        faults(true),
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1050, 0));
    assert!(r.dce.eor.is_empty(), "no EOR with MMR");
    assert!(
        r.result.detail.contains("no EOR with MMR"),
        "{}",
        r.result.detail
    );
}

/// Any answers to PPS, RR, CTC and EOR (MCF, PPR with any map, RNR, CTR, ERR, unknown frames
/// with any FIF): the sender never panics and always ends the call with a result.
#[test]
fn random_answers_in_ecm_never_panic() {
    for seed in 1..=40u64 {
        let r = run(
            Class1Plan {
                ecm: true,
                two_d: seed % 2 == 0,
                ecm_frame: if seed % 3 == 0 { 64 } else { 256 },
                ..plan(2)
            },
            Faults {
                dis: Some(dis_with_ecm_mmr()),
                chaos: Some(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
                ..Faults::default()
            },
        );
        assert!(r.result.pages_sent <= 2, "seed {seed}: {:?}", r.result);
    }
}
