-- The wait estimate counts only real services: a resident who was called, arrived and was
-- finished by the clerk. service_ms is set then (finished - called), and stays NULL for tickets
-- ended by a restart, a closing desk, or marked done without the resident arriving.
ALTER TABLE tickets ADD COLUMN service_ms BIGINT;
