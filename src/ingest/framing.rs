//! TCP syslog framing (RFC 6587): octet counting (`LEN SP MSG`, section 3.4.1) and
//! non-transparent LF framing (section 3.4.2), told apart per frame.
//!
//! The decoder keeps an explicit state so that whatever it meets (an over-long length, a line
//! with no end, invalid UTF-8) it gets past and is ready for the next frame: an over-size frame
//! is cut at the maximum, delivered with `truncated` set, and the rest of it is discarded. It
//! never returns an error of its own, so a bad peer cannot stall or kill a listener. Memory per
//! connection is bounded by the maximum frame size.
#![warn(clippy::indexing_slicing)]

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// Longest accepted MSG-LEN prefix: 10 digits covers any length a 32-bit sender can write.
const MAX_LEN_DIGITS: usize = 10;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// The message bytes, without framing.
    pub bytes: Bytes,
    /// True when the frame was longer than the maximum and was cut (or ended early at EOF).
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a frame.
    Normal,
    /// Skipping the rest of an over-size octet-counted frame.
    DiscardOctets(usize),
    /// Skipping the rest of an over-size LF-framed line.
    DiscardToLf,
}

/// What the start of the buffer says about the next frame.
enum Prefix {
    /// `LEN SP`: an octet-counted frame of `len` bytes after `header` bytes of prefix.
    Octets { len: usize, header: usize },
    /// Digits so far, but not enough bytes to decide.
    Undecided,
    /// Anything else: an LF-terminated frame.
    Line,
}

/// RFC 6587 decoder that detects the framing of each frame.
#[derive(Debug, Clone)]
pub struct SyslogDecoder {
    max: usize,
    state: State,
}

impl SyslogDecoder {
    /// A decoder that cuts frames at `max_frame_bytes` (at least 1).
    pub fn new(max_frame_bytes: usize) -> Self {
        SyslogDecoder {
            max: max_frame_bytes.max(1),
            state: State::Normal,
        }
    }

    fn prefix(buf: &[u8]) -> Prefix {
        let digits = buf
            .iter()
            .take(MAX_LEN_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > MAX_LEN_DIGITS {
            return Prefix::Line;
        }
        match buf.get(digits) {
            None => Prefix::Undecided,
            Some(b' ') => {
                let mut len: usize = 0;
                for b in buf.iter().take(digits) {
                    len = match len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(b - b'0')))
                    {
                        Some(l) => l,
                        None => return Prefix::Line,
                    };
                }
                Prefix::Octets {
                    len,
                    header: digits + 1,
                }
            }
            Some(_) => Prefix::Line,
        }
    }

    /// A frame from the first `n` bytes of `buf`, without a trailing CR.
    fn take_line(buf: &mut BytesMut, n: usize, consume: usize, truncated: bool) -> DecodedFrame {
        let mut bytes = buf.split_to(n).freeze();
        buf.advance(consume.saturating_sub(n).min(buf.len()));
        if bytes.last() == Some(&b'\r') {
            bytes.truncate(bytes.len() - 1);
        }
        DecodedFrame { bytes, truncated }
    }
}

