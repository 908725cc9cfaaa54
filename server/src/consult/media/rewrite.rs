//! Making a forwarded RTP packet fit the leg it goes out on. Each receiving leg has its own
//! output track per sender slot, with its own SSRC and the payload types negotiated on that leg;
//! webrtc 0.21 drops (and only logs) a packet whose SSRC is not the track's, whose payload type
//! that leg did not negotiate, or that carries a header extension the leg did not declare. So
//! every packet is rewritten for its receiver: SSRC and payload type replaced, header extensions
//! dropped, and sequence numbers and timestamps kept continuous when the sender behind a slot
//! changes (a participant who reconnects publishes with a new SSRC and a new random start, and
//! the receiver's jitter buffer must see one unbroken stream).

/// The numbering of one output stream.
#[derive(Debug, Clone)]
pub struct Renumber {
    /// RTP timestamp units to put between the last packet of one sender and the first of the
    /// next (about one frame).
    switch_gap: u32,
    source: Option<Source>,
    last_seq: u16,
    last_ts: u32,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

impl Renumber {
    /// `first_seq` and `first_ts` are where the output stream starts (random, as RFC 3550 asks).
    pub fn new(switch_gap: u32, first_seq: u16, first_ts: u32) -> Renumber {
        Renumber {
            switch_gap,
            source: None,
            last_seq: first_seq.wrapping_sub(1),
            last_ts: first_ts.wrapping_sub(switch_gap),
        }
    }

    /// The output sequence number and timestamp of a packet from `ssrc`.
    pub fn map(&mut self, ssrc: u32, seq: u16, ts: u32) -> (u16, u32) {
        let src = match self.source {
            Some(s) if s.ssrc == ssrc => s,
            _ => {
                // A new sender: continue right after the last packet sent.
                let s = Source {
                    ssrc,
                    seq_offset: self.last_seq.wrapping_add(1).wrapping_sub(seq),
                    ts_offset: self.last_ts.wrapping_add(self.switch_gap).wrapping_sub(ts),
                };
                self.source = Some(s);
                s
            }
        };
        let out = (seq.wrapping_add(src.seq_offset), ts.wrapping_add(src.ts_offset));
        // Keep the newest (a reordered older packet does not move the end back).
        if is_newer(out.0, self.last_seq) {
            self.last_seq = out.0;
            self.last_ts = out.1;
        }
        out
    }
}

/// Whether sequence number `a` comes after `b`, across the wrap at 65536.
pub fn is_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sender_keeps_its_spacing_through_the_wrap() {
        let mut r = Renumber::new(3000, 100, 5000);
        assert_eq!(r.map(7, 65534, 1_000), (100, 5000));
        assert_eq!(r.map(7, 65535, 4_000), (101, 8000));
        assert_eq!(r.map(7, 0, 7_000), (102, 11000), "the input wraps; the output stays in step");
        // A lost packet stays a gap, a late one lands where it belongs.
        assert_eq!(r.map(7, 2, 13_000), (104, 17000));
        assert_eq!(r.map(7, 1, 10_000), (103, 14000));
        assert_eq!(r.map(7, 3, 16_000), (105, 20000));
    }

    #[test]
    fn a_new_sender_continues_the_stream() {
        let mut r = Renumber::new(960, 65535, u32::MAX - 100);
        let a = r.map(1, 500, 90_000);
        let b = r.map(1, 501, 90_960);
        assert_eq!((a.0, b.0), (65535, 0), "the output wraps too");
        // The sender reconnects with a new SSRC and a random start.
        let c = r.map(2, 31_000, 7);
        assert_eq!(c.0, 1, "the next number after the last one sent");
        assert_eq!(c.1, b.1.wrapping_add(960), "one frame after the last timestamp");
        assert_eq!(r.map(2, 31_001, 967), (2, c.1.wrapping_add(960)));
    }

    #[test]
    fn newer_is_judged_across_the_wrap() {
        assert!(is_newer(1, 0));
        assert!(is_newer(0, 65535));
        assert!(!is_newer(65535, 0));
        assert!(!is_newer(5, 5));
    }
}
