//! Admin-only operations (see `scopes`): key management and the audit log.
//! The same service as `growth-analytics keys`, so both validate and audit
//! alike; the audit log names the acting key.

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::error::{bad_input, internal};
use super::scalars::DateTime;
use crate::auth::service::{self, KeyError};
use crate::auth::{Principal, Scope, Scopes};
use crate::store::keys::KeyChangeError;
use crate::store::Store;

/// A key's scope.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Scope")]
pub enum ScopeValue {
    /// The webhook routes and the `record*` mutations, nothing else.
    Ingest,
    /// Every query and subscription.
    Read,
    /// Everything, including key management, erasure and `/metrics`.
    Admin,
}

impl From<ScopeValue> for Scope {
    fn from(s: ScopeValue) -> Self {
        match s {
            ScopeValue::Ingest => Scope::Ingest,
            ScopeValue::Read => Scope::Read,
            ScopeValue::Admin => Scope::Admin,
        }
    }
}

impl From<Scope> for ScopeValue {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Ingest => ScopeValue::Ingest,
            Scope::Read => ScopeValue::Read,
            Scope::Admin => ScopeValue::Admin,
        }
    }
}

fn scope_list(scopes: &Scopes) -> Vec<ScopeValue> {
    scopes.iter().map(ScopeValue::from).collect()
}

/// A key as listed: never its secret.
#[derive(SimpleObject)]
pub struct ApiKey {
    pub name: String,
    pub scopes: Vec<ScopeValue>,
    pub created_at: DateTime,
    /// To the minute (written at most once a minute per process).
    pub last_used_at: Option<DateTime>,
    pub revoked_at: Option<DateTime>,
    /// How many webhook signing secrets it has (requests must be signed
    /// when it has any).
    pub signing_secrets: u64,
}

/// A key just created: the only time its secret is shown.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub name: String,
    pub scopes: Vec<ScopeValue>,
    /// The key, to send as `Authorization: Bearer <secret>`.
    pub secret: String,
    /// The webhook signing secret, when one was asked for.
    pub signing_secret: Option<String>,
}

/// One audited action.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub at: DateTime,
    /// The acting key's name (`cli:<user>` from the command line,
    /// `bootstrap` for the first key).
    pub actor: String,
    /// `key.create`, `key.revoke`, `key.add_secret`, `key.remove_secret`,
    /// `user.erase`.
    pub action: String,
    /// What it was done to: a key's name, or for an erasure the SHA-256
    /// of the user id (the id itself is erased too).
    pub subject: String,
}

/// A page of the audit log, newest first.
#[derive(SimpleObject)]
pub struct AuditLogPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; null on the last.
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

fn key_error(e: KeyError) -> async_graphql::Error {
    match e {
        KeyError::Invalid(m) => bad_input(m),
        KeyError::Change(KeyChangeError::Db(db)) => internal(db),
        KeyError::Change(other) => bad_input(other.to_string()),
    }
}

fn actor(ctx: &Context<'_>) -> String {
    ctx.data_opt::<Principal>()
        .map_or_else(|| "unknown".into(), |p| p.name.clone())
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Every API key, revoked ones too, oldest first (admin).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let keys = ctx.data::<Store>()?.keys().await.map_err(internal)?;
        Ok(keys
            .into_iter()
            .map(|(k, secrets)| ApiKey {
                scopes: scope_list(&k.scopes.parse().unwrap_or_default()),
                name: k.name,
                created_at: k.created_at.into(),
                last_used_at: k.last_used_at.map(Into::into),
                revoked_at: k.revoked_at.map(Into::into),
                signing_secrets: secrets,
            })
            .collect())
    }

    /// Key changes and erasures, newest first (admin).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<AuditLogPage> {
        if !(0..=500).contains(&first) {
            return Err(bad_input("`first` must be between 0 and 500"));
        }
        let after = match after {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| bad_input("`after` is not a cursor from this log"))?,
            ),
        };
        let first = first as u64;
        let mut rows = ctx
            .data::<Store>()?
            .audit_log(first + 1, after)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok(AuditLogPage {
            end_cursor: rows
                .last()
                .filter(|_| has_next_page)
                .map(|r| r.id.to_string()),
            has_next_page,
            entries: rows
                .into_iter()
                .map(|r| AuditEntry {
                    at: r.at.into(),
                    actor: r.actor,
                    action: r.action,
                    subject: r.subject,
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an API key and returns its secret, shown this once (admin).
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        scopes: Vec<ScopeValue>,
        #[graphql(default = false)] signing_secret: bool,
    ) -> async_graphql::Result<CreatedApiKey> {
        if scopes.is_empty() {
            return Err(bad_input("`scopes` needs at least one scope"));
        }
        let scopes = scopes
            .into_iter()
            .fold(Scopes::default(), |s, v| s.with(v.into()));
        let created = service::create(
            ctx.data::<Store>()?,
            &name,
            scopes,
            signing_secret,
            &actor(ctx),
        )
        .await
        .map_err(key_error)?;
        Ok(CreatedApiKey {
            name: created.name,
            scopes: scope_list(&created.scopes),
            secret: created.secret,
            signing_secret: created.signing_secret,
        })
    }

    /// Revokes a key: it fails from the next request, on every process (admin).
    async fn revoke_api_key(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<bool> {
        service::revoke(ctx.data::<Store>()?, &name, &actor(ctx))
            .await
            .map_err(key_error)?;
        Ok(true)
    }

    /// Adds a webhook signing secret to a key and returns it (admin).
    async fn add_signing_secret(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<String> {
        service::add_secret(ctx.data::<Store>()?, &name, &actor(ctx))
            .await
            .map_err(key_error)
    }

    /// Retires one of a key's signing secrets (admin).
    async fn remove_signing_secret(
        &self,
        ctx: &Context<'_>,
        name: String,
        secret: String,
    ) -> async_graphql::Result<bool> {
        service::remove_secret(ctx.data::<Store>()?, &name, &secret, &actor(ctx))
            .await
            .map_err(key_error)?;
        Ok(true)
    }
}
