//! Tests of the dashboard and API in-process: logins, CSRF, roles, pages, headers and errors.

use super::api;
use super::text;
use super::*;
use crate::alerts::{NoRoutes, Recorded};
use crate::auth::Role;
use crate::model::{Checkpoint, Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::store::EventWriter;
use crate::store::sqlite::{Options, SqliteStore};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn metrics_lists_the_required_series() {
    let m = Arc::new(Metrics::new(["syslog0".to_string()]));
    m.add_received(0, 3, 30);
    let app = router(AppState {
        metrics: m,
        dash: None,
    });
    let res = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = body(res).await;
    for name in [
        "picket_frames_received_total{listener=\"syslog0\"} 3",
        "picket_frames_dropped_total{reason=\"queue_full\"} 0",
        "picket_frames_truncated_total 0",
        "picket_events_parsed_total{parser=\"none\"} 0",
        "picket_events_stored_total 0",
        "picket_store_batch_seconds_bucket",
        "picket_tcp_connections 0",
        "picket_rules_evaluated_total 0",
        "picket_notify_dead_total 0",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    let res = app
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// True when `page` holds `text` HTML-escaped (named or numeric entities).
fn escaped(page: &str, text: &str) -> bool {
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let numeric = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;");
    page.contains(&named) || page.contains(&numeric)
}

async fn body(res: axum::response::Response) -> String {
    let b = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .unwrap();
    String::from_utf8(b.to_vec()).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    app: Router,
    dash: Dashboard,
    alert_id: i64,
}

const XSS: &str = "<script>alert(1)</script>\"'&";

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store"), Options::default()).unwrap();
    let metrics = Arc::new(Metrics::new(["syslog0".to_string()]));
    let mut w = store
        .writer(vec!["syslog0".into()], metrics.clone())
        .unwrap();
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let ev = chain.parse(&Frame {
        bytes: format!("<38>Nov 22 10:00:00 web1 sshd[1]: Failed password for {XSS} from 203.0.113.7 port 4000 ssh2 \u{7}bell").into(),
        peer: "192.0.2.1:514".parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at: crate::model::clock::now_micros(),
        truncated: false,
    });
    let mut ev = ev;
    ev.timestamp = crate::model::clock::now_micros();
    let first = w.write_batch(&[ev], Checkpoint::default()).unwrap();
    // Closing folds the overview's counters into their tables.
    Box::new(w).close().unwrap();
    let users = Arc::new(Users::open(dir.path()).unwrap());
    for (n, r) in [
        ("ana", Role::Analyst),
        ("vic", Role::Viewer),
        ("adm", Role::Admin),
    ] {
        users.add(n, "password-1234", r, "test").unwrap();
    }
    let mut alerts = crate::alerts::open(dir.path()).unwrap();
    let Recorded::Raised(alert_id) = alerts
        .record(
            &crate::model::alert::Firing {
                rule_id: "r".into(),
                title: format!("Rule {XSS}"),
                level: crate::model::alert::Level::High,
                tags: vec![],
                kind: "detection",
                group: vec![("source.ip".into(), "203.0.113.7".into())],
                events: vec![first],
                count: 1,
                at: crate::model::clock::now_micros(),
                trigger: first,
            },
            0,
            50,
            &NoRoutes,
        )
        .unwrap()
    else {
        panic!("not raised")
    };
    let dash = Dashboard {
        users,
        reader: Arc::new(store.reader()),
        alerts: Arc::new(Mutex::new(alerts)),
        router: Arc::new(NoRoutes),
        secure_cookie: false,
        tls_peers: Default::default(),
        trusted_proxies: vec!["127.0.0.9/32".parse().unwrap()],
        rules: Arc::new(rule_book()),
    };
    let app = router(AppState {
        metrics,
        dash: Some(dash.clone()),
    });
    Fixture {
        dir,
        app,
        dash,
        alert_id,
    }
}

/// The starter rules and one broken file.
fn rule_book() -> RuleBook {
    let mut files: Vec<(&str, &str)> = crate::rules::STARTER_RULES.to_vec();
    files.push(("broken.yml", "title: broken\ndetection: ["));
    let (rules, problems) = crate::rules::Rules::from_yaml(&files, 1000);
    RuleBook {
        running: true,
        meta: rules.meta.clone(),
        sources: rules.sources.clone(),
        problems,
        disabled: Default::default(),
    }
}

async fn login(f: &Fixture, user: &str) -> (String, String) {
    let res = f
        .app
        .clone()
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("user={user}&password=password-1234")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("picket_session=")
        .to_string();
    let csrf = f.dash.users.session(&token).unwrap().unwrap().csrf;
    (format!("picket_session={token}"), csrf)
}

/// A request without a body, with the session cookie if given.
async fn send(
    f: &Fixture,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> axum::response::Response {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    f.app
        .clone()
        .oneshot(r.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn get(f: &Fixture, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let res = send(f, "GET", path, cookie).await;
    let st = res.status();
    (st, body(res).await)
}

async fn post(f: &Fixture, path: &str, cookie: &str, form: &str) -> StatusCode {
    f.app
        .clone()
        .oneshot(
            Request::post(path)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_page_needs_a_session() {
    let f = fixture();
    for p in [
        "/",
        "/search?q=x",
        "/alerts",
        &format!("/alerts/{}", f.alert_id),
        "/events/1",
        "/search/histogram.svg?q=x",
        "/tail",
        "/tail/stream",
        "/export?format=csv",
        "/rules",
        "/rules/x",
        "/senders",
        "/snmp",
        "/users",
        "/account",
    ] {
        let res = f
            .app
            .clone()
            .oneshot(Request::get(p).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{p}");
        assert_eq!(res.headers().get("location").unwrap(), "/login", "{p}");
    }
    // Forms that change state, with every field they read, but no session.
    let form = "csrf=x&to=acknowledged&comment=c&sender=s&confirm=s&name=n&url=%2Fsearch&action=begin&code=1&user=u&password=p&role=viewer";
    for p in [
        format!("/alerts/{}/state", f.alert_id),
        "/rules/x/enabled".into(),
        "/senders/forget".into(),
        "/searches".into(),
        "/searches/1/delete".into(),
        "/account/totp".into(),
        "/users".into(),
        "/users/vic/disable".into(),
        "/tokens".into(),
        "/tokens/t/revoke".into(),
    ] {
        let res = f
            .app
            .clone()
            .oneshot(
                Request::post(p.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "POST {p}");
        assert_eq!(res.headers().get("location").unwrap(), "/login", "{p}");
    }
    let (st, _) = get(&f, "/", Some("picket_session=forged")).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, page) = get(&f, "/login", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("<form method=\"post\" action=\"/login\">"));
    let res = f
        .app
        .clone()
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("user=ana&password=wrong-password"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_render_with_a_session_and_escape_what_they_show() {
    let f = fixture();
    let (cookie, _) = login(&f, "vic").await;
    let (st, page) = get(&f, "/", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Overview") && page.contains("192.0.2.1"));
    // The chart has the event, and the top lists link to searches.
    assert!(page.contains("<rect class=\"sev-i\""), "{page}");
    assert!(
        page.contains("q=source.ip%3A%22203.0.113.7%22\">203.0.113.7</a>"),
        "{page}"
    );
    // The query, the stored message and the alert title are escaped, control bytes shown.
    let (st, page) = get(
        &f,
        "/search?q=password+%3Cscript%3Ealert(2)%3C%2Fscript%3E",
        Some(&cookie),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("<script>alert(2)</script>"), "{page}");
    assert!(escaped(&page, "<script>alert(2)"), "{page}");
    let (_, page) = get(&f, "/search?q=password", Some(&cookie)).await;
    assert!(page.contains("1 event(s)"), "{page}");
    assert!(!escaped(&page, "value=\"<script>"));
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(escaped(&page, "<script>alert(1)</script>"), "{page}");
    assert!(page.contains("\\x07bell"));
    let (_, page) = get(&f, "/alerts", Some(&cookie)).await;
    assert!(escaped(&page, "Rule <script>") && !page.contains("Rule <script>"));
    let (st, page) = get(&f, &format!("/alerts/{}", f.alert_id), Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(escaped(&page, "Failed password for <script>"), "{page}");
    assert!(!page.contains("Acknowledge"), "a viewer gets no buttons");
    // SQL injection in a field value is just a value; a bad field is a clear error.
    let (st, page) = get(
        &f,
        "/search?q=host.name%3A%22x%27+OR+1%3D1+--%22",
        Some(&cookie),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("No events"));
    let (_, page) = get(&f, "/search?q=source.port%3Aabc", Some(&cookie)).await;
    assert!(page.contains("holds numbers"));
}

#[tokio::test]
async fn changing_an_alert_needs_csrf_and_the_analyst_role() {
    let f = fixture();
    let path = format!("/alerts/{}/state", f.alert_id);
    let (viewer, vcsrf) = login(&f, "vic").await;
    let (analyst, acsrf) = login(&f, "ana").await;
    assert_eq!(
        post(&f, &path, &analyst, "to=acknowledged").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &f,
            &path,
            &analyst,
            &format!("to=acknowledged&csrf={vcsrf}")
        )
        .await,
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    assert_eq!(
        post(&f, &path, &viewer, &format!("to=acknowledged&csrf={vcsrf}")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &f,
            &path,
            &analyst,
            &format!("to=acknowledged&csrf={acsrf}&comment=mine")
        )
        .await,
        StatusCode::SEE_OTHER
    );
    let a = f
        .dash
        .alerts
        .lock()
        .unwrap()
        .get(f.alert_id)
        .unwrap()
        .unwrap();
    assert_eq!(a.state, "acknowledged");
    let trail = f.dash.alerts.lock().unwrap().audit(f.alert_id).unwrap();
    assert_eq!(trail.last().unwrap().actor, "ana");
    // A comment alone keeps the state and joins the history; an empty one is refused.
    assert_eq!(
        post(
            &f,
            &path,
            &analyst,
            &format!("to=comment&csrf={acsrf}&comment=still+looking")
        )
        .await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(
            &f,
            &path,
            &analyst,
            &format!("to=comment&csrf={acsrf}&comment=+")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let log = f.dash.users.audit_log(50).unwrap();
    assert!(
        log.iter()
            .any(|l| l.1 == "ana" && l.2 == "alert_acknowledged"),
        "{log:?}"
    );
    let trail = f.dash.alerts.lock().unwrap().audit(f.alert_id).unwrap();
    let last = trail.last().unwrap();
    assert_eq!(last.comment.as_deref(), Some("still looking"));
    assert_eq!(
        f.dash
            .alerts
            .lock()
            .unwrap()
            .get(f.alert_id)
            .unwrap()
            .unwrap()
            .state,
        "acknowledged"
    );
    assert_eq!(
        post(
            &f,
            &path,
            &analyst,
            &format!("to=acknowledged&csrf={acsrf}")
        )
        .await,
        StatusCode::CONFLICT
    );
    // Logging out needs the token too, and ends the session.
    assert_eq!(
        post(&f, "/logout", &analyst, "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&f, "/logout", &analyst, &format!("csrf={acsrf}")).await,
        StatusCode::SEE_OTHER
    );
    let (st, _) = get(&f, "/", Some(&analyst)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn export_streams_csv_and_ndjson_with_escaping() {
    let f = fixture();
    let (cookie, _) = login(&f, "vic").await;
    let (st, _) = get(&f, "/export?format=csv&q=password", None).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, csv) = get(&f, "/export?format=csv&q=password&range=24h", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("@timestamp,observer.ip,host.name"));
    // The message has a quote and a comma-free payload: quoted with doubled quotes.
    assert!(
        lines[1].contains("\"Failed password for <script>alert(1)</script>\"\"'&"),
        "{csv}"
    );
    let (st, nd) = get(&f, "/export?format=ndjson&q=password", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    assert_eq!(v["source.ip"], "203.0.113.7");
    let (st, _) = get(&f, "/export?format=csv&q=source.port%3Aabc", Some(&cookie)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn live_tail_sends_new_events_only() {
    use futures_util::StreamExt;
    let f = fixture();
    let (cookie, _) = login(&f, "vic").await;
    let (st, page) = get(&f, "/tail?q=%3C%2Fscript%3E", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        !page.contains("var q = \"</script>"),
        "the query cannot close the script"
    );
    let res = f
        .app
        .clone()
        .oneshot(
            Request::get("/tail/stream?q=tailmarker")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut body = res.into_body().into_data_stream();
    // A new event after the stream started.
    let store = SqliteStore::open(&f.dir.path().join("store"), Options::default()).unwrap();
    let m = Arc::new(Metrics::new(["syslog0".to_string()]));
    let mut w = store.writer(vec!["syslog0".into()], m).unwrap();
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let mut ev = chain.parse(&Frame {
        bytes: "<14>Nov 22 10:00:00 h app: tailmarker one".into(),
        peer: "192.0.2.2:514".parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at: crate::model::clock::now_micros(),
        truncated: false,
    });
    ev.timestamp = crate::model::clock::now_micros();
    w.write_batch(&[ev], Checkpoint::default()).unwrap();
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !got.contains("tailmarker one") {
        let chunk = tokio::time::timeout_at(deadline, body.next()).await;
        match chunk {
            Ok(Some(Ok(b))) => got.push_str(&String::from_utf8_lossy(&b)),
            other => panic!("no tail event: {got} {other:?}"),
        }
    }
    assert!(got.contains("event: event"));
    assert!(
        !got.contains("Failed password"),
        "older events are not sent"
    );
}

async fn api(
    f: &Fixture,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String) {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => r
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    }
    .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    let st = res.status();
    (st, body_text(res).await)
}

async fn body_text(res: axum::response::Response) -> String {
    body(res).await
}

#[tokio::test]
async fn the_api_needs_a_token_scoped_by_role_and_matches_its_openapi_document() {
    let f = fixture();
    let viewer = f.dash.users.add_token("ro", Role::Viewer, "test").unwrap();
    let analyst = f.dash.users.add_token("rw", Role::Analyst, "test").unwrap();
    let id = f.alert_id;
    let (_, listed) = api(&f, "GET", "/api/v1/events?q=password", Some(&viewer), None).await;
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let event_id = v["events"][0]["picket.id"].as_i64().unwrap();
    // Aggregations: exact counts, a top list, a histogram, and clear errors.
    let (st, body) = api(
        &f,
        "GET",
        "/api/v1/aggregate?q=password&kind=count",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let agg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agg["kind"], "count");
    assert!(agg["count"].as_u64().unwrap() >= 1, "{agg}");
    let (st, body) = api(
        &f,
        "GET",
        "/api/v1/aggregate?kind=top&field=host.name&size=5",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let agg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!agg["values"].as_array().unwrap().is_empty(), "{agg}");
    let (st, body) = api(
        &f,
        "GET",
        "/api/v1/aggregate?kind=histogram&from=-30d",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let agg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(agg["interval"].as_i64().unwrap() > 0, "{agg}");
    for bad in [
        "kind=median",
        "kind=top",
        "kind=top&field=",
        "kind=histogram&interval=soon",
        "q=((",
    ] {
        let (st, body) = api(
            &f,
            "GET",
            &format!("/api/v1/aggregate?{bad}"),
            Some(&viewer),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The document lists exactly the routes, and every route answers as documented.
    let (st, doc) = api(&f, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, api::ROUTES.len());
    for (method, path, _, role) in api::ROUTES {
        assert!(
            paths[*path][*method].is_object(),
            "{method} {path} undocumented"
        );
        let concrete = path.replace(
            "{id}",
            &if path.starts_with("/api/v1/events") {
                event_id
            } else {
                id
            }
            .to_string(),
        );
        let m = method.to_uppercase();
        let body = (*method == "post").then_some("{\"to\": \"acknowledged\"}");
        let (st, _) = api(&f, &m, &concrete, None, body).await;
        assert_eq!(
            st,
            StatusCode::UNAUTHORIZED,
            "{m} {concrete} without a token"
        );
        let (st, _) = api(&f, &m, &concrete, Some("pk_forged"), body).await;
        assert_eq!(
            st,
            StatusCode::UNAUTHORIZED,
            "{m} {concrete} with a forged token"
        );
        let (st, text) = api(&f, &m, &concrete, Some(&viewer), body).await;
        if *role == Role::Viewer {
            assert_eq!(st, StatusCode::OK, "{m} {concrete}: {text}");
        } else {
            assert_eq!(
                st,
                StatusCode::FORBIDDEN,
                "a read-only token cannot write: {m} {concrete}"
            );
        }
    }
    let (st, text) = api(
        &f,
        "POST",
        &format!("/api/v1/alerts/{id}/state"),
        Some(&analyst),
        Some("{\"to\": \"acknowledged\", \"comment\": \"api\"}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let trail = f.dash.alerts.lock().unwrap().audit(id).unwrap();
    assert_eq!(trail.last().unwrap().actor, "token:rw");
    // Injection attempts are values; bad input is a 400 with the reason.
    let (st, text) = api(
        &f,
        "GET",
        "/api/v1/events?q=host.name%3A%22x%27%3B+DROP+TABLE+events%3B--%22",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(text, "{\"events\":[],\"next\":null}");
    let (st, text) = api(
        &f,
        "GET",
        "/api/v1/events?q=source.port%3Aabc",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(text.contains("holds numbers"));
    let (st, _) = api(&f, "GET", "/api/v1/events?q=password", Some(&viewer), None).await;
    assert_eq!(st, StatusCode::OK, "the table is still there");
    assert_eq!(f.dash.users.tokens().unwrap().len(), 2);
}

#[tokio::test]
async fn only_admins_manage_users_and_tokens() {
    let f = fixture();
    let (analyst, acsrf) = login(&f, "ana").await;
    let (admin, csrf) = login(&f, "adm").await;
    let (st, _) = get(&f, "/users", Some(&analyst)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        post(
            &f,
            "/users",
            &analyst,
            &format!("csrf={acsrf}&name=eve&role=admin&password=password-1234")
        )
        .await,
        StatusCode::FORBIDDEN,
        "an analyst cannot manage users"
    );
    assert_eq!(
        post(
            &f,
            "/users",
            &admin,
            "name=eve&role=viewer&password=password-1234"
        )
        .await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    let (st, page) = get(&f, "/users", Some(&admin)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("ana") && page.contains("Security log"));
    assert_eq!(
        post(
            &f,
            "/users",
            &admin,
            &format!("csrf={csrf}&name=eve&role=viewer&password=password-1234")
        )
        .await,
        StatusCode::OK
    );
    assert!(f.dash.users.list().unwrap().iter().any(|u| u.name == "eve"));
    assert_eq!(
        post(&f, "/users/ana/disable", &admin, &format!("csrf={csrf}")).await,
        StatusCode::OK
    );
    let (st, _) = get(&f, "/", Some(&analyst)).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "a disabled user's session ends");
    assert_eq!(
        post(
            &f,
            "/tokens",
            &admin,
            &format!("csrf={csrf}&name=ci&role=viewer")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(f.dash.users.tokens().unwrap().len(), 1);
    assert_eq!(
        post(&f, "/tokens/ci/revoke", &admin, &format!("csrf={csrf}")).await,
        StatusCode::OK
    );
    assert!(f.dash.users.tokens().unwrap().is_empty());
    let log = f.dash.users.audit_log(50).unwrap();
    for action in [
        "user_added",
        "user_disabled",
        "token_added",
        "token_revoked",
        "login",
    ] {
        assert!(
            log.iter().any(|(_, _, a, _)| a == action),
            "{action} not audited"
        );
    }
}

#[tokio::test]
async fn search_page_columns_filters_cursor_histogram_and_errors() {
    let f = fixture();
    let (cookie, _) = login(&f, "vic").await;
    // Chosen columns, each value a link that adds it as a filter.
    let (st, page) = get(
        &f,
        "/search?q=password&cols=host.name,source.ip,user.name",
        Some(&cookie),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("<th>source.ip</th>"), "{page}");
    assert!(
        page.contains("href=\"/search?q=password%20source.ip%3A%22203.0.113.7%22"),
        "{page}"
    );
    assert!(page.contains("/search/histogram.svg?q=password"), "{page}");
    // The filter link finds the event.
    let (_, page) = get(
        &f,
        "/search?q=password%20source.ip%3A%22203.0.113.7%22",
        Some(&cookie),
    )
    .await;
    assert!(page.contains("1 event(s)"), "{page}");
    // Keyset cursor: nothing is older than the only event.
    let ev = f
        .dash
        .reader
        .search(&crate::query::SearchQuery::parse("password", 1).unwrap())
        .unwrap()
        .remove(0);
    let cur = format!("{}_{}", ev.event.timestamp, ev.id);
    let (_, page) = get(
        &f,
        &format!("/search?q=password&before={cur}"),
        Some(&cookie),
    )
    .await;
    assert!(
        page.contains("No events") && page.contains("newest"),
        "{page}"
    );
    let later = format!("{}_{}", ev.event.timestamp + 1, ev.id);
    let (_, page) = get(
        &f,
        &format!("/search?q=password&before={later}"),
        Some(&cookie),
    )
    .await;
    assert!(page.contains("1 older event(s)"), "{page}");
    // The event page: fields grouped, related searches ±5 minutes, raw bytes shown safely.
    let (st, page) = get(&f, &format!("/events/{}", ev.id), Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("<h2>Network</h2>") && page.contains("<h2>Syslog header and source</h2>"),
        "{page}"
    );
    assert!(
        page.contains("Same source address (203.0.113.7), ±5 min"),
        "{page}"
    );
    assert!(
        page.contains("q=source.ip%3A%22203.0.113.7%22&amp;from=")
            || page.contains("q=source.ip%3A%22203.0.113.7%22&#38;from="),
        "{page}"
    );
    assert!(
        page.contains("\\x07bell") && !page.contains("\u{7}"),
        "{page}"
    );
    assert_eq!(text::visible_bytes(b"a\xff\x1bb\xc3\xa9"), "a\\xff\\x1bbé");
    // Absolute range that excludes the event.
    let (_, page) = get(
        &f,
        "/search?q=password&from=2001-01-01&to=2001-01-02",
        Some(&cookie),
    )
    .await;
    assert!(page.contains("No events"), "{page}");
    // The histogram: one bar, linking to the search narrowed to its bucket.
    let (st, svg) = get(
        &f,
        "/search/histogram.svg?q=password&range=1h",
        Some(&cookie),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
    assert!(
        svg.contains("target=\"_top\"") && svg.contains("&amp;from="),
        "{svg}"
    );
    assert!(svg.contains(": 1</title>"), "{svg}");
    let (_, svg) = get(
        &f,
        "/search/histogram.svg?q=nomatch&range=1h",
        Some(&cookie),
    )
    .await;
    assert_eq!(svg.matches("<rect").count(), 0);
    let (st, _) = get(&f, "/search/histogram.svg?q=password", None).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    // A query error says where, with a caret under the place.
    let (_, page) = get(&f, "/search?q=a%20AND%20(b", Some(&cookie)).await;
    assert!(page.contains("never closed (at character 6)"), "{page}");
    assert!(
        page.contains("<pre class=\"caret\">a AND (b\n      ^</pre>"),
        "{page}"
    );
}

#[tokio::test]
async fn rules_page_lists_switches_and_shows_sources_and_errors() {
    let f = fixture();
    let (viewer, vcsrf) = login(&f, "vic").await;
    let (st, page) = get(&f, "/rules", Some(&viewer)).await;
    assert_eq!(st, StatusCode::OK);
    let first = &f.dash.rules.meta[0];
    assert!(escaped(&page, &first.title), "{page}");
    assert!(
        page.contains("broken.yml"),
        "the load error is listed: {page}"
    );
    let (st, page) = get(&f, &format!("/rules/{}", first.id), Some(&viewer)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("detection:"), "the source is shown: {page}");
    assert!(!page.contains("Switch off"), "a viewer gets no button");
    let (st, _) = get(&f, "/rules/no-such-rule", Some(&viewer)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let path = format!("/rules/{}/enabled", first.id);
    // A viewer cannot switch rules; nobody can without the CSRF token.
    assert_eq!(
        post(&f, &path, &viewer, &format!("csrf={vcsrf}&to=off")).await,
        StatusCode::FORBIDDEN
    );
    let (analyst, acsrf) = login(&f, "ana").await;
    assert_eq!(
        post(&f, &path, &analyst, "to=off").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&f, &path, &analyst, &format!("csrf={acsrf}&to=off")).await,
        StatusCode::SEE_OTHER
    );
    assert!(f.dash.rules.disabled.read().unwrap().contains(&first.id));
    // Kept across restarts, and audited.
    let stored = crate::alerts::open(f.dir.path())
        .unwrap()
        .disabled_rules()
        .unwrap();
    assert!(stored.contains(&first.id));
    let log = f.dash.users.audit_log(20).unwrap();
    assert!(
        log.iter().any(|l| l.2 == "rule_disable" && l.3 == first.id),
        "{log:?}"
    );
    let (_, page) = get(&f, &format!("/rules/{}", first.id), Some(&analyst)).await;
    assert!(page.contains("Switch on"), "{page}");
    assert_eq!(
        post(&f, &path, &analyst, &format!("csrf={acsrf}&to=on")).await,
        StatusCode::SEE_OTHER
    );
    assert!(f.dash.rules.disabled.read().unwrap().is_empty());
}

#[tokio::test]
async fn senders_page_and_forgetting_a_sender_is_for_admins() {
    let f = fixture();
    let (viewer, vcsrf) = login(&f, "vic").await;
    let (st, page) = get(&f, "/senders", Some(&viewer)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("192.0.2.1") && !page.contains("Forget"),
        "{page}"
    );
    let form = |csrf: &str| format!("csrf={csrf}&sender=192.0.2.1&confirm=192.0.2.1");
    assert_eq!(
        post(&f, "/senders/forget", &viewer, &form(&vcsrf)).await,
        StatusCode::FORBIDDEN
    );
    let (admin, acsrf) = login(&f, "adm").await;
    let (_, page) = get(&f, "/senders", Some(&admin)).await;
    assert!(page.contains("Forget"), "{page}");
    assert_eq!(
        post(
            &f,
            "/senders/forget",
            &admin,
            "sender=192.0.2.1&confirm=192.0.2.1"
        )
        .await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        post(
            &f,
            "/senders/forget",
            &admin,
            &format!("csrf={acsrf}&sender=192.0.2.1&confirm=192.0.2.9")
        )
        .await,
        StatusCode::BAD_REQUEST,
        "the confirmation must repeat the sender"
    );
    assert_eq!(
        post(&f, "/senders/forget", &admin, &form(&acsrf)).await,
        StatusCode::SEE_OTHER
    );
    let left = f
        .dash
        .reader
        .search(&crate::query::SearchQuery::parse("*", 10).unwrap())
        .unwrap();
    assert!(left.is_empty());
    assert!(f.dash.reader.senders(1).unwrap().is_empty());
}

#[tokio::test]
async fn snmp_page_groups_traps_by_device_and_type() {
    let f = fixture();
    let (cookie, _) = login(&f, "vic").await;
    let (st, page) = get(&f, "/snmp", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("No traps"), "{page}");
}

async fn login_with(f: &Fixture, user: &str, code: &str) -> StatusCode {
    f.app
        .clone()
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "user={user}&password=password-1234&code={code}"
                )))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn totp_second_factor_set_up_used_once_and_turned_off() {
    use crate::auth::totp;
    let f = fixture();
    let (cookie, csrf) = login(&f, "ana").await;
    let (st, page) = get(&f, "/account", Some(&cookie)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Set up"), "{page}");
    assert_eq!(
        post(&f, "/account/totp", &cookie, "action=begin").await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        post(
            &f,
            "/account/totp",
            &cookie,
            &format!("csrf={csrf}&action=begin")
        )
        .await,
        StatusCode::SEE_OTHER
    );
    let totp::State::Pending(secret) = f.dash.users.totp_state("ana").unwrap() else {
        panic!("not pending")
    };
    let (_, page) = get(&f, "/account", Some(&cookie)).await;
    assert!(page.contains(&secret) && page.contains("otpauth://totp/Picket:ana"));
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let now = crate::model::clock::now_micros() / 1_000_000;
    let code_at = |t: i64| format!("{:06}", totp::code(&key, (t / 30) as u64, 6));
    // A wrong code does not turn it on; the right one does.
    let wrong = format!(
        "{:06}",
        (code_at(now).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    assert_eq!(
        post(
            &f,
            "/account/totp",
            &cookie,
            &format!("csrf={csrf}&action=confirm&code={wrong}")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            &f,
            "/account/totp",
            &cookie,
            &format!("csrf={csrf}&action=confirm&code={}", code_at(now))
        )
        .await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(f.dash.users.totp_state("ana").unwrap(), totp::State::On);
    // Now the password alone is not enough, and a code is good once.
    assert_eq!(login_with(&f, "ana", "").await, StatusCode::UNAUTHORIZED);
    // (Steps after the confirmed one; the test spans at most one 30-second boundary.)
    assert_eq!(
        login_with(&f, "ana", &code_at(now + 30)).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        login_with(&f, "ana", &code_at(now + 30)).await,
        StatusCode::UNAUTHORIZED
    );
    // Users without a second factor are unaffected.
    assert_eq!(login_with(&f, "vic", "").await, StatusCode::SEE_OTHER);
    // Turning it off needs a current code.
    assert_eq!(
        post(
            &f,
            "/account/totp",
            &cookie,
            &format!("csrf={csrf}&action=off&code=000000")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            &f,
            "/account/totp",
            &cookie,
            &format!("csrf={csrf}&action=off&code={}", code_at(now + 30))
        )
        .await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(f.dash.users.totp_state("ana").unwrap(), totp::State::Off);
    let log = f.dash.users.audit_log(50).unwrap();
    assert!(log.iter().any(|l| l.2 == "totp_enabled"));
    assert!(log.iter().any(|l| l.2 == "totp_disabled"));
}

#[tokio::test]
async fn saved_searches_are_per_user_or_shared() {
    let f = fixture();
    let (ana, acsrf) = login(&f, "ana").await;
    let (vic, vcsrf) = login(&f, "vic").await;
    let save = |csrf: &str, name: &str, shared: bool| {
        format!(
            "csrf={csrf}&name={name}&url=%2Fsearch%3Fq%3Dpassword%26range%3D7d{}",
            if shared { "&shared=1" } else { "" }
        )
    };
    assert_eq!(
        post(&f, "/searches", &ana, &save("", "mine", false)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&f, "/searches", &ana, &save(&acsrf, "mine", false)).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(&f, "/searches", &ana, &save(&acsrf, "team", true)).await,
        StatusCode::SEE_OTHER
    );
    // Only search page addresses can be saved.
    assert_eq!(
        post(
            &f,
            "/searches",
            &ana,
            &format!("csrf={acsrf}&name=x&url=https%3A%2F%2Fevil.example%2F")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let (_, page) = get(&f, "/search", Some(&ana)).await;
    assert!(
        page.contains(">mine</a>") && page.contains(">team</a>"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/search?q=password&#38;range=7d\"")
            || page.contains("href=\"/search?q=password&amp;range=7d\""),
        "{page}"
    );
    let (_, page) = get(&f, "/search", Some(&vic)).await;
    assert!(
        !page.contains(">mine</a>") && page.contains(">team</a>"),
        "{page}"
    );
    let team = f
        .dash
        .users
        .saved_searches("vic")
        .unwrap()
        .into_iter()
        .find(|s| s.name == "team")
        .unwrap();
    // Someone else's search cannot be deleted by a non-admin.
    assert_eq!(
        post(
            &f,
            &format!("/searches/{}/delete", team.id),
            &vic,
            &format!("csrf={vcsrf}")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &f,
            &format!("/searches/{}/delete", team.id),
            &ana,
            &format!("csrf={acsrf}")
        )
        .await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(f.dash.users.saved_searches("vic").unwrap().len(), 0);
}

/// Every route of the route table (read from `router`'s source, so a new route is covered at
/// once), logged in and not, GET and POST, carries every security header; `no-store` on all
/// but the static files.
#[tokio::test]
async fn every_route_sends_the_security_headers() {
    let f = fixture();
    let (cookie, _) = login(&f, "adm").await;
    let source = include_str!("mod.rs");
    let paths: Vec<String> = source
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|p| {
            p.replace("{id}", "1")
                .replace("{name}", "admin")
                .replace("{what}", "role")
        })
        .collect();
    assert!(paths.len() > 40, "{paths:?}");
    for path in &paths {
        for method in ["GET", "POST"] {
            for who in [None, Some(cookie.as_str())] {
                let res = send(&f, method, path, who).await;
                let h = res.headers();
                let what = format!("{method} {path} ({:?}) -> {}", who.is_some(), res.status());
                let csp = h
                    .get("content-security-policy")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("no CSP: {what}"));
                assert!(
                    csp.contains("default-src 'none'") || csp.contains("default-src 'self'"),
                    "{what}: {csp}"
                );
                assert!(
                    !csp.contains("unsafe-inline") || path.ends_with(".svg"),
                    "{what}: {csp}"
                );
                assert!(csp.contains("frame-ancestors"), "{what}: {csp}");
                assert_eq!(
                    h.get("x-content-type-options").unwrap(),
                    "nosniff",
                    "{what}"
                );
                let frame = h.get("x-frame-options").unwrap();
                assert!(
                    frame == "DENY" || (frame == "SAMEORIGIN" && path.ends_with(".svg")),
                    "{what}"
                );
                assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{what}");
                let cache = h
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap().to_string());
                if path.starts_with("/static/") {
                    assert_ne!(cache.as_deref(), Some("no-store"), "{what}");
                } else {
                    assert_eq!(cache.as_deref(), Some("no-store"), "{what}");
                }
            }
        }
    }
}

/// A login POST as if from `peer`, with these extra headers: (status, Set-Cookie).
async fn login_via(
    f: &Fixture,
    peer: &str,
    headers: &[(&str, &str)],
    password: &str,
) -> (StatusCode, String) {
    let mut r = Request::post("/login").header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let mut req = r
        .body(Body::from(format!("user=adm&password={password}")))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    let res = f.app.clone().oneshot(req).await.unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status(), cookie)
}

/// X-Forwarded-For and X-Forwarded-Proto are believed from web.trusted_proxies only: behind the
/// proxy the client's address is throttled (not the proxy's) and https makes the cookie Secure;
/// from anyone else the headers change nothing.
#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let f = fixture();
    let via = |client: &'static str| [("x-forwarded-for", client), ("x-forwarded-proto", "https")];
    let (st, cookie) = login_via(&f, "127.0.0.9", &via("203.0.113.1"), "password-1234").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(cookie.contains("; Secure"), "{cookie}");
    let (st, cookie) = login_via(&f, "127.0.0.5", &via("203.0.113.1"), "password-1234").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(
        !cookie.contains("Secure"),
        "not from a trusted proxy: {cookie}"
    );
    // A client behind the proxy that keeps failing is throttled by its own address ...
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = login_via(
            &f,
            "127.0.0.9",
            &via("10.9.9.9, 203.0.113.66"),
            "wrong-password!",
        )
        .await
        .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // ... and another client behind the same proxy is not; nor is a forged left-most entry
    // enough to take the attacker's place.
    let (st, _) = login_via(&f, "127.0.0.9", &via("203.0.113.2"), "password-1234").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _) = login_via(&f, "127.0.0.9", &via("203.0.113.66"), "password-1234").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // Untrusted peers are throttled by their socket address whatever they claim.
    for _ in 0..6 {
        last = login_via(
            &f,
            "127.0.0.5",
            &[("x-forwarded-for", "198.51.100.1")],
            "wrong-password!",
        )
        .await
        .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (st, _) = login_via(
        &f,
        "127.0.0.5",
        &[("x-forwarded-for", "198.51.100.2")],
        "password-1234",
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
}
