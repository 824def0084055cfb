use super::*;

fn pair() -> (OlmEndpoint, OlmEndpoint) {
    (OlmEndpoint::new(), OlmEndpoint::new())
}

fn dec(e: &mut OlmEndpoint, peer: &str, enc: &Enc) -> Vec<u8> {
    e.decrypt(peer, enc).unwrap().plaintext
}

#[test]
fn bundle_session_both_directions_out_of_order() {
    let (mut a, mut b) = pair();
    let bundle = b.fresh_bundle();
    assert_eq!(verify_bundle(&bundle).unwrap(), b.identity_keys());
    assert_eq!(a.start_session("b", &bundle).unwrap(), IdentityStatus::New);
    let m1 = a.encrypt("b", b"one").unwrap();
    let m2 = a.encrypt("b", b"two").unwrap();
    let m3 = a.encrypt("b", b"three").unwrap();
    assert_eq!(m1.r#type, crate::stanza::EncType::Pkmsg as i32);
    // out of order: 3, 1, 2
    let d3 = b.decrypt("a", &m3).unwrap();
    assert_eq!((d3.plaintext.as_slice(), d3.identity), (&b"three"[..], IdentityStatus::New));
    assert_eq!(dec(&mut b, "a", &m1), b"one");
    assert_eq!(dec(&mut b, "a", &m2), b"two");
    let r1 = b.encrypt("a", b"reply").unwrap();
    assert_eq!(r1.r#type, crate::stanza::EncType::Msg as i32);
    assert_eq!(dec(&mut a, "b", &r1), b"reply");
    let m4 = a.encrypt("b", b"four").unwrap();
    assert_eq!(m4.r#type, crate::stanza::EncType::Msg as i32);
    assert_eq!(dec(&mut b, "a", &m4), b"four");
}

#[test]
fn signed_prekey_without_one_time_key_and_bad_signature() {
    let (mut a, mut b) = pair();
    let mut bundle = b.fresh_bundle();
    bundle.one_time_key = None;
    a.start_session("b", &bundle).unwrap();
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"hi").unwrap()), b"hi");
    bundle.signed_prekey.as_mut().unwrap().signature[0] ^= 1;
    assert!(matches!(a.start_session("b", &bundle), Err(E2eeError::BadSignature)));
    bundle.scheme = 9;
    assert!(matches!(a.start_session("b", &bundle), Err(E2eeError::UnsupportedScheme(9))));
}

#[test]
fn retry_after_lost_session() {
    let (mut a, mut b) = pair();
    a.start_session("b", &b.fresh_bundle()).unwrap();
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"x").unwrap()), b"x");
    assert_eq!(dec(&mut a, "b", &b.encrypt("a", b"y").unwrap()), b"y");
    // b loses its state (e.g. restored an old backup)
    b.forget_sessions("a");
    let lost = a.encrypt("b", b"lost").unwrap();
    let err = b.decrypt("a", &lost).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.retry_reason(), "no_session");
    // retry receipt carries b's fresh bundle; a rebuilds and resends
    let retry_bundle = b.fresh_bundle();
    assert_eq!(a.start_session("b", &retry_bundle).unwrap(), IdentityStatus::Known);
    let resent = a.encrypt("b", b"lost").unwrap();
    assert_eq!(dec(&mut b, "a", &resent), b"lost");
}

#[test]
fn identity_change_is_reported() {
    let (mut a, mut b) = pair();
    a.start_session("b", &b.fresh_bundle()).unwrap();
    dec(&mut b, "a", &a.encrypt("b", b"x").unwrap());
    // b reinstalls: new identity
    let mut b2 = OlmEndpoint::new();
    assert_eq!(a.start_session("b", &b2.fresh_bundle()).unwrap(), IdentityStatus::Changed);
    // and a reinstalls too: b sees a changed identity in the pre-key message
    let mut a2 = OlmEndpoint::new();
    a2.start_session("b", &b.fresh_bundle()).unwrap();
    let d = b.decrypt("a", &a2.encrypt("b", b"new me").unwrap()).unwrap();
    assert_eq!(d.identity, IdentityStatus::Changed);
    let _ = &mut b2;
}

