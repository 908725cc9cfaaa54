//! The HTTP API's contract (`/api/v1`): its paths, and the bodies the server, the client and the
//! test bots exchange over them, each written once. The server derives the OpenAPI document
//! from these same types (the `openapi` feature); clients read and write them with serde.
//!
//! Not every route's bodies are here: only those a client of this workspace sends or reads.
//! The rest belong to the server's handlers, and the document at `/api/v1/openapi.json` lists
//! them all.

use serde::{Deserialize, Serialize};

/// The API's paths. A `{name}` is filled in by the function of the same name.
pub mod paths {
    pub const GUEST_SESSION: &str = "/api/v1/sessions/guest";
    pub const ME: &str = "/api/v1/sessions/me";
    pub const LOGOUT: &str = "/api/v1/sessions/logout";
    pub const HANDOFF: &str = "/api/v1/sessions/handoff";
    pub const STAFF_LOGIN: &str = "/api/v1/staff/login";
    pub const CONNECT_TOKEN: &str = "/api/v1/world/connect-token";
    pub const WS_TICKET: &str = "/api/v1/world/ws-ticket";
    /// The world over WebSocket, with `?ticket=` from [`WS_TICKET`].
    pub const WORLD_WS: &str = "/api/v1/world/ws";
    /// The providers residents may sign in with (`GET`).
    pub const SIGNIN: &str = "/api/v1/signin";
    pub const SIGNIN_PROVIDER: &str = "/api/v1/signin/{provider}";
    pub const TICKETS: &str = "/api/v1/tickets";
    pub const TICKET_ARRIVED: &str = "/api/v1/tickets/{ticket}/arrived";
    pub const APPLICATIONS: &str = "/api/v1/applications";
    pub const APPLICATION_SUBMIT: &str = "/api/v1/applications/{reference}/submit";
    pub const PROCEDURES: &str = "/api/v1/procedures";
    pub const PAGE_LINK: &str = "/api/v1/consultations/page-link";
    pub const CONSULTATION_JOIN: &str = "/api/v1/consultations/{id}/join";
    /// A consultation's signalling WebSocket, with `?ticket=` from [`CONSULTATION_JOIN`].
    pub const CONSULTATION_SIGNAL: &str = "/api/v1/consultations/signal";
    pub const STAFF_DESKS: &str = "/api/v1/staff/desks";
    pub const STAFF_DESK_TAKE: &str = "/api/v1/staff/desks/{counter}/take";
    pub const STAFF_DESK_CALL_NEXT: &str = "/api/v1/staff/desk/call-next";
    pub const STAFF_DESK_DONE: &str = "/api/v1/staff/desk/done";
    pub const STAFF_DESK_NO_SHOW: &str = "/api/v1/staff/desk/no-show";
    pub const STAFF_DESK_LEAVE: &str = "/api/v1/staff/desk/leave";
    pub const STAFF_CONSULTATIONS: &str = "/api/v1/staff/consultations";

    pub fn signin_provider(provider: &str) -> String {
        SIGNIN_PROVIDER.replace("{provider}", provider)
    }

    pub fn ticket_arrived(ticket: i64) -> String {
        TICKET_ARRIVED.replace("{ticket}", &ticket.to_string())
    }

    pub fn application_submit(reference: &str) -> String {
        APPLICATION_SUBMIT.replace("{reference}", reference)
    }

    pub fn consultation_join(id: i64) -> String {
        CONSULTATION_JOIN.replace("{id}", &id.to_string())
    }

    pub fn staff_desk_take(counter: &str) -> String {
        STAFF_DESK_TAKE.replace("{counter}", counter)
    }
}

/// Who a guest says they are.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuestRequest {
    /// Shown to clerks and other visitors; 1-32 characters, not only spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 32,
            pattern = r"[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
        )
    )]
    pub display_name: Option<String>,
    /// `ja`, `ja-Hira` (やさしい日本語), `en`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9-]{2,16}$"))]
    pub locale: Option<String>,
}

/// Staff credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

/// A resident as known to the office.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resident {
    pub id: String,
    pub display_name: String,
    pub locale: String,
    /// `guest`, or `verified` once an OpenID Connect provider vouched for them.
    pub identity_level: String,
    /// The name the provider vouched for, if they signed in with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
}

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Role))]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Staffs a counter, works on their department's applications.
    Clerk,
    /// A clerk who also watches queues and moves staff.
    Supervisor,
    /// Configures the office.
    Admin,
}

