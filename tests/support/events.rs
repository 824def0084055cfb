//! Small helpers for the predicates tests pass to `TestUser::wait_for`.

use ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent};

/// The `body` of an `m.room.message` (any msgtype), or `None` for other or redacted events.
pub fn message_body(event: &AnySyncTimelineEvent) -> Option<&str> {
    match event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(message),
        )) => Some(message.content.body()),
        _ => None,
    }
}

/// One line describing an event for failure messages: type, sender and message body if any.
pub(super) fn describe(event: &AnySyncTimelineEvent) -> String {
    match message_body(event) {
        Some(body) => format!("{} from {}: {body:?}", event.event_type(), event.sender()),
        None => format!("{} from {}", event.event_type(), event.sender()),
    }
}
