//! Users and API tokens, for admins.

use super::AppState;
use super::session::{CurrentUser, internal, no_dashboard, page};
use crate::auth::{Role, Session};
use crate::model::event::format_micros;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    message: Option<String>,
    users: Vec<crate::auth::User>,
    tokens: Vec<(String, &'static str, String)>,
    audit: Vec<(String, String, String, String)>,
}

fn render(s: &AppState, sess: &Session, message: Option<String>) -> Response {
    let Some(d) = &s.dash else {
        return no_dashboard();
    };
    let (users, tokens, audit) = match (d.users.list(), d.users.tokens(), d.users.audit_log(100)) {
        (Ok(u), Ok(t), Ok(a)) => (u, t, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return internal(e),
    };
    page(UsersPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        message,
        users,
        tokens: tokens
            .into_iter()
            .map(|t| {
                (
                    t.name,
                    t.role.as_str(),
                    t.last_used
                        .map(format_micros)
                        .unwrap_or_else(|| "never".into()),
                )
            })
            .collect(),
        audit: audit
            .into_iter()
            .map(|(at, who, what, detail)| (format_micros(at), who, what, detail))
            .collect(),
    })
}

pub async fn users(u: CurrentUser, State(s): State<AppState>) -> Response {
    if u.session.user.role < Role::Admin {
        return (StatusCode::FORBIDDEN, "only admins manage users").into_response();
    }
    render(&s, &u.session, None)
}

#[derive(serde::Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    name: String,
    role: String,
    #[serde(default)]
    password: String,
}

/// Runs a user or token change for an admin with a valid CSRF token; shows the outcome.
async fn change(
    u: CurrentUser,
    s: &AppState,
    csrf: &str,
    f: impl FnOnce(&crate::auth::Users, &str) -> Result<String, crate::auth::Error> + Send + 'static,
) -> Response {
    let (d, sess) = match u.allowed(csrf, Role::Admin, "only admins manage users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let actor = sess.user.name.clone();
    let users = d.users.clone();
    let msg = match tokio::task::spawn_blocking(move || f(&users, &actor)).await {
        Ok(Ok(m)) => m,
        // Picket's own failures (the store, hashing, randomness) go to the log, not the page.
        Ok(Err(
            e @ (crate::auth::Error::Store(_)
            | crate::auth::Error::Hash(_)
            | crate::auth::Error::Random(_)),
        )) => return internal(e),
        Ok(Err(e)) => e.to_string(),
        Err(e) => return internal(e),
    };
    render(s, &sess, Some(msg))
}

pub async fn add_user(
    State(s): State<AppState>,
    u: CurrentUser,
    Form(f): Form<AddForm>,
) -> Response {
    let csrf = f.csrf.clone();
    change(u, &s, &csrf, move |users, actor| {
        let role = Role::parse(&f.role)?;
        users.add(&f.name, &f.password, role, actor)?;
        Ok(format!("User {} added as {}.", f.name, role.as_str()))
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn set_user(
    State(s): State<AppState>,
    u: CurrentUser,
    Path((name, what)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let disable = match what.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    change(u, &s, &f.csrf, move |users, actor| {
        users.set_disabled(&name, disable, actor)?;
        Ok(format!(
            "User {name} {}.",
            if disable { "disabled" } else { "enabled" }
        ))
    })
    .await
}

pub async fn add_token(
    State(s): State<AppState>,
    u: CurrentUser,
    Form(f): Form<AddForm>,
) -> Response {
    let csrf = f.csrf.clone();
    change(u, &s, &csrf, move |users, actor| {
        let role = Role::parse(&f.role)?;
        let token = users.add_token(&f.name, role, actor)?;
        Ok(format!(
            "Token {} ({}) created; copy it now, it is not shown again: {token}",
            f.name,
            role.as_str()
        ))
    })
    .await
}

pub async fn revoke_token(
    State(s): State<AppState>,
    u: CurrentUser,
    Path(name): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    change(u, &s, &f.csrf, move |users, actor| {
        users.revoke_token(&name, actor)?;
        Ok(format!("Token {name} revoked."))
    })
    .await
}
