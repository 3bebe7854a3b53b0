//! The web layer. For now: `/healthz` and `/metrics` (Prometheus text). The dashboard issue
//! builds the pages, login and API on this router.

use crate::telemetry::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The process's counters.
    pub metrics: Arc<Metrics>,
}

/// Every route, in one place.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn metrics_lists_the_required_series() {
        let m = Arc::new(Metrics::new(["syslog0".to_string()]));
        m.add_received(0, 3, 30);
        let app = router(AppState { metrics: m });
        let res = app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for name in [
            "picket_frames_received_total{listener=\"syslog0\"} 3",
            "picket_frames_dropped_total{reason=\"queue_full\"} 0",
            "picket_frames_truncated_total 0",
            "picket_events_parsed_total{parser=\"none\"} 0",
            "picket_events_stored_total 0",
            "picket_store_batch_seconds_bucket",
            "picket_tcp_connections 0",
        ] {
            assert!(text.contains(name), "missing {name}");
        }
        let res = app
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
