//! API keys, signing secrets, the audit log and recent webhook ids.
//!
//! Key lookups read the primary, never a replica: a key revoked a moment
//! ago must fail on every process from the next request. They run on a
//! small pool of their own, which reports never take, so however heavy the
//! reads, a webhook's key is looked up at once.
//!
//! Every change transaction starts with a write, so that on SQLite it takes
//! the write lock first (waiting for it) instead of upgrading a read lock
//! later, which fails at once when another process wrote meanwhile.

use chrono::{DateTime, Utc};
use entity::{api_key, audit_entry, signing_secret, webhook_delivery};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::Store;

/// Why a key change was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyChangeError {
    #[error("an active key named `{0}` already exists")]
    NameTaken(String),
    #[error("no active key is named `{0}`")]
    NoSuchKey(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// One audited action to record with a change.
#[derive(Debug, Clone)]
pub struct Audit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
}

async fn record(
    txn: &DatabaseTransaction,
    audit: &Audit<'_>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit_entry::ActiveModel {
        at: Set(at),
        actor: Set(audit.actor.to_owned()),
        action: Set(audit.action.to_owned()),
        subject: Set(audit.subject.to_owned()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

async fn active_key(
    txn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::Name.eq(name))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(txn)
        .await
}

/// Takes the write lock of the transaction and checks that the active key
/// `name` exists: a no-op update, the first statement of a change.
async fn lock_active_key(
    txn: &DatabaseTransaction,
    name: &str,
) -> Result<api_key::Model, KeyChangeError> {
    let touched = api_key::Entity::update_many()
        .col_expr(
            api_key::Column::Name,
            sea_orm::sea_query::Expr::col(api_key::Column::Name).into(),
        )
        .filter(api_key::Column::Name.eq(name))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if touched == 0 {
        return Err(KeyChangeError::NoSuchKey(name.to_owned()));
    }
    active_key(txn, name)
        .await?
        .ok_or_else(|| KeyChangeError::NoSuchKey(name.to_owned()))
}

impl Store {
    /// The write pool for the small reads of authentication (see the
    /// module doc).
    fn auth_reads(&self) -> super::Guarded<'_> {
        super::Guarded::new(&self.auth, &self.health, [Some(&self.statements), None])
    }

    /// The active key whose secret hashes to `hash`, with its signing
    /// secrets (oldest first), in one query: it runs on every request.
    pub async fn key_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(api_key::Model, Vec<String>)>, DbErr> {
        let found = api_key::Entity::find()
            .filter(api_key::Column::SecretHash.eq(hash))
            .find_with_related(signing_secret::Entity)
            .order_by_asc(signing_secret::Column::Id)
            .all(&self.auth_reads())
            .await?;
        // The index found it by hash; compare once more in constant time
        // so that nothing about the match depends on where it differs.
        Ok(found.into_iter().next().and_then(|(k, secrets)| {
            (k.revoked_at.is_none() && crate::auth::secret::same(&k.secret_hash, hash))
                .then(|| (k, secrets.into_iter().map(|s| s.secret).collect()))
        }))
    }

    /// How many keys are active (not revoked).
    pub async fn active_key_count(&self) -> Result<u64, DbErr> {
        api_key::Entity::find()
            .filter(api_key::Column::RevokedAt.is_null())
            .count(&self.primary())
            .await
    }

    /// Every key, revoked ones too, oldest first, with its number of
    /// signing secrets.
    pub async fn keys(&self) -> Result<Vec<(api_key::Model, u64)>, DbErr> {
        let keys = api_key::Entity::find()
            .order_by_asc(api_key::Column::Id)
            .all(&self.primary())
            .await?;
        let secrets = signing_secret::Entity::find().all(&self.primary()).await?;
        Ok(keys
            .into_iter()
            .map(|k| {
                let n = secrets.iter().filter(|s| s.key_id == k.id).count() as u64;
                (k, n)
            })
            .collect())
    }

    /// Creates a key (and its first signing secret), recording `audit` in
    /// the same transaction.
    pub async fn create_key(
        &self,
        name: &str,
        scopes: &str,
        hash: &str,
        signing_secret: Option<&str>,
        audit: Audit<'_>,
    ) -> Result<api_key::Model, KeyChangeError> {
        let now = Utc::now();
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        // The partial unique index on active names refuses a taken one.
        let key = api_key::ActiveModel {
            name: Set(name.to_owned()),
            scopes: Set(scopes.to_owned()),
            secret_hash: Set(hash.to_owned()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                KeyChangeError::NameTaken(name.to_owned())
            }
            _ => KeyChangeError::Db(e),
        })?;
        if let Some(secret) = signing_secret {
            add_secret(&txn, key.id, secret, now).await?;
        }
        record(&txn, &audit, now).await?;
        txn.commit().await?;
        Ok(key)
    }

    /// Revokes the active key `name`.
    pub async fn revoke_key(&self, name: &str, audit: Audit<'_>) -> Result<(), KeyChangeError> {
        let now = Utc::now();
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        let key = lock_active_key(&txn, name).await?;
        let mut active: api_key::ActiveModel = key.into();
        active.revoked_at = Set(Some(now));
        active.update(&txn).await?;
        record(&txn, &audit, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Adds a signing secret to the active key `name`.
    pub async fn add_signing_secret(
        &self,
        name: &str,
        secret: &str,
        audit: Audit<'_>,
    ) -> Result<(), KeyChangeError> {
        let now = Utc::now();
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        let key = lock_active_key(&txn, name).await?;
        add_secret(&txn, key.id, secret, now).await?;
        record(&txn, &audit, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Removes a signing secret of the active key `name`; `false` if the
    /// key had no such secret.
    pub async fn remove_signing_secret(
        &self,
        name: &str,
        secret: &str,
        audit: Audit<'_>,
    ) -> Result<bool, KeyChangeError> {
        let now = Utc::now();
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        let key = lock_active_key(&txn, name).await?;
        let gone = signing_secret::Entity::delete_many()
            .filter(signing_secret::Column::KeyId.eq(key.id))
            .filter(signing_secret::Column::Secret.eq(secret))
            .exec(&txn)
            .await?
            .rows_affected;
        if gone == 0 {
            return Ok(false);
        }
        record(&txn, &audit, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Notes that a key was used (callers throttle this).
    pub async fn touch_key(&self, key_id: i64, at: DateTime<Utc>) -> Result<(), DbErr> {
        let _turn = self.write_turn().await;
        api_key::Entity::update_many()
            .col_expr(
                api_key::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(at),
            )
            .filter(api_key::Column::Id.eq(key_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records an audit entry on its own.
    pub async fn audit(&self, audit: Audit<'_>) -> Result<(), DbErr> {
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        record(&txn, &audit, Utc::now()).await?;
        txn.commit().await
    }

    /// Audit entries, newest first, after the entry `after` (its id).
    pub async fn audit_log(
        &self,
        first: u64,
        after: Option<i64>,
    ) -> Result<Vec<audit_entry::Model>, DbErr> {
        let mut query = audit_entry::Entity::find().order_by_desc(audit_entry::Column::Id);
        if let Some(after) = after {
            query = query.filter(audit_entry::Column::Id.lt(after));
        }
        query.limit(first).all(&self.reader()).await
    }

    /// Whether `webhook_id` of this key was accepted at or after `since`.
    pub async fn webhook_seen(
        &self,
        key_id: i64,
        webhook_id: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        Ok(webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::KeyId.eq(key_id))
            .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
            .filter(webhook_delivery::Column::ReceivedAt.gte(since))
            .one(&self.auth_reads())
            .await?
            .is_some())
    }

    /// Remembers an accepted `webhook_id` (after its rows committed).
    pub async fn remember_webhook(
        &self,
        key_id: i64,
        webhook_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let _turn = self.write_turn().await;
        webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
            key_id: Set(key_id),
            webhook_id: Set(webhook_id.to_owned()),
            received_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([
                webhook_delivery::Column::KeyId,
                webhook_delivery::Column::WebhookId,
            ])
            .update_column(webhook_delivery::Column::ReceivedAt)
            .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// Forgets webhook ids accepted before `before`: a replay of those
    /// carries a timestamp outside the tolerance and is refused anyway.
    pub async fn forget_webhooks_before(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        let _turn = self.write_turn().await;
        Ok(webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::ReceivedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

async fn add_secret(
    txn: &DatabaseTransaction,
    key_id: i64,
    secret: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    signing_secret::ActiveModel {
        key_id: Set(key_id),
        secret: Set(secret.to_owned()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
