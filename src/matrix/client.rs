//! A small Matrix client-server API client for an application service.
//!
//! Every call goes through [`MatrixClient::send`], which takes any ruma endpoint type, so callers
//! work with typed requests and responses instead of loose JSON. The client acts as the bridge bot
//! by default and as a ghost with [`MatrixClient::as_user`] (the `?user_id=` masquerading of the
//! Application Service API). Rate limits (`M_LIMIT_EXCEEDED`) are honoured with the server's
//! `retry_after_ms`; transport errors are retried a few times with backoff, which is safe because
//! every state-changing call the bridge makes carries an idempotency key (a `txnId`).

use std::{borrow::Cow, sync::Arc, time::Duration};

use ruma::{
    OwnedUserId, UserId,
    api::{
        AppserviceUserIdentity, IncomingResponse, OutgoingRequest, OutgoingRequestAppserviceExt,
        SupportedVersions,
        auth_scheme::{AuthScheme, SendAccessToken},
        client::discovery::get_supported_versions,
        error::{ErrorKind, FromHttpResponseError, IntoHttpError, RetryAfter},
        path_builder::{PathBuilder, SinglePath, VersionHistory},
    },
};

/// The error type of every client-server endpoint.
pub type ApiError = ruma::api::error::Error;

/// How many times a rate-limited or transport-failed request is retried before giving up.
const MAX_ATTEMPTS: u32 = 6;
/// The longest we wait for one rate-limit back-off, whatever the server asks.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What can go wrong when calling the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("could not build the request: {0}")]
    IntoHttp(#[from] IntoHttpError),
    #[error("could not reach the homeserver: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the homeserver refused the request: {0}")]
    Api(ApiError),
    #[error("the homeserver sent a response we could not read: {0}")]
    Deserialize(String),
    #[error("the homeserver asked for interactive authentication")]
    AuthRequired,
}

/// Turns an endpoint's error type into a [`MatrixError`], so `send` serves endpoints with plain
/// errors and those with user-interactive auth alike.
pub trait IntoMatrixError: ruma::api::EndpointError {
    fn into_matrix_error(self) -> MatrixError;
}

impl IntoMatrixError for ApiError {
    fn into_matrix_error(self) -> MatrixError {
        MatrixError::Api(self)
    }
}

impl IntoMatrixError for ruma::api::client::uiaa::UiaaResponse {
    fn into_matrix_error(self) -> MatrixError {
        match self {
            Self::MatrixError(error) => MatrixError::Api(error),
            Self::AuthResponse(_) => MatrixError::AuthRequired,
        }
    }
}

impl MatrixError {
    /// The Matrix error kind, when the homeserver answered with a standard error body.
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self {
            MatrixError::Api(error) => error.error_kind(),
            _ => None,
        }
    }
}

/// Chooses the path-builder input for an endpoint, so one generic `send` serves every endpoint.
pub trait PathInput: PathBuilder {
    fn input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for SinglePath {
    fn input(_: &SupportedVersions) -> Self::Input<'_> {}
}

impl PathInput for VersionHistory {
    fn input(versions: &SupportedVersions) -> Self::Input<'_> {
        Cow::Borrowed(versions)
    }
}

/// A handle on the homeserver's client-server API. Cheap to clone.
#[derive(Clone)]
pub struct MatrixClient {
    inner: Arc<Inner>,
    /// The user to act as (`?user_id=`); `None` acts as the token's own user.
    acting_as: Option<OwnedUserId>,
}

struct Inner {
    http: reqwest::Client,
    homeserver: String,
    access_token: String,
    versions: SupportedVersions,
}

impl std::fmt::Debug for MatrixClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The access token is a secret and must never reach a log line.
        f.debug_struct("MatrixClient")
            .field("homeserver", &self.inner.homeserver)
            .field("acting_as", &self.acting_as)
            .finish_non_exhaustive()
    }
}

impl MatrixClient {
    /// A client for `homeserver` (e.g. `http://127.0.0.1:8008`) using `access_token`, which for
    /// the bridge is the appservice's `as_token`.
    pub fn new(http: reqwest::Client, homeserver: &str, access_token: &str) -> Self {
        // Until `/versions` has been asked, assume the spec versions every current homeserver has.
        let versions = SupportedVersions::from_parts(&["v1.11".to_owned()], &Default::default());
        Self {
            inner: Arc::new(Inner {
                http,
                homeserver: homeserver.trim_end_matches('/').to_owned(),
                access_token: access_token.to_owned(),
                versions,
            }),
            acting_as: None,
        }
    }

