//! A configured secret (a password, an HMAC key, a routing key, a webhook URL that embeds a
//! token): read from the config like a string, but `Debug` prints `<redacted>`, so a config
//! dumped in a log line or a panic message does not leak it. Use [`Secret::expose`] where the
//! value is actually needed.

/// A string that never shows in `Debug`.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends or derives from it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_hides_the_value_and_expose_gives_it() {
        #[derive(Debug, serde::Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            password: Secret,
        }
        let h: Holder = toml::from_str("password = \"hunter2\"").unwrap();
        assert_eq!(format!("{h:?}"), "Holder { password: <redacted> }");
        assert!(!format!("{h:#?}").contains("hunter2"));
        assert_eq!(h.password.expose(), "hunter2");
    }
}
