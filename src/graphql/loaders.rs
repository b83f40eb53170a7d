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

/// Loaders without a cache, for a subscription: its stream lives long, and
/// a journey read for one event must not answer for the next.
pub fn uncached(store: Store, settings: Arc<Settings>) -> DataLoader<JourneyLoader> {
    DataLoader::new(JourneyLoader { store, settings }, tokio::spawn)
}

/// The journeys of `keys` through the request's loader, cached or not.
async fn load(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = JourneyKey>,
) -> async_graphql::Result<Result<HashMap<JourneyKey, Arc<UserJourney>>, Arc<DbErr>>> {
    if let Ok(loader) = ctx.data::<DataLoader<JourneyLoader, HashMapCache>>() {
        return Ok(loader.load_many(keys).await);
    }
    Ok(ctx
        .data::<DataLoader<JourneyLoader>>()?
        .load_many(keys)
        .await)
}

/// The journey of `key` (an unknown key gives an empty journey).
pub async fn journey(
    ctx: &Context<'_>,
    key: JourneyKey,
) -> async_graphql::Result<Arc<UserJourney>> {
    load(ctx, [key.clone()])
        .await?
        .map(|mut found| found.remove(&key))
        .map_err(|e| internal(anyhow::Error::new(e).context("Failed to load journey")))?
        .ok_or_else(|| internal(anyhow::anyhow!("journey {key:?} missing from its batch")))
}

/// The journeys of many keys, in one batch.
pub async fn journeys(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = JourneyKey>,
) -> async_graphql::Result<HashMap<JourneyKey, Arc<UserJourney>>> {
    load(ctx, keys)
        .await?
        .map_err(|e| internal(anyhow::Error::new(e).context("Failed to load journeys")))
}
