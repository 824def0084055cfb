-- A login's Olm state in parts: logins.olm_pickle holds the core (the account, the signed
-- prekey, sender keys), and each contact's sessions are a row here, sealed like the core. A
-- message changes one contact's sessions, so a save writes that row instead of every session
-- of every contact. A login still holding a whole pickle (written before this table) is read
-- as before and moved into parts on its next save.
CREATE TABLE olm_peers (
    matrix_user_id TEXT NOT NULL REFERENCES logins (matrix_user_id) ON DELETE CASCADE,
    peer TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (matrix_user_id, peer)
);
