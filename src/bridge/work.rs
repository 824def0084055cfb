//! What a portal's queue holds: one piece of work, from either side, as stored JSON.
//!
//! Remote content is kept as its protobuf bytes (base64), exactly as decrypted, so replaying
//! work after a crash converts the same input again.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use interop_proto::content::Content;
use ruma::{events::AnyTimelineEvent, serde::Raw};
use serde::{Deserialize, Serialize};

use crate::gatekeeper::RemoteEvent;

// Externally tagged: an internally tagged enum buffers its fields, which a raw Matrix event
// (kept as `Raw`, unparsed) cannot go through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortalWork {
    /// Open the portal (`start-chat`); nothing else.
    Open,
    /// A Matrix event in the portal room, as the homeserver sent it.
    Matrix { event: Raw<AnyTimelineEvent> },
    /// A decrypted message from the contact.
    RemoteMessage { from: String, id: String, timestamp_ms: u64, content: String },
    /// A message from the contact that could not be decrypted.
    RemoteUndecryptable { from: String, id: String, timestamp_ms: u64 },
    /// The contact received or read our messages.
    RemoteReceipt { from: String, ids: Vec<String>, read: bool },
    /// The contact's security code changed.
    IdentityChanged { contact: String },
}

impl PortalWork {
    /// The queued form of a remote event, with its chat and de-duplication key; `None` for
    /// events that are not portal work (typing, delivery receipts, connection state,
    /// capabilities).
    pub fn from_remote(owner: &str, event: &RemoteEvent) -> Option<(String, String, Self)> {
        Some(match event {
            RemoteEvent::Message { from, id, timestamp_ms, content } => (
                from.clone(),
                format!("rm|{owner}|{from}|{id}"),
                PortalWork::RemoteMessage {
                    from: from.clone(),
                    id: id.clone(),
                    timestamp_ms: *timestamp_ms,
                    content: STANDARD.encode(content.encode()),
                },
            ),
            RemoteEvent::Undecryptable { from, id, timestamp_ms } => (
                from.clone(),
                format!("rm|{owner}|{from}|{id}"),
                PortalWork::RemoteUndecryptable {
                    from: from.clone(),
                    id: id.clone(),
                    timestamp_ms: *timestamp_ms,
                },
            ),
            // Matrix has no delivery receipts: nothing to store or do.
            RemoteEvent::Receipt { read: false, .. } => return None,
            RemoteEvent::Receipt { from, ids, read } => (
                from.clone(),
                format!("rr|{owner}|{from}|{}|{read}", ids.join(",")),
                PortalWork::RemoteReceipt { from: from.clone(), ids: ids.clone(), read: *read },
            ),
            RemoteEvent::IdentityChanged { contact } => (
                contact.clone(),
                format!("ic|{owner}|{contact}|{}", crate::store::now_ms()),
                PortalWork::IdentityChanged { contact: contact.clone() },
            ),
            RemoteEvent::Typing { .. }
            | RemoteEvent::CapabilitiesChanged(_)
            | RemoteEvent::Connection(_) => return None,
        })
    }

    /// Decodes stored remote content. It is not validated here: the conversion shows content
    /// of an unknown kind or newer version by its text fallback (protocol §8.2).
    pub fn decode_content(encoded: &str) -> Result<Content, String> {
        let bytes = STANDARD.decode(encoded).map_err(|e| e.to_string())?;
        if bytes.len() > interop_proto::content::MAX_CONTENT_SIZE {
            return Err(format!("content of {} bytes is too large", bytes.len()));
        }
        <Content as prost::Message>::decode(bytes.as_slice()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_messages_round_trip_and_dedupe_by_sender_and_id() {
        let event = RemoteEvent::Message {
            from: "491@native".into(),
            id: "ABC".into(),
            timestamp_ms: 5,
            content: Box::new(Content::text("hi")),
        };
        let (chat, key, work) = PortalWork::from_remote("@a:x", &event).unwrap();
        assert_eq!(chat, "491@native");
        assert_eq!(key, "rm|@a:x|491@native|ABC");
        let json = serde_json::to_string(&work).unwrap();
        let PortalWork::RemoteMessage { content, .. } = serde_json::from_str(&json).unwrap() else {
            panic!("{json}")
        };
        assert_eq!(PortalWork::decode_content(&content).unwrap().text, "hi");
        assert!(PortalWork::decode_content("!!").is_err());
    }

    #[test]
    fn read_receipts_are_work_and_delivery_receipts_are_not() {
        let receipt =
            |read| RemoteEvent::Receipt { from: "491@native".into(), ids: vec!["A".into()], read };
        let (chat, key, _) = PortalWork::from_remote("@a:x", &receipt(true)).unwrap();
        assert_eq!((chat.as_str(), key.as_str()), ("491@native", "rr|@a:x|491@native|A|true"));
        assert!(PortalWork::from_remote("@a:x", &receipt(false)).is_none());
    }

    #[test]
    fn matrix_events_and_open_round_trip() {
        let event = r#"{"type":"m.room.message","event_id":"$e","room_id":"!r","sender":"@a:x","origin_server_ts":1,"content":{"msgtype":"m.text","body":"hi"}}"#;
        let work = PortalWork::Matrix { event: serde_json::from_str(event).unwrap() };
        let json = serde_json::to_string(&work).unwrap();
        let PortalWork::Matrix { event } = serde_json::from_str(&json).unwrap() else {
            panic!("{json}")
        };
        assert_eq!(event.get_field::<String>("event_id").unwrap().as_deref(), Some("$e"));
        let json = serde_json::to_string(&PortalWork::Open).unwrap();
        assert!(matches!(serde_json::from_str(&json).unwrap(), PortalWork::Open));
    }
}
