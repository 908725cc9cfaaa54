-- Residents who sign in with an OpenID Connect provider: the provider's subject maps to one
-- resident (two devices, one resident), the name the provider vouches for, and an append-only
-- history of sign-ins and upgrades from guest. No provider token is stored.
ALTER TABLE residents ADD COLUMN verified_name TEXT;

CREATE TABLE resident_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    resident_id TEXT NOT NULL REFERENCES residents(id),
    level TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_signed_in_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX resident_identities_by_resident ON resident_identities (resident_id);

CREATE TABLE resident_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    resident_id TEXT NOT NULL REFERENCES residents(id),
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX resident_events_by_resident ON resident_events (resident_id, id);
CREATE TRIGGER resident_events_no_change BEFORE UPDATE OR DELETE ON resident_events
FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();
