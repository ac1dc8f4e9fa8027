//! A live room's HLS stream: `<room>/live.m3u8`, a live media playlist
//! (RFC 8216) whose window slides with the room's session clock, and
//! `<room>/seg/<n>.ts`, generated MPEG-TS segments.
//!
//! Nothing is stored: segment `n` of a room is a pure function of
//! `(platform, room, n)` (a PAT, a PMT and private-data PES packets whose text
//! names the room and `n`), so a watcher's hashes can be checked against
//! [`segment`] and a test knows every byte it should have received.
//!
//! Segments last [`SEGMENT_SECS`] session seconds; the playlist lists the last
//! segments covering at least three target durations of real time (the
//! RFC 8216 §6.2.2 minimum), so a client polling every target duration never
//! misses one. Planted faults ([`LiveConfig`]): a segment marked
//! `#EXT-X-GAP` (the packager skipped it), or listed but answering 404.

use std::fmt::Write as _;

use super::layout::Platform;
use super::live::LiveConfig;

/// Session seconds per segment.
pub const SEGMENT_SECS: u64 = 2;

/// TS packets per segment (PAT, PMT, then PES packets).
const PACKETS: usize = 24;

const TS_PACKET: usize = 188;
const PMT_PID: u16 = 0x1000;
const DATA_PID: u16 = 0x0100;

/// Segments completed by session millisecond `session_ms` (segment `n` is
/// complete once the session reaches `(n + 1) * SEGMENT_SECS`).
pub fn completed(session_ms: u64) -> u64 {
    session_ms / (SEGMENT_SECS * 1000)
}

/// The playlist's target duration in real seconds (at least 1).
fn target_duration(speed: u32) -> u64 {
    SEGMENT_SECS.div_ceil(u64::from(speed.max(1))).max(1)
}

/// Segments in the window: three target durations of real time, at least 6.
fn window(speed: u32) -> u64 {
    let speed = u64::from(speed.max(1));
    (3 * target_duration(speed as u32) * speed).div_ceil(SEGMENT_SECS).clamp(6, 600)
}

/// The live media playlist at session millisecond `session_ms`.
pub(crate) fn playlist(config: &LiveConfig, session_ms: u64) -> String {
    let done = completed(session_ms);
    let first = done.saturating_sub(window(config.speed));
    let extinf = SEGMENT_SECS as f64 / f64::from(config.speed.max(1));
    let mut out = String::with_capacity(64 + 40 * (done - first) as usize);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n",
        target_duration(config.speed)
    );
    for n in first..done {
        if config.skips(n) {
            out.push_str("#EXT-X-GAP\n");
        }
        let _ = write!(out, "#EXTINF:{extinf:.3},\nseg/{n}.ts\n");
    }
    out
}

/// Whether `seg/<n>.ts` is served at session millisecond `session_ms`.
pub(crate) fn served(config: &LiveConfig, session_ms: u64, n: u64) -> bool {
    n < completed(session_ms) && !config.skips(n) && !config.loses(n)
}

/// Segment `n` of `room`: `PACKETS` TS packets of 188 bytes.
pub fn segment(platform: Platform, room: u32, n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(PACKETS * TS_PACKET);
    // Continuity counters carry on from segment to segment, as a real muxer's do.
    let cc = |k: u64| (k % 16) as u8;
    out.extend(packet(0, cc(n), &section(0x00, &pat_body())));
    out.extend(packet(PMT_PID, cc(n), &section(0x02, &pmt_body())));
    let text = format!("spotcheck-live platform={} room={room} seq={n}\n", platform.name());
    for k in 0..(PACKETS - 2) as u64 {
        out.extend(packet(DATA_PID, cc(n * (PACKETS as u64 - 2) + k), &pes(&text, k)));
    }
    out
}

/// A TS packet with payload (PUSI set: each carries a section or a whole PES),
/// padded with 0xFF (sections) or a stuffing adaptation field (PES).
fn packet(pid: u16, cc: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(TS_PACKET);
    p.push(0x47);
    p.push(0x40 | ((pid >> 8) as u8 & 0x1F));
    p.push(pid as u8);
    let room = TS_PACKET - 4;
    if pid == DATA_PID && payload.len() < room {
        // Adaptation field of stuffing so the PES ends exactly at the packet's end.
        let af_len = room - payload.len() - 1;
        p.push(0x30 | (cc & 0x0F));
        p.push(af_len as u8);
        if af_len > 0 {
            p.push(0x00);
            p.extend(std::iter::repeat_n(0xFF, af_len - 1));
        }
        p.extend_from_slice(payload);
    } else {
        p.push(0x10 | (cc & 0x0F));
        p.extend_from_slice(&payload[..payload.len().min(room)]);
        p.resize(TS_PACKET, 0xFF);
    }
    p
}

/// A PSI section with its pointer field and CRC.
fn section(table_id: u8, body: &[u8]) -> Vec<u8> {
    let length = body.len() + 4; // + CRC
    let mut s = vec![table_id, 0xB0 | ((length >> 8) as u8 & 0x0F), length as u8];
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    let mut out = vec![0x00]; // pointer field
    out.extend(s);
    out
}

fn pat_body() -> Vec<u8> {
    // transport_stream_id 1, version 0, current; program 1 → PMT PID.
    vec![0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xE0 | (PMT_PID >> 8) as u8, PMT_PID as u8]
}

fn pmt_body() -> Vec<u8> {
    let pid_hi = 0xE0 | (DATA_PID >> 8) as u8;
    // program 1, PCR on the data PID, no program info; one stream of private data (0x06).
    vec![0x00, 0x01, 0xC1, 0x00, 0x00, pid_hi, DATA_PID as u8, 0xF0, 0x00, 0x06, pid_hi, DATA_PID as u8, 0xF0, 0x00]
}

/// A private-stream-1 PES packet carrying `text` (repeated), numbered `k`.
fn pes(text: &str, k: u64) -> Vec<u8> {
    let line = format!("{k:02} {text}");
    let payload: Vec<u8> = line.bytes().cycle().take(160).collect();
    let mut p = vec![0x00, 0x00, 0x01, 0xBD];
    p.extend_from_slice(&((payload.len() + 3) as u16).to_be_bytes());
    p.extend_from_slice(&[0x80, 0x00, 0x00]);
    p.extend(payload);
    p
}

/// CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection), as PSI sections carry.
fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_whole_ts_packets_with_pat_and_pmt() {
        let seg = segment(Platform::Mall, 1, 42);
        assert_eq!(seg.len(), PACKETS * TS_PACKET);
        assert!(seg.chunks(TS_PACKET).all(|p| p[0] == 0x47));
        assert_eq!(&seg[1..3], &[0x40, 0x00], "PAT on PID 0");
        assert_eq!(seg[TS_PACKET + 1] & 0x1F, (PMT_PID >> 8) as u8);
        // A section's CRC over itself and its CRC is zero.
        let pat = &seg[5..5 + 3 + 9 + 4];
        assert_eq!(crc32_mpeg2(pat), 0);
        assert!(String::from_utf8_lossy(&seg).contains("room=1 seq=42"));
        assert_eq!(seg, segment(Platform::Mall, 1, 42));
        assert_ne!(seg, segment(Platform::Mall, 1, 43));
    }

    #[test]
    fn the_window_covers_three_target_durations() {
        let config = LiveConfig { speed: 20, ..LiveConfig::default() };
        let text = playlist(&config, 100_000);
        assert!(text.contains("#EXT-X-TARGETDURATION:1\n"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:20\n"), "{text}");
        assert_eq!(text.matches(".ts").count(), 30);
    }
}
