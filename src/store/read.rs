//! Read queries over stored webhooks: filtered, keyset-paginated lists.
//!
//! Read-only lists run on the reader pool (`Store::reader`: the replica when
//! `DATABASE_READ_URL` is set); lookups that answer a write run on the primary.
//!
//! Pages are ordered by (created_at, id) and continue after a cursor holding
//! both, so a page is stable while new webhooks arrive (offsets would shift).

use chrono::{DateTime, Utc};
use entity::{event, pageview};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::Store;

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn condition<C: ColumnTrait>(&self, column: C) -> Condition {
        let mut cond = Condition::all();
        if let Some(from) = self.from {
            cond = cond.add(column.gte(from));
        }
        if let Some(to) = self.to {
            cond = cond.add(column.lt(to));
        }
        cond
    }

    /// Whether `at` falls inside the range.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| at >= f) && self.to.is_none_or(|t| at < t)
    }
}

/// Position after which a page continues: the last row's (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl PageCursor {
    fn condition<C: ColumnTrait>(&self, created_at: C, id: C) -> Condition {
        Condition::any().add(created_at.gt(self.created_at)).add(
            Condition::all()
                .add(created_at.eq(self.created_at))
                .add(id.gt(self.id)),
        )
    }
}

/// Which pageviews to list.
#[derive(Debug, Clone, Default)]
pub struct PageviewFilter {
    pub fingerprint: Option<String>,
    /// Any of these fingerprints (a user's devices); `None` means no condition.
    pub fingerprints: Option<Vec<String>>,
    pub user_id: Option<String>,
    pub range: TimeRange,
}

impl PageviewFilter {
    fn condition(&self) -> Condition {
        let mut cond = self.range.condition(pageview::Column::CreatedAt);
        if let Some(fp) = &self.fingerprint {
            cond = cond.add(pageview::Column::Fingerprint.eq(fp.as_str()));
        }
        if let Some(fps) = &self.fingerprints {
            cond = cond.add(pageview::Column::Fingerprint.is_in(fps.iter().cloned()));
        }
        if let Some(user) = &self.user_id {
            cond = cond.add(pageview::Column::UserId.eq(user.as_str()));
        }
        cond
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub name: Option<String>,
    /// Any of these names (lower-case); `None` means no condition.
    pub names: Option<Vec<String>>,
    pub fingerprint: Option<String>,
    pub user_id: Option<String>,
    pub range: TimeRange,
}

impl EventFilter {
    fn condition(&self) -> Condition {
        let mut cond = self.range.condition(event::Column::CreatedAt);
        if let Some(name) = &self.name {
            cond = cond.add(event::Column::Name.eq(name.to_lowercase()));
        }
        if let Some(names) = &self.names {
            cond = cond.add(event::Column::Name.is_in(names.iter().cloned()));
        }
        if let Some(fp) = &self.fingerprint {
            cond = cond.add(event::Column::Fingerprint.eq(fp.as_str()));
        }
        if let Some(user) = &self.user_id {
            cond = cond.add(event::Column::UserId.eq(user.as_str()));
        }
        cond
    }
}

impl Store {
    /// Up to `limit` pageviews after `after`, oldest first.
    pub async fn pageviews(
        &self,
        filter: &PageviewFilter,
        after: Option<PageCursor>,
        limit: u64,
    ) -> Result<Vec<pageview::Model>, DbErr> {
        let mut cond = filter.condition();
        if let Some(cursor) = after {
            cond = cond.add(cursor.condition(pageview::Column::CreatedAt, pageview::Column::Id));
        }
        pageview::Entity::find()
            .filter(cond)
            .order_by_asc(pageview::Column::CreatedAt)
            .order_by_asc(pageview::Column::Id)
            .limit(limit)
            .all(&self.reader())
            .await
    }

    /// How many pageviews match, ignoring pagination.
    pub async fn count_pageviews(&self, filter: &PageviewFilter) -> Result<u64, DbErr> {
        pageview::Entity::find()
            .filter(filter.condition())
            .count(&self.reader())
            .await
    }

    /// Up to `limit` events after `after`, oldest first.
    pub async fn events(
        &self,
        filter: &EventFilter,
        after: Option<PageCursor>,
        limit: u64,
    ) -> Result<Vec<event::Model>, DbErr> {
        let mut cond = filter.condition();
        if let Some(cursor) = after {
            cond = cond.add(cursor.condition(event::Column::CreatedAt, event::Column::Id));
        }
        event::Entity::find()
            .filter(cond)
            .order_by_asc(event::Column::CreatedAt)
            .order_by_asc(event::Column::Id)
            .limit(limit)
            .all(&self.reader())
            .await
    }

    /// How many events match, ignoring pagination.
    pub async fn count_events(&self, filter: &EventFilter) -> Result<u64, DbErr> {
        event::Entity::find()
            .filter(filter.condition())
            .count(&self.reader())
            .await
    }

    /// Pageviews by natural key (to answer a mutation with the stored row).
    /// On the primary: a replica may not have the row yet.
    pub async fn pageviews_by_keys(
        &self,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<pageview::Model>, DbErr> {
        pageview::Entity::find()
            .filter(pageview::Column::DedupKey.is_in(keys))
            .all(&self.primary())
            .await
    }

    /// Pageviews by database id, in id order (what a live signal names).
    /// On the primary: a replica may not have the rows yet.
    pub async fn pageviews_by_ids(&self, ids: &[i64]) -> Result<Vec<pageview::Model>, DbErr> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            rows.extend(
                pageview::Entity::find()
                    .filter(pageview::Column::Id.is_in(chunk.iter().copied()))
                    .all(&self.primary())
                    .await?,
            );
        }
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Events by natural key (to answer a mutation with the stored row).
    /// On the primary: a replica may not have the row yet.
    pub async fn events_by_keys(&self, keys: Vec<Vec<u8>>) -> Result<Vec<event::Model>, DbErr> {
        event::Entity::find()
            .filter(event::Column::DedupKey.is_in(keys))
            .all(&self.primary())
            .await
    }
}
