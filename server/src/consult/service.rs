//! The consultation service: one value, cheap to clone, shared by the HTTP handlers and the
//! signalling connections. It starts and ends consultations, decides who may join and as whom,
//! keeps who is connected now (and tells everyone), and carries chat, linked applications and
//! interpreter invitations. Media goes to the engine behind [`MediaEngine`].
//!
//! A consultation ends by a hang-up of the resident or the clerk, when its ticket is finished
//! (done, no-show, transfer, the next call: whatever ends the ticket), when everyone has left
//! for [`ConsultSettings::empty_grace`], when its media fails, or at a restart.

use super::media::{LegEvent, LegOf, MediaEngine, MediaError, RoomFailure};
use super::model::{
    ConsultError, ConsultSettings, ConsultationBody, InviteBody, Joiner, RunningConsultation, SignalGrant,
};
use super::store::{ConsultStore, ConsultationRow, LinkedRow};
use super::turn;
use crate::db::{Db, now_ms};
use crate::events::{OfficeEvent, OfficeEvents};
use crate::identity::Clerk;
use crate::identity::sessions::{SessionEnds, SessionKey, SessionListener};
use crate::metrics::Metrics;
use crate::queue::Queues;
use crate::records::Records;
use crate::records::applications::{self, RecordError};
use crate::records::audit::Actor;
use madoguchi_shared::consult::{
    Candidate, ChatLine, ConsultView, FormField, IceServer, LinkedApplication, MAX_PARTICIPANTS, Participant, Role,
    ServerSignal,
};
use madoguchi_shared::protocol::TicketStatus;
use madoguchi_shared::text::{check_chat, clean_text};
use rand::Rng;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Chat lines a participant gets when they join.
const CHAT_HISTORY: i64 = 50;
/// Open invitations one consultation may have at once.
const MAX_OPEN_INVITES: i64 = 3;
/// Signalling tickets waiting to be used, office-wide. A participant holds at most one (a new
/// one replaces it), so only as many participants as there are could fill it.
const MAX_PENDING_GRANTS: usize = 4096;
/// Passes one participant of one consultation may be given at once, and then per minute: a
/// page reloaded again and again is refused, not served (and cannot push others' passes out).
const GRANT_BURST: u32 = 10;
const GRANTS_PER_MINUTE: u32 = 20;

/// The service.
#[derive(Clone)]
pub struct Consultations(Arc<Inner>);

struct Inner {
    store: ConsultStore,
    queues: Queues,
    records: Records,
    events: OfficeEvents,
    media: Arc<dyn MediaEngine>,
    settings: ConsultSettings,
    metrics: Arc<Metrics>,
    live: Mutex<HashMap<i64, Live>>,
    grants: Mutex<HashMap<String, Pending>>,
    /// The key of interpreters' codes as stored (see [`code_hash`]).
    code_key: [u8; 32],
    /// Passes given, per consultation and participant.
    grant_limit: crate::ratelimit::RateLimiter<String>,
    /// Sessions whose connections must end: a participant's signalling ends with its session.
    session_ends: SessionEnds,
    next_conn: AtomicU64,
}

/// A running consultation in memory: its row and who is connected.
struct Live {
    row: ConsultationRow,
    members: HashMap<Role, Member>,
    /// Bumped whenever the room empties, so a grace timer knows whether it is still current.
    empty_epoch: u64,
}

struct Member {
    conn: u64,
    /// Who holds the place (`resident:…`, `staff:…`, `invite:…`): only they may take it over.
    principal: String,
    name: String,
    participation: i64,
    out: mpsc::Sender<ServerSignal>,
}

struct Pending {
    consultation: i64,
    role: Role,
    principal: String,
    name: String,
    session: Option<SessionKey>,
    /// A staff participant, as the author of the reads of the forms they are shown on joining.
    reader: Option<Actor>,
    /// Listening for the session's end from when the pass was given, so that an end or a change
    /// of rights before the socket opens is not missed.
    ends: Option<SessionListener>,
    expires: Instant,
}

/// A participant's connection, once attached.
#[derive(Debug, Clone)]
pub struct Attached {
    pub consultation: i64,
    pub role: Role,
    pub name: String,
    /// The session it belongs to (none for an interpreter, who has a code instead): when the
    /// session ends, or its account's rights change, the connection ends.
    pub session: Option<SessionKey>,
    conn: u64,
}

