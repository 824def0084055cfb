//! Property tests for the frame codec: generated stanzas round-trip, and
//! arbitrary bytes never panic the decoder.

use interop_proto::frame::{self, DEFAULT_MAX_FRAME_SIZE};
use interop_proto::stanza::*;
use proptest::prelude::*;

fn s() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9@.+-]{0,24}"
}

fn enc() -> impl Strategy<Value = Enc> {
    (s(), 0i32..4, proptest::collection::vec(any::<u8>(), 0..300), any::<u32>(), s()).prop_map(
        |(recipient, t, ciphertext, scheme, sender_key_id)| Enc {
            recipient,
            r#type: t,
            ciphertext,
            scheme,
            sender_key_id,
        },
    )
}

fn bundle() -> impl Strategy<Value = KeyBundle> {
    (proptest::collection::vec(any::<u8>(), 32), any::<u32>(), any::<bool>()).prop_map(
        |(k, id, otk)| KeyBundle {
            scheme: 1,
            identity_key: k.clone(),
            signing_key: k.clone(),
            signed_prekey: Some(SignedPrekey {
                id,
                key: k.clone(),
                signature: [k.clone(), k.clone()].concat(),
            }),
            one_time_key: otk.then_some(OneTimeKey { key: k }),
        },
    )
}

fn stanza() -> impl Strategy<Value = Stanza> {
    prop_oneof![
        (
            s(),
            s(),
            s(),
            any::<u64>(),
            0i32..3,
            proptest::collection::vec(enc(), 0..4),
            any::<bool>(),
            any::<u32>()
        )
            .prop_map(|(id, from, to, timestamp, kind, enc, offline, retry_count)| {
                Stanza::Message(MessageStanza {
                    id,
                    from,
                    to,
                    participant: String::new(),
                    timestamp,
                    kind,
                    enc,
                    offline,
                    retry_count,
                })
            }),
        (
            s(),
            proptest::collection::vec(s(), 0..3),
            0i32..4,
            any::<u64>(),
            proptest::option::of(bundle())
        )
            .prop_map(|(id, more_ids, t, timestamp, b)| Stanza::Receipt(Receipt {
                id,
                more_ids,
                r#type: t,
                timestamp,
                retry: b.map(|b| RetryInfo {
                    count: 1,
                    message_timestamp: timestamp,
                    bundle: Some(b),
                    reason: "no_session".into()
                }),
                ..Default::default()
            })),
        (s(), any::<u32>(), s()).prop_map(|(id, code, text)| Stanza::Ack(Ack {
            id,
            class: 1,
            peer: String::new(),
            timestamp: 1,
            error: Some(StanzaError { code, text, retry_after_ms: 5 })
        })),
        (s(), proptest::collection::vec(s(), 0..5)).prop_map(|(id, users)| Stanza::Iq(Iq {
            id,
            query: Some(IqQuery::KeyFetch(KeyFetch { users }))
        })),
        (s(), bundle()).prop_map(|(id, b)| Stanza::IqResult(IqResult {
            id,
            answer: Some(IqAnswer::KeyBundles(KeyBundles {
                bundles: vec![UserKeyBundle { user: "u@x".into(), bundle: Some(b), error: None }]
            }))
        })),
        (s(), s(), 0i32..3).prop_map(|(id, user, inbox)| Stanza::Notification(Notification {
            id,
            timestamp: 3,
            body: Some(NotificationBody::OptInChange(OptInChange { user, opted_in: true, inbox }))
        })),
        any::<u32>().prop_map(|count| Stanza::Ib(Ib {
            body: Some(IbBody::OfflinePending(OfflinePending { count }))
        })),
        (s(), 0i32..4).prop_map(|(to, state)| Stanza::ChatState(ChatState {
            to,
            state,
            ..Default::default()
        })),
        (0i32..9, s()).prop_map(|(code, reason)| Stanza::Close(Close { code, reason })),
    ]
}

proptest! {
    #[test]
    fn stanzas_round_trip(st in stanza()) {
        let bytes = frame::encode(&st);
        prop_assert_eq!(frame::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(), st);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(st) = frame::decode(&bytes, DEFAULT_MAX_FRAME_SIZE) {
            let again = frame::encode(&st);
            prop_assert_eq!(frame::decode(&again, DEFAULT_MAX_FRAME_SIZE).unwrap(), st);
        }
    }

    #[test]
    fn truncations_never_panic(st in stanza(), cut in any::<prop::sample::Index>()) {
        let bytes = frame::encode(&st);
        let n = cut.index(bytes.len() + 1);
        let _ = frame::decode(&bytes[..n], DEFAULT_MAX_FRAME_SIZE);
    }
}
