//! The third-party lookup routes: clients discover the gatekeeper network as a protocol whose
//! users are found by phone number.

use std::{collections::BTreeMap, sync::Arc};

use axum::{Json, extract::State};
use ruma::{
    api::appservice::thirdparty::{
        get_location_for_protocol, get_location_for_room_alias,
        get_protocol::{self, v1::AppserviceProtocolInstance},
        get_user_for_protocol, get_user_for_user_id,
    },
    thirdparty::{FieldType, FieldTypeInit, Protocol, ProtocolInit, ProtocolInstanceInit, User},
};
use serde_json::Value;

use super::{AppserviceState, error::MatrixHttpError, ruma_request::Ruma};
use crate::matrix::ghost_id;

/// The protocol's one user field.
const PHONE_FIELD: &str = "phone";
/// E.164: a plus and up to 15 digits, the first not zero.
const PHONE_REGEXP: &str = r"^\+[1-9][0-9]{6,14}$";

fn to_json<T: serde::Serialize>(value: &T) -> Result<Json<Value>, MatrixHttpError> {
    serde_json::to_value(value).map(Json).map_err(|e| MatrixHttpError::internal(e.to_string()))
}

fn check_protocol(state: &AppserviceState, protocol: &str) -> Result<(), MatrixHttpError> {
    if protocol == state.protocol_id {
        Ok(())
    } else {
        Err(MatrixHttpError::not_found(format!("No protocol named {protocol:?}")))
    }
}

/// The gatekeeper-internal id of the phone-number user with this E.164 number.
pub fn phone_to_gatekeeper_id(phone: &str) -> Option<String> {
    let digits = phone.trim().strip_prefix('+')?;
    let valid = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| ghost_id::phone_remote_id(digits))
}

pub async fn protocol(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<get_protocol::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    check_protocol(&state, &request.protocol)?;
    let field = FieldType::from(FieldTypeInit {
        regexp: PHONE_REGEXP.to_owned(),
        placeholder: "+491701234567".to_owned(),
    });
    let instance = AppserviceProtocolInstance::from(ProtocolInstanceInit {
        desc: state.network_name.clone(),
        fields: BTreeMap::new(),
        network_id: state.protocol_id.clone(),
    });
    let protocol: Protocol<AppserviceProtocolInstance> = ProtocolInit {
        user_fields: vec![PHONE_FIELD.to_owned()],
        location_fields: vec![],
        icon: String::new(),
        field_types: BTreeMap::from([(PHONE_FIELD.to_owned(), field)]),
        instances: vec![instance],
    }
    .into();
    to_json(&protocol)
}

pub async fn user_for_protocol(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<get_user_for_protocol::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    check_protocol(&state, &request.protocol)?;
    let Some(phone) = request.fields.get(PHONE_FIELD) else {
        return to_json(&Vec::<User>::new());
    };
    let users: Vec<User> = phone_to_gatekeeper_id(phone)
        .and_then(|id| state.ghosts.user_id_for(&id))
        .map(|userid| {
            User::new(
                userid,
                state.protocol_id.clone(),
                BTreeMap::from([(PHONE_FIELD.to_owned(), phone.clone())]),
            )
        })
        .into_iter()
        .collect();
    to_json(&users)
}

pub async fn user_for_user_id(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<get_user_for_user_id::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    let Some(id) = state.ghosts.gatekeeper_id_of(&request.userid) else {
        return Err(MatrixHttpError::not_found("Not a user of this bridge"));
    };
    let Some(digits) = ghost_id::phone_digits(&id) else {
        return Err(MatrixHttpError::not_found("This contact has no phone number"));
    };
    let phone = format!("+{digits}");
    to_json(&vec![User::new(
        request.userid,
        state.protocol_id.clone(),
        BTreeMap::from([(PHONE_FIELD.to_owned(), phone)]),
    )])
}

pub async fn location_for_protocol(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<get_location_for_protocol::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    check_protocol(&state, &request.protocol)?;
    // Locations are group chats; there are none to look up until groups are bridged.
    to_json(&Vec::<Value>::new())
}

pub async fn location_for_alias(
    State(_state): State<Arc<AppserviceState>>,
    Ruma { .. }: Ruma<get_location_for_room_alias::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    Err(MatrixHttpError::not_found("No location for this alias"))
}

#[cfg(test)]
mod tests {
    use super::phone_to_gatekeeper_id;

    #[test]
    fn phone_numbers_become_digit_ids() {
        assert_eq!(phone_to_gatekeeper_id("+491701234567").as_deref(), Some("491701234567@native"));
        assert_eq!(phone_to_gatekeeper_id("491701234567"), None);
        assert_eq!(phone_to_gatekeeper_id("+0123456789"), None);
        assert_eq!(phone_to_gatekeeper_id("+49 170"), None);
        assert_eq!(phone_to_gatekeeper_id("+1234567890123456"), None);
    }
}
