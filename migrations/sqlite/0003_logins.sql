-- Matrix users enlisted with the gatekeeper: their gatekeeper-internal id and their keys (the
-- Noise transport key and the Olm account with its sessions), each sealed with
-- ChaCha20-Poly1305 under the config's pickle key. keys_version counts enlistments, so a channel
-- still running on the old keys can never overwrite the keys of a newer enlistment.
CREATE TABLE logins (
    matrix_user_id TEXT PRIMARY KEY,
    remote_id TEXT NOT NULL,
    keys_version BIGINT NOT NULL,
    noise_key BLOB NOT NULL,
    olm_pickle BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Stanzas from the gatekeeper a login has handled, by (sender, id): the gatekeeper delivers
-- again whatever it did not hear was received, and a repeat is confirmed, not handled twice.
CREATE TABLE remote_seen (
    matrix_user_id TEXT NOT NULL REFERENCES logins (matrix_user_id) ON DELETE CASCADE,
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (matrix_user_id, sender, message_id)
);
CREATE INDEX remote_seen_age ON remote_seen (seen_at);

-- Encrypted media blobs our users sent, served to the gatekeeper at {partner_base}/{reference}.
-- The bytes are ciphertext; their key travels end to end inside the message.
CREATE TABLE partner_media (
    reference TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES logins (matrix_user_id) ON DELETE CASCADE,
    bytes BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX partner_media_owner ON partner_media (owner);
