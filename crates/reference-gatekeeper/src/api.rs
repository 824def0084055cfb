//! JSON bodies of the native-user HTTP API (not part of the interop
//! protocol: it is how the gatekeeper's own app talks to its own server),
//! shared by the server and the `gk` client.

use interop_proto::enlist::WireSignedPrekey;
use serde::{Deserialize, Serialize};

pub const REGISTER_PATH: &str = "v1/native/register";
pub const OPT_IN_PATH: &str = "v1/native/opt-in";
pub const MEDIA_PATH: &str = "v1/media";
pub const PARTNER_MEDIA_PATH: &str = "v1/partner-media";

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(serde::de::Error::custom)
    }
}

fn b64_list_ser<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for k in v {
        seq.serialize_element(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k))?;
    }
    seq.end()
}

fn b64_list_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    use base64::Engine as _;
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .map_err(serde::de::Error::custom)
        })
        .collect()
}

/// `POST /v1/native/register`: a new install of the native app. Registering
/// an existing number again replaces its keys (a reinstall) and tells its
/// contacts about the identity change.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// E.164.
    pub phone: String,
    pub name: String,
    /// Profile picture bytes, optional.
    #[serde(with = "b64", default, skip_serializing_if = "Vec::is_empty")]
    pub avatar: Vec<u8>,
    /// Noise static public key the app will connect with.
    #[serde(with = "b64")]
    pub authkey: Vec<u8>,
    #[serde(with = "b64")]
    pub identity_key: Vec<u8>,
    #[serde(with = "b64")]
    pub signing_key: Vec<u8>,
    pub signed_prekey: WireSignedPrekey,
    #[serde(serialize_with = "b64_list_ser", deserialize_with = "b64_list_de", default)]
    pub one_time_keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("phone", &self.phone)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The internal id, `<digits>@native`.
    pub user: String,
    /// Access token for the channel (`NativeAuth.token`) and the HTTP API (Bearer). Secret.
    pub token: String,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegisterResponse {{ user: {:?}, token: <redacted> }}", self.user)
    }
}

/// `POST /v1/native/opt-in` (Bearer): the user's choice for one partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptInRequest {
    pub partner: String,
    /// `separate`, `combined`, or `none` to opt out.
    pub inbox: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaUploaded {
    /// Absolute URL of the blob on the media host.
    pub url: String,
}

/// Error body of the native API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub message: String,
}
