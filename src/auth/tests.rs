//! Tests of users, logins, sessions, throttling and API tokens.

use super::*;

/// The session of a successful login.
fn signed_in(l: Login) -> Option<(String, Session)> {
    match l {
        Login::Ok { token, session } => Some((token, session)),
        _ => None,
    }
}

#[test]
fn first_admin_login_sessions_and_throttling() {
    let dir = tempfile::tempdir().unwrap();
    let u = Users::open(dir.path()).unwrap();
    let pw = u.ensure_admin().unwrap().unwrap();
    assert!(u.ensure_admin().unwrap().is_none(), "only on first start");
    let (token, s) = signed_in(u.login("admin", &pw, "127.0.0.1").unwrap()).unwrap();
    assert_eq!(s.user.role, Role::Admin);
    assert_eq!(u.session(&token).unwrap().unwrap().csrf, s.csrf);
    assert!(u.session("nope").unwrap().is_none());
    // The stored hash is argon2id, never the password.
    let list = u.list().unwrap();
    assert_eq!(list.len(), 1);
    let raw = u.db.credentials("admin").unwrap().unwrap().hash;
    assert!(raw.starts_with("$argon2id$") && !raw.contains(&pw));
    u.logout(&token, "admin").unwrap();
    assert!(u.session(&token).unwrap().is_none());

    // Seven wrong passwords for one name from one address: refused, then throttled there,
    // even with the right password; the right password from another address still signs in.
    u.add("bob", "correct horse battery", Role::Viewer, "admin")
        .unwrap();
    for i in 0..7 {
        let l = u.login("bob", "wrong password!", "192.0.2.9").unwrap();
        if i < throttle::PAIR_LIMIT {
            assert!(matches!(l, Login::Refused), "{i}: {l:?}");
        } else {
            assert!(
                matches!(l, Login::Throttled(w) if w > Duration::from_secs(1)),
                "{i}: {l:?}"
            );
        }
    }
    assert!(matches!(
        u.login("bob", "correct horse battery", "192.0.2.9")
            .unwrap(),
        Login::Throttled(_)
    ));
    assert!(
        signed_in(
            u.login("bob", "correct horse battery", "192.0.2.10")
                .unwrap()
        )
        .is_some()
    );
    let log = u.audit_log(20).unwrap();
    assert!(log.iter().any(|(_, _, a, _)| a == "login_failed"));
    assert!(log.iter().any(|(_, _, a, _)| a == "login_refused"));
}

#[test]
fn disabling_and_password_changes_end_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let u = Users::open(dir.path()).unwrap();
    u.add("carol", "0123456789ab", Role::Analyst, "admin")
        .unwrap();
    assert!(matches!(
        u.add("carol", "0123456789ab", Role::Analyst, "admin"),
        Err(Error::Exists(_))
    ));
    assert!(matches!(
        u.add("x y", "0123456789ab", Role::Analyst, "admin"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        u.add("dave", "short", Role::Analyst, "admin"),
        Err(Error::Invalid(_))
    ));
    let (t, _) = signed_in(u.login("carol", "0123456789ab", "127.0.0.1").unwrap()).unwrap();
    u.set_password("carol", "new password 123", "admin")
        .unwrap();
    assert!(u.session(&t).unwrap().is_none());
    let (t, _) = signed_in(u.login("carol", "new password 123", "127.0.0.1").unwrap()).unwrap();
    u.set_disabled("carol", true, "admin").unwrap();
    assert!(u.session(&t).unwrap().is_none());
    assert!(matches!(
        u.login("carol", "new password 123", "127.0.0.2").unwrap(),
        Login::Refused
    ));
}
