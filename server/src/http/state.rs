//! What every handler shares: the services, the database, the catalog and the limits.

use crate::db::Db;
use crate::identity::sessions::{SessionEnds, SessionKey};
use crate::metrics::Metrics;
use crate::net::tokens::TokenIssuer;
use crate::net::websocket::WsTickets;
use crate::queue::Queues;
use crate::ratelimit::RateLimiter;
use crate::records::catalog::Catalog;
use madoguchi_shared::i18n;
use std::sync::Arc;

/// Text-mode event streams (`/text/events`) one session may hold open: a few tabs.
pub const STREAMS_PER_SESSION: usize = 4;

/// Everything the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub queues: Queues,
    pub consults: crate::consult::Consultations,
    /// One-time links to the consultation page for the 3D and desktop clients.
    pub page_links: Arc<super::links::OneTimeCodes>,
    /// Sessions a sign-in opened, waiting for the 3D office's page to take them.
    pub handoffs: Arc<super::links::OneTimeCodes>,
    /// Single-use tickets for browser clients' WebSocket.
    pub ws: Arc<WsTickets>,
    /// Where the browser client's build is (`scripts/build-web`), if anywhere.
    pub web_dir: Option<std::path::PathBuf>,
    /// Mark session cookies `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    pub db: Db,
    pub catalog: Arc<Catalog>,
    /// Changes to applications (each one an office event).
    pub records: crate::records::Records,
    /// The office's words (Fluent), for pages.
    pub words: Arc<i18n::Catalog>,
    pub tokens: Arc<TokenIssuer>,
    /// Guest session creation, per client address.
    pub guest_limit: Arc<RateLimiter>,
    /// Staff login attempts, per client address (accounts also lock themselves).
    pub login_limit: Arc<RateLimiter>,
    /// A resident's writes to their applications (drafts, edits, submissions, withdrawals).
    pub write_limit: Arc<RateLimiter<String>>,
    /// Connect tokens, per session principal: enough for reconnects, not for hoarding.
    pub token_limit: Arc<RateLimiter<String>>,
    /// The office's events, which the pages' live sections follow (`live`).
    pub events: crate::events::OfficeEvents,
    /// Sessions whose live connections must end (logout, sign-in, an admin's change), for the
    /// world, the consultations, the event streams and the desks.
    pub session_ends: SessionEnds,
    /// Open text-mode event streams per session (at most [`STREAMS_PER_SESSION`]).
    pub event_streams: Arc<crate::ratelimit::Slots<SessionKey>>,
    /// Reverse proxies whose forwarding headers name the client.
    pub proxies: Arc<super::client_addr::TrustedProxies>,
    /// The office's public origin (`--public-url`), which form posts must come from; `None`:
    /// the request's Host.
    pub public_origin: Option<Arc<str>>,
    /// The first start's one-time setup code for the first admin (`/staff/setup`), while the
    /// office has no admin.
    pub setup_code: Arc<std::sync::Mutex<Option<String>>>,
    /// The OpenID Connect providers residents may sign in with, and the sign-ins under way.
    pub oidc: Arc<crate::identity::oidc::Providers>,
    /// The residents in the 3D office now (the world updates it).
    pub in_world: crate::net::clients::InWorld,
}

impl HttpState {
    /// This office's origin as browsers see it: `--public-url`, else the request's Host.
    pub fn origin(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        match self.public_origin.as_deref() {
            Some(o) => Some(o.to_string()),
            None => {
                let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
                let scheme = if self.secure_cookies { "https" } else { "http" };
                Some(format!("{scheme}://{host}"))
            }
        }
    }

    /// Marks the tickets whose residents are in the 3D office now.
    pub fn mark_in_world(&self, tickets: &mut [crate::queue::StaffTicket]) {
        for t in tickets {
            t.in_3d_office = self.in_world.contains(&t.resident_id);
        }
    }
}
