//! The store's behaviour, the same on SQLite and PostgreSQL.
//!
//! SQLite always runs. PostgreSQL runs when `INTEROP_BRIDGE_TEST_POSTGRES` holds a connection
//! URL (as in `.ci/run`); each test then works in a schema of its own, so runs do not collide.

use interop_bridge::{
    config::{DatabaseConfig, DatabaseKind, registration::new_pickle_key},
    gatekeeper::partner_identity::{PartnerIdentityError, StorageKey, load_or_create},
    store::{Direction, MessageRow, NewLogin, NewPortalWork, OlmSave, Store, TransactionInsert},
};

/// One store per available database, each fresh and migrated.
async fn stores() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = DatabaseConfig {
        kind: DatabaseKind::Sqlite,
        uri: format!("sqlite:{}", dir.path().join("store.db").display()),
        max_connections: 4,
    };
    let store = Store::connect(&sqlite).await.unwrap();
    store.migrate().await.unwrap();
    let mut stores = vec![("sqlite", store, Some(dir))];
    match std::env::var("INTEROP_BRIDGE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => stores.push(("postgres", postgres_store(&url).await, None)),
        _ => eprintln!(
            "INTEROP_BRIDGE_TEST_POSTGRES is not set: skipping the PostgreSQL half of this test"
        ),
    }
    stores
}

async fn postgres_store(url: &str) -> Store {
    let schema = format!("test_{}", rand_suffix());
    let admin = sqlx::PgPool::connect(url)
        .await
        .expect("INTEROP_BRIDGE_TEST_POSTGRES is set but unreachable");
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let config = DatabaseConfig {
        kind: DatabaseKind::Postgres,
        uri: format!("{url}{separator}options=-c%20search_path%3D{schema}"),
        max_connections: 4,
    };
    let store = Store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn rand_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().r#gen();
    format!("{n:016x}")
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for (name, store, _dir) in stores().await {
        store.migrate().await.unwrap_or_else(|e| panic!("{name}: second migrate failed: {e}"));
    }
}

