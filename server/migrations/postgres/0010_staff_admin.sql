-- Staff accounts can be disabled (kept, never deleted: records name them), and every change an
-- admin makes to an account is an append-only event.
ALTER TABLE staff ADD COLUMN disabled_at BIGINT;

CREATE TABLE staff_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_login TEXT NOT NULL,
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX staff_events_by_staff ON staff_events (staff_id, id);
CREATE TRIGGER staff_events_no_change BEFORE UPDATE OR DELETE ON staff_events
FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();
