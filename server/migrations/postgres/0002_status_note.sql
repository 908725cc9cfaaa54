-- What the clerk last said with a status change (e.g. which document is missing), shown to the resident.
ALTER TABLE applications ADD COLUMN status_note TEXT;