impl Decoder for SyslogDecoder {
    type Item = DecodedFrame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<DecodedFrame>, std::io::Error> {
        loop {
            match self.state {
                State::DiscardOctets(left) => {
                    let n = left.min(buf.len());
                    buf.advance(n);
                    if n < left {
                        self.state = State::DiscardOctets(left - n);
                        return Ok(None);
                    }
                    self.state = State::Normal;
                }
                State::DiscardToLf => match memchr(b'\n', buf) {
                    Some(i) => {
                        buf.advance(i + 1);
                        self.state = State::Normal;
                    }
                    None => {
                        buf.clear();
                        return Ok(None);
                    }
                },
                State::Normal => {
                    // Separators between frames: the LF some senders put after octet-counted
                    // frames, and blank lines.
                    let skip = buf
                        .iter()
                        .take_while(|b| matches!(b, b'\n' | b'\r'))
                        .count();
                    buf.advance(skip);
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    match Self::prefix(buf) {
                        Prefix::Undecided => return Ok(None),
                        Prefix::Octets { len, header } => {
                            let take = len.min(self.max);
                            if buf.len() < header + take {
                                buf.reserve(header + take - buf.len());
                                return Ok(None);
                            }
                            buf.advance(header);
                            let bytes = buf.split_to(take).freeze();
                            if len > take {
                                self.state = State::DiscardOctets(len - take);
                            }
                            if bytes.is_empty() {
                                continue;
                            }
                            return Ok(Some(DecodedFrame {
                                bytes,
                                truncated: len > take,
                            }));
                        }
                        Prefix::Line => {
                            let window = buf.len().min(self.max + 1);
                            match memchr(b'\n', buf.get(..window).unwrap_or_default()) {
                                Some(i) if i <= self.max => {
                                    return Ok(Some(Self::take_line(buf, i, i + 1, false)));
                                }
                                _ if buf.len() > self.max => {
                                    let frame = Self::take_line(buf, self.max, self.max, true);
                                    self.state = State::DiscardToLf;
                                    return Ok(Some(frame));
                                }
                                _ => return Ok(None),
                            }
                        }
                    }
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<DecodedFrame>, std::io::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() || self.state != State::Normal {
            buf.clear();
            return Ok(None);
        }
        // The peer closed inside a frame: keep what it sent. An octet-counted frame that ended
        // early is marked truncated; an unterminated last line is a normal frame.
        let (bytes, truncated) = match Self::prefix(buf) {
            Prefix::Octets { header, .. } => {
                buf.advance(header.min(buf.len()));
                (buf.split().freeze(), true)
            }
            _ => (buf.split().freeze(), false),
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut frame = DecodedFrame { bytes, truncated };
        if frame.bytes.last() == Some(&b'\r') {
            frame.bytes.truncate(frame.bytes.len() - 1);
        }
        Ok(Some(frame))
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn decode_all(dec: &mut SyslogDecoder, chunks: &[&[u8]]) -> Vec<DecodedFrame> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        while let Some(f) = dec.decode_eof(&mut buf).unwrap() {
            out.push(f);
        }
        out
    }

    fn texts(frames: &[DecodedFrame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
            .collect()
    }

    fn corpus(name: &str) -> Vec<u8> {
        crate::test_util::corpus_bytes(&format!("syslog/{name}"))
    }

    #[test]
    fn corpus_octet_counted_stream_gives_four_messages() {
        let frames = decode_all(
            &mut SyslogDecoder::new(65536),
            &[&corpus("framing-octet-counted.bin")],
        );
        assert_eq!(frames.len(), 4);
        assert!(
            frames
                .iter()
                .all(|f| f.bytes.starts_with(b"<") && !f.truncated)
        );
    }

    #[test]
    fn corpus_lf_stream_gives_four_messages() {
        let frames = decode_all(&mut SyslogDecoder::new(65536), &[&corpus("framing-lf.bin")]);
        assert_eq!(frames.len(), 4);
        assert!(frames.iter().all(|f| f.bytes.starts_with(b"<")));
    }

    #[test]
    fn corpus_multiline_octet_frame_stays_one_message_then_lf_frame() {
        let frames = decode_all(
            &mut SyslogDecoder::new(65536),
            &[&corpus("framing-octet-counted-multiline-then-lf.bin")],
        );
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].bytes.iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn octet_frame_split_across_reads_at_every_byte() {
        let stream = b"11 <13>hello A12 <13>second B\n<13>third line\n";
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            let frames = decode_all(&mut SyslogDecoder::new(1024), &[a, b]);
            assert_eq!(
                texts(&frames),
                vec!["<13>hello A", "<13>second B", "<13>third line"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn octet_frame_over_max_is_truncated_and_rest_discarded() {
        let mut s = b"20 ".to_vec();
        s.extend_from_slice(b"abcdefghijklmnopqrst");
        s.extend_from_slice(b"5 after");
        let frames = decode_all(&mut SyslogDecoder::new(8), &[&s]);
        assert_eq!(texts(&frames), vec!["abcdefgh", "after"]);
        assert!(frames[0].truncated && !frames[1].truncated);
    }

    #[test]
    fn octet_discard_spanning_many_reads_does_not_underflow() {
        let mut dec = SyslogDecoder::new(5);
        let mut chunks: Vec<Vec<u8>> = vec![b"1000 ".to_vec()];
        for _ in 0..100 {
            chunks.push(vec![b'x'; 10]);
        }
        chunks.push(b"<1>ok\n".to_vec());
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
        let frames = decode_all(&mut dec, &refs);
        assert_eq!(texts(&frames), vec!["xxxxx", "<1>ok"]);
    }

    #[test]
    fn lf_line_over_max_is_truncated_and_discarded_to_next_lf() {
        let mut s = vec![b'a'; 100];
        s.extend_from_slice(b"\n<13>next\n");
        let frames = decode_all(&mut SyslogDecoder::new(10), &[&s[..30], &s[30..]]);
        assert_eq!(texts(&frames), vec!["aaaaaaaaaa", "<13>next"]);
        assert!(frames[0].truncated);
    }

    #[test]
    fn lf_line_of_exactly_max_is_not_truncated() {
        let frames = decode_all(&mut SyslogDecoder::new(5), &[b"abcde\nfg\n"]);
        assert_eq!(texts(&frames), vec!["abcde", "fg"]);
        assert!(!frames[0].truncated);
    }

    #[test]
    fn crlf_and_blank_lines_are_separators() {
        let frames = decode_all(&mut SyslogDecoder::new(100), &[b"<1>a\r\n\r\n\n<1>b\r\n"]);
        assert_eq!(texts(&frames), vec!["<1>a", "<1>b"]);
    }

    #[test]
    fn digits_without_space_are_an_lf_frame() {
        let frames = decode_all(
            &mut SyslogDecoder::new(100),
            &[b"12345abc\n99999999999 x\n"],
        );
        assert_eq!(texts(&frames), vec!["12345abc", "99999999999 x"]);
    }

    #[test]
    fn unterminated_last_line_is_kept_at_eof() {
        let frames = decode_all(&mut SyslogDecoder::new(100), &[b"<1>a\n<1>tail"]);
        assert_eq!(texts(&frames), vec!["<1>a", "<1>tail"]);
    }

    #[test]
    fn octet_frame_cut_by_eof_is_kept_as_truncated() {
        let frames = decode_all(&mut SyslogDecoder::new(100), &[b"50 <1>only part"]);
        assert_eq!(texts(&frames), vec!["<1>only part"]);
        assert!(frames[0].truncated);
    }

    #[test]
    fn zero_length_octet_frame_is_skipped() {
        let frames = decode_all(&mut SyslogDecoder::new(100), &[b"0 3 abc"]);
        assert_eq!(texts(&frames), vec!["abc"]);
    }

    #[test]
    fn huge_length_prefix_is_discarded_not_buffered() {
        let mut dec = SyslogDecoder::new(16);
        let mut buf = BytesMut::from(&b"9999999999 "[..]);
        buf.extend_from_slice(&[b'z'; 64]);
        let f = dec.decode(&mut buf).unwrap().unwrap();
        assert!(f.truncated && f.bytes.len() == 16);
        assert!(dec.decode(&mut buf).unwrap().is_none());
        assert!(buf.is_empty());
    }

    quickcheck! {
        fn arbitrary_chunks_never_panic_and_respect_max(chunks: Vec<Vec<u8>>, max: u8) -> bool {
            let max = usize::from(max).max(1);
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            let frames = decode_all(&mut SyslogDecoder::new(max), &refs);
            frames.iter().all(|f| f.bytes.len() <= max)
        }

        fn octet_round_trip(msgs: Vec<Vec<u8>>) -> bool {
            let msgs: Vec<Vec<u8>> = msgs.into_iter().filter(|m| !m.is_empty()).collect();
            let mut s = Vec::new();
            for m in &msgs {
                s.extend_from_slice(format!("{} ", m.len()).as_bytes());
                s.extend_from_slice(m);
            }
            let frames = decode_all(&mut SyslogDecoder::new(1 << 20), &[&s]);
            frames.iter().map(|f| f.bytes.to_vec()).collect::<Vec<_>>() == msgs
        }
    }
}
