-- The bridge's partner signing keys (Ed25519 seeds), sealed under the config's pickle key.
-- Rows are only ever added: a key that cannot be opened is an error to fix, not a row to drop.
CREATE TABLE partner_keys (
    kid TEXT PRIMARY KEY,
    nonce BLOB NOT NULL,
    sealed_seed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
