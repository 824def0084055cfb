-- Per Matrix user choices: the inbox mode, its Space, and when the user accepted the login notice.
CREATE TABLE bridge_users (
    user_id TEXT PRIMARY KEY,
    inbox TEXT NOT NULL DEFAULT 'separate',
    space_room_id TEXT,
    notice_accepted_at BIGINT
);

-- A portal: the Matrix room standing for one gatekeeper chat of one Matrix user.
CREATE TABLE portals (
    owner TEXT NOT NULL,
    remote_chat TEXT NOT NULL,
    room_id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, remote_chat)
);

-- Each bridged message, both ways: the Matrix event and the gatekeeper message it is.
-- Replies, reactions, edits and deletes find their target here.
CREATE TABLE messages (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    remote_chat TEXT NOT NULL,
    remote_sender TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, event_id),
    UNIQUE (owner, remote_chat, remote_sender, remote_id)
);

-- Reactions, so a redaction can be turned into a revoke and a revoke into a redaction.
-- One reaction per sender and target, as on the gatekeeper.
CREATE TABLE reactions (
    room_id TEXT NOT NULL,
    target_event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    emoji TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, target_event_id, sender)
);
CREATE INDEX reactions_by_event ON reactions (room_id, event_id);

-- The ordered work of each portal, both directions, stored before it is acknowledged.
-- dedupe_key names what caused the work (a Matrix event id, a gatekeeper sender and message id),
-- so a redelivery is stored once.
CREATE TABLE portal_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    remote_chat TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX portal_queue_pending ON portal_queue (owner, remote_chat, seq) WHERE done_at IS NULL;

-- Ghost profiles as last synced from the gatekeeper: the source avatar URL says whether the
-- avatar must be uploaded again.
ALTER TABLE ghosts ADD COLUMN avatar_source TEXT;
ALTER TABLE ghosts ADD COLUMN profile_synced_at BIGINT;

-- Notices that are shown once (e.g. "edits are sent as new messages"), by what they say where.
CREATE TABLE notices_sent (
    dedupe_key TEXT PRIMARY KEY,
    sent_at BIGINT NOT NULL
);
