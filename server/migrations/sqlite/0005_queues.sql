-- Queues: tickets (番号札) numbered per department per local day, at most one active ticket per
-- resident and department, and an event for everything done to a ticket (by whom).
ALTER TABLE tickets ADD COLUMN label TEXT NOT NULL DEFAULT '';
-- Place in the queue: the time the ticket was first taken, kept when it is transferred.
ALTER TABLE tickets ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN counter_id TEXT;
ALTER TABLE tickets ADD COLUMN staff_id INTEGER REFERENCES staff(id);
ALTER TABLE tickets ADD COLUMN called_at BIGINT;
ALTER TABLE tickets ADD COLUMN arrived_at BIGINT;
ALTER TABLE tickets ADD COLUMN finished_at BIGINT;
ALTER TABLE tickets ADD COLUMN recalls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN transferred_from TEXT;
ALTER TABLE tickets ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX tickets_one_active ON tickets(resident_id, department_id)
    WHERE status IN ('waiting', 'called', 'serving');
CREATE INDEX tickets_queue ON tickets(department_id, status, queued_at, id);
CREATE INDEX tickets_resident ON tickets(resident_id, status);
CREATE INDEX tickets_finished ON tickets(department_id, finished_at);
CREATE INDEX tickets_status ON tickets(status, called_at);

CREATE TABLE ticket_counters (
    department_id TEXT NOT NULL REFERENCES departments(id),
    service_day TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (department_id, service_day)
);

CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);
