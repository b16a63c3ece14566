//! How driver errors become [`StoreError`]s: the kind from the SQLSTATE or the failure, and
//! a message that says what failed without ever holding the connection's password.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use crate::StoreError;

/// A driver error as a store error of the fitting kind, with the driver's error as source.
///
/// An unavailable store's message also says why in a few words (a refused connection, a
/// pool with no connection to give), since reports show the message and not the source.
pub(super) fn db_error(what: &str, error: sqlx::Error) -> StoreError {
    let store_error = match &error {
        sqlx::Error::Database(db) => match db.code().as_deref().map(kind_of_sqlstate) {
            Some(Kind::Conflict) => {
                StoreError::conflict(format!("{what} failed: {}", db.message()))
            }
            Some(Kind::Corrupt) => StoreError::corrupt(format!(
                "{what} failed: {} (is the schema the one this store migrated?)",
                db.message()
            )),
            Some(Kind::Unavailable) | None => {
                StoreError::unavailable(format!("{what} failed: {}", db.message()))
            }
        },
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::corrupt(format!("{what} failed")),
        other => StoreError::unavailable(format!("{what} failed: {}", reason(other))),
    };
    store_error.with_source(error)
}

/// The store error kinds a SQLSTATE maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Conflict,
    Corrupt,
    Unavailable,
}

/// The kind of a server error by its SQLSTATE (PostgreSQL's appendix A).
pub(super) fn kind_of_sqlstate(code: &str) -> Kind {
    match code {
        // Integrity constraints, serialization failures and deadlocks: a concurrent writer
        // won, or the write was refused; data exceptions (class 22: a string jsonb cannot
        // hold, a value out of range): the write was refused.
        _ if code.starts_with("23") || code.starts_with("22") => Kind::Conflict,
        "40001" | "40P01" => Kind::Conflict,
        // Damaged data or index, and a schema that lost a table, a column or itself.
        "XX001" | "XX002" | "42P01" | "42703" | "3F000" => Kind::Corrupt,
        // Connections (08), resources (53), operator intervention (57: a shutdown, a
        // cancelled statement), authorization, and everything else.
        _ => Kind::Unavailable,
    }
}

/// A short reason for a failure to reach or use the server.
fn reason(error: &sqlx::Error) -> String {
    match error {
        // `ErrorKind`'s text is a plain phrase ("connection refused").
        sqlx::Error::Io(io) => io.kind().to_string(),
        sqlx::Error::PoolTimedOut => {
            "no connection to the server could be had within the acquire timeout".to_owned()
        }
        sqlx::Error::PoolClosed => "the connection pool is closed".to_owned(),
        sqlx::Error::Tls(tls) => format!("TLS failed: {tls}"),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Protocol(message) => format!("protocol error: {message}"),
        _ => "the driver failed".to_owned(),
    }
}

/// Where `options` connect to, for messages: `host:port`, or the Unix socket's directory.
pub(super) fn endpoint(options: &PgConnectOptions) -> String {
    if let Some(socket) = options.get_socket() {
        return format!("{} (port {})", socket.display(), options.get_port());
    }
    let host = options.get_host();
    // An IPv6 address needs brackets before the port; one from a URL has them already.
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

/// A failure to open the first connection: unavailable, naming the server (never the
/// password, which no driver error and no part of this message holds).
pub(super) fn connect_error(endpoint: &str, error: sqlx::Error) -> StoreError {
    StoreError::unavailable(format!(
        "cannot connect to PostgreSQL at {endpoint}: {}",
        reason(&error)
    ))
    .with_source(error)
}

/// The first connection took longer than the acquire timeout.
pub(super) fn connect_timeout(endpoint: &str, timeout: Duration) -> StoreError {
    StoreError::unavailable(format!(
        "cannot connect to PostgreSQL at {endpoint}: no answer within {timeout:?}"
    ))
}
