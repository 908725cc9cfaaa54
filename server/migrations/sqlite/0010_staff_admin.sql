-- Staff accounts can be disabled (kept, never deleted: records name them), and every change an
-- admin makes to an account is an append-only event.
ALTER TABLE staff ADD COLUMN disabled_at BIGINT;

CREATE TABLE staff_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_login TEXT NOT NULL,
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX staff_events_by_staff ON staff_events (staff_id, id);
CREATE TRIGGER staff_events_no_update BEFORE UPDATE ON staff_events
BEGIN SELECT RAISE(ABORT, 'staff_events are append-only'); END;
CREATE TRIGGER staff_events_no_delete BEFORE DELETE ON staff_events
BEGIN SELECT RAISE(ABORT, 'staff_events are append-only'); END;
