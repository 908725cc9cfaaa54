//! The media codec table: the codecs a consultation's media uses, with their payload types —
//! Opus for audio, VP8 for video (what every browser sends). The SFU offers exactly these and the
//! test peers speak them, from this one list.

use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};

/// Opus's payload type (as browsers number it).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;
/// VP8's payload type (as browsers number it).
pub const VP8_PAYLOAD_TYPE: u8 = 96;

/// The codec of each kind: Opus (48 kHz, stereo, in-band FEC) for audio, VP8 for video (with
/// full-intra requests, which the SFU relays as keyframe requests).
pub fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![RTCPFeedback { typ: "ccm".into(), parameter: "fir".into() }],
        },
    }
}

/// Every codec to register in a media engine, audio first.
pub fn table() -> [(RTCRtpCodecParameters, RtpCodecKind); 2] {
    [
        (
            RTCRtpCodecParameters { rtp_codec: codec(RtpCodecKind::Audio), payload_type: OPUS_PAYLOAD_TYPE },
            RtpCodecKind::Audio,
        ),
        (
            RTCRtpCodecParameters { rtp_codec: codec(RtpCodecKind::Video), payload_type: VP8_PAYLOAD_TYPE },
            RtpCodecKind::Video,
        ),
    ]
}
