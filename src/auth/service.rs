//! Key management as the CLI and the GraphQL admin mutations share it:
//! validation, secrets, the audit entry of each change.

use anyhow::Context;
use sea_orm::DbErr;

use super::secret::{self, hash_key};
use super::{Principal, Scopes};
use crate::store::keys::{Audit, KeyChangeError};
use crate::store::Store;

/// The name of the key created at first start.
pub const BOOTSTRAP_NAME: &str = "admin";

/// A key just created: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub name: String,
    pub scopes: Scopes,
    pub secret: String,
    pub signing_secret: Option<String>,
}

/// Why a key operation failed: the caller's fault, or the database's.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Change(#[from] KeyChangeError),
}

impl From<DbErr> for KeyError {
    fn from(e: DbErr) -> Self {
        KeyError::Change(KeyChangeError::Db(e))
    }
}

/// A key name: 1–64 characters of letters, digits, `-`, `_`, `.`.
pub fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid(
            "a key name is 1 to 64 letters, digits, `-`, `_` or `.`".into(),
        ))
    }
}

/// Creates a key with a fresh secret (and a signing secret if asked).
pub async fn create(
    store: &Store,
    name: &str,
    scopes: Scopes,
    with_signing_secret: bool,
    actor: &str,
) -> Result<CreatedKey, KeyError> {
    check_name(name)?;
    let secret = secret::new_key().map_err(|e| KeyError::Invalid(e.to_string()))?;
    let signing_secret = if with_signing_secret {
        Some(secret::new_signing_secret().map_err(|e| KeyError::Invalid(e.to_string()))?)
    } else {
        None
    };
    store_key(store, name, scopes, secret, signing_secret, actor).await
}

async fn store_key(
    store: &Store,
    name: &str,
    scopes: Scopes,
    secret: String,
    signing_secret: Option<String>,
    actor: &str,
) -> Result<CreatedKey, KeyError> {
    let subject = format!("{name} ({scopes})");
    store
        .create_key(
            name,
            &scopes.to_string(),
            &hash_key(&secret),
            signing_secret.as_deref(),
            Audit {
                actor,
                action: "key.create",
                subject: &subject,
            },
        )
        .await
        .map_err(|e| match e {
            // Two creators racing past the check: the unique index decides.
            KeyChangeError::Db(db)
                if matches!(
                    db.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                KeyChangeError::NameTaken(name.to_owned())
            }
            other => other,
        })?;
    Ok(CreatedKey {
        name: name.to_owned(),
        scopes,
        secret,
        signing_secret,
    })
}

pub async fn revoke(store: &Store, name: &str, actor: &str) -> Result<(), KeyError> {
    store
        .revoke_key(
            name,
            Audit {
                actor,
                action: "key.revoke",
                subject: name,
            },
        )
        .await?;
    Ok(())
}

/// Adds a fresh signing secret to a key and returns it.
pub async fn add_secret(store: &Store, name: &str, actor: &str) -> Result<String, KeyError> {
    let secret = secret::new_signing_secret().map_err(|e| KeyError::Invalid(e.to_string()))?;
    store
        .add_signing_secret(
            name,
            &secret,
            Audit {
                actor,
                action: "key.add_secret",
                subject: name,
            },
        )
        .await?;
    Ok(secret)
}

/// Retires a signing secret of a key.
pub async fn remove_secret(
    store: &Store,
    name: &str,
    signing_secret: &str,
    actor: &str,
) -> Result<(), KeyError> {
    let removed = store
        .remove_signing_secret(
            name,
            signing_secret,
            Audit {
                actor,
                action: "key.remove_secret",
                subject: name,
            },
        )
        .await?;
    if removed {
        Ok(())
    } else {
        Err(KeyError::Invalid(format!(
            "the key `{name}` has no such signing secret"
        )))
    }
}

/// The webhook signing secrets of the request's key (empty: unsigned
/// requests are fine), found with the key itself.
#[derive(Debug, Clone, Default)]
pub struct SigningSecrets(pub Vec<String>);

/// The principal of a presented key, if it is an active one, and its
/// signing secrets.
pub async fn authenticate(
    store: &Store,
    presented: &str,
) -> Result<Option<(Principal, SigningSecrets)>, DbErr> {
    let Some((key, secrets)) = store.key_by_hash(&hash_key(presented)).await? else {
        return Ok(None);
    };
    // A stored scope list is ours; an unreadable one grants nothing.
    let scopes = key.scopes.parse::<Scopes>().unwrap_or_default();
    Ok(Some((
        Principal {
            key_id: Some(key.id),
            name: key.name,
            scopes,
        },
        SigningSecrets(secrets),
    )))
}

/// What [`bootstrap`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Keys exist already: nothing to do.
    KeysExist,
    /// Created the admin key from `BOOTSTRAP_ADMIN_KEY`.
    Chosen,
    /// Created a random admin key: print it, it is never shown again.
    Generated(String),
}

/// On first start (no active key), creates the `admin` key: the chosen one
/// if given, else a random one.
pub async fn bootstrap(store: &Store, chosen: Option<&str>) -> anyhow::Result<Bootstrap> {
    if let Some(key) = chosen {
        secret::check_chosen_key(key).map_err(|e| anyhow::anyhow!("BOOTSTRAP_ADMIN_KEY {e}"))?;
    }
    if store
        .active_key_count()
        .await
        .context("Failed to count API keys")?
        > 0
    {
        return Ok(Bootstrap::KeysExist);
    }
    let (secret, outcome) = match chosen {
        Some(key) => (key.to_owned(), Bootstrap::Chosen),
        None => {
            let key = secret::new_key()?;
            (key.clone(), Bootstrap::Generated(key))
        }
    };
    match store_key(
        store,
        BOOTSTRAP_NAME,
        Scopes::only(super::Scope::Admin),
        secret,
        None,
        "bootstrap",
    )
    .await
    {
        Ok(_) => Ok(outcome),
        // Another process started at the same moment and created it.
        Err(KeyError::Change(KeyChangeError::NameTaken(_))) => Ok(Bootstrap::KeysExist),
        Err(e) => {
            // Or it holds the write lock right now (SQLite's busy upgrade).
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if store.active_key_count().await.unwrap_or(0) > 0 {
                return Ok(Bootstrap::KeysExist);
            }
            Err(anyhow::Error::new(e).context("Failed to create the first admin key"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_short_and_plain() {
        assert!(check_name("dashboard-1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
