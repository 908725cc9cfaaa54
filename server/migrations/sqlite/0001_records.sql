-- Records: departments, staff, residents, sessions, tickets, consultations, applications and
-- their append-only audit events. Times are UTC milliseconds since the Unix epoch.
CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    ticket_prefix TEXT NOT NULL,
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments(id),
    roles TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL
);

CREATE TABLE residents (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    locale TEXT NOT NULL,
    identity_level TEXT NOT NULL DEFAULT 'guest',
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_principal ON sessions(principal_kind, principal_id);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    department_id TEXT NOT NULL REFERENCES departments(id),
    resident_id TEXT NOT NULL REFERENCES residents(id),
    service_day TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (department_id, service_day, number)
);

CREATE TABLE consultations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    resident_id TEXT REFERENCES residents(id),
    started_at BIGINT NOT NULL,
    ended_at BIGINT
);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT NOT NULL UNIQUE,
    procedure_id TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments(id),
    resident_id TEXT REFERENCES residents(id),
    consultation_id INTEGER REFERENCES consultations(id),
    status TEXT NOT NULL,
    form_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    event_count INTEGER NOT NULL DEFAULT 0,
    head_hash TEXT NOT NULL
);
CREATE INDEX applications_department ON applications(department_id, status, updated_at);
CREATE INDEX applications_resident ON applications(resident_id, updated_at);

CREATE TABLE application_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    seq INTEGER NOT NULL,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (application_id, seq)
);

-- Events are append-only.
CREATE TRIGGER application_events_no_update BEFORE UPDATE ON application_events
BEGIN SELECT RAISE(ABORT, 'application_events are append-only'); END;
CREATE TRIGGER application_events_no_delete BEFORE DELETE ON application_events
BEGIN SELECT RAISE(ABORT, 'application_events are append-only'); END;
