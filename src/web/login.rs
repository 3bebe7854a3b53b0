//! The login form, signing in (with the second factor when set up) and signing out.

use super::AppState;
use super::session::{COOKIE, PeerIp, csrf_ok, forbidden, internal, no_dashboard, page, session};
use crate::auth::Login;
use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    error: Option<String>,
}

pub async fn login_form() -> Response {
    page(LoginPage {
        user: None,
        role: "",
        csrf: String::new(),
        error: None,
    })
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    /// The second-factor code, for users who set one up.
    #[serde(default)]
    code: String,
}

pub async fn login(
    State(s): State<AppState>,
    PeerIp(peer): PeerIp,
    h: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some(d) = s.dash.clone() else {
        return no_dashboard();
    };
    let (ip, forwarded_https) = super::session::client(&d, &peer, &h);
    let users = d.users.clone();
    let r =
        tokio::task::spawn_blocking(move || users.login_code(&f.user, &f.password, &f.code, &ip))
            .await;
    match r {
        Ok(Ok(Login::Ok { token, .. })) => {
            let mut cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            if d.secure_cookie || forwarded_https {
                cookie.push_str("; Secure");
            }
            let mut res = Redirect::to("/").into_response();
            match HeaderValue::from_str(&cookie) {
                Ok(v) => {
                    res.headers_mut().insert(header::SET_COOKIE, v);
                    res
                }
                Err(e) => internal(e),
            }
        }
        Ok(Ok(Login::Refused)) => refused(
            StatusCode::UNAUTHORIZED,
            "Wrong user name, password or code.".into(),
        ),
        Ok(Ok(Login::Throttled(wait))) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut res = refused(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed logins from this address: try again in {secs} s."),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// The login form again, with why the last attempt did not sign in.
fn refused(status: StatusCode, why: String) -> Response {
    let mut res = page(LoginPage {
        user: None,
        role: "",
        csrf: String::new(),
        error: Some(why),
    });
    *res.status_mut() = status;
    res
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(s): State<AppState>, h: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let Some(d) = s.dash.as_ref() else {
        return no_dashboard();
    };
    let (token, sess) = match session(d, &h).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !csrf_ok(&sess, &f.csrf) {
        return forbidden("missing or wrong CSRF token");
    }
    if let Err(e) = d.users.logout(&token, &sess.user.name) {
        return internal(e);
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("picket_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}
