-- One office-wide chain over every application event, in the order they were written: a
-- deleted application, a truncated or rolled-back chain leaves a gap or a broken link in it.
-- audit_head holds its newest link (locked by each append, so links are written one at a
-- time); rows for events written before this migration are added at the next start.
CREATE TABLE audit_log (
    gseq INTEGER PRIMARY KEY,
    event_id BIGINT NOT NULL UNIQUE,
    ghash TEXT NOT NULL
);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    gseq BIGINT NOT NULL,
    ghash TEXT NOT NULL
);
INSERT INTO audit_head (id, gseq, ghash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- Ticket events are append-only too.
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN SELECT RAISE(ABORT, 'ticket_events are append-only'); END;
CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
BEGIN SELECT RAISE(ABORT, 'ticket_events are append-only'); END;
