//! One error type for every handler, after axum's error-handling example: a handler returns
//! `Result<_, WebError>` (pages) or `Result<_, ApiError>` (the JSON API) and uses `?`.
//!
//! A client error (400, 401, 403, 404, 409) says what is wrong. A server error logs its cause
//! and sends only "internal error": SQLite messages, file paths and lock failures are for the
//! log, not for whoever sent the request.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request failed.
#[derive(Debug)]
pub enum WebError {
    /// The request is malformed; the text says how.
    BadRequest(String),
    /// No or unknown credentials.
    Unauthorized(&'static str),
    /// Known, but not allowed to do this.
    Forbidden(String),
    /// There is no such thing.
    NotFound(&'static str),
    /// The thing cannot go to the state asked for.
    Conflict(String),
    /// Picket failed; the cause is logged, never sent.
    Internal(String),
}

impl WebError {
    /// A server-side failure, from anything that can say what went wrong.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        WebError::Internal(cause.to_string())
    }

    /// The status and the text a client may see. An internal cause is logged here, once per
    /// failed request.
    fn parts(self) -> (StatusCode, String) {
        match self {
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            WebError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_string()),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.to_string()),
            WebError::Conflict(m) => (StatusCode::CONFLICT, m),
            WebError::Internal(cause) => {
                tracing::error!(error = %cause, "A web request failed.");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.parts().into_response()
    }
}

/// A store failure: a missing item is a 404, anything else a logged 500.
impl From<crate::store::Error> for WebError {
    fn from(e: crate::store::Error) -> Self {
        match e {
            crate::store::Error::NotFound(_) => WebError::NotFound("not found"),
            other => WebError::internal(other),
        }
    }
}

/// An alert-book failure keeps its meaning: no such alert (404), a change its state does not
/// allow (409), an unknown state name (400); the store's own failure is a logged 500.
impl From<crate::alerts::Error> for WebError {
    fn from(e: crate::alerts::Error) -> Self {
        use crate::alerts::Error as E;
        match e {
            E::NotFound(_) => WebError::NotFound("no such alert"),
            e @ E::Transition { .. } => WebError::Conflict(e.to_string()),
            e @ E::State(_) => WebError::BadRequest(e.to_string()),
            E::Store(s) => s.into(),
        }
    }
}

/// A user-store failure: what the user got wrong is a 400, a missing user a 404, the store's
/// own failure (or hashing, or randomness) a logged 500.
impl From<crate::auth::Error> for WebError {
    fn from(e: crate::auth::Error) -> Self {
        use crate::auth::Error as E;
        match e {
            e @ (E::Invalid(_) | E::Exists(_) | E::Role(_)) => WebError::BadRequest(e.to_string()),
            E::NoUser(_) => WebError::NotFound("no such user"),
            E::Store(s) => s.into(),
            other => WebError::internal(other),
        }
    }
}

/// [`WebError`] as the API sends it: `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, text) = self.0.parts();
        (status, Json(serde_json::json!({ "error": text }))).into_response()
    }
}

/// Runs blocking work (SQLite, a std mutex) off the async worker threads, which the TCP
/// listeners share. Its error keeps its meaning (a missing alert stays a 404); a panic in it
/// becomes a logged 500.
pub async fn blocking<T: Send + 'static, E: Into<WebError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, WebError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(WebError::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (StatusCode, String) {
        let st = r.status();
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (st, String::from_utf8(b.to_vec()).unwrap())
    }

    /// A server error's cause (SQLite's text, a path) goes to the log only; a client error
    /// keeps its reason and its status, 404 included.
    #[tokio::test]
    async fn internal_causes_stay_in_the_log_and_client_errors_keep_their_reason() {
        let cause = "no such table: alerts (/var/lib/picket/alerts.db)";
        let (st, text) = body(ApiError(WebError::internal(cause)).into_response()).await;
        assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(text, r#"{"error":"internal error"}"#);
        let (st, text) = body(WebError::internal(cause).into_response()).await;
        assert_eq!(
            (st, text.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        );
        let (st, text) = body(ApiError(WebError::NotFound("no such alert")).into_response()).await;
        assert_eq!(
            (st, text.as_str()),
            (StatusCode::NOT_FOUND, r#"{"error":"no such alert"}"#)
        );
        let (st, _) = body(ApiError(WebError::Conflict("x".into())).into_response()).await;
        assert_eq!(st, StatusCode::CONFLICT);
        let failed = blocking(move || Err::<(), _>(WebError::internal(cause)))
            .await
            .unwrap_err();
        let (st, text) = body(ApiError(failed).into_response()).await;
        assert!(
            st.is_server_error() && !text.contains("alerts.db"),
            "{text}"
        );
    }
}
