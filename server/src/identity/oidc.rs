//! Residents signing in with an OpenID Connect provider the office configured
//! (`--oidc-config`, a TOML file of `[[provider]]`s; each client secret comes from an environment
//! variable the file names, never from the file).
//!
//! The authorization code flow with PKCE (S256), `state` and `nonce`, on the `openidconnect`
//! crate: discovery, the code exchange, and the ID token's checks (issuer, audience, expiry,
//! nonce, signature against the provider's JWKS). A token signed with a key the office has not
//! seen makes it fetch the provider's metadata and keys again (at most once a second; other bad
//! signatures at most once a minute) and try once more, so a provider's key rotation is followed.
//! Pending sign-ins live in memory, each for ten minutes and used once (a replayed `state` is
//! refused), at most [`MAX_PENDING`] at a time. The table is shared fairly between networks (an
//! IPv4 /24, an IPv6 /48: what one party easily holds): a network holds at most
//! [`MAX_PER_NETWORK`], its oldest going first, and when the table is full the oldest sign-in of
//! the fullest network makes room — so one address block cannot keep the rest of the city from
//! signing in.
//!
//! The identity level is the configured rule's: `verified` when the ID token's claim (for
//! example `acr`, or a claim that an IdP fronting the national ID card sets) has one of the
//! configured values; otherwise `guest`. No provider token is kept: the office reads the ID
//! token once and keeps the subject, the name and the level.
//!
//! Uses `db`, `sessions` (the resident's new session; a guest's sessions end) and `merge` (a
//! guest's records move, and `events` hears of it after the commit).

use super::merge;
use super::sessions::{self, Resident, SessionEnds};
use crate::db::{Db, now_ms};
use crate::events::OfficeEvents;
use madoguchi_shared::layout::Names;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
};

/// A provider's discovery document, with its end-session endpoint (RP-initiated logout).
type CoreProviderMetadata = ProviderMetadataWithLogout;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sign-ins begun and not finished, at most.
pub const MAX_PENDING: usize = 10_000;
/// Sign-ins one network (IPv4 /24, IPv6 /48) may have begun and not finished.
pub const MAX_PER_NETWORK: usize = MAX_PENDING / 16;
/// How long a begun sign-in may take at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// After a signature that does not verify with a key the office has, the provider's metadata
/// and keys are fetched again at most this often.
const REDISCOVER_EVERY: Duration = Duration::from_secs(60);
/// After a token signed with a key the office has not seen (the provider rotated its keys),
/// at most this often.
const REDISCOVER_NEW_KEY_EVERY: Duration = Duration::from_secs(1);

/// The file `--oidc-config` names.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub provider: Vec<ProviderConfig>,
}

/// One provider, as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// In URLs and records: `[a-z0-9_-]`.
    pub id: String,
    /// What the sign-in button says.
    pub name: Names,
    pub issuer: String,
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: String,
    /// Scopes besides `openid`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When a sign-in counts as a verified identity.
    #[serde(default)]
    pub verified_when: Option<LevelRule>,
}

/// `verified` when the ID token's `claim` is (or, for a list, holds) one of `values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRule {
    pub claim: String,
    pub values: Vec<String>,
}

impl LevelRule {
    /// Whether these claims meet the rule.
    pub fn met(&self, claims: &serde_json::Map<String, serde_json::Value>) -> bool {
        match claims.get(&self.claim) {
            Some(serde_json::Value::String(s)) => self.values.contains(s),
            Some(serde_json::Value::Array(a)) => {
                a.iter().filter_map(|v| v.as_str()).any(|s| self.values.iter().any(|v| v == s))
            }
            _ => false,
        }
    }
}

