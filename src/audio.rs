//! Voice message files: WAV (linear PCM 8/16-bit, G.711 µ-law or A-law; 8 kHz mono) and raw
//! `.ul`/`.al` G.711 files, turned into the µ-law bytes a class 8 modem plays (`+VSM=4,8000`).
//!
//! Owns the RIFF/WAVE chunk walk and G.711 conversion (ITU-T G.711; the hound crate reads only
//! linear PCM and float, not the G.711 formats voice systems use). Pure except
//! [`load_message`], which reads the file.

use std::path::Path;

/// The one sample rate voice modems play.
pub const RATE: u32 = 8000;

/// Why a message cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct AudioError {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// Linear 16-bit sample → µ-law byte (G.711, with the usual bias of 0x84 and clip at 32635).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// µ-law byte → linear sample.
pub fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let sign = u & 0x80;
    let exponent = i32::from((u >> 4) & 0x07);
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// A-law byte → linear sample.
pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let sign = a & 0x80;
    let exponent = i32::from((a >> 4) & 0x07);
    let mantissa = i32::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if sign != 0 { magnitude } else { -magnitude }) as i16
}

fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn u32le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Converts a message file's bytes to µ-law. `name` decides raw formats by extension.
pub fn to_ulaw(bytes: &[u8], name: &str) -> Result<Vec<u8>, AudioError> {
    let err = |reason: String| AudioError {
        file: name.to_string(),
        reason,
    };
    let lower = name.to_ascii_lowercase();
    if !bytes.starts_with(b"RIFF") {
        return if lower.ends_with(".ul") || lower.ends_with(".ulaw") || lower.ends_with(".mu") {
            Ok(bytes.to_vec())
        } else if lower.ends_with(".al") || lower.ends_with(".alaw") {
            Ok(bytes
                .iter()
                .map(|&a| linear_to_ulaw(alaw_to_linear(a)))
                .collect())
        } else {
            Err(err(
                "not a WAV file (no RIFF header) and not a raw .ul/.al G.711 file".into(),
            ))
        };
    }
    if bytes.len() < 12 || &bytes[8..12] != b"WAVE" {
        return Err(err("a RIFF file, but not WAVE".into()));
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32le(&bytes[at + 4..at + 8]) as usize;
        let body = &bytes[at + 8..bytes.len().min(at + 8 + len)];
        if id == b"fmt " {
            if body.len() < 16 {
                return Err(err("the fmt chunk is too short".into()));
            }
            let mut tag = u16le(&body[0..2]);
            if tag == 0xFFFE && body.len() >= 26 {
                tag = u16le(&body[24..26]); // WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
            }
            format = Some((
                tag,
                u16le(&body[2..4]),
                u32le(&body[4..8]),
                u16le(&body[14..16]),
            ));
        } else if id == b"data" {
            let Some((tag, channels, rate, bits)) = format else {
                return Err(err("the data chunk comes before the fmt chunk".into()));
            };
            if rate != RATE {
                return Err(err(format!("sample rate {rate} Hz; voice modems play {RATE} Hz (resample it, e.g. sox in.wav -r 8000 -c 1 out.wav)")));
            }
            if channels != 1 {
                return Err(err(format!(
                    "{channels} channels; a voice message must be mono"
                )));
            }
            return match (tag, bits) {
                (7, 8) => Ok(body.to_vec()),
                (6, 8) => Ok(body.iter().map(|&a| linear_to_ulaw(alaw_to_linear(a))).collect()),
                (1, 8) => Ok(body.iter().map(|&u| linear_to_ulaw((i16::from(u) - 128) << 8)).collect()),
                (1, 16) => Ok(body.chunks_exact(2).map(|c| linear_to_ulaw(i16::from_le_bytes([c[0], c[1]]))).collect()),
                _ => Err(err(format!("WAV format {tag} with {bits} bits is not supported (use PCM 8/16-bit, µ-law or A-law)"))),
            };
        }
        at += 8 + len + (len & 1);
    }
    Err(err("no data chunk".into()))
}

/// Reads a message file and converts it to µ-law.
pub fn load_message(path: &Path) -> Result<Vec<u8>, AudioError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| AudioError {
        file: name.clone(),
        reason: e.to_string(),
    })?;
    let out = to_ulaw(&bytes, &name)?;
    if out.is_empty() {
        return Err(AudioError {
            file: name,
            reason: "the message is empty".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        v.extend(16u32.to_le_bytes());
        v.extend(tag.to_le_bytes());
        v.extend(channels.to_le_bytes());
        v.extend(rate.to_le_bytes());
        v.extend((rate * u32::from(bits / 8)).to_le_bytes());
        v.extend((bits / 8).to_le_bytes());
        v.extend(bits.to_le_bytes());
        v.extend(b"LIST");
        v.extend(3u32.to_le_bytes());
        v.extend([1, 2, 3, 0]);
        v.extend(b"data");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn g711_known_values_and_round_trip() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        for u in 0..=255u8 {
            if u != 0x7f {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(u)), u, "{u:#x}");
            }
        }
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        for s in [-30000i16, -1000, -10, 0, 10, 1000, 30000] {
            let back = ulaw_to_linear(linear_to_ulaw(s));
            assert!(
                (i32::from(back) - i32::from(s)).abs() <= i32::from(s).abs() / 16 + 8,
                "{s} → {back}"
            );
        }
    }

    #[test]
    fn wav_formats() {
        let pcm16: Vec<u8> = [0i16, 1000, -1000]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            to_ulaw(&wav(1, 1, 8000, 16, &pcm16), "m.wav").unwrap(),
            [0xff, linear_to_ulaw(1000), linear_to_ulaw(-1000)]
        );
        assert_eq!(
            to_ulaw(&wav(7, 1, 8000, 8, &[1, 2, 3]), "m.wav").unwrap(),
            [1, 2, 3]
        );
        assert_eq!(
            to_ulaw(&wav(1, 1, 8000, 8, &[128]), "m.wav").unwrap(),
            [0xff]
        );
        assert_eq!(
            to_ulaw(&wav(6, 1, 8000, 8, &[0xd5]), "m.wav").unwrap(),
            [linear_to_ulaw(8)]
        );
        assert_eq!(to_ulaw(&[1, 2], "m.ul").unwrap(), [1, 2]);
    }

    #[test]
    fn unsupported_files_say_why() {
        assert!(to_ulaw(&wav(1, 1, 44100, 16, &[0, 0]), "m.wav")
            .unwrap_err()
            .reason
            .contains("8000 Hz"));
        assert!(to_ulaw(&wav(1, 2, 8000, 16, &[0, 0]), "m.wav")
            .unwrap_err()
            .reason
            .contains("mono"));
        assert!(to_ulaw(&wav(3, 1, 8000, 32, &[0; 4]), "m.wav")
            .unwrap_err()
            .reason
            .contains("not supported"));
        assert!(to_ulaw(b"hello", "m.mp3")
            .unwrap_err()
            .reason
            .contains("not a WAV"));
        assert!(to_ulaw(b"RIFF\0\0\0\0WAVE", "m.wav")
            .unwrap_err()
            .reason
            .contains("no data"));
        for n in 0..64 {
            let junk: Vec<u8> = b"RIFF\x10\0\0\0WAVEfmt \x02\0\0\0"
                .iter()
                .copied()
                .chain((0..n).map(|i| (i * 37) as u8))
                .collect();
            let _ = to_ulaw(&junk, "junk.wav");
        }
    }
}
