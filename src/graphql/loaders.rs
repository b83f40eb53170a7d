//! DataLoaders: relations resolved per item (a conversion's user, its
//! attribution) are collected and fetched in one batch, so a page of 100
//! conversions costs a fixed number of SQL statements, not 100 times some.
//!
//! A loader is built per request, with a cache: within one response the same
//! journey is read once, and no answer outlives the request that read it.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::Context;
use sea_orm::DbErr;

use super::error::internal;
use crate::attribution::Settings;
use crate::journeys::{self, JourneyKey, UserJourney};
use crate::store::Store;

/// Loads [`UserJourney`]s by key.
pub struct JourneyLoader {
    store: Store,
    settings: Arc<Settings>,
}

impl Loader<JourneyKey> for JourneyLoader {
    type Value = Arc<UserJourney>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[JourneyKey],
    ) -> Result<HashMap<JourneyKey, Self::Value>, Self::Error> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        journeys::load(&self.store, &self.settings, keys)
            .await
            .map_err(Arc::new)
    }
}

/// The per-request loaders, to attach to a request as data.
pub fn for_request(
    store: Store,
    settings: Arc<Settings>,
) -> DataLoader<JourneyLoader, HashMapCache> {
    DataLoader::with_cache(
        JourneyLoader { store, settings },
        tokio::spawn,
        HashMapCache::default(),
    )
}

/// The journey of `key` (an unknown key gives an empty journey).
pub async fn journey(
    ctx: &Context<'_>,
    key: JourneyKey,
) -> async_graphql::Result<Arc<UserJourney>> {
    let loader = ctx.data::<DataLoader<JourneyLoader, HashMapCache>>()?;
    loader
        .load_one(key.clone())
        .await
        .map_err(|e| internal(anyhow::Error::new(e).context("Failed to load journey")))?
        .ok_or_else(|| internal(anyhow::anyhow!("journey {key:?} missing from its batch")))
}

/// The journeys of many keys, in one batch.
pub async fn journeys(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = JourneyKey>,
) -> async_graphql::Result<HashMap<JourneyKey, Arc<UserJourney>>> {
    let loader = ctx.data::<DataLoader<JourneyLoader, HashMapCache>>()?;
    loader
        .load_many(keys)
        .await
        .map_err(|e| internal(anyhow::Error::new(e).context("Failed to load journeys")))
}
