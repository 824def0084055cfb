//! The one HTTP client the bridge talks to the outside world with: the homeserver, the
//! gatekeeper's API and its media host.
//!
//! Redirects are followed only within the origin they start from. Every URL the bridge fetches
//! is checked against the configured hosts first (the gatekeeper's media host for media and
//! avatars); a redirect to anywhere else would turn the bridge into an open fetcher for whoever
//! controls a response, so it ends the request instead.

use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};

/// Redirects followed at most, within one origin.
const MAX_REDIRECTS: usize = 5;

/// Builds the client: timeouts, kept-alive connections, same-origin redirects only.
pub fn build() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(Policy::custom(same_origin))
        .build()
}

fn same_origin(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else { return attempt.stop() };
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    if attempt.url().origin() == first.origin() {
        attempt.follow()
    } else {
        tracing::warn!(
            from = %first.origin().ascii_serialization(),
            to = %attempt.url().origin().ascii_serialization(),
            "refused a redirect to another host"
        );
        attempt.error("redirect to another host refused")
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, http::header::LOCATION, response::IntoResponse, routing::get};

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://127.0.0.1:{}", addr.port())
    }

    #[tokio::test]
    async fn redirects_are_followed_within_the_origin_and_refused_to_another_host() {
        let elsewhere = serve(Router::new().route("/secret", get(|| async { "elsewhere" }))).await;
        let target = format!("{elsewhere}/secret");
        let app =
            Router::new()
                .route("/blob", get(|| async { "the blob" }))
                .route(
                    "/moved",
                    get(|| async {
                        ([(LOCATION, "/blob")], axum::http::StatusCode::FOUND).into_response()
                    }),
                )
                .route(
                    "/away",
                    get(move || {
                        let target = target.clone();
                        async move {
                            ([(LOCATION, target)], axum::http::StatusCode::FOUND).into_response()
                        }
                    }),
                );
        let media_host = serve(app).await;
        let client = super::build().unwrap();

        let same = client.get(format!("{media_host}/moved")).send().await.unwrap();
        assert_eq!(same.text().await.unwrap(), "the blob");

        let away = client.get(format!("{media_host}/away")).send().await;
        let error = away.expect_err("a redirect to another host must fail");
        assert!(error.is_redirect(), "{error}");
    }
}
