-- Consultations at the counter: the ticket's desk and department, whether it is running, how it
-- ended and the clerk's note; who took part (joined and left when); the chat inside it; the
-- applications it created or linked; the one-time codes that let an interpreter in.
ALTER TABLE consultations ADD COLUMN department_id TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN counter_id TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN status TEXT NOT NULL DEFAULT 'ended';
ALTER TABLE consultations ADD COLUMN end_reason TEXT;
ALTER TABLE consultations ADD COLUMN note TEXT;
CREATE UNIQUE INDEX consultations_one_running_per_ticket ON consultations(ticket_id) WHERE status = 'running';
CREATE INDEX consultations_resident ON consultations(resident_id, status);
CREATE INDEX consultations_department ON consultations(department_id, status, started_at);

CREATE TABLE consultation_participants (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    role TEXT NOT NULL,
    principal TEXT NOT NULL,
    display_name TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    left_at BIGINT
);
CREATE INDEX consultation_participants_of ON consultation_participants(consultation_id, id);

CREATE TABLE consultation_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    at BIGINT NOT NULL,
    role TEXT NOT NULL,
    display_name TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX consultation_messages_of ON consultation_messages(consultation_id, id);

CREATE TABLE consultation_applications (
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    application_id BIGINT NOT NULL REFERENCES applications(id),
    how TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (consultation_id, application_id)
);

CREATE TABLE consultation_invites (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    code_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