impl StaffRole {
    pub fn parse(s: &str) -> Option<StaffRole> {
        match s {
            "clerk" => Some(StaffRole::Clerk),
            "supervisor" => Some(StaffRole::Supervisor),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Clerk => "clerk",
            StaffRole::Supervisor => "supervisor",
            StaffRole::Admin => "admin",
        }
    }
}

/// A staff member, without secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffAccount {
    /// The account's number inside the office; not shown.
    #[serde(skip)]
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub department_id: String,
    pub roles: Vec<StaffRole>,
    /// Disabled accounts cannot log in and have no sessions; they stay, since records name them.
    pub disabled: bool,
}

impl StaffAccount {
    /// Works a desk and its department's records: a clerk, or a supervisor (a clerk who also
    /// oversees). An admin who is neither does not.
    pub fn works_counter(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, StaffRole::Clerk | StaffRole::Supervisor))
    }

    pub fn is_supervisor(&self) -> bool {
        self.roles.contains(&StaffRole::Supervisor)
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&StaffRole::Admin)
    }
}

/// A new session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionBody {
    /// Keep it secret; send it as `Authorization: Bearer <token>`.
    pub session_token: String,
    pub idle_expiry_s: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<Resident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffAccount>,
}

/// Whoever holds the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeBody {
    /// `resident` or `staff`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<Resident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffAccount>,
}

/// A netcode connect token: short-lived, single-use, tied to the session that asked for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectTokenBody {
    /// The netcode connect token, standard base64.
    pub connect_token: String,
    pub client_id: u64,
    /// Where to send it (UDP).
    pub server_addr: String,
    pub expires_in_s: u64,
    pub protocol: u16,
}

/// A ticket for the world over WebSocket (browsers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WsTicketBody {
    /// Single use; pass it as `?ticket=` to the WebSocket path.
    pub ticket: String,
    /// The WebSocket path on this server: `/api/v1/world/ws`.
    pub path: String,
    pub expires_in_s: u64,
    pub protocol: u16,
}

/// Where a sign-in comes back to: the query of `GET /auth/oidc/{provider}/start` and the body of
/// `POST /api/v1/signin/{provider}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartBody {
    /// The language to come back in (`ja`, `en`, `zh-Hans`, …).
    #[serde(default)]
    pub lang: String,
    /// Where to come back to: `play` (the 3D office's page), `consultation`, `text`, or
    /// `loopback` (the desktop client: the answer is then the office's own start address, to
    /// open in the system browser).
    #[serde(default)]
    pub back: String,
    /// `loopback`: the app's port on 127.0.0.1 (1024 or above).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u16>, minimum = 1024, maximum = 65535))]
    #[serde(default, deserialize_with = "integral_port", skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `loopback`: `BASE64URL(SHA-256(verifier))`; the handoff then wants the verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

/// A port as a query string writes it (`40000`) or as JSON may write an integer: `40000`, or
/// `40000.0` (JSON Schema's integers include numbers with a zero fraction).
fn integral_port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(serde_json::Number),
        Text(String),
    }
    let whole = |v: f64| (v.fract() == 0.0 && (0.0..=65535.0).contains(&v)).then_some(v as u16);
    let port = match Option::<Port>::deserialize(d)? {
        None => return Ok(None),
        Some(Port::Number(n)) => n.as_f64().and_then(whole),
        Some(Port::Text(t)) => t.trim().parse::<f64>().ok().and_then(whole),
    };
    port.map(Some).ok_or_else(|| serde::de::Error::custom("port: a whole number from 0 to 65535"))
}

/// Where to send the browser to sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartAnswer {
    /// Where to send the browser: the provider's login (a relative address on this office for
    /// `loopback`).
    pub url: String,
}

/// A sign-in's one-time code, traded for its session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoffBody {
    /// The code after `#signed-in=` in the page's address (or `?code=` at the desktop client's
    /// loopback address).
    pub code: String,
    /// The desktop client's PKCE verifier, for a code bound to its challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
}

/// The session a sign-in opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoffAnswer {
    /// The session the sign-in opened: a bearer token.
    pub token: String,
    /// The resident's name, for the avatar.
    pub display_name: String,
}

/// A way to sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Provider {
    /// For `POST /api/v1/signin/{provider}`.
    pub id: String,
    /// The provider's name in the language asked for.
    pub name: String,
}

