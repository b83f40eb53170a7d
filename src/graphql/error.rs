//! The GraphQL surface's errors: every error carries `extensions.code`;
//! user errors say which field and why, internal ones are logged and shown
//! as a generic message. A database fault is `DATABASE_UNAVAILABLE` or
//! `STORAGE_FULL`, with `retryAfterSeconds`: the HTTP handler (`http`)
//! answers those with 503 and `Retry-After`.

use async_graphql::{ErrorExtensions, Value};
use sea_orm::DbErr;

use crate::domain::FieldError;
use crate::ingest::IngestError;
use crate::store::{self, Fault};

/// `extensions.code` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorCode {
    BadUserInput,
    InternalServerError,
    /// The database is unreachable or overloaded; retry later.
    DatabaseUnavailable,
    /// The database's disk is full; nothing was stored, retry later.
    StorageFull,
    /// A subscription past `MAX_SUBSCRIPTIONS_PER_CONNECTION` or
    /// `MAX_SUBSCRIPTIONS_PER_KEY`.
    TooManySubscriptions,
    /// A subscription that fell behind its events and was ended.
    SubscriberTooSlow,
    /// An operation sent to a surface that does not run its kind.
    OperationNotSupported,
}

impl ApiErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorCode::BadUserInput => "BAD_USER_INPUT",
            ApiErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
            ApiErrorCode::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            ApiErrorCode::StorageFull => "STORAGE_FULL",
            ApiErrorCode::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            ApiErrorCode::SubscriberTooSlow => "SUBSCRIBER_TOO_SLOW",
            ApiErrorCode::OperationNotSupported => "OPERATION_NOT_SUPPORTED",
        }
    }

    /// The database fault an `extensions.code` stands for, if any.
    pub fn fault_of(code: &str) -> Option<Fault> {
        match code {
            "DATABASE_UNAVAILABLE" => Some(Fault::Unavailable),
            "STORAGE_FULL" => Some(Fault::StorageFull),
            _ => None,
        }
    }

    /// The code of a database fault.
    pub fn of_fault(fault: Fault) -> Self {
        match fault {
            Fault::Unavailable => ApiErrorCode::DatabaseUnavailable,
            Fault::StorageFull => ApiErrorCode::StorageFull,
        }
    }
}

/// An error with `code` and an explanation.
pub fn coded(code: ApiErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(move |_, e| e.set("code", code.as_str()))
}

/// A user error with an explanation.
pub fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into())
        .extend_with(|_, e| e.set("code", ApiErrorCode::BadUserInput.as_str()))
}

/// An internal error: logged with its cause chain, shown generically. A
/// database fault anywhere in the chain becomes its own error instead.
pub fn internal(error: impl Into<anyhow::Error>) -> async_graphql::Error {
    let error = error.into();
    // DataLoaders share their error behind an `Arc`.
    if let Some(fault) = error
        .chain()
        .find_map(|e| {
            e.downcast_ref::<DbErr>()
                .or_else(|| e.downcast_ref::<std::sync::Arc<DbErr>>().map(|a| &**a))
        })
        .and_then(store::fault)
    {
        tracing::warn!(
            error = format!("{error:#}"),
            "GraphQL resolver met a database fault"
        );
        return fault_error(fault);
    }
    tracing::error!(error = ?error, "GraphQL resolver failed");
    async_graphql::Error::new("internal error")
        .extend_with(|_, e| e.set("code", ApiErrorCode::InternalServerError.as_str()))
}

/// A database fault as a GraphQL error: what happened, nothing stored, and
/// when to retry.
pub fn fault_error(fault: Fault) -> async_graphql::Error {
    async_graphql::Error::new(fault.message()).extend_with(move |_, e| {
        e.set("code", ApiErrorCode::of_fault(fault).as_str());
        e.set("retryAfterSeconds", fault.retry_after().as_secs());
    })
}

/// Webhook field names are snake_case; GraphQL inputs are camelCase.
fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Field errors as `BAD_USER_INPUT`, with every error under `extensions.fields`.
pub fn invalid(errors: &[FieldError]) -> async_graphql::Error {
    let summary = errors
        .iter()
        .take(5)
        .map(|e| {
            let at = e.index.map(|i| format!("inputs[{i}].")).unwrap_or_default();
            format!("{at}{}: {}", camel(e.field), e.message)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let fields: Vec<Value> = errors
        .iter()
        .map(|e| {
            let mut map = async_graphql::indexmap::IndexMap::new();
            if let Some(i) = e.index {
                map.insert(async_graphql::Name::new("index"), Value::from(i as i32));
            }
            map.insert(
                async_graphql::Name::new("field"),
                Value::from(camel(e.field)),
            );
            map.insert(
                async_graphql::Name::new("message"),
                Value::from(e.message.clone()),
            );
            Value::Object(map)
        })
        .collect();
    async_graphql::Error::new(format!("invalid input: {summary}")).extend_with(move |_, e| {
        e.set("code", ApiErrorCode::BadUserInput.as_str());
        e.set("fields", Value::List(fields.clone()));
    })
}

/// Maps an ingestion failure to its GraphQL error.
pub fn from_ingest(error: IngestError) -> async_graphql::Error {
    match error {
        IngestError::Invalid(errors) => invalid(&errors),
        e @ IngestError::TooMany { .. } => bad_input(e.to_string()),
        IngestError::Store(db) => {
            // `internal` recognises a fault in the chain.
            internal(anyhow::Error::new(db).context("Failed to store webhooks"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_field_names_become_input_field_names() {
        assert_eq!(camel("referrer_url"), "referrerUrl");
        assert_eq!(camel("created_at"), "createdAt");
        assert_eq!(camel("url"), "url");
    }

    #[test]
    fn a_database_fault_in_an_error_chain_gets_its_own_code() {
        let unreachable =
            anyhow::Error::new(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout))
                .context("Failed to count pageviews");
        let error = internal(unreachable);
        let code = error
            .extensions
            .as_ref()
            .and_then(|x| x.get("code").cloned());
        assert_eq!(code, Some(Value::from("DATABASE_UNAVAILABLE")));

        let bug = internal(anyhow::anyhow!("a bug"));
        let code = bug.extensions.as_ref().and_then(|x| x.get("code").cloned());
        assert_eq!(code, Some(Value::from("INTERNAL_SERVER_ERROR")));
    }
}
