//! The search language, parsed with nom into a backend-neutral expression tree.
//!
//! ```text
//! host.name:fw01 AND (event.action:deny OR event.action:drop) NOT user.name:adm*
//! source.ip:10.0.0.0/8 destination.port:[1 TO 1024] log.syslog.severity.code:<=3
//! "Failed password" _exists_:user.name -sender:192.0.2.7
//! ```
//!
//! - `field:value`, `field:"phrase"`, wildcards `field:adm*` (`*` any run, `?` one character);
//! - free text: a word must occur as a token of the message (see [`tokens`]), a quoted phrase
//!   or a word that splits into several tokens (`srcip=10.1.2.3`) as consecutive tokens, and a
//!   trailing `*` makes the last token a prefix (`auth*`);
//! - CIDR on address fields (`source.ip:10.0.0.0/8`), ranges `[a TO b]` (inclusive), `{a TO b}`
//!   (exclusive), mixed, with `*` for an open end, and comparisons `:<`, `:<=`, `:>`, `:>=`;
//! - `AND`, `OR`, `NOT` (also `&&`, `||`, `!` and a leading `-`), parentheses; terms side by side
//!   are ANDed; `_exists_:field`; a lone `*` matches everything.
//!
//! The indexed header and parsed fields have names of their own ([`Field`]); any other dotted
//! ECS name (`source.geo.country_iso_code`) is looked up among the event's other fields. A
//! query that cannot be read is an [`Error`] that says where (in characters) and why.

//!
//! The rooms: `ast.rs` the tree a query becomes, `parse.rs` the grammar, `time.rs` time bounds,
//! `tokens.rs` how message text splits into words (shared with the store's index).

mod ast;
mod parse;
mod time;
pub mod tokens;

pub use ast::*;
pub use parse::parse_expr;
pub use time::parse_time;
/// A query that could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// The text does not follow the language.
    #[error("{msg} (at character {at})")]
    Syntax {
        /// Character position (0-based) where the problem is.
        at: usize,
        /// What is wrong.
        msg: String,
    },
    /// A time bound could not be read.
    #[error(
        "cannot read time `{0}`: use RFC 3339 (2026-11-22T10:00:00Z), a date (2026-11-22), `now`, or a relative time like -24h, -15m, -7d"
    )]
    BadTime(String),
}

/// Queries longer than this many characters are refused.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Expressions with more than this many terms are refused.
pub const MAX_TERMS: usize = 256;
/// Parentheses nest at most this deep.
pub const MAX_DEPTH: usize = 32;
impl SearchQuery {
    /// Parses the query text; time range, cursor and limit are set by the caller.
    pub fn parse(text: &str, limit: usize) -> Result<SearchQuery, Error> {
        Ok(SearchQuery {
            expr: parse_expr(text)?,
            limit,
            ..SearchQuery::default()
        })
    }
}
#[cfg(test)]
mod tests;