/// The ID token's claims beyond the standard ones the crate reads (and `acr`, copied in), for
/// the level rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type OurIdToken = IdToken<OtherClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// Why a sign-in did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no such sign-in provider")]
    UnknownProvider,
    #[error("this sign-in is unknown, used already or expired; start again")]
    UnknownState,
    #[error("the provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the provider's ID token was refused: {0}")]
    Token(String),
    #[error("the provider said no: {0}")]
    Denied(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Where the resident goes back to after signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// The text mode, in this language.
    Text { lang: &'static str },
    /// The text mode's consultation page (the resident signed in to confirm an application).
    Consultation { lang: &'static str },
    /// The 3D office's page, which takes the new session over.
    Play { lang: &'static str },
    /// The desktop client, listening on this loopback port (RFC 8252); it trades the code with
    /// the verifier of `challenge`.
    Loopback { lang: &'static str, port: u16, challenge: String },
}

impl Back {
    pub fn lang(&self) -> &'static str {
        match self {
            Back::Text { lang } | Back::Consultation { lang } | Back::Play { lang } | Back::Loopback { lang, .. } => {
                lang
            }
        }
    }
}

/// A sign-in on its way.
struct Pending {
    provider: usize,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    redirect: RedirectUrl,
    /// The guest who began it, if any: their tickets and drafts stay theirs.
    guest: Option<String>,
    back: Back,
    /// The network the sign-in began from ([`network_of`]).
    network: ipnet::IpNet,
    at: Instant,
}

/// The network an address belongs to, for sharing the table: its IPv4 /24 or IPv6 /48.
pub fn network_of(ip: std::net::IpAddr) -> ipnet::IpNet {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    ipnet::IpNet::new(ip, prefix).map(|n| n.trunc()).unwrap_or_else(|_| ipnet::IpNet::from(ip))
}

/// Makes room for one more sign-in from `network`: if the network has used its share, its oldest
/// goes; else, if the table is full, the oldest of the fullest network goes. Expired ones go first.
fn make_room(pending: &mut HashMap<String, Pending>, network: ipnet::IpNet) {
    pending.retain(|_, v| v.at.elapsed() < PENDING_TTL);
    // Per network: how many, and its oldest.
    let mut by_network: HashMap<ipnet::IpNet, (usize, &str, Instant)> = HashMap::new();
    for (k, v) in pending.iter() {
        let e = by_network.entry(v.network).or_insert((0, k.as_str(), v.at));
        e.0 += 1;
        if v.at < e.2 {
            (e.1, e.2) = (k.as_str(), v.at);
        }
    }
    let evict = match by_network.get(&network) {
        Some((n, oldest, _)) if *n >= MAX_PER_NETWORK => Some(oldest.to_string()),
        _ if pending.len() >= MAX_PENDING => {
            by_network.values().max_by_key(|(n, _, at)| (*n, std::cmp::Reverse(*at))).map(|(_, k, _)| k.to_string())
        }
        _ => None,
    };
    if let Some(k) = evict {
        pending.remove(&k);
    }
}

/// What the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
    pub name: Option<String>,
    pub verified: bool,
}

/// A finished sign-in: who, the guest who began it, and where to go back.
#[derive(Debug)]
pub struct Finished {
    pub identity: Identity,
    pub guest: Option<String>,
    pub back: Back,
}

struct Provider {
    config: ProviderConfig,
    secret: String,
    issuer: IssuerUrl,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
}

/// The configured providers and the sign-ins under way.
pub struct Providers {
    list: Vec<Provider>,
    pending: Mutex<HashMap<String, Pending>>,
    http: openidconnect::reqwest::Client,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Providers {
    /// No providers: residents stay guests.
    pub fn none() -> Providers {
        Providers::from_configs(Vec::new(), |_| None).expect("no providers")
    }

    /// Reads `--oidc-config`; client secrets from the environment.
    pub fn load(path: &Path) -> Result<Providers, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Providers::from_configs(file.provider, |k| std::env::var(k).ok())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn from_configs(configs: Vec<ProviderConfig>, env: impl Fn(&str) -> Option<String>) -> Result<Providers, String> {
        let mut list = Vec::new();
        for c in configs {
            if !valid_id(&c.id) || list.iter().any(|p: &Provider| p.config.id == c.id) {
                return Err(format!("provider id \"{}\" is not a unique [a-z0-9_-] id", c.id));
            }
            let issuer = IssuerUrl::new(c.issuer.clone()).map_err(|e| format!("provider {}: issuer: {e}", c.id))?;
            let secret = env(&c.client_secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("provider {}: set the client secret in ${}", c.id, c.client_secret_env))?;
            list.push(Provider { config: c, secret, issuer, metadata: tokio::sync::Mutex::new(None) });
        }
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send us anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Providers { list, pending: Mutex::new(HashMap::new()), http })
    }

    /// The providers residents can sign in with: (id, button words).
    pub fn offered(&self) -> Vec<(String, Names)> {
        self.list.iter().map(|p| (p.config.id.clone(), p.config.name.clone())).collect()
    }

    /// The providers' origins (`https://idp.example.jp`): where a signing-out resident's form
    /// may lead (the pages' `form-action`).
    pub fn origins(&self) -> Vec<String> {
        self.list.iter().map(|p| p.issuer.url().origin().ascii_serialization()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The provider's metadata (with its keys), fetched once, or again when the last fetch is
    /// older than `refresh`.
    async fn metadata(&self, p: &Provider, refresh: Option<Duration>) -> Result<CoreProviderMetadata, OidcError> {
        let mut slot = p.metadata.lock().await;
        if let Some((m, at)) = slot.as_ref()
            && refresh.is_none_or(|every| at.elapsed() < every)
        {
            return Ok(m.clone());
        }
        let m = CoreProviderMetadata::discover_async(p.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery: {e}")))?;
        *slot = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    /// Begins a sign-in: the provider's authorization URL to send the browser to, and the
    /// `state` (the caller binds it to the browser with a cookie).
    /// `from` is the address it comes from (its network's share of the table).
    pub async fn start(
        &self,
        provider: &str,
        redirect: &str,
        guest: Option<String>,
        back: Back,
        from: std::net::IpAddr,
    ) -> Result<(String, String), OidcError> {
        let index = self.list.iter().position(|p| p.config.id == provider).ok_or(OidcError::UnknownProvider)?;
        let p = &self.list[index];
        let metadata = self.metadata(p, None).await?;
        let redirect = RedirectUrl::new(redirect.to_string()).map_err(|e| OidcError::Provider(e.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.config.client_id.clone()),
            Some(ClientSecret::new(p.secret.clone())),
        )
        .set_redirect_uri(redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for s in &p.config.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        let network = network_of(from);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        make_room(&mut pending, network);
        pending.insert(
            state.secret().clone(),
            Pending { provider: index, nonce, verifier, redirect, guest, back, network, at: Instant::now() },
        );
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Where to send a resident who signs out, to end their session at `provider` too (when the
    /// provider offers RP-initiated logout): it sends them back to `back`.
    pub async fn end_session_url(&self, provider: &str, back: &str) -> Option<String> {
        let p = self.list.iter().find(|p| p.config.id == provider)?;
        let metadata = self.metadata(p, None).await.ok()?;
        let endpoint = metadata.additional_metadata().end_session_endpoint.clone()?;
        let back = PostLogoutRedirectUrl::new(back.to_string()).ok()?;
        Some(
            LogoutRequest::from(endpoint)
                .set_client_id(ClientId::new(p.config.client_id.clone()))
                .set_post_logout_redirect_uri(back)
                .http_get_url()
                .to_string(),
        )
    }

    /// Forgets a sign-in the provider ended without a code (the resident cancelled, say).
    pub fn forget(&self, state: &str) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(state);
    }

    /// The provider sent the browser back with `code` for `state`: exchanges the code, checks
    /// the ID token, and says who it is. The `state` is used up whatever happens.
    pub async fn finish(&self, state: &str, code: &str) -> Result<Finished, OidcError> {
        let pending = {
            let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            all.remove(state).filter(|p| p.at.elapsed() < PENDING_TTL).ok_or(OidcError::UnknownState)?
        };
        let p = &self.list[pending.provider];
        let metadata = self.metadata(p, None).await?;
        let client = |m: CoreProviderMetadata| {
            CoreClient::from_provider_metadata(
                m,
                ClientId::new(p.config.client_id.clone()),
                Some(ClientSecret::new(p.secret.clone())),
            )
            .set_redirect_uri(pending.redirect.clone())
        };
        let first = client(metadata);
        let response = first
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("token: {e}")))?;
        let raw = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| OidcError::Token("no ID token in the answer".into()))?
            .to_string();
        let token: OurIdToken = raw.parse().map_err(|e| OidcError::Token(format!("{e}")))?;
        let claims = match token.claims(&first.id_token_verifier(), &pending.nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(e)) => {
                // Perhaps the provider rotated its keys: fetch them again and try once more (at
                // once for a key the office has not seen, else at most once a minute).
                let every = if e == openidconnect::SignatureVerificationError::NoMatchingKey {
                    REDISCOVER_NEW_KEY_EVERY
                } else {
                    REDISCOVER_EVERY
                };
                let again = client(self.metadata(p, Some(every)).await?);
                token
                    .claims(&again.id_token_verifier(), &pending.nonce)
                    .map_err(|e| OidcError::Token(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(OidcError::Token(e.to_string())),
        };
        let mut all = claims.additional_claims().rest.clone();
        if let Some(acr) = claims.auth_context_ref() {
            all.insert("acr".into(), serde_json::Value::String(acr.to_string()));
        }
        let verified = p.config.verified_when.as_ref().is_some_and(|r| r.met(&all));
        // The name as people will read it: no control characters, a sane length.
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.chars().filter(|c| !c.is_control()).take(100).collect::<String>().trim().to_string())
            .filter(|n| !n.is_empty());
        Ok(Finished {
            identity: Identity { provider: p.config.id.clone(), subject: claims.subject().to_string(), name, verified },
            guest: pending.guest,
            back: pending.back,
        })
    }
}

/// Makes `identity` a resident of the office and opens their session. The same provider and
/// subject are always the same resident (two devices, one resident). A guest who signs in for
/// an identity the office has not seen becomes that resident themselves (their tickets and
/// drafts are already theirs); a guest who signs in as a resident the office knows brings their
/// tickets, applications and consultations along ([`merge`]). The guest session ends either
/// way. Returns the resident, the new session's token and what moved; every sign-in, upgrade
/// and move is a resident event.
pub async fn sign_in(
    db: &Db,
    office: (&SessionEnds, &OfficeEvents),
    identity: &Identity,
    guest: Option<&str>,
    locale: &str,
) -> Result<(Resident, String, merge::Moved), sqlx::Error> {
    let now = now_ms();
    let level = if identity.verified { "verified" } else { "guest" };
    let mut moved = merge::Moved::default();
    let mut merged = false;
    let mut tx = db.begin_write().await?;
    let known: Option<String> =
        sqlx::query("SELECT resident_id FROM resident_identities WHERE provider = $1 AND subject = $2")
            .bind(&identity.provider)
            .bind(&identity.subject)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    // A guest with no identity yet may become this one.
    let guest_free = match guest {
        Some(g) => has_no_identity(&mut tx, g).await?,
        None => false,
    };
    let detail = serde_json::json!({"provider": identity.provider, "level": level}).to_string();
    let resident_id = match (known, guest) {
        (Some(id), _) => {
            sqlx::query("UPDATE resident_identities SET level = $1, last_signed_in_at = $2 WHERE provider = $3 AND subject = $4")
                .bind(level)
                .bind(now)
                .bind(&identity.provider)
                .bind(&identity.subject)
                .execute(&mut *tx)
                .await?;
            // A guest (with no identity of their own) signing in as someone known: what they
            // did as a guest becomes that resident's.
            if let Some(g) = guest.filter(|g| guest_free && *g != id) {
                moved = merge_in(db, &mut tx, g, &id, now).await?;
                merged = true;
            }
            id
        }
        (None, Some(g)) if guest_free => {
            event(&mut tx, g, "upgraded_from_guest", &detail, now).await?;
            link(&mut tx, identity, g, level, now).await?;
            g.to_string()
        }
        (None, _) => {
            let id = hex::encode(rand::random::<[u8; 16]>());
            let display = identity.name.clone().unwrap_or_else(|| "—".into());
            sqlx::query("INSERT INTO residents (id, display_name, locale, identity_level, created_at) VALUES ($1, $2, $3, 'guest', $4)")
                .bind(&id)
                .bind(display.chars().take(madoguchi_shared::limits::NAME_MAX_CHARS).collect::<String>())
                .bind(locale)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            link(&mut tx, identity, &id, level, now).await?;
            id
        }
    };
    let verified_name = identity.name.as_ref().map(|n| n.chars().take(100).collect::<String>());
    sqlx::query("UPDATE residents SET identity_level = $1, verified_name = COALESCE($2, verified_name) WHERE id = $3")
        .bind(level)
        .bind(verified_name)
        .bind(&resident_id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, &resident_id, "signed_in", &detail, now).await?;
    tx.commit().await?;
    // A guest who is now someone else: their sessions end, and what moved is announced.
    if let Some(g) = guest.filter(|g| *g != resident_id) {
        merge::announce(db, office.0, office.1, g, &resident_id, merged.then_some(&moved)).await;
    }
    let token = sessions::open_resident(db, &resident_id).await?;
    let resident = sessions::resident_by_id(db, &resident_id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((resident, token, moved))
}

/// A guest who signed in where the sign-in could not say whose it was (the desktop client: its
/// system browser begins the sign-in for nobody) brings their records along afterwards, when the
/// app trades the sign-in's code holding both the guest's session and the code's verifier.
/// Nothing moves (`None`) when the guest is the resident or has an identity of their own.
pub async fn merge_guest(
    db: &Db,
    office: (&SessionEnds, &OfficeEvents),
    guest: &str,
    resident: &str,
) -> Result<Option<merge::Moved>, sqlx::Error> {
    if guest == resident {
        return Ok(None);
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    if !has_no_identity(&mut tx, guest).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let moved = merge_in(db, &mut tx, guest, resident, now).await?;
    tx.commit().await?;
    merge::announce(db, office.0, office.1, guest, resident, Some(&moved)).await;
    Ok(Some(moved))
}

async fn has_no_identity(tx: &mut sqlx::Transaction<'_, sqlx::Any>, resident: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM resident_identities WHERE resident_id = $1")
        .bind(resident)
        .fetch_optional(&mut **tx)
        .await?
        .is_none())
}

/// Moves `guest`'s records to `resident` ([`merge`]), with a resident event on both.
async fn merge_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    guest: &str,
    resident: &str,
    now: i64,
) -> Result<merge::Moved, sqlx::Error> {
    let moved = merge::guest_into(db, tx, guest, resident, now).await?;
    let d = serde_json::json!({"guest": guest, "tickets": moved.tickets, "applications": moved.applications});
    event(tx, resident, "guest_merged", &d.to_string(), now).await?;
    event(tx, guest, "merged_into", &serde_json::json!({"resident": resident}).to_string(), now).await?;
    Ok(moved)
}

/// The provider a resident last signed in with, if any.
pub async fn last_provider(db: &Db, resident: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT provider FROM resident_identities WHERE resident_id = $1 ORDER BY last_signed_in_at DESC LIMIT 1",
    )
    .bind(resident)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}

async fn link(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    identity: &Identity,
    resident: &str,
    level: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resident_identities (provider, subject, resident_id, level, created_at, last_signed_in_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&identity.provider)
    .bind(&identity.subject)
    .bind(resident)
    .bind(level)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    resident: &str,
    action: &str,
    detail: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO resident_events (at, resident_id, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(now)
        .bind(resident)
        .bind(action)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str) -> ProviderConfig {
        ProviderConfig {
            id: id.into(),
            name: Names { ja: "テスト".into(), en: "Test".into(), ..Default::default() },
            issuer: "https://idp.example.jp".into(),
            client_id: "office".into(),
            client_secret_env: "SECRET".into(),
            scopes: vec![],
            verified_when: None,
        }
    }

    #[test]
    fn providers_need_a_secret_a_good_id_and_an_issuer_url() {
        let env = |k: &str| (k == "SECRET").then(|| "s".to_string());
        assert!(Providers::from_configs(vec![config("mynumber")], env).is_ok());
        let e = Providers::from_configs(vec![config("mynumber")], |_| None).err().unwrap();
        assert!(e.contains("$SECRET"), "{e}");
        assert!(Providers::from_configs(vec![config("My Number")], env).is_err());
        assert!(Providers::from_configs(vec![config("a"), config("a")], env).is_err());
        let bad = ProviderConfig { issuer: "not a url".into(), ..config("x") };
        assert!(Providers::from_configs(vec![bad], env).is_err());
    }

    fn dummy(network: &str, age: Duration) -> Pending {
        Pending {
            provider: 0,
            nonce: Nonce::new("n".into()),
            verifier: PkceCodeVerifier::new("v".repeat(43)),
            redirect: RedirectUrl::new("http://127.0.0.1/auth/oidc/callback".into()).unwrap(),
            guest: None,
            back: Back::Text { lang: "ja" },
            network: network_of(network.parse().unwrap()),
            at: Instant::now().checked_sub(age).unwrap(),
        }
    }

    #[test]
    fn networks_are_a_v4_slash_24_and_a_v6_slash_48() {
        let n = |s: &str| network_of(s.parse().unwrap()).to_string();
        assert_eq!(n("198.51.100.7"), "198.51.100.0/24");
        assert_eq!(n("::ffff:198.51.100.7"), "198.51.100.0/24");
        assert_eq!(n("2001:db8:1:2:3::9"), "2001:db8:1::/48");
        assert_eq!(n("2001:db8:1:ffff::1"), n("2001:db8:1:2::1"), "many /64s, one /48");
    }

    #[test]
    fn one_network_cannot_fill_the_table_of_sign_ins() {
        let mut all = HashMap::new();
        // One /48, from many /64s, as fast as it may: it keeps only its share, newest first.
        for i in 0..MAX_PENDING {
            make_room(&mut all, network_of(format!("2001:db8:1:{:x}::1", i % 4096).parse().unwrap()));
            all.insert(format!("a{i}"), dummy(&format!("2001:db8:1:{:x}::1", i % 4096), Duration::ZERO));
        }
        assert_eq!(all.len(), MAX_PER_NETWORK);
        assert!(all.contains_key(&format!("a{}", MAX_PENDING - 1)) && !all.contains_key("a0"), "its oldest went");
        // A full table of many networks: a newcomer's sign-in evicts the fullest network's
        // oldest, not the newcomer's.
        all.clear();
        for i in 0..MAX_PENDING {
            let net =
                if i < MAX_PER_NETWORK { "203.0.113.9".to_string() } else { format!("10.{}.{}.1", i / 256, i % 256) };
            all.insert(format!("b{i}"), dummy(&net, Duration::from_secs(1)));
        }
        let newcomer = network_of("198.51.100.7".parse().unwrap());
        make_room(&mut all, newcomer);
        assert_eq!(all.len(), MAX_PENDING - 1, "one went");
        let left = all.values().filter(|p| p.network == network_of("203.0.113.9".parse().unwrap())).count();
        assert_eq!(left, MAX_PER_NETWORK - 1, "the fullest network gave it up");
        // Expired ones go first.
        for v in all.values_mut() {
            v.at = Instant::now().checked_sub(PENDING_TTL + Duration::from_secs(1)).unwrap();
        }
        make_room(&mut all, newcomer);
        assert!(all.is_empty(), "the expired ones are gone");
    }

    #[test]
    fn an_unknown_provider_or_a_spent_state_is_refused_without_a_request() {
        let env = |_: &str| Some("s".to_string());
        let p = Providers::from_configs(vec![config("idp")], env).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = "198.51.100.7".parse().unwrap();
        assert!(matches!(
            rt.block_on(p.start("nope", "http://x/", None, Back::Text { lang: "ja" }, client)),
            Err(OidcError::UnknownProvider)
        ));
        assert!(matches!(rt.block_on(p.finish("s1", "code")), Err(OidcError::UnknownState)));
    }

    #[test]
    fn the_level_rule_reads_strings_and_lists() {
        let rule = LevelRule { claim: "identity_assurance".into(), values: vec!["mynumber_card".into()] };
        let claims = |v: serde_json::Value| serde_json::json!({ "identity_assurance": v }).as_object().unwrap().clone();
        assert!(rule.met(&claims(serde_json::json!("mynumber_card"))));
        assert!(rule.met(&claims(serde_json::json!(["email", "mynumber_card"]))));
        assert!(!rule.met(&claims(serde_json::json!("email"))));
        assert!(!rule.met(&claims(serde_json::json!(true))));
        assert!(!rule.met(&serde_json::Map::new()));
    }
}