/// The ways to sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvidersAnswer {
    /// Empty when the office offers no sign-in (every resident is a guest).
    pub providers: Vec<Provider>,
}

/// A one-time link to the consultation page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageLink {
    /// Open it (relative to the office) within `expires_in_s`; it works once.
    pub url: String,
    pub expires_in_s: u64,
}

/// A ticket request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TakeRequest {
    /// Department id, e.g. `resident_registration`.
    pub department: String,
}

/// A new application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRequest {
    pub procedure_id: String,
    /// Field values; a draft may leave required fields empty.
    #[serde(default = "empty_object")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub form_data: serde_json::Value,
    /// Staff only: the resident it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Where an application is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Status))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Draft,
    Submitted,
    InReview,
    NeedsInfo,
    Approved,
    Rejected,
    Withdrawn,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 7] = [
        ApplicationStatus::Draft,
        ApplicationStatus::Submitted,
        ApplicationStatus::InReview,
        ApplicationStatus::NeedsInfo,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Draft => "draft",
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::InReview => "in_review",
            ApplicationStatus::NeedsInfo => "needs_info",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        ApplicationStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Approved, rejected or withdrawn: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, ApplicationStatus::Approved | ApplicationStatus::Rejected | ApplicationStatus::Withdrawn)
    }
}

/// An application as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationView {
    pub reference: String,
    pub procedure_id: String,
    pub department_id: String,
    pub status: ApplicationStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub form_data: serde_json::Value,
    /// What the clerk said with the last status change, e.g. which document is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_note: Option<String>,
    /// The resident it belongs to (shown to staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A string, optionally limited in length and matched against a pattern.
    Text,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An integer, optionally between `min` and `max`.
    Number,
    /// One of `choices`.
    Choice,
    /// `true` or `false`.
    Boolean,
}

/// Identity a resident needs before the procedure can be submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityLevel {
    Guest,
    Verified,
}

/// A form field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub label: crate::layout::Names,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// What each choice reads as, by choice (every choice has one): a resident sees
    /// 「世帯主（本人）」, never `head`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub choice_labels: std::collections::BTreeMap<String, crate::layout::Names>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

/// One procedure, as in its file (`assets/procedures/*.toml`) and as `GET /api/v1/procedures`
/// lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    pub id: String,
    pub department: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub name: crate::layout::Names,
    pub identity_level: IdentityLevel,
    /// Documents the resident should have at hand.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub documents: Vec<crate::layout::Names>,
    #[serde(rename = "field")]
    pub fields: Vec<Field>,
}

impl Field {
    /// The label of a chosen value (a choice field's value that is one of its choices).
    pub fn choice_label(&self, v: Option<&serde_json::Value>) -> Option<&crate::layout::Names> {
        self.choice_labels.get(v?.as_str()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_in_their_parameters() {
        assert_eq!(paths::ticket_arrived(7), "/api/v1/tickets/7/arrived");
        assert_eq!(paths::staff_desk_take("a1"), "/api/v1/staff/desks/a1/take");
        assert_eq!(paths::consultation_join(3), "/api/v1/consultations/3/join");
        assert_eq!(paths::application_submit("R-1"), "/api/v1/applications/R-1/submit");
        assert_eq!(paths::signin_provider("city"), "/api/v1/signin/city");
    }

    #[test]
    fn a_loopback_port_may_be_written_as_text_or_a_whole_number() {
        for body in [r#"{"port": 40000}"#, r#"{"port": 40000.0}"#, r#"{"port": "40000"}"#] {
            let b: StartBody = serde_json::from_str(body).expect(body);
            assert_eq!(b.port, Some(40000), "{body}");
        }
        for body in [r#"{"port": 40000.5}"#, r#"{"port": 70000}"#, r#"{"port": "x"}"#] {
            assert!(serde_json::from_str::<StartBody>(body).is_err(), "{body}");
        }
    }

    #[test]
    fn a_staff_accounts_number_never_leaves_the_server() {
        let a = StaffAccount {
            id: 42,
            login: "a".into(),
            display_name: "A".into(),
            department_id: "d".into(),
            roles: vec![StaffRole::Supervisor],
            disabled: false,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert!(v.get("id").is_none(), "{v}");
        assert_eq!(v["roles"][0], "supervisor");
        assert!(a.works_counter() && a.is_supervisor() && !a.is_admin());
    }
}
