-- Staff login lockout is per login and client network (an IPv4 address or an IPv6 /64), so a
-- stranger's guesses lock only their own network out; the global slow-down looks at all
-- networks. Rows from before this migration have no network.
ALTER TABLE login_attempts ADD COLUMN network TEXT NOT NULL DEFAULT '';
CREATE INDEX login_attempts_login_network ON login_attempts(login, network, id);
