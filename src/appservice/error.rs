//! Matrix-style error responses (`{"errcode": …, "error": …}`) for every way a request can fail.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ruma::api::error::{DeserializationError, FromHttpRequestError};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixHttpError {
    pub status: StatusCode,
    pub errcode: &'static str,
    pub message: String,
}

impl MatrixHttpError {
    pub fn new(status: StatusCode, errcode: &'static str, message: impl Into<String>) -> Self {
        Self { status, errcode, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
    }

    pub fn unrecognized() -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_UNRECOGNIZED", "Unrecognized request")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "M_TOO_LARGE",
            format!("Request body is larger than {limit} bytes"),
        )
    }

    /// Classifies a ruma parse failure: broken JSON is `M_NOT_JSON`, well-formed JSON of the
    /// wrong shape is `M_BAD_JSON`, a bad identifier or query is `M_INVALID_PARAM`.
    pub fn from_ruma(error: FromHttpRequestError) -> Self {
        match error {
            FromHttpRequestError::Deserialization(DeserializationError::Json(json)) => {
                Self::from_json(&json)
            }
            FromHttpRequestError::Deserialization(DeserializationError::Utf8(e)) => {
                Self::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", format!("Body is not UTF-8: {e}"))
            }
            FromHttpRequestError::MethodMismatch { .. } => {
                Self::new(StatusCode::METHOD_NOT_ALLOWED, "M_UNRECOGNIZED", "Method not allowed")
            }
            other => Self::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", other.to_string()),
        }
    }

    pub fn from_json(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => Self::new(
                StatusCode::BAD_REQUEST,
                "M_BAD_JSON",
                format!("Malformed request: {error}"),
            ),
            Category::Syntax | Category::Eof | Category::Io => Self::new(
                StatusCode::BAD_REQUEST,
                "M_NOT_JSON",
                format!("Body is not valid JSON: {error}"),
            ),
        }
    }
}

impl IntoResponse for MatrixHttpError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "errcode": self.errcode, "error": self.message })))
            .into_response()
    }
}

/// The answer to any route we do not serve.
pub async fn unrecognized() -> MatrixHttpError {
    MatrixHttpError::unrecognized()
}

/// The answer to a known route called with the wrong method.
pub async fn method_not_allowed() -> MatrixHttpError {
    MatrixHttpError::new(StatusCode::METHOD_NOT_ALLOWED, "M_UNRECOGNIZED", "Method not allowed")
}