#[tokio::test]
async fn transactions_keep_arrival_order_and_dedupe_on_id_and_content() {
    for (name, store, _dir) in stores().await {
        assert_eq!(
            store.insert_transaction("1", r#"{"events":[1]}"#).await.unwrap(),
            TransactionInsert::Stored
        );
        assert_eq!(
            store.insert_transaction("2", r#"{"events":[2]}"#).await.unwrap(),
            TransactionInsert::Stored
        );
        assert_eq!(
            store.insert_transaction("1", r#"{"events":[1]}"#).await.unwrap(),
            TransactionInsert::Duplicate,
            "{name}"
        );
        assert_eq!(
            store.insert_transaction("1", r#"{"events":[3]}"#).await.unwrap(),
            TransactionInsert::Stored,
            "{name}"
        );
        let pending = store.pending_transactions(10).await.unwrap();
        let ids: Vec<(&str, &str)> =
            pending.iter().map(|t| (t.txn_id.as_str(), t.body.as_str())).collect();
        assert_eq!(
            ids,
            [("1", r#"{"events":[1]}"#), ("2", r#"{"events":[2]}"#), ("1", r#"{"events":[3]}"#)],
            "{name}"
        );
        store.queue_portal_work(&[], &[pending[0].seq]).await.unwrap();
        let pending = store.pending_transactions(10).await.unwrap();
        assert_eq!(pending.len(), 2, "{name}");
        assert_eq!(pending[0].txn_id, "2", "{name}");
        // Several in one write; none is a no-op.
        store.queue_portal_work(&[], &[]).await.unwrap();
        store.queue_portal_work(&[], &[pending[0].seq, pending[1].seq]).await.unwrap();
        assert!(store.pending_transactions(10).await.unwrap().is_empty(), "{name}");
        // A processed transaction is still a duplicate when the homeserver retries it.
        assert_eq!(
            store.insert_transaction("1", r#"{"events":[1]}"#).await.unwrap(),
            TransactionInsert::Duplicate,
            "{name}"
        );
        store.insert_transaction("3", "{}").await.unwrap();
        store.insert_transaction("4", "{}").await.unwrap();
        assert_eq!(store.pending_transactions(1).await.unwrap().len(), 1, "{name}: limit");
    }
}

#[tokio::test]
async fn a_routed_transaction_queues_its_work_in_its_commit_unless_an_earlier_one_waits() {
    let work = |key: &str| NewPortalWork {
        owner: "@alice:x".into(),
        remote_chat: "bob@native".into(),
        direction: Direction::ToRemote,
        dedupe_key: key.into(),
        payload: key.into(),
    };
    let queued = |store: &Store| {
        let store = store.clone();
        async move {
            let pending =
                store.pending_portal_work("@alice:x", "bob@native", Direction::ToRemote, 10);
            pending.await.unwrap().into_iter().map(|w| w.dedupe_key).collect::<Vec<_>>()
        }
    };
    for (name, store, dir) in stores().await {
        // Nothing waits: stored processed, its work queued.
        let routed = store.insert_routed_transaction("1", "{\"a\":1}", &[work("m|a")]).await;
        assert_eq!(routed.unwrap(), TransactionInsert::Routed, "{name}");
        assert!(store.pending_transactions(10).await.unwrap().is_empty(), "{name}");
        assert_eq!(queued(&store).await, ["m|a"], "{name}");
        // A retry is a duplicate, and queues nothing again.
        let again = store.insert_routed_transaction("1", "{\"a\":1}", &[work("m|x")]).await;
        assert_eq!(again.unwrap(), TransactionInsert::Duplicate, "{name}");
        // An earlier transaction waits for the worker: this one waits behind it, its work not
        // queued ahead of the earlier one's.
        store.insert_transaction("2", "{\"b\":2}").await.unwrap();
        let behind = store.insert_routed_transaction("3", "{\"c\":3}", &[work("m|c")]).await;
        assert_eq!(behind.unwrap(), TransactionInsert::Stored, "{name}");
        let pending = store.pending_transactions(10).await.unwrap();
        let ids: Vec<&str> = pending.iter().map(|t| t.txn_id.as_str()).collect();
        assert_eq!(ids, ["2", "3"], "{name}");
        assert_eq!(queued(&store).await, ["m|a"], "{name}");
        if let Some(dir) = &dir {
            // The routed one keeps no body (its messages' text); the waiting one needs it.
            let db = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
            let body = |id: &str| -> String {
                let sql = "SELECT body FROM appservice_transactions WHERE txn_id = ?1";
                db.query_row(sql, [id], |row| row.get(0)).unwrap()
            };
            assert_eq!((body("1").as_str(), body("3").as_str()), ("", "{\"c\":3}"));
        }
        // Once the worker is through, the door routes again.
        let seqs: Vec<i64> = pending.iter().map(|t| t.seq).collect();
        store.queue_portal_work(&[work("m|b"), work("m|c")], &seqs).await.unwrap();
        let two = [work("m|e"), work("m|d")];
        let next = store.insert_routed_transaction("4", "{\"d\":4}", &two).await;
        assert_eq!(next.unwrap(), TransactionInsert::Routed, "{name}");
        assert_eq!(queued(&store).await, ["m|a", "m|b", "m|c", "m|e", "m|d"], "{name}");
    }
}

#[tokio::test]
async fn pruning_removes_only_old_processed_transactions() {
    for (name, store, _dir) in stores().await {
        store.insert_transaction("a", "{}").await.unwrap();
        store.insert_transaction("b", "{\"x\":1}").await.unwrap();
        let first = store.pending_transactions(1).await.unwrap().remove(0);
        store.queue_portal_work(&[], &[first.seq]).await.unwrap();
        // Nothing is old enough yet.
        assert_eq!(store.prune_processed_transactions(60_000).await.unwrap(), 0, "{name}");
        // With age 0 (after a moment) the processed one goes, the pending one stays.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(store.prune_processed_transactions(0).await.unwrap(), 1, "{name}");
        let pending = store.pending_transactions(10).await.unwrap();
        assert_eq!(pending.len(), 1, "{name}");
        assert_eq!(pending[0].txn_id, "b", "{name}");
    }
}

#[tokio::test]
async fn ghosts_are_registered_once() {
    for (name, store, _dir) in stores().await {
        assert!(!store.ghost_registered("@wa_1:example.org").await.unwrap());
        store.insert_ghost("@wa_1:example.org").await.unwrap();
        store.insert_ghost("@wa_1:example.org").await.unwrap();
        assert!(store.ghost_registered("@wa_1:example.org").await.unwrap(), "{name}");
        assert_eq!(store.ghost_count().await.unwrap(), 1, "{name}");
    }
}

#[tokio::test]
async fn management_room_is_replaced_not_duplicated() {
    for (name, store, _dir) in stores().await {
        assert_eq!(store.management_room("@a:example.org").await.unwrap(), None);
        store.set_management_room("@a:example.org", "!one").await.unwrap();
        store.set_management_room("@a:example.org", "!two").await.unwrap();
        assert_eq!(
            store.management_room("@a:example.org").await.unwrap().as_deref(),
            Some("!two"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn sqlite_data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        kind: DatabaseKind::Sqlite,
        uri: format!("sqlite:{}", dir.path().join("reopen.db").display()),
        max_connections: 2,
    };
    let store = Store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    store.insert_transaction("5", "{}").await.unwrap();
    store.close().await;
    let store = Store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.pending_transactions(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn partner_key_is_made_once_and_the_same_after_reopen() {
    let pickle_key = new_pickle_key();
    for (name, store, dir) in stores().await {
        let key = StorageKey::from_config(&pickle_key).unwrap();
        let first = load_or_create(&store, &key).await.unwrap();
        let again = load_or_create(&store, &key).await.unwrap();
        assert_eq!(again.jwks(), first.jwks(), "{name}");
        // Reopening a SQLite file must give the same key too (PostgreSQL keeps its schema).
        if let Some(dir) = &dir {
            store.close().await;
            let reopened = Store::connect(&DatabaseConfig {
                kind: DatabaseKind::Sqlite,
                uri: format!("sqlite:{}", dir.path().join("store.db").display()),
                max_connections: 4,
            })
            .await
            .unwrap();
            reopened.migrate().await.unwrap();
            assert_eq!(load_or_create(&reopened, &key).await.unwrap().jwks(), first.jwks());
            continue;
        }
        assert_eq!(store.partner_key_count().await.unwrap(), 1, "{name}");
    }
}

#[tokio::test]
async fn wrong_pickle_key_is_an_error_and_the_stored_key_is_untouched() {
    for (name, store, _dir) in stores().await {
        let right = StorageKey::from_config(&new_pickle_key()).unwrap();
        let wrong = StorageKey::from_config(&new_pickle_key()).unwrap();
        let original = load_or_create(&store, &right).await.unwrap();
        let sealed = store.partner_key().await.unwrap();
        match load_or_create(&store, &wrong).await {
            Err(PartnerIdentityError::WrongPickleKey { kid }) => assert_eq!(kid, original.kid()),
            other => panic!("{name}: expected WrongPickleKey, got {other:?}"),
        }
        assert_eq!(store.partner_key().await.unwrap(), sealed, "{name}");
        assert_eq!(store.partner_key_count().await.unwrap(), 1, "{name}");
        assert_eq!(load_or_create(&store, &right).await.unwrap().jwks(), original.jwks(), "{name}");
    }
}

/// Saves Olm state the way the connector does.
async fn save(
    store: &Store,
    user: &str,
    keys_version: i64,
    sealed_core: Option<&[u8]>,
    sealed_peers: &[(String, Vec<u8>)],
    seen: &[(String, String)],
) -> bool {
    let save = OlmSave { keys_version, sealed_core, sealed_peers, seen };
    store.save_olm_state(user, &save).await.unwrap()
}

#[tokio::test]
async fn logins_are_versioned_and_take_their_records_with_them() {
    for (name, store, _dir) in stores().await {
        let user = "@alice:example.org";
        let login = NewLogin {
            matrix_user_id: user,
            remote_id: "1-1@interop",
            sealed_noise_key: b"noise-1",
            sealed_olm_pickle: b"pickle-1",
        };
        assert_eq!(store.upsert_login(&login).await.unwrap(), 1, "{name}");
        let seen = [("4915@native".to_owned(), "m1".to_owned())];
        let peers = [
            ("4915@native".to_owned(), b"sessions-a1".to_vec()),
            ("4916@native".to_owned(), b"sessions-b1".to_vec()),
        ];
        assert!(save(&store, user, 1, Some(b"pickle-2"), &peers, &seen).await, "{name}");
        assert!(store.remote_seen(user, "4915@native", "m1").await.unwrap(), "{name}");
        assert!(!store.remote_seen(user, "4915@native", "m2").await.unwrap(), "{name}");
        // Marking the same stanza again is harmless; a save without a core keeps the stored one
        // and replaces only the peers given.
        // A peer given twice keeps the later state.
        let one_peer = [
            ("4915@native".to_owned(), b"sessions-a1b".to_vec()),
            ("4915@native".to_owned(), b"sessions-a2".to_vec()),
        ];
        assert!(save(&store, user, 1, None, &one_peer, &seen).await, "{name}");
        assert_eq!(store.remote_seen_count(user).await.unwrap(), 1, "{name}");
        let row = store.login(user).await.unwrap().unwrap();
        assert_eq!(row.sealed_olm_pickle, b"pickle-2", "{name}");
        let mut stored_peers = row.sealed_olm_peers.clone();
        stored_peers.sort();
        assert_eq!(
            stored_peers,
            [
                ("4915@native".to_owned(), b"sessions-a2".to_vec()),
                ("4916@native".to_owned(), b"sessions-b1".to_vec())
            ],
            "{name}"
        );
        // Several at once, in one transaction.
        let two = [
            ("4915@native".to_owned(), "m2".to_owned()),
            ("4916@native".to_owned(), "m1".to_owned()),
        ];
        assert!(save(&store, user, 1, Some(b"pickle-4"), &[], &two).await, "{name}");
        assert_eq!(store.remote_seen_count(user).await.unwrap(), 3, "{name}");
        // More rows than one statement takes.
        let many: Vec<(String, String)> =
            (0..1234).map(|i| ("4917@native".to_owned(), format!("m{i}"))).collect();
        assert!(save(&store, user, 1, None, &[], &many).await, "{name}");
        assert_eq!(store.remote_seen_count(user).await.unwrap(), 3 + 1234, "{name}");

        // Re-enlisting replaces the keys, drops the old sessions and bumps the version; a save
        // on the old version is refused and changes nothing.
        let again = NewLogin { sealed_olm_pickle: b"pickle-new", ..login };
        assert_eq!(store.upsert_login(&again).await.unwrap(), 2, "{name}");
        assert!(!save(&store, user, 1, Some(b"stale"), &peers, &[]).await, "{name}");
        let row = store.login(user).await.unwrap().unwrap();
        assert_eq!((row.keys_version, row.sealed_olm_pickle.as_slice()), (2, &b"pickle-new"[..]));
        assert!(row.sealed_olm_peers.is_empty(), "{name}");
        assert!(save(&store, user, 2, None, &peers, &[]).await, "{name}");
        assert!(!format!("{row:?}").contains("pickle"), "{name}: Debug shows no key material");
        assert_eq!(store.login_user_ids().await.unwrap(), [user], "{name}");

        store.insert_partner_media("ref_1", user, b"blob").await.unwrap();
        let media = store.partner_media("ref_1").await.unwrap().unwrap();
        assert_eq!((media.owner.as_str(), media.bytes.as_slice()), (user, &b"blob"[..]));
        assert!(store.partner_media("ref_2").await.unwrap().is_none(), "{name}");
        store.insert_partner_media("ref_old", user, b"old").await.unwrap();
        assert_eq!(store.prune_partner_media(media.created_at - 1).await.unwrap(), 0, "{name}");
        assert_eq!(store.prune_partner_media(i64::MAX).await.unwrap(), 2, "{name}");
        assert!(store.partner_media("ref_old").await.unwrap().is_none(), "{name}");
        store.insert_partner_media("ref_1", user, b"blob").await.unwrap();

        assert_eq!(store.prune_remote_seen(0).await.unwrap(), 0, "{name}");
        assert!(store.delete_login(user).await.unwrap(), "{name}");
        assert!(store.login(user).await.unwrap().is_none(), "{name}");
        assert!(!store.remote_seen(user, "4915@native", "m1").await.unwrap(), "{name}");
        assert!(store.partner_media("ref_1").await.unwrap().is_none(), "{name}");
        assert!(!store.delete_login(user).await.unwrap(), "{name}");
        assert!(!save(&store, user, 2, Some(b"gone"), &peers, &[]).await, "{name}");
    }
}

#[tokio::test]
async fn portal_work_is_read_in_order_by_direction_and_finished_with_its_records() {
    use interop_bridge::store::Direction::{ToMatrix, ToRemote};
    for (name, store, _dir) in stores().await {
        let (alice, chat) = ("@alice:example.org", "4915@native");
        assert_eq!(store.last_portal_work_seq().await.unwrap(), 0, "{name}: nothing queued");
        // Both directions of one portal, interleaved.
        let queued = [("m|k1", ToRemote), ("r1", ToMatrix), ("m|k2", ToRemote), ("m|k3", ToRemote)];
        for (key, way) in queued {
            assert!(store.enqueue_portal_work(alice, chat, way, key, key).await.unwrap(), "{name}");
        }
        let again = store.enqueue_portal_work(alice, chat, ToRemote, "m|k1", "again").await;
        assert!(!again.unwrap(), "{name}: a key is queued once");
        store.enqueue_portal_work(alice, "other@native", ToRemote, "m|k4", "k4").await.unwrap();
        let last = store.last_portal_work_seq().await.unwrap();

        let keys = |work: &[interop_bridge::store::QueuedWork]| -> Vec<String> {
            work.iter().map(|w| w.dedupe_key.clone()).collect()
        };
        let first = store.pending_portal_work(alice, chat, ToRemote, 2).await.unwrap();
        assert_eq!(keys(&first), ["m|k1", "m|k2"], "{name}: oldest first, one direction");
        assert!(first.iter().all(|w| w.seq <= last && w.direction == ToRemote), "{name}");
        // Not finished: read again.
        let again = store.pending_portal_work(alice, chat, ToRemote, 10).await.unwrap();
        assert_eq!(keys(&again), ["m|k1", "m|k2", "m|k3"], "{name}");
        let inbound = store.pending_portal_work(alice, chat, ToMatrix, 10).await.unwrap();
        assert_eq!(keys(&inbound), ["r1"], "{name}: the other direction apart");
        assert_eq!(inbound[0].direction, ToMatrix, "{name}");

        // What an item waits for when its target is not found: older work the other way.
        let (k1, r1, k2) = (again[0].seq, inbound[0].seq, again[1].seq);
        assert!(!store.has_portal_work_before(alice, chat, ToMatrix, k1).await.unwrap(), "{name}");
        assert!(store.has_portal_work_before(alice, chat, ToMatrix, k2).await.unwrap(), "{name}");
        assert!(store.has_portal_work_before(alice, chat, ToRemote, r1).await.unwrap(), "{name}");
        let elsewhere = store.has_portal_work_before(alice, "other@native", ToMatrix, i64::MAX);
        assert!(!elsewhere.await.unwrap(), "{name}: another portal's work does not count");

        // Finishing a batch and recording what it bridged go together.
        let bridged = MessageRow {
            room_id: "!room:example.org".into(),
            event_id: "$k1".into(),
            owner: alice.into(),
            remote_chat: chat.into(),
            remote_sender: "4916@interop".into(),
            remote_id: "K1".into(),
        };
        let seqs: Vec<i64> = first.iter().map(|w| w.seq).collect();
        store.finish_portal_work(&seqs, std::slice::from_ref(&bridged)).await.unwrap();
        store.finish_portal_work(&[], &[]).await.unwrap();
        assert_eq!(
            store.message_by_event("!room:example.org", "$k1").await.unwrap(),
            Some(bridged),
            "{name}: the bridged message is recorded"
        );
        let left = store.pending_portal_work(alice, chat, ToRemote, 10).await.unwrap();
        assert_eq!(keys(&left), ["m|k3"], "{name}");
        store.finish_portal_work(&[r1], &[]).await.unwrap();
        let k3 = left[0].seq;
        assert!(!store.has_portal_work_before(alice, chat, ToMatrix, k3).await.unwrap(), "{name}");
        let other = store.pending_portal_work(alice, "other@native", ToRemote, 10).await.unwrap();
        assert_eq!(keys(&other), ["m|k4"], "{name}: another portal's work is apart");
        let mut pending = store.portals_with_pending_work().await.unwrap();
        pending.sort_by(|a, b| a.1.cmp(&b.1));
        let expected = [
            (alice.to_owned(), chat.to_owned(), ToRemote),
            (alice.to_owned(), "other@native".to_owned(), ToRemote),
        ];
        assert_eq!(pending, expected, "{name}: each portal and direction with work left");
    }
}