#[test]
fn pickle_restart() {
    let key = PickleKey::new([7; 32]);
    let (mut a, mut b) = pair();
    a.start_session("b", &b.fresh_bundle()).unwrap();
    dec(&mut b, "a", &a.encrypt("b", b"before").unwrap());
    b.sender_key("g1");
    let skd = b.sender_key("g1");
    a.add_sender_key("b", &skd).unwrap();
    let pa = a.pickle(&key).unwrap();
    let pb = b.pickle(&key).unwrap();
    assert!(!format!("{key:?}").contains('7'));
    assert!(OlmEndpoint::from_pickle(&pa, &PickleKey::new([8; 32])).is_err());
    let mut a = OlmEndpoint::from_pickle(&pa, &key).unwrap();
    let mut b = OlmEndpoint::from_pickle(&pb, &key).unwrap();
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"after").unwrap()), b"after");
    assert_eq!(dec(&mut a, "b", &b.encrypt("a", b"back").unwrap()), b"back");
    let g = b.encrypt_group("g1", b"group after").unwrap();
    assert_eq!(a.decrypt_group("g1", "b", &g).unwrap(), b"group after");
}

/// A store that keeps an endpoint's parts as [`OlmEndpoint::pickle_changes`] gives them.
#[derive(Default)]
struct Parts {
    core: String,
    peers: std::collections::HashMap<String, String>,
}

impl Parts {
    /// Applies the changes; returns which peers were written and whether the core was.
    fn save(&mut self, e: &mut OlmEndpoint, key: &PickleKey) -> (Vec<String>, bool) {
        let changes = e.pickle_changes(key).unwrap();
        let core = changes.core.is_some();
        if let Some(c) = changes.core {
            self.core = c;
        }
        let mut written: Vec<String> = changes.peers.iter().map(|(p, _)| p.clone()).collect();
        written.sort();
        self.peers.extend(changes.peers);
        (written, core)
    }

    fn load(&self, key: &PickleKey) -> OlmEndpoint {
        OlmEndpoint::from_pickle_parts(&self.core, self.peers.clone(), key).unwrap()
    }
}

#[test]
fn pickled_in_parts_only_what_changed_is_written_and_state_survives() {
    let key = PickleKey::new([7; 32]);
    let (mut a, mut b, mut c) = (OlmEndpoint::new(), OlmEndpoint::new(), OlmEndpoint::new());
    let mut stored = Parts::default();
    assert_eq!(stored.save(&mut a, &key), (vec![], true), "a new endpoint saves its core");
    assert_eq!(stored.save(&mut a, &key), (vec![], false), "nothing changed, nothing written");
    a.start_session("b", &b.fresh_bundle()).unwrap();
    a.start_session("c", &c.fresh_bundle()).unwrap();
    // An outbound session leaves the account as it was.
    assert_eq!(stored.save(&mut a, &key), (vec!["b".into(), "c".into()], false));
    dec(&mut b, "a", &a.encrypt("b", b"one").unwrap());
    assert_eq!(stored.save(&mut a, &key), (vec!["b".into()], false), "only b's sessions");
    dec(&mut c, "a", &a.encrypt("c", b"to c").unwrap());
    // An inbound session uses up a one-time key: the core changes too.
    let mut d = OlmEndpoint::new();
    d.start_session("a", &a.fresh_bundle()).unwrap();
    stored.save(&mut a, &key);
    assert_eq!(dec(&mut a, "d", &d.encrypt("a", b"from d").unwrap()), b"from d");
    assert_eq!(stored.save(&mut a, &key), (vec!["d".into()], true));

    // Restored from the parts, every session goes on where it was.
    let mut a = stored.load(&key);
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"two").unwrap()), b"two");
    assert_eq!(dec(&mut a, "b", &b.encrypt("a", b"back").unwrap()), b"back");
    assert_eq!(dec(&mut c, "a", &a.encrypt("c", b"c again").unwrap()), b"c again");
    assert_eq!(dec(&mut a, "d", &d.encrypt("a", b"d again").unwrap()), b"d again");
    assert!(
        OlmEndpoint::from_pickle_parts(
            &stored.core,
            Vec::<(String, String)>::new(),
            &PickleKey::new([8; 32])
        )
        .is_err()
    );
    let whole = a.pickle(&key).unwrap();
    let parts = vec![("b".to_owned(), stored.peers["b"].clone())];
    assert!(OlmEndpoint::from_pickle_parts(&whole, parts, &key).is_err(), "whole, with parts");
    let damaged = vec![("b".to_owned(), "{".to_owned())];
    assert!(OlmEndpoint::from_pickle_parts(&stored.core, damaged, &key).is_err());
}

