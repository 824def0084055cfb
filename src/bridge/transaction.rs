//! The body of a stored homeserver transaction, read for processing.
//!
//! Events stay as `Raw` until the handler that owns them deserialises them, so one event we
//! cannot read does not hide the rest. Ephemeral events come under `ephemeral` or, from older
//! homeservers, the MSC2409 name; to-device events are kept for end-to-bridge encryption.

use ruma::{
    api::appservice::event::push_events::v1::EphemeralData, events::AnyTimelineEvent, serde::Raw,
};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
pub struct TransactionBody {
    #[serde(default)]
    pub events: Vec<Raw<AnyTimelineEvent>>,
    #[serde(default)]
    ephemeral: Vec<Raw<EphemeralData>>,
    #[serde(default, rename = "de.sorunome.msc2409.ephemeral")]
    ephemeral_legacy: Vec<Raw<EphemeralData>>,
    #[serde(default, rename = "de.sorunome.msc2409.to_device")]
    pub to_device: Vec<Box<RawValue>>,
}

impl TransactionBody {
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The ephemeral events, from whichever field the homeserver used.
    pub fn ephemeral(&self) -> &[Raw<EphemeralData>] {
        if self.ephemeral.is_empty() { &self.ephemeral_legacy } else { &self.ephemeral }
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionBody;

    #[test]
    fn reads_current_and_legacy_ephemeral_fields() {
        let current = r#"{"events":[],"ephemeral":[{"type":"m.typing","room_id":"!a","content":{"user_ids":[]}}]}"#;
        assert_eq!(TransactionBody::parse(current).unwrap().ephemeral().len(), 1);
        let legacy = r#"{"events":[],"de.sorunome.msc2409.ephemeral":[{"type":"m.typing","room_id":"!a","content":{"user_ids":[]}}],"de.sorunome.msc2409.to_device":[{"type":"m.room_key"}]}"#;
        let body = TransactionBody::parse(legacy).unwrap();
        assert_eq!(body.ephemeral().len(), 1);
        assert_eq!(body.to_device.len(), 1);
    }

    #[test]
    fn unknown_events_are_kept_raw() {
        let body = TransactionBody::parse(r#"{"events":[{"type":"com.example.x","content":{}}]}"#)
            .unwrap();
        assert_eq!(body.events.len(), 1);
    }
}
