//! The queries behind attribution: a user's identity links, pageviews and
//! events, fetched for many users at once (a DataLoader batch) in a number of
//! statements that does not grow with the number of users.

use chrono::{DateTime, Utc};
use entity::{event, identity_link, pageview};
use sea_orm::sea_query::{Alias, Condition, Expr, Order};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{EventFilter, Store, TimeRange};
use crate::attribution::PageviewFact;
use crate::domain::Channel;

/// Keys per `IN (…)` list: far below both engines' bind-parameter limits.
const IN_CHUNK: usize = 1000;

/// A user as listed by `users`: their id and when they were first seen.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct UserRow {
    pub user_id: String,
    pub first_seen_at: DateTime<Utc>,
}

/// Position after which a page of users continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCursor {
    pub first_seen_at: DateTime<Utc>,
    pub user_id: String,
}

impl Store {
    /// Rows of `E` whose `column` is one of `values` and that meet `also`,
    /// fetched in `IN (…)` lists of at most `IN_CHUNK` keys.
    async fn find_in<E: EntityTrait>(
        &self,
        column: E::Column,
        values: &[String],
        also: Condition,
    ) -> Result<Vec<E::Model>, DbErr> {
        let mut out = Vec::new();
        for chunk in values.chunks(IN_CHUNK) {
            out.extend(
                E::find()
                    .filter(
                        Condition::all()
                            .add(column.is_in(chunk.iter().cloned()))
                            .add(also.clone()),
                    )
                    .all(&self.reader())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Identity links of these users.
    pub async fn links_of_users(
        &self,
        users: &[String],
    ) -> Result<Vec<identity_link::Model>, DbErr> {
        self.find_in::<identity_link::Entity>(
            identity_link::Column::UserId,
            users,
            Condition::all(),
        )
        .await
    }

    /// Identity links of these fingerprints.
    pub async fn links_of_fingerprints(
        &self,
        fingerprints: &[String],
    ) -> Result<Vec<identity_link::Model>, DbErr> {
        self.find_in::<identity_link::Entity>(
            identity_link::Column::Fingerprint,
            fingerprints,
            Condition::all(),
        )
        .await
    }

    /// Every pageview of these fingerprints, as attribution reads it: the
    /// columns it needs only, through sqlx directly (see `Guarded::rows`).
    pub async fn pageview_facts_of_fingerprints(
        &self,
        fingerprints: &[String],
    ) -> Result<Vec<PageviewFact>, DbErr> {
        type Row = (
            String,
            DateTime<Utc>,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let backend = self.backend();
        let mut out = Vec::new();
        for chunk in fingerprints.chunks(IN_CHUNK) {
            let list: Vec<String> = (1..=chunk.len())
                .map(|n| super::rollups::placeholder(backend, n))
                .collect();
            let sql = format!(
                "SELECT fingerprint, created_at, url, landing_page, referrer_url, source, medium, \
                 campaign, content, term, channel, rule FROM pageviews WHERE fingerprint IN ({})",
                list.join(",")
            );
            let binds: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let rows: Vec<Row> = self.reader().rows(&sql, &binds).await?;
            out.extend(rows.into_iter().map(|r| PageviewFact {
                fingerprint: r.0,
                at: r.1,
                url: r.2,
                landing_page: r.3,
                referrer_url: r.4,
                source: r.5,
                medium: r.6,
                campaign: r.7,
                content: r.8,
                term: r.9,
                channel: r.10.parse().unwrap_or(Channel::Unassigned),
                rule: r.11,
            }));
        }
        Ok(out)
    }

    /// Every event sent with one of these user ids, or from one of these
    /// fingerprints without a user id.
    pub async fn events_of(
        &self,
        users: &[String],
        fingerprints: &[String],
    ) -> Result<Vec<event::Model>, DbErr> {
        let mut out = self
            .find_in::<event::Entity>(event::Column::UserId, users, Condition::all())
            .await?;
        out.extend(
            self.find_in::<event::Entity>(
                event::Column::Fingerprint,
                fingerprints,
                Condition::all().add(event::Column::UserId.is_null()),
            )
            .await?,
        );
        Ok(out)
    }

    /// Events matching `filter`, all of them, oldest first (for queries that
    /// must attribute every conversion in a range before they can filter).
    pub async fn all_events(&self, filter: &EventFilter) -> Result<Vec<event::Model>, DbErr> {
        self.events(filter, None, u64::MAX >> 1).await
    }

    /// Pageviews matching `filter`, all of them, oldest first.
    pub async fn all_pageviews(
        &self,
        filter: &super::PageviewFilter,
    ) -> Result<Vec<pageview::Model>, DbErr> {
        self.pageviews(filter, None, u64::MAX >> 1).await
    }

    /// Pageviews and distinct visitors (fingerprints) in `range`.
    pub async fn pageview_totals(&self, range: &TimeRange) -> Result<(u64, u64), DbErr> {
        #[derive(FromQueryResult)]
        struct Totals {
            pageviews: i64,
            visitors: i64,
        }
        let mut cond = Condition::all();
        if let Some(from) = range.from {
            cond = cond.add(pageview::Column::CreatedAt.gte(from));
        }
        if let Some(to) = range.to {
            cond = cond.add(pageview::Column::CreatedAt.lt(to));
        }
        let totals = pageview::Entity::find()
            .select_only()
            .column_as(Expr::col(pageview::Column::Id).count(), "pageviews")
            .column_as(Expr::cust("COUNT(DISTINCT fingerprint)"), "visitors")
            .filter(cond)
            .into_model::<Totals>()
            .one(&self.reader())
            .await?;
        Ok(totals.map_or((0, 0), |t| (t.pageviews as u64, t.visitors as u64)))
    }

    /// Known users (anyone with an identity link) first seen in `range`,
    /// ordered by (first seen, id).
    pub async fn users(
        &self,
        range: &TimeRange,
        after: Option<&UserCursor>,
        limit: u64,
    ) -> Result<Vec<UserRow>, DbErr> {
        let first_seen = Expr::col(identity_link::Column::FirstSeenAt).min();
        let mut having = Condition::all();
        if let Some(from) = range.from {
            having = having.add(Expr::expr(first_seen.clone()).gte(from));
        }
        if let Some(to) = range.to {
            having = having.add(Expr::expr(first_seen.clone()).lt(to));
        }
        if let Some(cursor) = after {
            having = having.add(
                Condition::any()
                    .add(Expr::expr(first_seen.clone()).gt(cursor.first_seen_at))
                    .add(
                        Condition::all()
                            .add(Expr::expr(first_seen.clone()).eq(cursor.first_seen_at))
                            .add(
                                Expr::col(identity_link::Column::UserId)
                                    .gt(cursor.user_id.as_str()),
                            ),
                    ),
            );
        }
        identity_link::Entity::find()
            .select_only()
            .column(identity_link::Column::UserId)
            .column_as(first_seen.clone(), "first_seen_at")
            .group_by(identity_link::Column::UserId)
            .having(having)
            .order_by(Expr::col(Alias::new("first_seen_at")), Order::Asc)
            .order_by_asc(identity_link::Column::UserId)
            .limit(limit)
            .into_model::<UserRow>()
            .all(&self.reader())
            .await
    }

    /// How many users were first seen in `range`.
    pub async fn count_users(&self, range: &TimeRange) -> Result<u64, DbErr> {
        let first_seen = Expr::col(identity_link::Column::FirstSeenAt).min();
        let mut having = Condition::all();
        if let Some(from) = range.from {
            having = having.add(Expr::expr(first_seen.clone()).gte(from));
        }
        if let Some(to) = range.to {
            having = having.add(Expr::expr(first_seen.clone()).lt(to));
        }
        identity_link::Entity::find()
            .select_only()
            .column(identity_link::Column::UserId)
            .group_by(identity_link::Column::UserId)
            .having(having)
            .count(&self.reader())
            .await
    }
}
