-- Every transaction the homeserver pushed, stored before it is acknowledged.
-- A transaction is identified by its id *and* a hash of its body: a homeserver whose database
-- was reset starts its ids at 1 again, and those new transactions must not be taken for repeats.
CREATE TABLE appservice_transactions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txn_id TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    UNIQUE (txn_id, body_sha256)
);
CREATE INDEX appservice_transactions_pending ON appservice_transactions (seq) WHERE processed_at IS NULL;

-- Ghost users the bridge has registered on the homeserver.
CREATE TABLE ghosts (
    user_id TEXT PRIMARY KEY,
    registered_at BIGINT NOT NULL,
    displayname TEXT,
    avatar_url TEXT
);

-- The room each Matrix user talks to the bot in.
CREATE TABLE management_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
