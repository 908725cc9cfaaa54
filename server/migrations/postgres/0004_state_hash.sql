-- Each event records a digest of the application's state after it, and its hash covers that
-- digest, so `audit verify` also catches an application row changed without an event.
ALTER TABLE application_events ADD COLUMN state_hash TEXT NOT NULL DEFAULT '';
