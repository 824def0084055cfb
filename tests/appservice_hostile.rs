//! Hostile and broken input on every Application Service API route, over real HTTP: each
//! answer is a 4xx with a Matrix `errcode` (or a well-formed answer), the server keeps serving,
//! nothing broken is stored, and a good transaction afterwards is stored as usual.
//! (`tests/appservice_api.rs` has the ordinary cases; `tests/bridge_hostile.rs` what the
//! worker then does with stored hostile events.)

mod appservice_support;

use appservice_support::{Api, HS_TOKEN, MAX_BODY, errcode, message_event, urlencode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Asserts a refusal: a 4xx whose body is a Matrix error.
fn assert_matrix_error(case: &str, status: StatusCode, body: &Value) {
    assert!(status.is_client_error(), "{case}: {status} {body}");
    assert!(errcode(body).starts_with("M_"), "{case}: no errcode in {body}");
    assert!(body["error"].is_string(), "{case}: no error text in {body}");
}

/// Deep nesting of every kind, in every place a route reads JSON.
fn nested_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = 100_000;
    vec![
        ("100k open brackets", "[".repeat(deep).into_bytes()),
        ("100k open braces", "{\"a\":".repeat(deep).into_bytes()),
        (
            "100k brackets in events",
            format!("{{\"events\": [{}]}}", "[".repeat(deep) + &"]".repeat(deep)).into_bytes(),
        ),
        (
            "100k objects in an event's content",
            format!(
                "{{\"events\": [{{\"type\": \"m.room.message\", \"content\": {}1{}}}]}}",
                "{\"a\":".repeat(deep),
                "}".repeat(deep)
            )
            .into_bytes(),
        ),
    ]
}

