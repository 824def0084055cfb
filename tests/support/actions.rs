//! What a Matrix user does besides sending messages: redact, type, mark as read, upload files,
//! read room state. Each is one typed ruma request through the user's client.

use std::time::Duration;

use anyhow::Context;
use ruma::{
    EventId, OwnedEventId, OwnedMxcUri, RoomId, TransactionId,
    api::client::{
        authenticated_media::get_content, media::create_content, receipt::create_receipt,
        redact::redact_event, state::get_state_event_for_key, typing::create_typing_event,
    },
    events::{StateEventType, receipt::ReceiptThread},
};

use super::TestUser;

impl TestUser {
    pub async fn redact(&self, room: &RoomId, event: &EventId) -> anyhow::Result<OwnedEventId> {
        let request =
            redact_event::v3::Request::new(room.to_owned(), event.to_owned(), TransactionId::new());
        Ok(self.client().send(request).await.context("redacting")?.event_id)
    }

    pub async fn typing(&self, room: &RoomId, on: bool) -> anyhow::Result<()> {
        use create_typing_event::v3::{Request, Typing, TypingInfo};
        let state =
            if on { Typing::Yes(TypingInfo::new(Duration::from_secs(30))) } else { Typing::No };
        self.client()
            .send(Request::new(self.user_id().to_owned(), room.to_owned(), state))
            .await
            .context("typing")?;
        Ok(())
    }

    pub async fn read_up_to(&self, room: &RoomId, event: &EventId) -> anyhow::Result<()> {
        let mut request = create_receipt::v3::Request::new(
            room.to_owned(),
            create_receipt::v3::ReceiptType::Read,
            event.to_owned(),
        );
        request.thread = ReceiptThread::Unthreaded;
        self.client().send(request).await.context("read receipt")?;
        Ok(())
    }

    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        mime: &str,
        name: &str,
    ) -> anyhow::Result<OwnedMxcUri> {
        let mut request = create_content::v3::Request::new(bytes);
        request.content_type = Some(mime.to_owned());
        request.filename = Some(name.to_owned());
        Ok(self.client().send(request).await.context("upload")?.content_uri)
    }

    pub async fn download(&self, uri: &ruma::MxcUri) -> anyhow::Result<Vec<u8>> {
        let request = get_content::v1::Request::from_uri(uri)?;
        Ok(self.client().send(request).await.context("download")?.file)
    }

    /// The content of one state event, as JSON (`None` if absent).
    pub async fn state(
        &self,
        room: &RoomId,
        event_type: StateEventType,
        state_key: &str,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let request = get_state_event_for_key::v3::Request::new(
            room.to_owned(),
            event_type,
            state_key.to_owned(),
        );
        match self.client().send(request).await {
            Ok(response) => Ok(Some(serde_json::from_str(response.event_or_content.get())?)),
            Err(error) if error.kind() == Some(&ruma::api::error::ErrorKind::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
