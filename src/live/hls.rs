//! Following a live HLS media playlist (RFC 8216): which segments are new
//! since the last reading, and which were skipped.
//!
//! A segment's sequence number is the playlist's `#EXT-X-MEDIA-SEQUENCE` plus
//! its position (§6.2.2). Between two readings the window slides; when the new
//! window starts past the next number we expected, the segments in between
//! left the playlist before we saw them: a gap. A segment marked
//! `#EXT-X-GAP` (the packager has no media for it) is a gap too, and so is a
//! listed segment that does not download (the caller reports those).

use serde::{Deserialize, Serialize};

/// One reading of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    pub target_duration: Option<u64>,
    pub media_sequence: u64,
    pub segments: Vec<Segment>,
    /// `#EXT-X-ENDLIST`: the stream is over.
    pub ended: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub seq: u64,
    /// As written (relative to the playlist).
    pub uri: String,
    /// `#EXT-X-GAP`: listed without media.
    pub gap: bool,
}

/// Why a sequence number has no recorded segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum GapReason {
    /// It left the window between two readings without ever being listed to us.
    Skipped,
    /// Listed with `#EXT-X-GAP`.
    MarkedGap,
    /// Listed, but the download answered this status.
    Status { status: u16 },
    /// Listed, but the download failed.
    Failed { error: String },
}

/// Parses a media playlist; `None` when it is not one (no `#EXTM3U`).
pub fn parse(text: &str) -> Option<Playlist> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return None;
    }
    let mut playlist = Playlist { target_duration: None, media_sequence: 0, segments: Vec::new(), ended: false };
    let mut gap = false;
    for line in lines {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            playlist.target_duration = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            playlist.media_sequence = v.trim().parse().ok()?;
        } else if line == "#EXT-X-GAP" {
            gap = true;
        } else if line == "#EXT-X-ENDLIST" {
            playlist.ended = true;
        } else if !line.starts_with('#') {
            let seq = playlist.media_sequence + playlist.segments.len() as u64;
            playlist.segments.push(Segment { seq, uri: line.to_string(), gap });
            gap = false;
        }
    }
    Some(playlist)
}

/// What a new reading brings: segments to download and sequence numbers skipped.
#[derive(Debug, Default, PartialEq)]
pub struct Update {
    pub new: Vec<Segment>,
    pub skipped: Vec<u64>,
}

/// Remembers the next sequence number expected.
#[derive(Debug, Default)]
pub struct Follower {
    next: Option<u64>,
}

impl Follower {
    /// The segments of `playlist` not seen before (the whole first window),
    /// and the numbers that left the window unseen. A window that moves
    /// backwards (a restarted packager) restarts the count.
    pub fn update(&mut self, playlist: &Playlist) -> Update {
        let mut update = Update::default();
        let Some(last) = playlist.segments.last().map(|s| s.seq) else {
            return update;
        };
        let next = match self.next {
            Some(next) if next <= last + 1 && next >= playlist.media_sequence => next,
            Some(next) if next < playlist.media_sequence => {
                update.skipped = (next..playlist.media_sequence).collect();
                playlist.media_sequence
            }
            _ => playlist.media_sequence,
        };
        update.new = playlist.segments.iter().filter(|s| s.seq >= next).cloned().collect();
        self.next = Some(last + 1);
        update
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(first: u64, n: u64, gap_at: Option<u64>) -> String {
        let mut t = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
        for s in first..first + n {
            if gap_at == Some(s) {
                t.push_str("#EXT-X-GAP\n");
            }
            t.push_str(&format!("#EXTINF:2.0,\nseg/{s}.ts\n"));
        }
        t
    }

    #[test]
    fn new_segments_and_skipped_numbers() {
        let mut f = Follower::default();
        let first = f.update(&parse(&text(10, 3, None)).unwrap());
        assert_eq!(first.new.iter().map(|s| s.seq).collect::<Vec<_>>(), [10, 11, 12]);
        let same = f.update(&parse(&text(11, 3, Some(13))).unwrap());
        assert_eq!(same.new.len(), 1);
        assert!(same.new[0].gap);
        assert!(same.skipped.is_empty());
        let jumped = f.update(&parse(&text(20, 3, None)).unwrap());
        assert_eq!(jumped.skipped, (14..20).collect::<Vec<_>>());
        assert_eq!(jumped.new.iter().map(|s| s.seq).collect::<Vec<_>>(), [20, 21, 22]);
    }

    #[test]
    fn not_a_playlist() {
        assert_eq!(parse("<html>"), None);
        assert_eq!(parse("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n"), None);
    }
}
