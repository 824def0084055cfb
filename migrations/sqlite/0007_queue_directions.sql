-- Each portal's work goes two ways, each in its own order with its own worker, so that a
-- backlog one way does not hold up the other. to_matrix says which way an item goes. Work
-- already queued is sorted by its key: a Matrix event's work is keyed "m|<event id>".
ALTER TABLE portal_queue ADD COLUMN to_matrix BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE portal_queue SET to_matrix = TRUE WHERE substr(dedupe_key, 1, 2) <> 'm|';
DROP INDEX portal_queue_pending;
CREATE INDEX portal_queue_pending ON portal_queue (owner, remote_chat, to_matrix, seq) WHERE done_at IS NULL;
