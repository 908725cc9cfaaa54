//! Consultations: what a participant and the server say over the consultation's signalling
//! WebSocket (`/api/v1/consultations/signal?ticket=…`), as JSON text frames, one message each.
//!
//! The participant offers (its camera and microphone, and receive-only slots for the others), the
//! server answers; either side trickles ICE candidates. Media never flows between participants
//! directly: each has one peer connection to the server, which forwards the others' RTP to it.

use crate::layout::Names;
use serde::{Deserialize, Serialize};

/// Most participants of one consultation at once: the resident, the clerk, an interpreter and a
/// supervisor.
pub const MAX_PARTICIPANTS: usize = 4;
/// Receive slots a participant's offer carries per kind (audio, video): one for each other
/// participant. The server fills slot `i` with the `i`-th other participant's media (see
/// [`Participant::slot`]).
pub const RECEIVE_SLOTS: usize = MAX_PARTICIPANTS - 1;
/// Largest signalling message the server reads, in bytes (an SDP offer is a few kilobytes).
pub const MAX_SIGNAL_BYTES: usize = 32 * 1024;
/// Signalling messages of one connection: a bucket of this many...
pub const SIGNAL_BURST: u32 = 40;
/// ...refilled at this many per second.
pub const SIGNAL_PER_SECOND: u32 = 10;
/// Longest consultation chat message, in characters (as room chat).
pub const CONSULT_CHAT_MAX_CHARS: usize = crate::limits::CHAT_MAX_CHARS;

/// Who someone is in a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Clerk,
    Interpreter,
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Resident, Role::Clerk, Role::Interpreter, Role::Supervisor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Clerk => "clerk",
            Role::Interpreter => "interpreter",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The media position of this role in every consultation: fixed, so a participant who
    /// leaves and comes back fills the same receive slot at the others.
    pub fn index(self) -> usize {
        match self {
            Role::Clerk => 0,
            Role::Resident => 1,
            Role::Interpreter => 2,
            Role::Supervisor => 3,
        }
    }

    /// The receive slot at which `viewer` gets this role's media (`None` for the viewer itself).
    pub fn slot_at(self, viewer: Role) -> Option<usize> {
        let (me, them) = (viewer.index(), self.index());
        match them.cmp(&me) {
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Less => Some(them),
            std::cmp::Ordering::Greater => Some(them - 1),
        }
    }
}

/// One participant as every participant sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub role: Role,
    pub name: String,
    /// Connected now.
    pub present: bool,
    /// The receive slot where the recipient of this list gets their media (`None`: it is you).
    pub slot: Option<usize>,
}

/// An application linked to the consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedApplication {
    pub reference: String,
    pub procedure_id: String,
    pub status: String,
    /// `created` in this consultation, or `linked` (an earlier one of the resident's).
    pub how: String,
    /// The procedure's name.
    #[serde(default)]
    pub name: Option<Names>,
    /// The form as filled so far (書かない窓口: the clerk fills it, everyone present sees it).
    #[serde(default)]
    pub fields: Vec<FormField>,
    /// Every required field is filled and valid: the resident may confirm it, which submits it.
    #[serde(default)]
    pub ready: bool,
    /// What the clerk said with the last status change.
    #[serde(default)]
    pub note: Option<String>,
    /// Documents to bring or have at hand.
    #[serde(default)]
    pub documents: Vec<Names>,
}

/// One field of a linked application's form, in the catalog's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub id: String,
    pub label: Names,
    /// The value as text (empty: not filled); booleans are `true` or `false`.
    pub value: String,
    /// For a choice, what the chosen value reads as (show this, not `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<crate::layout::Names>,
    pub required: bool,
}

/// A chat message inside the consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    pub role: Role,
    pub name: String,
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// An ICE candidate as the browser's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// An ICE server for the browser's `RTCConfiguration` (STUN, or TURN with short-lived
/// credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The consultation as one participant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsultView {
    pub id: i64,
    /// The ticket's label, `A-012`.
    pub ticket: String,
    pub department: String,
    pub counter: String,
    pub you: Role,
    pub participants: Vec<Participant>,
    pub applications: Vec<LinkedApplication>,
    pub chat: Vec<ChatLine>,
}

/// What a participant says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientSignal {
    /// An SDP offer: the first one opens the participant's media; later ones renegotiate.
    Offer {
        sdp: String,
    },
    /// A trickled ICE candidate; `None` when gathering has finished.
    Candidate {
        candidate: Option<Candidate>,
    },
    Chat {
        text: String,
    },
    /// Leave: the resident's or the clerk's hang-up ends the consultation for everyone.
    Hangup,
    /// The resident confirms an application the clerk filled: that is its submission, the
    /// resident's own act. Only the consultation's resident, only a linked application.
    Confirm {
        reference: String,
    },
    /// Keeps the connection alive through proxies that cut silent WebSockets.
    Ping,
}

/// What the server says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerSignal {
    /// The first message: the consultation, and the ICE servers to use.
    Joined {
        consultation: ConsultView,
        ice_servers: Vec<IceServer>,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: Option<Candidate>,
    },
    /// Who is present changed.
    Participants {
        participants: Vec<Participant>,
    },
    Chat {
        line: ChatLine,
    },
    /// The linked applications changed.
    Applications {
        applications: Vec<LinkedApplication>,
    },
    /// Fresh ICE servers (TURN credentials expire within minutes): sent while the consultation
    /// runs, well before the last ones expire, for the page's `setConfiguration`.
    IceServers {
        ice_servers: Vec<IceServer>,
    },
    /// This participant's media: `connected`, `disconnected` or `failed`.
    Media {
        state: String,
    },
    /// A message was refused; the connection stays.
    Error {
        code: String,
        message: String,
    },
    /// The consultation ended (the connection closes after this).
    Ended {
        reason: String,
    },
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_gets_every_other_role_in_a_distinct_slot() {
        for viewer in Role::ALL {
            let mut slots: Vec<usize> = Role::ALL.into_iter().filter_map(|r| r.slot_at(viewer)).collect();
            slots.sort();
            assert_eq!(slots, (0..RECEIVE_SLOTS).collect::<Vec<_>>(), "viewer {viewer:?}");
            assert_eq!(viewer.slot_at(viewer), None);
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