#[test]
fn a_whole_pickle_moves_into_parts() {
    let key = PickleKey::new([7; 32]);
    let (mut a, mut b) = pair();
    a.start_session("b", &b.fresh_bundle()).unwrap();
    dec(&mut b, "a", &a.encrypt("b", b"before").unwrap());
    let mut a = OlmEndpoint::from_pickle_parts(
        &a.pickle(&key).unwrap(),
        Vec::<(String, String)>::new(),
        &key,
    )
    .unwrap();
    let mut stored = Parts::default();
    assert_eq!(stored.save(&mut a, &key), (vec!["b".into()], true));
    let mut a = stored.load(&key);
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"after").unwrap()), b"after");
}

#[test]
fn groups_with_sender_keys() {
    let (mut a, mut b) = pair();
    let mut c = OlmEndpoint::new();
    let skd = a.sender_key("g");
    for m in [&mut b, &mut c] {
        m.add_sender_key("a", &skd).unwrap();
    }
    let enc = a.encrypt_group("g", b"hello group").unwrap();
    assert_eq!(b.decrypt_group("g", "a", &enc).unwrap(), b"hello group");
    assert_eq!(c.decrypt_group("g", "a", &enc).unwrap(), b"hello group");
    // after rotation, a member without the new key fails retryably
    let new = a.rotate_sender_key("g");
    assert_ne!(new.session_id, skd.session_id);
    b.add_sender_key("a", &new).unwrap();
    let enc2 = a.encrypt_group("g", b"after rotate").unwrap();
    assert_eq!(b.decrypt_group("g", "a", &enc2).unwrap(), b"after rotate");
    let err = c.decrypt_group("g", "a", &enc2).unwrap_err();
    assert!(err.is_retryable());
    assert!(!format!("{new:?}").contains(&format!("{:?}", new.session_key)));
}

#[test]
fn garbage_ciphertext_is_an_error() {
    let (mut a, _) = pair();
    for t in 0..5 {
        let enc = Enc { r#type: t, ciphertext: vec![1, 2, 3], scheme: 1, ..Default::default() };
        assert!(a.decrypt("x", &enc).is_err());
        assert!(a.decrypt_group("g", "x", &enc).is_err());
    }
}

#[test]
fn a_replayed_message_is_not_decrypted_again() {
    let (mut a, mut b) = pair();
    a.start_session("b", &b.fresh_bundle()).unwrap();
    let first = a.encrypt("b", b"pre-key message").unwrap();
    assert_eq!(dec(&mut b, "a", &first), b"pre-key message");
    assert_eq!(dec(&mut a, "b", &b.encrypt("a", b"reply").unwrap()), b"reply");
    let later = a.encrypt("b", b"normal message").unwrap();
    assert_eq!(later.r#type, crate::stanza::EncType::Msg as i32);
    assert_eq!(dec(&mut b, "a", &later), b"normal message");
    // Sent again (a replay on the wire, or a resend): their keys are used up.
    assert!(b.decrypt("a", &first).is_err(), "a pre-key message decrypted twice");
    assert!(b.decrypt("a", &later).is_err(), "a message decrypted twice");
    // And the session goes on.
    assert_eq!(dec(&mut b, "a", &a.encrypt("b", b"next").unwrap()), b"next");
}
