//! The signed-in user's own page: the second factor (TOTP) set-up, confirmation and removal.

use super::session::{CurrentUser, blocking, internal, page};
use crate::auth::Role;
use crate::auth::totp::{self, State as Totp};
use askama::Template;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    state: &'static str,
    secret: String,
    uri: String,
    error: Option<String>,
}

async fn render(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,
    error: Option<String>,
) -> Response {
    let (users, name) = (d.users.clone(), sess.user.name.clone());
    let st = match blocking(move || users.totp_state(&name)).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let (state, secret) = match st {
        Totp::Off => ("off", String::new()),
        Totp::Pending(s) => ("pending", s),
        Totp::On => ("on", String::new()),
    };
    let failed = error.is_some();
    let mut res = page(AccountPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        state,
        uri: if secret.is_empty() {
            String::new()
        } else {
            totp::uri(&sess.user.name, &secret)
        },
        secret,
        error,
    });
    if failed {
        *res.status_mut() = StatusCode::BAD_REQUEST;
    }
    res
}

pub async fn account(u: CurrentUser) -> Response {
    render(u, None).await
}

#[derive(serde::Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    /// `begin`, `confirm` or `off`.
    action: String,
    #[serde(default)]
    code: String,
}

pub async fn totp(u: CurrentUser, Form(f): Form<TotpForm>) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Viewer, "") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (users, name) = (d.users.clone(), sess.user.name.clone());
    let r = tokio::task::spawn_blocking(
        move || -> Result<Option<&'static str>, crate::auth::Error> {
            match f.action.as_str() {
                "begin" => users.totp_begin(&name).map(|_| None),
                "confirm" => Ok((!users.totp_confirm(&name, &f.code)?).then_some(
                    "That code is not right: check the phone's clock and try the next one.",
                )),
                "off" => {
                    // Turning it off needs a current code, as logging in does.
                    let id = users.session_user_id(&name)?;
                    if users.totp_state(&name)? == Totp::On && !users.check_code(id, &f.code)? {
                        return Ok(Some(
                            "A current code is needed to turn the second factor off.",
                        ));
                    }
                    users.totp_off(&name, &name).map(|()| None)
                }
                _ => Ok(Some("unknown action")),
            }
        },
    )
    .await;
    match r {
        Ok(Ok(None)) => Redirect::to("/account").into_response(),
        Ok(Ok(Some(msg))) => {
            render(
                CurrentUser {
                    dash: d,
                    session: sess,
                },
                Some(msg.into()),
            )
            .await
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}
