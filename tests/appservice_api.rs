//! Every Application Service API route, called over real HTTP on loopback, with good and bad
//! input: the status codes and `errcode`s must be the ones the Matrix spec (and our issue) name.

mod appservice_support;

use appservice_support::{Api, HS_TOKEN, MAX_BODY, errcode, message_event, urlencode};
use interop_proto::auth::{Claims, Expected, JwkSet, JwtSigner, Scope, verify};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn missing_token_is_401_and_wrong_token_is_403() {
    let api = Api::start().await;
    let (status, body) =
        api.call(Method::POST, "/_matrix/app/v1/ping", None, Some(b"{}".to_vec())).await;
    assert_eq!((status, errcode(&body)), (StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED"));
    let (status, body) =
        api.call(Method::POST, "/_matrix/app/v1/ping", Some("wrong"), Some(b"{}".to_vec())).await;
    assert_eq!((status, errcode(&body)), (StatusCode::FORBIDDEN, "M_FORBIDDEN"));
    let (status, body) = api
        .call(
            Method::PUT,
            "/_matrix/app/v1/transactions/1",
            Some("wrong"),
            Some(b"{\"events\":[]}".to_vec()),
        )
        .await;
    assert_eq!((status, errcode(&body)), (StatusCode::FORBIDDEN, "M_FORBIDDEN"));
    assert_eq!(api.stored_transactions().await, 0, "a rejected transaction must not be stored");
}

#[tokio::test]
async fn jwks_is_public_and_verifies_tokens_the_bridge_signs() {
    let api = Api::start().await;
    let (status, body) = api.call(Method::GET, "/_interop/.well-known/jwks.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jwks: JwkSet = serde_json::from_value(body).unwrap();
    let claims =
        Claims::new("example.org", "@alice:example.org", "gatekeeper.example", Scope::Enlist, 300);
    let token = api.signer.sign(&claims).unwrap();
    let expected = Expected {
        issuer: "example.org",
        audience: "gatekeeper.example",
        scope: Scope::Enlist,
        authkey: None,
    };
    assert_eq!(verify(&token, &jwks, &expected).unwrap(), claims);
    // Another key's token is not ours.
    let stranger = JwtSigner::generate("partner-test").sign(&claims).unwrap();
    assert!(verify(&stranger, &jwks, &expected).is_err());
    // Only the JWKS is public: the Application Service API still needs the token.
    let (status, _) =
        api.call(Method::GET, "/_matrix/app/v1/users/@a:example.org", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn legacy_query_parameter_token_is_accepted() {
    let api = Api::start().await;
    let path = format!("/_matrix/app/v1/ping?access_token={HS_TOKEN}");
    let (status, _) = api.call(Method::POST, &path, None, Some(b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ping_answers_an_empty_object() {
    let api = Api::start().await;
    let body = br#"{"transaction_id":"mautrix-go_1"}"#.to_vec();
    let (status, body) =
        api.call(Method::POST, "/_matrix/app/v1/ping", Some(HS_TOKEN), Some(body)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
}

#[tokio::test]
async fn transactions_are_stored_once_and_a_reset_homeserver_is_not_mistaken_for_a_retry() {
    let api = Api::start().await;
    let first = json!({"events": [message_event(1)]}).to_string();
    assert_eq!(api.put_txn("1", first.clone()).await.0, StatusCode::OK);
    assert_eq!(api.stored_transactions().await, 1);
    // The homeserver retries the same transaction: acknowledged, not stored again.
    assert_eq!(api.put_txn("1", first).await, (StatusCode::OK, json!({})));
    assert_eq!(api.stored_transactions().await, 1);
    // A homeserver with a fresh database starts again at id 1, with other events.
    let after_reset = json!({"events": [message_event(2)]}).to_string();
    assert_eq!(api.put_txn("1", after_reset).await.0, StatusCode::OK);
    let stored = api.store.pending_transactions(10).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored[1].body.contains("$event2"));
}

#[tokio::test]
async fn a_transaction_that_overtook_an_earlier_one_waits_for_it() {
    let api = Api::start().await;
    let txn = |n: u32| json!({"events": [message_event(n)]}).to_string();
    assert_eq!(api.put_txn("1", txn(1)).await.0, StatusCode::OK);
    // 3 before 2 (Synapse after an outage): refused, so that the homeserver recovers in order.
    let (status, body) = api.put_txn("3", txn(3)).await;
    assert_eq!((status, errcode(&body)), (StatusCode::SERVICE_UNAVAILABLE, "M_UNKNOWN"));
    assert_eq!(api.stored_transactions().await, 1);
    assert_eq!(api.put_txn("2", txn(2)).await.0, StatusCode::OK);
    assert_eq!(api.put_txn("3", txn(3)).await.0, StatusCode::OK);
    let stored = api.store.pending_transactions(10).await.unwrap();
    let order: Vec<&str> = stored.iter().map(|t| t.txn_id.as_str()).collect();
    assert_eq!(order, ["1", "2", "3"]);
    // Ids that are not numbers are taken as they come.
    assert_eq!(api.put_txn("abc", txn(4)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_event_types_and_ephemeral_fields_are_stored() {
    let api = Api::start().await;
    let body = json!({
        "events": [{"type": "com.example.unknown", "event_id": "$x", "room_id": "!r:example.org",
                    "sender": "@a:example.org", "origin_server_ts": 1, "content": {"anything": [1, 2]}}],
        "ephemeral": [{"type": "m.typing", "room_id": "!r:example.org", "content": {"user_ids": []}}],
        "de.sorunome.msc2409.ephemeral": [],
        "de.sorunome.msc2409.to_device": [{"type": "m.room.encrypted", "sender": "@a:example.org", "to_user_id": "@b:example.org", "to_device_id": "D", "content": {}}]
    });
    assert_eq!(api.put_txn("7", body.to_string()).await, (StatusCode::OK, json!({})));
    let stored = api.store.pending_transactions(10).await.unwrap();
    assert!(stored[0].body.contains("com.example.unknown") && stored[0].body.contains("to_device"));
}

#[tokio::test]
async fn broken_transaction_bodies_get_matrix_errors_and_are_not_stored() {
    let api = Api::start().await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("not json", b"hello".to_vec(), StatusCode::BAD_REQUEST, "M_NOT_JSON"),
        (
            "truncated",
            br#"{"events": [{"type": "m.room"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "M_NOT_JSON",
        ),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST, "M_NOT_JSON"),
        (
            "invalid utf-8",
            b"{\"events\": [\"\xff\xfe\"]}".to_vec(),
            StatusCode::BAD_REQUEST,
            "M_NOT_JSON",
        ),
        ("wrong type", br#"{"events": "many"}"#.to_vec(), StatusCode::BAD_REQUEST, "M_BAD_JSON"),
        ("missing events", br#"{"ephemeral": []}"#.to_vec(), StatusCode::BAD_REQUEST, "M_BAD_JSON"),
        ("array body", b"[1,2,3]".to_vec(), StatusCode::BAD_REQUEST, "M_BAD_JSON"),
        (
            "events of numbers",
            br#"{"events": [1, 2]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "M_BAD_JSON",
        ),
    ];
    for (name, body, status, code) in cases {
        let (got_status, got_body) = api.put_txn("9", body).await;
        assert_eq!((got_status, errcode(&got_body)), (status, code), "case {name}: {got_body}");
    }
    // Nested far beyond serde_json's recursion limit: a clear 400, not a crash.
    let nested = format!("{{\"events\": [{}]}}", "[".repeat(10_000) + &"]".repeat(10_000));
    let (status, body) = api.put_txn("10", nested).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(api.stored_transactions().await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let api = Api::start().await;
    let big = format!("{{\"events\": [], \"pad\": \"{}\"}}", "x".repeat(MAX_BODY + 1));
    let (status, body) = api.put_txn("11", big).await;
    assert_eq!((status, errcode(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE"));
    assert_eq!(api.stored_transactions().await, 0);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let api = Api::start().await;
    let (status, body) = api.get("/_matrix/app/v1/nothing-here").await;
    assert_eq!((status, errcode(&body)), (StatusCode::NOT_FOUND, "M_UNRECOGNIZED"));
    let (status, body) = api.call(Method::GET, "/", None, None).await;
    assert_eq!((status, errcode(&body)), (StatusCode::NOT_FOUND, "M_UNRECOGNIZED"));
    let (status, body) = api.get("/_matrix/app/v1/transactions/1").await;
    assert_eq!((status, errcode(&body)), (StatusCode::METHOD_NOT_ALLOWED, "M_UNRECOGNIZED"));
}

#[tokio::test]
async fn user_and_room_queries_outside_our_namespace_are_404() {
    let api = Api::start().await;
    for user in
        ["@alice:example.org", "@wa_491701234567:elsewhere.net", "@wa_notdigits:example.org"]
    {
        let (status, body) = api.get(&format!("/_matrix/app/v1/users/{}", urlencode(user))).await;
        assert_eq!((status, errcode(&body)), (StatusCode::NOT_FOUND, "M_NOT_FOUND"), "{user}");
    }
    let (status, body) = api.get("/_matrix/app/v1/users/not-a-user-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) =
        api.get(&format!("/_matrix/app/v1/rooms/{}", urlencode("#wa_1234567:example.org"))).await;
    assert_eq!((status, errcode(&body)), (StatusCode::NOT_FOUND, "M_NOT_FOUND"));
}

#[tokio::test]
async fn third_party_protocol_describes_phone_numbers() {
    let api = Api::start().await;
    let (status, body) = api.get("/_matrix/app/v1/thirdparty/protocol/whatsapp").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_fields"], json!(["phone"]));
    assert!(body["field_types"]["phone"]["regexp"].as_str().unwrap().contains("[0-9]"));
    assert_eq!(body["instances"][0]["network_id"], "whatsapp");
    let (status, body) = api.get("/_matrix/app/v1/thirdparty/protocol/irc").await;
    assert_eq!((status, errcode(&body)), (StatusCode::NOT_FOUND, "M_NOT_FOUND"));
}

#[tokio::test]
async fn third_party_user_lookups_both_ways() {
    let api = Api::start().await;
    let (status, body) =
        api.get("/_matrix/app/v1/thirdparty/user/whatsapp?phone=%2B491701234567").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["userid"], "@wa_491701234567:example.org");
    assert_eq!(body[0]["fields"]["phone"], "+491701234567");
    let (_, body) = api.get("/_matrix/app/v1/thirdparty/user/whatsapp?phone=garbage").await;
    assert_eq!(body, json!([]));
    let (status, body) =
        api.get("/_matrix/app/v1/thirdparty/user?userid=%40wa_491701234567%3Aexample.org").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["fields"]["phone"], "+491701234567");
    let (status, _) =
        api.get("/_matrix/app/v1/thirdparty/user?userid=%40alice%3Aexample.org").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/_matrix/app/v1/thirdparty/user").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn third_party_locations() {
    let api = Api::start().await;
    let (status, body) = api.get("/_matrix/app/v1/thirdparty/location/whatsapp").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, _) =
        api.get("/_matrix/app/v1/thirdparty/location?alias=%23wa_1%3Aexample.org").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
