//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the
//! optional second factor of a dashboard login. Secrets are 20 random bytes, shown to the user
//! once in base32 (and as an `otpauth://` URI) for their authenticator app.

use super::{Error, Users, now_micros};
use hmac::{KeyInit, Mac};

const STEP_SECS: i64 = 30;
/// Codes one step early or late are accepted (clock drift).
const DRIFT_STEPS: i64 = 1;

/// A new random secret, base32 without padding.
pub fn new_secret() -> Result<String, Error> {
    let mut b = [0u8; 20];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(data_encoding::BASE32_NOPAD.encode(&b))
}

/// The code for a secret at a time step (RFC 4226's dynamic truncation), `digits` long.
pub fn code(secret: &[u8], step: u64, digits: u32) -> u32 {
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h.last().copied().unwrap_or(0) & 0x0f);
    let bin = h
        .get(off..off + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
    bin % 10u32.pow(digits)
}

/// The step whose code `given` is, within the drift window around `now_secs` and after
/// `last_step` (a code is good once), or None.
pub fn verify(secret_b32: &str, given: &str, now_secs: i64, last_step: i64) -> Option<i64> {
    let given = given.trim().replace(' ', "");
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = given.parse().ok()?;
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim_end_matches('=').as_bytes())
        .ok()?;
    let now = now_secs.div_euclid(STEP_SECS);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS)
        .filter(|s| *s > last_step && *s >= 0)
        .find(|s| {
            let c = code(&secret, u64::try_from(*s).unwrap_or(0), 6);
            // Compare without an early exit on the first differing digit.
            (c ^ want) == 0
        })
}

/// The `otpauth://` URI an authenticator app reads.
pub fn uri(user: &str, secret: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/Picket:{}?secret={secret}&issuer=Picket&algorithm=SHA1&digits=6&period=30",
        enc(user)
    )
}

/// A user's second-factor state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// None set up.
    Off,
    /// A secret was issued and waits for a first good code.
    Pending(String),
    /// In use.
    On,
}

impl Users {
    /// The user's second-factor state.
    pub fn totp_state(&self, user: &str) -> Result<State, Error> {
        Ok(match self.db.totp(user)? {
            None => State::Off,
            Some(t) if !t.enabled => State::Pending(t.secret),
            Some(_) => State::On,
        })
    }

    /// Issues a new secret for the user (not in use until confirmed with a code).
    pub fn totp_begin(&self, user: &str) -> Result<String, Error> {
        let secret = new_secret()?;
        if !self.db.begin_totp(user, &secret)? {
            return Err(Error::NoUser(user.into()));
        }
        Ok(secret)
    }

    /// Turns the issued secret on when `code` is right; false otherwise.
    pub fn totp_confirm(&self, user: &str, code: &str) -> Result<bool, Error> {
        let State::Pending(secret) = self.totp_state(user)? else {
            return Ok(false);
        };
        let Some(step) = verify(&secret, code, now_micros() / 1_000_000, -1) else {
            return Ok(false);
        };
        self.db.enable_totp(user, step)?;
        self.audit(user, "totp_enabled", "");
        Ok(true)
    }

    /// Removes the user's second factor (`actor` did it).
    pub fn totp_off(&self, user: &str, actor: &str) -> Result<(), Error> {
        self.db.delete_totp(user)?;
        self.audit(actor, "totp_disabled", user);
        Ok(())
    }

    /// The id of a user by name.
    pub fn session_user_id(&self, user: &str) -> Result<i64, Error> {
        self.db
            .user_id(user)?
            .ok_or_else(|| Error::NoUser(user.into()))
    }

    /// True when the user has no second factor in use or `code` is a current code (for a
    /// signed-in user confirming a change; logins use each code once).
    pub fn check_code(&self, user_id: i64, code: &str) -> Result<bool, Error> {
        let row = self.db.totp_in_use(user_id)?;
        Ok(row.is_none_or(|t| verify(&t.secret, code, now_micros() / 1_000_000, -1).is_some()))
    }

    /// For a login: true when the user has no second factor in use, or `code` is a fresh
    /// good code (which is then used up).
    pub(super) fn totp_passes(&self, user_id: i64, code: &str) -> Result<bool, Error> {
        let Some(t) = self.db.totp_in_use(user_id)? else {
            return Ok(true);
        };
        let Some(step) = verify(&t.secret, code, now_micros() / 1_000_000, t.last_step) else {
            return Ok(false);
        };
        // Used up only if no other login used this step meanwhile.
        Ok(self.db.use_totp_step(user_id, step)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1, 8 digits.
        let key = b"12345678901234567890";
        for (t, want) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_234_567_890, 89_005_924),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code(key, t / 30, 8), want, "t={t}");
        }
    }

    #[test]
    fn verify_window_and_replay() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        let now = 1_111_111_109;
        let c = |t: i64| format!("{:06}", code(b"12345678901234567890", (t / 30) as u64, 6));
        assert_eq!(verify(&secret, &c(now), now, -1), Some(now / 30));
        assert_eq!(verify(&secret, &c(now - 30), now, -1), Some(now / 30 - 1));
        assert_eq!(verify(&secret, &c(now - 90), now, -1), None);
        // A code is good once.
        assert_eq!(verify(&secret, &c(now), now, now / 30), None);
        assert_eq!(verify(&secret, "12345", now, -1), None);
        assert_eq!(verify(&secret, "abcdef", now, -1), None);
        assert!(uri("a b", &secret).starts_with("otpauth://totp/Picket:a%20b?secret="));
    }
}
