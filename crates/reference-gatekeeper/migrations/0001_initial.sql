-- The reference gatekeeper's state. Only public keys, hashes of tokens and
-- ciphertext are stored: the gatekeeper never sees plaintext.

-- Partners get a small stable number, used in their users' internal ids.
CREATE TABLE partners (
    id  TEXT PRIMARY KEY,
    num INTEGER NOT NULL UNIQUE
);

-- Native users (registered by phone) and enlisted partner users.
CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,          -- 'native' or 'partner'
    phone        TEXT UNIQUE,            -- native users
    partner      TEXT,                   -- partner users
    visible_id   TEXT,                   -- partner users: the partner's own name for them
    display_name TEXT NOT NULL DEFAULT '',
    avatar       BLOB,
    authkey      BLOB NOT NULL,          -- Noise static public key
    token_hash   BLOB,                   -- native users: SHA-256 of their access token
    identity_key BLOB NOT NULL,
    signing_key  BLOB NOT NULL,
    spk_id       INTEGER NOT NULL,
    spk_key      BLOB NOT NULL,
    spk_sig      BLOB NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    UNIQUE (partner, visible_id)
);

CREATE TABLE one_time_keys (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    key  BLOB NOT NULL
);
CREATE INDEX one_time_keys_user ON one_time_keys (user, seq);

-- A native user's choice per partner; no row means not opted in.
CREATE TABLE opt_ins (
    user       TEXT NOT NULL,
    partner    TEXT NOT NULL,
    inbox      INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user, partner)
);

CREATE TABLE blocks (
    user    TEXT NOT NULL,
    blocked TEXT NOT NULL,
    PRIMARY KEY (user, blocked)
);

-- Who has exchanged messages with whom: told about identity and opt-in changes.
CREATE TABLE contacts (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    PRIMARY KEY (a, b)
);

-- The offline mailbox: queued stanzas, delivered in `seq` order.
CREATE TABLE mailbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient  TEXT NOT NULL,
    class      INTEGER NOT NULL,         -- 1 message, 2 receipt, 3 notification
    peer       TEXT NOT NULL,            -- the stanza's `from`
    stanza_id  TEXT NOT NULL,
    frame      BLOB NOT NULL,            -- the encoded frame as delivered
    expires_ms INTEGER NOT NULL
);
CREATE INDEX mailbox_recipient ON mailbox (recipient, seq);
CREATE INDEX mailbox_match ON mailbox (recipient, peer, stanza_id);
CREATE INDEX mailbox_expiry ON mailbox (expires_ms);

-- Accepted message ids, so a resend is acknowledged but not delivered twice.
CREATE TABLE accepted (
    sender       TEXT NOT NULL,
    id           TEXT NOT NULL,
    retry_count  INTEGER NOT NULL,
    recipient    TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (sender, id, retry_count)
);
CREATE INDEX accepted_time ON accepted (timestamp_ms);

-- Native users' encrypted media blobs (the bytes live in data_dir/media).
CREATE TABLE media (
    reference  TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    creator    TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user     TEXT NOT NULL,
    admin    INTEGER NOT NULL,
    PRIMARY KEY (group_id, user)
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