#[tokio::test]
async fn malformed_transactions_are_refused_and_a_good_one_still_goes_through() {
    let api = Api::start().await;
    let good = json!({"events": [message_event(1)], "ephemeral": []}).to_string();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("a JSON string".into(), b"\"events\"".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("a number".into(), b"12".to_vec()),
        ("trailing garbage".into(), format!("{good} {{").into_bytes()),
        ("two objects".into(), format!("{good}{good}").into_bytes()),
        ("a NUL byte".into(), b"{\"events\": []}\0".to_vec()),
        ("a BOM".into(), [&[0xef, 0xbb, 0xbf][..], good.as_bytes()].concat()),
        ("invalid escape".into(), br#"{"events": [], "x": "\q"}"#.to_vec()),
        ("truncated escape".into(), br#"{"events": [], "x": "\u12"}"#.to_vec()),
        ("events null".into(), br#"{"events": null}"#.to_vec()),
        ("events an object".into(), br#"{"events": {"0": {}}}"#.to_vec()),
        ("an event that is a string".into(), br#"{"events": ["{}"]}"#.to_vec()),
        ("an event that is null".into(), br#"{"events": [null]}"#.to_vec()),
        ("ephemeral of numbers".into(), br#"{"events": [], "ephemeral": [1]}"#.to_vec()),
        ("ephemeral a string".into(), br#"{"events": [], "ephemeral": "x"}"#.to_vec()),
        // ruma does not read the legacy field, the worker does: refused, not stored and skipped.
        (
            "legacy ephemeral a number".into(),
            format!(r#"{{"events": [{}], "de.sorunome.msc2409.ephemeral": 1}}"#, message_event(2))
                .into_bytes(),
        ),
        (
            "legacy ephemeral of strings".into(),
            br#"{"events": [], "de.sorunome.msc2409.ephemeral": ["x"]}"#.to_vec(),
        ),
        (
            "legacy to-device an object".into(),
            br#"{"events": [], "de.sorunome.msc2409.to_device": {}}"#.to_vec(),
        ),
        ("duplicate events".into(), br#"{"events": [], "events": []}"#.to_vec()),
    ];
    // Every truncation of a good transaction.
    for cut in (1..good.len()).step_by(7) {
        cases.push((format!("cut at {cut}"), good.as_bytes()[..cut].to_vec()));
    }
    for (name, body) in nested_bodies() {
        cases.push((name.into(), body));
    }
    for (n, (name, body)) in cases.into_iter().enumerate() {
        let (status, answer) = api.put_txn(&format!("bad{n}"), body).await;
        assert_matrix_error(&name, status, &answer);
    }
    assert_eq!(api.stored_transactions().await, 0, "nothing malformed is stored");

    // Too large, by a little and by a lot, with and without a declared length.
    for size in [MAX_BODY + 1, 8 * MAX_BODY] {
        let big = format!("{{\"events\": [], \"pad\": \"{}\"}}", "x".repeat(size));
        let (status, answer) = api.put_txn("big", big).await;
        assert_eq!(errcode(&answer), "M_TOO_LARGE", "{status}");
    }
    assert_eq!(chunked_put(&api, 2 * MAX_BODY).await, 413, "a chunked body over the limit");

    // The server is unharmed: a good transaction is stored.
    assert_eq!(api.put_txn("good", good).await, (StatusCode::OK, json!({})));
    assert_eq!(api.stored_transactions().await, 1);
}

/// PUTs a transaction of `size` bytes in 8 KiB chunks with no `Content-Length`, as raw HTTP,
/// and returns the status code.
async fn chunked_put(api: &Api, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "PUT /_matrix/app/v1/transactions/chunked HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {HS_TOKEN}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("2000\r\n{}\r\n", "[".repeat(0x2000));
    for _ in 0..size.div_ceil(0x2000) {
        // The server may answer and close before reading it all.
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    // The status line is all we need; the connection may stay open after it.
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read_status = async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read_status).await;
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn odd_but_valid_events_are_stored_for_the_worker_to_judge() {
    let api = Api::start().await;
    // Well-formed JSON objects that are not valid events are the worker's to ignore (each with a
    // log line), so one bad event never costs the others in its transaction.
    let events = json!([
        {"type": "m.room.message"},
        {"type": "m.room.message", "event_id": "$1", "room_id": "!r:example.org",
         "sender": "@alice:example.org", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "LONE-SURROGATE"}},
        {"type": 7, "content": []},
        {"type": "m.room.message", "event_id": "not an id", "room_id": 5, "sender": "nobody",
         "origin_server_ts": -1, "content": {"msgtype": "m.text", "body": "x".repeat(40_000)}},
        {"type": "m.room.message", "event_id": "$2", "room_id": "!r:example.org",
         "sender": "@alice:example.org", "origin_server_ts": 1,
         "content": {"msgtype": "m.text", "body": "<script>alert(1)</script>",
                     "format": "org.matrix.custom.html",
                     "formatted_body": "<b><i><script>alert(1)</script></b></i><a href=\"javascript:x\">"}},
        message_event(3),
    ]);
    // A lone surrogate escape (`"\udc00"`) is valid JSON syntax, but no string can hold it.
    let text = json!({"events": events}).to_string().replace("LONE-SURROGATE", "\\udc00");
    let (status, body) = api.put_txn("odd", text).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let raw = r#"{"events":[{"type":"m.room.message","content":{"body":"\udc00\ud800"}}]}"#;
    assert_eq!(api.put_txn("surrogates", raw).await.0, StatusCode::OK);
    assert_eq!(api.stored_transactions().await, 2);
}

#[tokio::test]
async fn ping_and_query_routes_refuse_broken_input_with_matrix_errors() {
    let api = Api::start().await;
    let ping = "/_matrix/app/v1/ping";
    let mut bodies: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"ping".to_vec()),
        ("truncated", br#"{"transaction_id": "#.to_vec()),
        ("wrong type", br#"{"transaction_id": 5}"#.to_vec()),
        ("an array", b"[]".to_vec()),
        ("invalid utf-8", b"{\"transaction_id\": \"\xff\"}".to_vec()),
    ];
    bodies.extend(nested_bodies());
    for (name, body) in bodies {
        let (status, answer) = api.call(Method::POST, ping, Some(HS_TOKEN), Some(body)).await;
        assert_matrix_error(name, status, &answer);
    }
    let big = format!("{{\"transaction_id\": \"{}\"}}", "x".repeat(MAX_BODY + 1));
    let (status, answer) = api.call(Method::POST, ping, Some(HS_TOKEN), Some(big.into())).await;
    assert_eq!((status, errcode(&answer)), (StatusCode::PAYLOAD_TOO_LARGE, "M_TOO_LARGE"));

    // Identifiers and query strings: invalid, percent-encoded garbage, huge, or missing.
    let long = "a".repeat(20_000);
    let paths = [
        "/_matrix/app/v1/users/%FF%FE".to_owned(),
        "/_matrix/app/v1/users/%40".to_owned(),
        "/_matrix/app/v1/users/%40%00%3Aexample.org".to_owned(),
        format!("/_matrix/app/v1/users/{}", urlencode(&format!("@{long}:example.org"))),
        "/_matrix/app/v1/rooms/%FF".to_owned(),
        "/_matrix/app/v1/rooms/not-an-alias".to_owned(),
        format!("/_matrix/app/v1/rooms/{}", urlencode(&format!("#{long}:example.org"))),
        "/_matrix/app/v1/thirdparty/user?userid=%FF".to_owned(),
        "/_matrix/app/v1/thirdparty/user?userid=not-a-user".to_owned(),
        "/_matrix/app/v1/thirdparty/location?alias=%FF".to_owned(),
        "/_matrix/app/v1/thirdparty/location".to_owned(),
        "/_matrix/app/v1/thirdparty/protocol/%FF".to_owned(),
        "/_matrix/app/v1/../app/v1/ping".to_owned(),
        "/_matrix/app/v1/transactions/".to_owned(),
    ];
    for path in &paths {
        let (status, answer) = api.get(path).await;
        let shown = &path[..path.len().min(80)];
        assert_matrix_error(shown, status, &answer);
    }
    // A lookup with a huge or odd phone number finds nobody; that is an answer, not an error.
    for phone in [long.as_str(), "+%00", "%2B1%E2%80%AE2", "%2B%2B1701"] {
        let path = format!("/_matrix/app/v1/thirdparty/user/whatsapp?phone={phone}");
        let (status, answer) = api.get(&path).await;
        assert!(status == StatusCode::OK && answer == json!([]), "{status} {answer}");
    }
    // Still serving.
    let (status, _) = api.call(Method::POST, ping, Some(HS_TOKEN), Some(b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let api = Api::start().await;
    // Without the token, a broken body is answered 401 or 403, not judged.
    let big = vec![b'['; MAX_BODY / 2];
    for (token, code) in [(None, "M_UNAUTHORIZED"), (Some("wrong"), "M_FORBIDDEN")] {
        let (_, answer) =
            api.call(Method::PUT, "/_matrix/app/v1/transactions/1", token, Some(big.clone())).await;
        assert_eq!(errcode(&answer), code);
    }
    for path in [
        "/_matrix/app/v1/users/%40wa_1%3Aexample.org",
        "/_matrix/app/v1/rooms/%23wa_1%3Aexample.org",
        "/_matrix/app/v1/thirdparty/protocol/whatsapp",
        "/_matrix/app/v1/thirdparty/user/whatsapp?phone=1",
        "/_matrix/app/v1/thirdparty/user?userid=%40a%3Ab",
        "/_matrix/app/v1/thirdparty/location/whatsapp",
        "/_matrix/app/v1/thirdparty/location?alias=%23a%3Ab",
        "/users/%40wa_1%3Aexample.org",
        "/rooms/%23wa_1%3Aexample.org",
    ] {
        let (status, answer) = api.call(Method::GET, path, None, None).await;
        assert_eq!(
            (status, errcode(&answer)),
            (StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED"),
            "{path}"
        );
        let (status, _) = api.call(Method::GET, path, Some("wrong"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // A token in both places must be the right one where it is read (the header).
    let path = format!("/_matrix/app/v1/ping?access_token={HS_TOKEN}");
    let (status, _) = api.call(Method::POST, &path, Some("wrong"), Some(b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(api.stored_transactions().await, 0);
}
