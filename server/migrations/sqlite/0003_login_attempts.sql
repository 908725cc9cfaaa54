-- Lockout is counted from login_attempts per login name (known or not), so it no longer lives
-- on the staff row, and an unknown login locks exactly like a known one.
ALTER TABLE staff DROP COLUMN failed_logins;
ALTER TABLE staff DROP COLUMN locked_until;
CREATE INDEX login_attempts_login ON login_attempts(login, id);
