-- One office-wide chain over every application event, in the order they were written: a
-- deleted application, a truncated or rolled-back chain leaves a gap or a broken link in it.
-- audit_head holds its newest link (locked by each append, so links are written one at a
-- time); rows for events written before this migration are added at the next start.
CREATE TABLE audit_log (
    gseq BIGINT PRIMARY KEY,
    event_id BIGINT NOT NULL UNIQUE,
    ghash TEXT NOT NULL
);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    gseq BIGINT NOT NULL,
    ghash TEXT NOT NULL
);
INSERT INTO audit_head (id, gseq, ghash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
-- One refusal for every append-only table, naming it.
CREATE FUNCTION refuse_change_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();
-- Ticket events are append-only too.
CREATE TRIGGER ticket_events_no_change BEFORE UPDATE OR DELETE ON ticket_events
FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();