    /// Asks the homeserver which spec versions it supports and returns a client that builds
    /// paths accordingly.
    pub async fn with_server_versions(self) -> Result<Self, MatrixError> {
        let response = self.send(get_supported_versions::Request::new()).await?;
        let versions = response.as_supported_versions();
        Ok(Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                homeserver: self.inner.homeserver.clone(),
                access_token: self.inner.access_token.clone(),
                versions,
            }),
            acting_as: self.acting_as,
        })
    }

    /// The same client, acting as `user_id` (a ghost in the appservice's namespace).
    pub fn as_user(&self, user_id: &UserId) -> Self {
        Self { inner: self.inner.clone(), acting_as: Some(user_id.to_owned()) }
    }

    pub fn homeserver(&self) -> &str {
        &self.inner.homeserver
    }

    /// Sends one request, retrying rate limits and transport failures.
    pub async fn send<R>(&self, request: R) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest,
        R::EndpointError: IntoMatrixError,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        self.send_with(request, Retry::Transient).await
    }

    /// Sends one request, retrying the failures `retry` names.
    pub async fn send_with<R>(
        &self,
        request: R,
        retry: Retry,
    ) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest,
        R::EndpointError: IntoMatrixError,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(request.clone()).await {
                Ok(response) => return Ok(response),
                Err(error) if attempt < MAX_ATTEMPTS => {
                    let Some(delay) = retry_delay(&error, attempt, retry) else {
                        return Err(error);
                    };
                    tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "retrying homeserver request");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn send_once<R>(&self, request: R) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest,
        R::EndpointError: IntoMatrixError,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let token = SendAccessToken::Always(&self.inner.access_token);
        let path_input = R::PathBuilder::input(&self.inner.versions);
        let http_request: http::Request<Vec<u8>> = match self.acting_as.as_deref() {
            Some(user_id) => request.try_into_http_request_with_identity(
                &self.inner.homeserver,
                token,
                AppserviceUserIdentity::new(user_id),
                path_input,
            )?,
            None => request.try_into_http_request(&self.inner.homeserver, token, path_input)?,
        };
        let request = reqwest::Request::try_from(http_request)?;
        let response = self.inner.http.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        let mut http_response = http::Response::new(body);
        *http_response.status_mut() = status;
        *http_response.headers_mut() = headers;
        R::IncomingResponse::try_from_http_response(http_response).map_err(|error| match error {
            FromHttpResponseError::Server(error) => error.into_matrix_error(),
            other => MatrixError::Deserialize(other.to_string()),
        })
    }
}

/// Which failures [`MatrixClient::send_with`] retries by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Rate limits, transport failures and server errors: right for reads, and for writes the
    /// homeserver de-duplicates for as long as it runs (a `txnId`).
    Transient,
    /// Rate limits only. A transport failure or server error may come *after* the homeserver
    /// stored the event (it restarted while answering); a blind retry then reaches a server
    /// that forgot the `txnId` and stores it twice. The caller checks first (`bridge::once`).
    RateLimitsOnly,
}

/// How long to wait before retrying `error`, or `None` when a retry would not help.
fn retry_delay(error: &MatrixError, attempt: u32, retry: Retry) -> Option<Duration> {
    match error {
        MatrixError::Transport(_) if retry == Retry::RateLimitsOnly => None,
        MatrixError::Api(api)
            if retry == Retry::RateLimitsOnly && api.status_code.is_server_error() =>
        {
            None
        }
        MatrixError::Transport(_) => Some(backoff(attempt)),
        MatrixError::Api(api) => match api.error_kind() {
            Some(ErrorKind::LimitExceeded(data)) => Some(match data.retry_after {
                Some(RetryAfter::Delay(delay)) => delay.min(MAX_RETRY_AFTER),
                Some(RetryAfter::DateTime(at)) => at
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default()
                    .min(MAX_RETRY_AFTER),
                None => backoff(attempt),
            }),
            _ if api.status_code.is_server_error() => Some(backoff(attempt)),
            _ => None,
        },
        _ => None,
    }
}

/// Exponential back-off starting at 200 ms, capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, body: &str) -> MatrixError {
        use ruma::api::EndpointError as _;
        let response = http::Response::builder().status(status).body(body.as_bytes()).unwrap();
        MatrixError::Api(ApiError::from_http_response(response))
    }

    #[test]
    fn rate_limits_wait_as_asked_and_unsure_failures_are_left_to_the_caller() {
        let limited = api_error(
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":1500}"#,
        );
        assert_eq!(retry_delay(&limited, 1, Retry::Transient), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_delay(&limited, 1, Retry::RateLimitsOnly),
            Some(Duration::from_millis(1500))
        );
        let huge =
            api_error(429, r#"{"errcode":"M_LIMIT_EXCEEDED","error":"x","retry_after_ms":600000}"#);
        assert_eq!(retry_delay(&huge, 1, Retry::Transient), Some(MAX_RETRY_AFTER));
        let down = api_error(502, r#"{"errcode":"M_UNKNOWN","error":"bad gateway"}"#);
        assert_eq!(retry_delay(&down, 2, Retry::Transient), Some(backoff(2)));
        assert_eq!(retry_delay(&down, 2, Retry::RateLimitsOnly), None);
        let forbidden = api_error(403, r#"{"errcode":"M_FORBIDDEN","error":"no"}"#);
        assert_eq!(retry_delay(&forbidden, 1, Retry::Transient), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) < backoff(2));
        assert_eq!(backoff(30), Duration::from_secs(10));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let client = MatrixClient::new(reqwest::Client::new(), "http://hs", "secret-token-123");
        assert!(!format!("{client:?}").contains("secret-token-123"));
    }
}