impl Attached {
    /// This connection's leg, as the media engine knows it.
    fn leg(&self) -> LegOf {
        LegOf { role: self.role, conn: self.conn }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

/// What is stored of an interpreter's code: its digits keyed with this process's secret
/// (HMAC-SHA-256), so the table's 10¹² codes cannot be looked up by hashing them all. Codes live
/// minutes and consultations end at a restart, so a secret that dies with the process is enough.
fn code_hash(key: &[u8; 32], code: &str) -> String {
    use hmac::{Hmac, Mac};
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(digits.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Consultations {
    pub fn new(
        db: Db,
        queues: Queues,
        records: Records,
        media: Arc<dyn MediaEngine>,
        settings: ConsultSettings,
        metrics: Arc<Metrics>,
        events: OfficeEvents,
        session_ends: SessionEnds,
    ) -> Consultations {
        Consultations(Arc::new(Inner {
            store: ConsultStore::new(db),
            queues,
            records,
            events,
            media,
            settings,
            metrics,
            live: Mutex::default(),
            grants: Mutex::default(),
            code_key: rand::random(),
            grant_limit: crate::ratelimit::RateLimiter::new(GRANT_BURST, GRANTS_PER_MINUTE),
            session_ends,
            next_conn: AtomicU64::new(1),
        }))
    }

    /// Ends the consultations a previous run left running (their media is gone), then watches
    /// the office's events (a finished ticket ends its consultation; a changed application is
    /// shown as it is now) and the media engine (a failed room ends its consultation).
    pub async fn start_service(&self, failures: mpsc::UnboundedReceiver<RoomFailure>) -> Result<(), ConsultError> {
        for row in self.0.store.running().await? {
            self.0.store.end(row.id, "restart", None).await?;
            tracing::info!(consultation = row.id, "ended a consultation left running by the previous run");
        }
        let me = self.clone();
        let mut events = self.0.events.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => match &*event {
                        OfficeEvent::Tickets { tickets, .. } => {
                            for (_, t) in tickets {
                                if !t.status.is_active() {
                                    me.ticket_ended(t.id, t.status).await;
                                }
                            }
                        }
                        OfficeEvent::Application { reference } => me.application_changed(reference).await,
                        OfficeEvent::ResidentMerged { guest, resident, .. } => me.resident_merged(guest, resident),
                        OfficeEvent::Consultation { .. } | OfficeEvent::Desk { .. } => {}
                    },
                    // Events were missed: the tickets and residents of running consultations
                    // are read again, and each shows its forms as they are now.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        me.recheck_tickets().await;
                        me.reread_residents().await;
                        let running: Vec<i64> = lock(&me.0.live).keys().copied().collect();
                        for id in running {
                            let _ = me.announce_applications(id).await;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let me = self.clone();
        let mut failures = failures;
        tokio::spawn(async move {
            while let Some(f) = failures.recv().await {
                tracing::warn!(consultation = f.room, reason = %f.reason, "consultation media failed");
                me.0.metrics.consult_media_failures_total.inc();
                let _ = me.end(f.room, "media_failed", None).await;
            }
        });
        Ok(())
    }

    async fn ticket_ended(&self, ticket: i64, status: TicketStatus) {
        let id = lock(&self.0.live).values().find(|l| l.row.ticket_id == ticket).map(|l| l.row.id);
        if let Some(id) = id {
            let reason = format!("ticket_{}", status.as_str());
            if let Err(e) = self.end(id, &reason, None).await {
                tracing::warn!(consultation = id, error = %e, "could not end the consultation of a finished ticket");
            }
        }
    }

    /// After missing queue changes: every live consultation whose ticket is no longer active ends.
    async fn recheck_tickets(&self) {
        let tickets: Vec<i64> = lock(&self.0.live).values().map(|l| l.row.ticket_id).collect();
        match self.0.queues.statuses(&tickets).await {
            Ok(statuses) => {
                for (ticket, status) in statuses {
                    if !status.is_active() {
                        self.ticket_ended(ticket, status).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not recheck the tickets of running consultations"),
        }
    }

    /// The clerk accepts the resident at their desk: the consultation starts (or the running one
    /// for that ticket is returned).
    pub async fn start(&self, clerk: &Clerk) -> Result<ConsultationBody, ConsultError> {
        let (counter, ticket) = self.0.queues.desk_ticket(clerk).await.map_err(|e| match e {
            crate::queue::QueueError::NoDesk => ConsultError::NoDesk,
            crate::queue::QueueError::Db(d) => ConsultError::Db(d),
            other => ConsultError::Invalid(other.to_string()),
        })?;
        let ticket = ticket.filter(|t| t.status == TicketStatus::Serving).ok_or(ConsultError::NotArrived)?;
        let (row, created) =
            self.0.store.start(ticket.id, clerk.id, &ticket.resident, &ticket.department, &counter).await?;
        if created {
            tracing::info!(consultation = row.id, ticket = %row.ticket_label, counter = %counter, "consultation started");
            self.0.metrics.consultations_started_total.inc();
            lock(&self.0.live).insert(row.id, Live { row: row.clone(), members: HashMap::new(), empty_epoch: 0 });
            self.tell_world(&row.resident_id, Some(row.id));
            self.update_gauges();
        }
        self.body(&row).await
    }

    /// Tells the office the resident's consultation started or ended (their clients in the
    /// world open or close its panel).
    fn tell_world(&self, resident: &str, consultation: Option<i64>) {
        self.0.events.publish(OfficeEvent::Consultation { resident_id: resident.to_string(), consultation });
    }

    /// The consultation as staff see it: the clerk's own, or any of a supervisor's department.
    /// The linked applications' forms are personal data: each one shown is an audited read
    /// (`viewed`), as opening it in the records is.
    pub async fn for_staff(&self, clerk: &Clerk, supervisor: bool, id: i64) -> Result<ConsultationBody, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        check_staff(&row, clerk, supervisor)?;
        let body = self.body(&row).await?;
        for a in &body.applications {
            applications::read(self.0.store.db(), &clerk.actor(), &a.reference).await.map_err(record_error)?;
        }
        Ok(body)
    }

    /// The resident's running consultation, if any.
    pub async fn current_for_resident(&self, resident: &str) -> Result<Option<ConsultView>, ConsultError> {
        match self.0.store.running_of_resident(resident).await? {
            Some(row) => Ok(Some(self.view(&row, Role::Resident).await?)),
            None => Ok(None),
        }
    }

    /// The running consultations of a department, oldest first, with who is connected.
    pub async fn running_in(&self, department: &str) -> Result<Vec<RunningConsultation>, ConsultError> {
        let rows = self.0.store.running().await?;
        let live = lock(&self.0.live);
        let mut out: Vec<RunningConsultation> = rows
            .into_iter()
            .filter(|r| r.department == department)
            .map(|r| RunningConsultation {
                id: r.id,
                ticket: r.ticket_label,
                counter: r.counter,
                staff_id: r.staff_id,
                started_at: r.started_at,
                present: live.get(&r.id).map(|l| l.members.keys().copied().collect()).unwrap_or_default(),
            })
            .collect();
        out.sort_by_key(|c| c.started_at);
        Ok(out)
    }

    /// A consultation as `role` sees it, for a caller that has already checked who is asking
    /// (the interpreter's page, right after their code was redeemed).
    pub async fn view_of(&self, id: i64, role: Role) -> Result<ConsultView, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        self.view(&row, role).await
    }

    async fn body(&self, row: &ConsultationRow) -> Result<ConsultationBody, ConsultError> {
        let present = lock(&self.0.live).get(&row.id).map(|l| l.members.keys().copied().collect()).unwrap_or_default();
        Ok(ConsultationBody {
            id: row.id,
            ticket_id: row.ticket_id,
            ticket: row.ticket_label.clone(),
            department: row.department.clone(),
            counter: row.counter.clone(),
            resident_id: row.resident_id.clone(),
            staff_id: row.staff_id,
            status: if row.running { "running" } else { "ended" }.into(),
            started_at: row.started_at,
            ended_at: row.ended_at,
            end_reason: row.end_reason.clone(),
            note: row.note.clone(),
            present,
            participations: self.0.store.participations(row.id).await?,
            applications: self.linked_of(row.id).await?,
            chat: self.0.store.recent_chat(row.id, CHAT_HISTORY).await?,
        })
    }

    async fn view(&self, row: &ConsultationRow, you: Role) -> Result<ConsultView, ConsultError> {
        Ok(ConsultView {
            id: row.id,
            ticket: row.ticket_label.clone(),
            department: row.department.clone(),
            counter: row.counter.clone(),
            you,
            participants: self.participants(row.id, you),
            applications: self.linked_of(row.id).await?,
            chat: self.0.store.recent_chat(row.id, CHAT_HISTORY).await?,
        })
    }

    fn participants(&self, id: i64, viewer: Role) -> Vec<Participant> {
        let live = lock(&self.0.live);
        let Some(l) = live.get(&id) else { return vec![] };
        let mut list: Vec<Participant> = l
            .members
            .iter()
            .map(|(role, m)| Participant {
                role: *role,
                name: m.name.clone(),
                present: true,
                slot: role.slot_at(viewer),
            })
            .collect();
        list.sort_by_key(|p| p.role.index());
        list
    }

    /// Ends a running consultation: everyone connected is told and disconnected, its media
    /// closes. False if it was not running.
    pub async fn end(&self, id: i64, reason: &str, note: Option<&str>) -> Result<bool, ConsultError> {
        let ended = self.0.store.end(id, reason, note).await?;
        let live = lock(&self.0.live).remove(&id);
        if let Some(live) = &live {
            for m in live.members.values() {
                let _ = m.out.try_send(ServerSignal::Ended { reason: reason.to_string() });
            }
            self.tell_world(&live.row.resident_id, None);
        }
        self.0.media.close(id).await;
        self.update_gauges();
        if ended {
            tracing::info!(consultation = id, reason, "consultation ended");
            self.0.metrics.consultations_ended_total.inc();
        }
        Ok(ended)
    }

    /// The clerk (or a supervisor of the department) ends it, with an optional note.
    pub async fn end_by_staff(
        &self,
        clerk: &Clerk,
        supervisor: bool,
        id: i64,
        note: Option<&str>,
    ) -> Result<ConsultationBody, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        check_staff(&row, clerk, supervisor)?;
        let note = note.map(clean_note).filter(|n| !n.is_empty());
        if row.running {
            self.end(id, "ended_by_clerk", note.as_deref()).await?;
        } else if let Some(n) = &note {
            self.0.store.set_note(id, n).await?;
        }
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        self.body(&row).await
    }

    /// A one-time pass to the signalling WebSocket for `joiner`, as the role they have in this
    /// consultation: its resident, its clerk, or a supervisor of its department. The connection
    /// it opens belongs to `session` (it ends when the session does).
    pub async fn grant(
        &self,
        id: i64,
        joiner: &Joiner,
        session: Option<SessionKey>,
    ) -> Result<SignalGrant, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        let reader = match joiner {
            Joiner::Staff { id, login, department, .. } => {
                Some(Actor::Staff { id: *id, login: login.clone(), department: department.clone() })
            }
            _ => None,
        };
        let (role, principal, name) = role_of(joiner, &row)?;
        if !row.running {
            return Err(ConsultError::Ended);
        }
        self.pending(id, role, principal, name, session, reader)
    }

    /// A new pass for a participant, replacing the one they were given before and have not used.
    fn pending(
        &self,
        consultation: i64,
        role: Role,
        principal: String,
        name: String,
        session: Option<SessionKey>,
        reader: Option<Actor>,
    ) -> Result<SignalGrant, ConsultError> {
        self.0.grant_limit.check(format!("{consultation}:{principal}")).map_err(ConsultError::RateLimited)?;
        let ticket = random_hex(24);
        let now = Instant::now();
        let mut grants = lock(&self.0.grants);
        grants.retain(|_, p| p.expires > now && !(p.consultation == consultation && p.principal == principal));
        if grants.len() >= MAX_PENDING_GRANTS {
            // The oldest goes: a flood of grants cannot grow the table.
            if let Some(k) = grants.iter().min_by_key(|(_, p)| p.expires).map(|(k, _)| k.clone()) {
                grants.remove(&k);
            }
        }
        let expires = now + self.0.settings.signal_ticket_ttl;
        let ends = session.clone().map(|k| SessionListener::new(self.0.session_ends.subscribe(), k));
        grants.insert(ticket.clone(), Pending { consultation, role, principal, name, session, reader, ends, expires });
        Ok(SignalGrant { consultation, role, ticket, ice_servers: self.ice_servers(consultation, role) })
    }

    /// The records database.
    pub fn db(&self) -> &Db {
        self.0.store.db()
    }

    /// How long a signalling connection may stay silent before it is closed.
    pub fn signal_idle(&self) -> Duration {
        self.0.settings.signal_idle
    }

    /// The ICE servers for a participant: STUN as configured, TURN with credentials that
    /// expire.
    pub fn ice_servers(&self, consultation: i64, role: Role) -> Vec<IceServer> {
        let label = format!("madoguchi-c{consultation}-{}", role.as_str());
        turn::ice_servers(&self.0.settings.ice, now_ms() / 1000, &label)
    }

    /// How often a participant's signalling connection hands out fresh ICE servers: at half the
    /// TURN credentials' life (at least every 2 s); `None` without TURN.
    pub fn ice_renewal(&self) -> Option<Duration> {
        let ice = &self.0.settings.ice;
        turn::has_turn(ice).then(|| (ice.turn_ttl / 2).max(Duration::from_secs(2)))
    }

    /// The clerk invites an interpreter: a one-time code for this consultation, valid for
    /// [`ConsultSettings::invite_ttl`].
    pub async fn invite(&self, clerk: &Clerk, id: i64, kind: &str) -> Result<InviteBody, ConsultError> {
        self.running_of_clerk(clerk, id).await?;
        if !matches!(kind, "sign_language" | "language") {
            return Err(ConsultError::Invalid("kind is sign_language or language".into()));
        }
        if self.0.store.open_invites(id).await? >= MAX_OPEN_INVITES {
            return Err(ConsultError::TooManyInvites);
        }
        let n: u64 = rand::rng().random_range(0..1_000_000_000_000);
        let digits = format!("{n:012}");
        let code = format!("{}-{}-{}", &digits[0..4], &digits[4..8], &digits[8..12]);
        let expires_at = now_ms() + self.0.settings.invite_ttl.as_millis() as i64;
        self.0.store.invite(id, &code_hash(&self.0.code_key, &code), kind, clerk.id, expires_at).await?;
        tracing::info!(consultation = id, kind, "interpreter invited");
        Ok(InviteBody { consultation: id, code, join_path: "/consult/join".into(), kind: kind.into(), expires_at })
    }

    /// An interpreter uses their code (once): a pass to the consultation it was made for.
    pub async fn redeem(&self, code: &str, name: &str) -> Result<SignalGrant, ConsultError> {
        let name = clean_text(name);
        let n = name.chars().count();
        if n == 0 || n > madoguchi_shared::limits::NAME_MAX_CHARS {
            return Err(ConsultError::Invalid(format!(
                "give your name, 1 to {} characters",
                madoguchi_shared::limits::NAME_MAX_CHARS
            )));
        }
        let hash = code_hash(&self.0.code_key, code);
        // While an interpreter is there, another's code is refused and stays good for later.
        let target = self.0.store.invite_target(&hash).await?.ok_or(ConsultError::BadCode)?;
        if lock(&self.0.live).get(&target).is_some_and(|l| l.members.contains_key(&Role::Interpreter)) {
            return Err(ConsultError::RoleTaken(Role::Interpreter.as_str()));
        }
        let (id, _kind) = self.0.store.redeem(&hash).await?.ok_or(ConsultError::BadCode)?;
        let row = self.0.store.get(id).await?.ok_or(ConsultError::BadCode)?;
        if !row.running {
            return Err(ConsultError::Ended);
        }
        self.pending(id, Role::Interpreter, format!("invite:{}", &hash[..16]), name, None, None)
    }

    /// A signalling connection presents its ticket: it becomes the participant the ticket was
    /// for (replacing an earlier connection of theirs), everyone is told, and the first message
    /// on `out` is [`ServerSignal::Joined`]. With it comes the ear on its session's end, listening
    /// since the pass was given.
    pub async fn attach(
        &self,
        ticket: &str,
        out: mpsc::Sender<ServerSignal>,
    ) -> Result<(Attached, Option<SessionListener>), ConsultError> {
        let mut p = lock(&self.0.grants)
            .remove(ticket)
            .filter(|p| p.expires > Instant::now())
            .ok_or(ConsultError::BadTicket)?;
        let row = self.0.store.get(p.consultation).await?.ok_or(ConsultError::NotFound)?;
        if !row.running || !lock(&self.0.live).contains_key(&row.id) {
            return Err(ConsultError::Ended);
        }
        // The linked forms a staff participant is shown on joining are personal data: each is
        // an audited read (`viewed`), written before they see it. (Forms linked afterwards are
        // audited as created or linked, by the clerk who did it.)
        if let Some(reader) = &p.reader {
            for linked in self.0.store.linked(row.id).await? {
                applications::read(self.0.store.db(), reader, &linked.reference).await.map_err(record_error)?;
            }
        }
        let participation = self.0.store.join(row.id, p.role, &p.principal, &p.name).await?;
        let conn = self.0.next_conn.fetch_add(1, Ordering::Relaxed);
        let replaced = {
            let mut live = lock(&self.0.live);
            match live.get_mut(&row.id) {
                None => Err(ConsultError::Ended),
                Some(l) if l.members.len() >= MAX_PARTICIPANTS && !l.members.contains_key(&p.role) => {
                    Err(ConsultError::Invalid("this consultation is full".into()))
                }
                // One participant per role: a second interpreter or supervisor is refused, and
                // the one present stays (only they may take their own place over).
                Some(l) if l.members.get(&p.role).is_some_and(|m| m.principal != p.principal) => {
                    Err(ConsultError::RoleTaken(p.role.as_str()))
                }
                Some(l) => Ok(l.members.insert(
                    p.role,
                    Member {
                        conn,
                        principal: p.principal.clone(),
                        name: p.name.clone(),
                        participation,
                        out: out.clone(),
                    },
                )),
            }
        };
        let replaced = match replaced {
            Ok(r) => r,
            Err(e) => {
                // Not in after all: the participation ends as it began.
                self.0.store.leave(participation).await?;
                return Err(e);
            }
        };
        if let Some(old) = replaced {
            let _ = old.out.try_send(ServerSignal::Ended { reason: "replaced".into() });
            self.0.store.leave(old.participation).await?;
            self.0.media.leave(row.id, LegOf { role: p.role, conn: old.conn }).await;
        }
        tracing::info!(consultation = row.id, role = p.role.as_str(), "joined");
        self.update_gauges();
        let view = self.view(&row, p.role).await?;
        let ice_servers = self.ice_servers(row.id, p.role);
        let _ = out.try_send(ServerSignal::Joined { consultation: view, ice_servers });
        self.broadcast_participants(row.id);
        let ends = p.ends.take();
        Ok((Attached { consultation: row.id, role: p.role, name: p.name, session: p.session, conn }, ends))
    }

    /// The connection has closed: the participant has left (unless a newer connection of
    /// theirs replaced this one). A room left empty ends after the grace period.
    pub async fn detach(&self, a: &Attached) {
        let (member, epoch) = {
            let mut live = lock(&self.0.live);
            let Some(l) = live.get_mut(&a.consultation) else { return };
            if l.members.get(&a.role).is_none_or(|m| m.conn != a.conn) {
                return;
            }
            let m = l.members.remove(&a.role);
            let epoch = l.members.is_empty().then(|| {
                l.empty_epoch += 1;
                l.empty_epoch
            });
            (m, epoch)
        };
        if let Some(m) = member
            && let Err(e) = self.0.store.leave(m.participation).await
        {
            tracing::warn!(error = %e, "could not record that a participant left");
        }
        self.0.media.leave(a.consultation, a.leg()).await;
        tracing::info!(consultation = a.consultation, role = a.role.as_str(), "left");
        self.update_gauges();
        self.broadcast_participants(a.consultation);
        if let Some(epoch) = epoch {
            let me = self.clone();
            let id = a.consultation;
            let grace = self.0.settings.empty_grace;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                let still_empty =
                    lock(&me.0.live).get(&id).is_some_and(|l| l.members.is_empty() && l.empty_epoch == epoch);
                if still_empty {
                    let _ = me.end(id, "everyone_left", None).await;
                }
            });
        }
    }

    fn broadcast_participants(&self, id: i64) {
        let targets: Vec<(Role, mpsc::Sender<ServerSignal>)> = match lock(&self.0.live).get(&id) {
            Some(l) => l.members.iter().map(|(r, m)| (*r, m.out.clone())).collect(),
            None => return,
        };
        for (role, out) in targets {
            let _ = out.try_send(ServerSignal::Participants { participants: self.participants(id, role) });
        }
    }

    fn broadcast(&self, id: i64, msg: ServerSignal) {
        let targets: Vec<mpsc::Sender<ServerSignal>> = match lock(&self.0.live).get(&id) {
            Some(l) => l.members.values().map(|m| m.out.clone()).collect(),
            None => return,
        };
        for out in targets {
            let _ = out.try_send(msg.clone());
        }
    }

    /// Whether this connection is still the participant's current one.
    pub fn is_current(&self, a: &Attached) -> bool {
        lock(&self.0.live).get(&a.consultation).and_then(|l| l.members.get(&a.role)).is_some_and(|m| m.conn == a.conn)
    }

    /// A chat line from a participant, kept with the consultation and shown to everyone in it.
    pub async fn chat(&self, a: &Attached, raw: &str) -> Result<(), (&'static str, String)> {
        if !self.is_current(a) {
            return Err(("replaced", "this connection was replaced by a newer one of yours".into()));
        }
        let text = clean_text(raw);
        check_chat(&text).map_err(|(code, message)| (code.as_str(), message))?;
        let line = ChatLine { role: a.role, name: a.name.clone(), text, at: now_ms() };
        self.0.store.chat(a.consultation, &line).await.map_err(|e| ("unavailable", e.to_string()))?;
        self.broadcast(a.consultation, ServerSignal::Chat { line });
        Ok(())
    }

    /// A hang-up: the resident's or the clerk's ends the consultation; an interpreter or a
    /// supervisor only leaves.
    pub async fn hangup(&self, a: &Attached) {
        // A connection already replaced by a newer one of theirs ends nothing but itself.
        if !self.is_current(a) {
            return;
        }
        match a.role {
            Role::Resident | Role::Clerk => {
                let reason = format!("hangup_{}", a.role.as_str());
                if let Err(e) = self.end(a.consultation, &reason, None).await {
                    tracing::warn!(error = %e, "could not end a consultation on hang-up");
                }
            }
            Role::Interpreter | Role::Supervisor => self.detach(a).await,
        }
    }

    /// The participant's SDP offer; the engine's answer.
    pub async fn offer(&self, a: &Attached, sdp: String, events: mpsc::Sender<LegEvent>) -> Result<String, MediaError> {
        if !self.is_current(a) {
            return Err(MediaError::Closed("this connection was replaced".into()));
        }
        if self.0.settings.fault_injection && sdp.contains(&format!("{}signalling", super::media::sfu::FAULT_MARK)) {
            panic!("fault injected into a participant's signalling");
        }
        self.0.media.offer(a.consultation, a.leg(), sdp, events).await
    }

    pub async fn candidate(&self, a: &Attached, c: Option<Candidate>) -> Result<(), MediaError> {
        if !self.is_current(a) {
            return Err(MediaError::Closed("this connection was replaced".into()));
        }
        self.0.media.candidate(a.consultation, a.leg(), c).await
    }

    /// Consultation `id`, if `clerk` is its clerk and it is running.
    async fn running_of_clerk(&self, clerk: &Clerk, id: i64) -> Result<ConsultationRow, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        check_staff(&row, clerk, false)?;
        if !row.running {
            return Err(ConsultError::Ended);
        }
        Ok(row)
    }

    /// Makes the consultation's media fail on purpose (tests; `--fault-injection` only).
    pub async fn inject_fault(&self, clerk: &Clerk, id: i64) -> Result<bool, ConsultError> {
        let row = self.0.store.get(id).await?.ok_or(ConsultError::NotFound)?;
        check_staff(&row, clerk, false)?;
        if !self.0.settings.fault_injection {
            return Err(ConsultError::NotFound);
        }
        Ok(self.0.media.inject_fault(id).await)
    }

    /// The clerk creates an application from the catalog for the consultation's resident; its
    /// audit events name the consultation.
    pub async fn create_application(
        &self,
        clerk: &Clerk,
        id: i64,
        procedure_id: &str,
        form: &serde_json::Value,
    ) -> Result<LinkedApplication, ConsultError> {
        let row = self.running_of_clerk(clerk, id).await?;
        let app = self
            .0
            .records
            .create_in_consultation(&clerk.actor(), procedure_id, &row.resident_id, form, id)
            .await
            .map_err(record_error)?;
        Ok(self.present(linked_row(app, "created")))
    }

    /// The clerk links one of the resident's applications of the clerk's department.
    pub async fn link_application(
        &self,
        clerk: &Clerk,
        id: i64,
        reference: &str,
    ) -> Result<LinkedApplication, ConsultError> {
        let row = self.running_of_clerk(clerk, id).await?;
        let app = self
            .0
            .records
            .link_to_consultation(&clerk.actor(), reference, &row.resident_id, id)
            .await
            .map_err(record_error)?;
        Ok(self.present(linked_row(app, "linked")))
    }

    async fn announce_applications(&self, id: i64) -> Result<(), ConsultError> {
        let applications = self.linked_of(id).await?;
        self.broadcast(id, ServerSignal::Applications { applications });
        Ok(())
    }

    /// The applications linked to a consultation, with their forms as filled so far.
    async fn linked_of(&self, id: i64) -> Result<Vec<LinkedApplication>, ConsultError> {
        Ok(self.0.store.linked(id).await?.into_iter().map(|r| self.present(r)).collect())
    }

    /// A linked application as participants see it: the procedure's name, each field's label and
    /// value in the catalog's order, whether it is ready to confirm.
    fn present(&self, r: LinkedRow) -> LinkedApplication {
        let procedure = self.0.records.catalog().get(&r.procedure_id);
        let fields = procedure
            .map(|p| {
                p.fields
                    .iter()
                    .map(|f| FormField {
                        id: f.id.clone(),
                        label: f.label.clone(),
                        value: crate::records::catalog::value_text(r.form_data.get(&f.id)),
                        choice: f.choice_label(r.form_data.get(&f.id)).cloned(),
                        required: f.required,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ready =
            r.status == "draft" && self.0.records.catalog().validate(&r.procedure_id, &r.form_data, true).is_ok();
        LinkedApplication {
            name: procedure.map(|p| p.name.clone()),
            documents: procedure.map(|p| p.documents.clone()).unwrap_or_default(),
            reference: r.reference,
            procedure_id: r.procedure_id,
            status: r.status,
            how: r.how,
            fields,
            ready,
            note: r.note,
        }
    }

    /// An application changed (an office event): every running consultation it is linked to
    /// shows it as it is now.
    async fn application_changed(&self, reference: &str) {
        match self.0.store.running_with_application(reference).await {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = self.announce_applications(id).await {
                        tracing::warn!(error = %e, consultation = id, "announcing an application");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "finding an application's consultations"),
        }
    }

    /// The resident confirms a linked application: it is submitted, as the resident's own act
    /// (the audit trail says so). Anyone else, or an application not linked here, is refused.
    pub async fn confirm(&self, a: &Attached, reference: &str) -> Result<(), (&'static str, String)> {
        if a.role != Role::Resident {
            return Err(("not_allowed", "only the resident confirms their application".into()));
        }
        if !self.is_current(a) {
            return Err(("replaced", "this connection was replaced by a newer one of yours".into()));
        }
        let unavailable = |e: sqlx::Error| {
            tracing::error!(error = %e, "confirming an application");
            ("unavailable", "the records are unavailable; try again".to_string())
        };
        // The resident as the records say now (a guest who signed in mid-consultation as a known
        // resident is that resident).
        let row = self.0.store.get(a.consultation).await.map_err(unavailable)?;
        let Some(resident) = row.filter(|r| r.running).map(|r| r.resident_id) else {
            return Err(("ended", "the consultation has ended".into()));
        };
        let reference: String = reference.chars().take(64).collect();
        if !self.0.store.is_linked(a.consultation, &reference).await.map_err(unavailable)? {
            return Err(("not_linked", "no such application in this consultation".into()));
        }
        let actor = crate::records::audit::Actor::Resident { id: resident };
        match self.0.records.change_status(&actor, &reference, applications::Status::Submitted, None).await {
            Ok(_) => {}
            Err(RecordError::Db(e)) => return Err(unavailable(e)),
            Err(e @ RecordError::Invalid(_)) => return Err(("incomplete", e.to_string())),
            Err(e @ RecordError::IdentityRequired) => return Err(("identity_required", e.to_string())),
            Err(e) => return Err(("refused", e.to_string())),
        }
        tracing::info!(consultation = a.consultation, reference, "application confirmed by the resident");
        Ok(())
    }

    /// A guest's records went to the resident they signed in as (an office event): their
    /// running consultations (already moved in the records) are that resident's here too.
    fn resident_merged(&self, guest: &str, resident: &str) {
        for l in lock(&self.0.live).values_mut().filter(|l| l.row.resident_id == guest) {
            l.row.resident_id = resident.to_string();
        }
    }

    /// Whose each running consultation is, as the records say (after missing events).
    async fn reread_residents(&self) {
        let running: Vec<i64> = lock(&self.0.live).keys().copied().collect();
        for id in running {
            if let Ok(Some(row)) = self.0.store.get(id).await
                && let Some(l) = lock(&self.0.live).get_mut(&id)
            {
                l.row.resident_id = row.resident_id;
            }
        }
    }

    /// Running consultations and connected participants.
    pub fn live_counts(&self) -> (usize, usize) {
        let live = lock(&self.0.live);
        (live.len(), live.values().map(|l| l.members.len()).sum())
    }

    fn update_gauges(&self) {
        let (running, participants) = self.live_counts();
        self.0.metrics.consultations_running.set(running as i64);
        self.0.metrics.consult_participants.set(participants as i64);
    }
}

fn linked_row(app: applications::ApplicationView, how: &str) -> LinkedRow {
    LinkedRow {
        reference: app.reference,
        procedure_id: app.procedure_id,
        status: app.status.as_str().into(),
        how: how.into(),
        form_data: app.form_data,
        note: app.status_note,
    }
}

fn record_error(e: RecordError) -> ConsultError {
    match e {
        RecordError::Db(d) => ConsultError::Db(d),
        other => ConsultError::Record(other.to_string()),
    }
}

/// Who a joiner is in a consultation: its resident, its clerk, or a supervisor of its department
/// (their role, principal and name). Another resident is told it does not exist; other staff
/// are told why not; an interpreter comes in by a code, never this way.
fn role_of(joiner: &Joiner, row: &ConsultationRow) -> Result<(Role, String, String), ConsultError> {
    match joiner {
        Joiner::Resident { id: rid, name } if *rid == row.resident_id => {
            Ok((Role::Resident, format!("resident:{rid}"), name.clone()))
        }
        // Another resident's consultation does not exist, as far as they can tell.
        Joiner::Resident { .. } => Err(ConsultError::NotFound),
        Joiner::Staff { id: sid, name, .. } if *sid == row.staff_id => {
            Ok((Role::Clerk, format!("staff:{sid}"), name.clone()))
        }
        Joiner::Staff { id: sid, name, department, supervisor: true, .. } if *department == row.department => {
            Ok((Role::Supervisor, format!("staff:{sid}"), name.clone()))
        }
        Joiner::Staff { department, .. } if *department != row.department => Err(ConsultError::WrongDepartment),
        Joiner::Staff { .. } => Err(ConsultError::NotTheClerk),
        Joiner::Interpreter { .. } => Err(ConsultError::BadCode),
    }
}

/// Staff may act on a consultation they are the clerk of, or (supervisors) one of their
/// department.
fn check_staff(row: &ConsultationRow, clerk: &Clerk, supervisor: bool) -> Result<(), ConsultError> {
    if row.staff_id == clerk.id {
        Ok(())
    } else if row.department != clerk.department {
        Err(ConsultError::WrongDepartment)
    } else if supervisor {
        Ok(())
    } else {
        Err(ConsultError::NotTheClerk)
    }
}

/// A clerk's note: cleaned like chat (newlines kept as spaces), at most 2 000 characters.
fn clean_note(raw: &str) -> String {
    clean_text(&raw.replace(['\n', '\r'], " ")).chars().take(2000).collect()
}

#[cfg(test)]
mod tests {
    //! The service in process, on a SQLite file, the real queue and SFU, no HTTP: what only a
    //! race could show end to end.

    use super::*;
    use crate::identity::{sessions, staff};
    use crate::records::catalog::Catalog;
    use std::path::Path;

    /// A running consultation at counter a1: the service, the consultation's id, its resident.
    async fn running() -> (Consultations, i64, String) {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets");
        let mut office = crate::assets::load_office(&assets).expect("the office");
        office.set_always_open();
        let office = Arc::new(office);
        let catalog = Arc::new(Catalog::load(&assets.join("procedures"), &office).expect("the catalog"));
        let dir = std::env::temp_dir().join(format!("madoguchi-consult-service-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::connect(&crate::db::database_url(None, &dir).unwrap()).await.expect("the database");
        for d in &office.departments {
            sqlx::query("INSERT INTO departments (id, ticket_prefix, name_ja, name_en) VALUES ($1, $2, $3, $4)")
                .bind(&d.id)
                .bind(&d.ticket_prefix)
                .bind(&d.name.ja)
                .bind(&d.name.en)
                .execute(&db.pool)
                .await
                .expect("a department");
        }
        let metrics = Arc::new(Metrics::default());
        let (notices, _) = mpsc::unbounded_channel();
        let events = OfficeEvents::default();
        let utc_offset_min = office.utc_offset_min;
        let queues = Queues::new(db.clone(), office, Default::default(), notices, events.clone(), metrics.clone());
        let records = Records::new(db.clone(), catalog, events.clone(), utc_offset_min);
        let (failures, _) = mpsc::unbounded_channel();
        let bound: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let media = Arc::new(super::super::media::sfu::Sfu::new(
            super::super::media::sfu::SfuConfig {
                bind_ip: bound,
                public_ip: None,
                ports: 47200..=47215,
                tcp: false,
                peers: super::super::media::candidates::PeerNetworks::new(bound, &[], &[]),
                fault_injection: false,
            },
            failures,
            metrics.clone(),
        ));
        let consults = Consultations::new(
            db.clone(),
            queues.clone(),
            records,
            media,
            ConsultSettings::default(),
            metrics,
            events,
            SessionEnds::default(),
        );
        let account = staff::add(
            &db,
            staff::By::CommandLine,
            "clerk.inproc",
            "",
            "resident_registration",
            &["clerk".to_string()],
            "a-long-enough-password",
        )
        .await
        .expect("a clerk");
        let clerk =
            Clerk { id: account.id, login: account.login, name: "窓口".into(), department: account.department_id };
        let (resident, _) = sessions::create_guest(&db, "住民", "ja").await.expect("a resident");
        queues.take_desk(&clerk, "a1").await.expect("the desk");
        let ticket = queues.take(&resident.id, "resident_registration").await.expect("a ticket");
        queues.call_next(&clerk).await.expect("called");
        queues.arrived(&resident.id, ticket.id).await.expect("arrived");
        let body = consults.start(&clerk).await.expect("started");
        (consults, body.id, resident.id)
    }

    /// A participant's newer connection replaces the older: whatever the older one still sends
    /// (its socket may not have closed yet) is refused — no chat, no confirmation — while the
    /// newer one chats.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replaced_connection_can_neither_chat_nor_confirm() {
        let (consults, id, resident) = running().await;
        let joiner = Joiner::Resident { id: resident, name: "住民".into() };
        let (old_tx, _old_rx) = mpsc::channel(OUTBOX_FOR_TESTS);
        let (new_tx, _new_rx) = mpsc::channel(OUTBOX_FOR_TESTS);
        let first = consults.grant(id, &joiner, None).await.expect("a pass");
        let (old, _) = consults.attach(&first.ticket, old_tx).await.expect("attached");
        let second = consults.grant(id, &joiner, None).await.expect("another pass");
        let (new, _) = consults.attach(&second.ticket, new_tx).await.expect("attached again");
        assert_eq!(consults.chat(&old, "まだここに").await.map_err(|e| e.0), Err("replaced"));
        assert_eq!(consults.confirm(&old, "A2026-XXXX-XXXX").await.map_err(|e| e.0), Err("replaced"));
        assert_eq!(consults.chat(&new, "こちらです").await, Ok(()));
    }

    const OUTBOX_FOR_TESTS: usize = 16;

    fn row() -> ConsultationRow {
        ConsultationRow {
            id: 1,
            ticket_id: 2,
            ticket_label: "A-001".into(),
            resident_id: "r1".into(),
            staff_id: 10,
            department: "welfare".into(),
            counter: "d1".into(),
            running: true,
            started_at: 0,
            ended_at: None,
            end_reason: None,
            note: None,
        }
    }

    fn staff(id: i64, department: &str, supervisor: bool) -> Joiner {
        Joiner::Staff { id, login: format!("s{id}"), name: format!("S{id}"), department: department.into(), supervisor }
    }

    /// Who may join: the resident (another resident is told there is no such consultation), its
    /// clerk, a supervisor of its department; a clerk of the department who is not its clerk, or
    /// anyone of another department, is told why not; an interpreter only by a code.
    #[test]
    fn only_the_resident_the_clerk_and_the_departments_supervisors_join() {
        let row = row();
        let resident = Joiner::Resident { id: "r1".into(), name: "住民".into() };
        let role = |j: &Joiner| role_of(j, &row).map(|(r, p, _)| (r, p)).map_err(|e| e.to_string());
        assert_eq!(role(&resident), Ok((Role::Resident, "resident:r1".into())));
        let other = Joiner::Resident { id: "r2".into(), name: "他人".into() };
        assert!(matches!(role_of(&other, &row), Err(ConsultError::NotFound)));
        assert_eq!(role(&staff(10, "welfare", false)), Ok((Role::Clerk, "staff:10".into())));
        // Its clerk is its clerk even after moving to another department.
        assert_eq!(role(&staff(10, "taxation", false)), Ok((Role::Clerk, "staff:10".into())));
        assert_eq!(role(&staff(11, "welfare", true)), Ok((Role::Supervisor, "staff:11".into())));
        assert!(matches!(role_of(&staff(12, "welfare", false), &row), Err(ConsultError::NotTheClerk)));
        assert!(matches!(role_of(&staff(13, "taxation", true), &row), Err(ConsultError::WrongDepartment)));
        let interpreter = Joiner::Interpreter { invite: "x".into(), name: "通訳".into() };
        assert!(matches!(role_of(&interpreter, &row), Err(ConsultError::BadCode)));
    }

    /// Acting on a consultation (a note, an application, the end): its clerk, or a supervisor of
    /// its department.
    #[test]
    fn only_its_clerk_or_a_supervisor_of_its_department_acts_on_it() {
        let row = row();
        let clerk = |id: i64, department: &str| Clerk {
            id,
            login: format!("s{id}"),
            name: format!("S{id}"),
            department: department.into(),
        };
        assert!(check_staff(&row, &clerk(10, "welfare"), false).is_ok());
        assert!(check_staff(&row, &clerk(11, "welfare"), true).is_ok());
        assert!(matches!(check_staff(&row, &clerk(12, "welfare"), false), Err(ConsultError::NotTheClerk)));
        assert!(matches!(check_staff(&row, &clerk(13, "taxation"), true), Err(ConsultError::WrongDepartment)));
    }
}
