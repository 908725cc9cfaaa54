-- When an admin last changed the rights (roles, department) of a session's staff account: the
-- session stays, but a connection opened before then ends. Read by a connection that missed the
-- live notice of the change (its listener fell behind).
ALTER TABLE sessions ADD COLUMN rights_changed_at BIGINT;
