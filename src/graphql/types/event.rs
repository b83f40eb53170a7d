//! `Event` and its connection.

use async_graphql::connection::{CursorType, PageInfo};
use async_graphql::{Context, Object, SimpleObject, ID};
use entity::event;

use crate::graphql::error::internal;
use crate::graphql::pagination::Cursor;
use crate::graphql::scalars::DateTime;
use crate::store::{EventFilter, PageCursor, Store};

/// A stored event (`signup`, `trial`, `unsubscribe`, …).
#[derive(Debug, Clone, SimpleObject)]
pub struct Event {
    pub id: ID,
    /// The event's name, lower-cased.
    pub name: String,
    /// The visitor's cookie id.
    pub fingerprint: String,
    /// The account id sent with the event, if any.
    pub user_id: Option<String>,
    /// When it happened.
    pub created_at: DateTime,
    /// What it booked, as an exact decimal string (`"9.99"`, `"-9.99"` for
    /// a refund); null when it carried none.
    pub revenue: Option<String>,
    /// The revenue's currency (the deployment's); null without revenue.
    pub currency: Option<String>,
    #[graphql(skip)]
    pub cursor: PageCursor,
}

impl From<event::Model> for Event {
    fn from(m: event::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            fingerprint: m.fingerprint,
            user_id: m.user_id,
            created_at: m.created_at.into(),
            revenue: m
                .revenue_micros
                .map(|r| crate::domain::Amount::from_micros(r).to_string()),
            currency: m.currency,
            cursor: PageCursor {
                created_at: m.created_at,
                id: m.id,
            },
        }
    }
}

/// An edge of an [`EventConnection`].
#[derive(Debug, Clone, SimpleObject)]
pub struct EventEdge {
    pub cursor: String,
    pub node: Event,
}

/// A page of events, oldest first.
pub struct EventConnection {
    pub nodes: Vec<Event>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub filter: EventFilter,
}

#[Object]
impl EventConnection {
    /// How many events match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let store = ctx.data::<Store>()?;
        store.count_events(&self.filter).await.map_err(internal)
    }

    /// The events of this page.
    async fn nodes(&self) -> &[Event] {
        &self.nodes
    }

    /// The events of this page with their cursors.
    async fn edges(&self) -> Vec<EventEdge> {
        self.nodes
            .iter()
            .map(|n| EventEdge {
                cursor: Cursor(n.cursor).encode_cursor(),
                node: n.clone(),
            })
            .collect()
    }

    /// Where this page sits.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.nodes.first().map(|n| Cursor(n.cursor).encode_cursor()),
            end_cursor: self.nodes.last().map(|n| Cursor(n.cursor).encode_cursor()),
        }
    }
}
