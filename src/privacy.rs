//! The right to erasure: one call that the GraphQL mutation `eraseUser` and
//! the `growth-analytics erase` command share, so both erase alike.
//!
//! What is erased (see [`Store::erase_user`]): the user's identity links,
//! and every device (fingerprint) linked to them or seen with their id, whole
//! — its pageviews, its events, and its links to other users, because a
//! device shared with another user cannot be half-erased without leaving the
//! erased user's visits in the other user's journey. The other user keeps
//! everything on their other devices. Derived rows that counted any of it
//! go in the same transaction; the journeys that lost a device are then
//! recomputed without it.

use sea_orm::DbErr;

use crate::domain::UserId;
use crate::materialize::Materializer;
use crate::store::Store;

pub use crate::store::ErasureSummary;

/// Erases `user` and returns what went. An unknown user is not an error:
/// the summary is all zeros, so a repeated request is harmless.
///
/// With a `materializer`, the journeys of other users who shared an erased
/// device are recomputed before this returns, so a report read right after
/// counts them exactly as if the erased data had never arrived. Without one
/// (the CLI, which does not know the service's attribution settings) they
/// stay queued for the service's materialiser, which every report flushes
/// before reading, so no report can tell the difference either. A failed
/// recomputation does not undo or fail an erasure that committed: it stays
/// queued, is logged, and the next flush retries it.
pub async fn erase_user(
    store: &Store,
    materializer: Option<&Materializer>,
    user: &UserId,
) -> Result<ErasureSummary, DbErr> {
    let summary = store.erase_user(user.as_str()).await?;
    if let Some(materializer) = materializer {
        if let Err(e) = materializer.flush().await {
            tracing::warn!(
                error = %e,
                "erasure committed; recomputing the journeys it touched failed and stays queued"
            );
        }
    }
    Ok(summary)
}

/// The `erase` command's summary line.
pub fn render(user: &str, s: &ErasureSummary) -> String {
    format!(
        "erased user {user:?}: {} pageviews, {} events, {} identity links, {} fingerprints",
        s.pageviews, s.events, s.identity_links, s.fingerprints
    )
}

/// The audit log's subject for an erased user: the SHA-256 of the id, not
/// the id (which was just erased), so that whether an id was erased can
/// be checked without the log keeping it.
pub fn erased_subject(user: &UserId, summary: &ErasureSummary) -> String {
    format!(
        "user sha256:{} ({} pageviews, {} events, {} identity links, {} fingerprints)",
        crate::auth::secret::hash_key(user.as_str()),
        summary.pageviews,
        summary.events,
        summary.identity_links,
        summary.fingerprints
    )
}

/// Records an erasure in the audit log. It runs after the erasure
/// committed: a failure here is logged loudly, the erasure stands.
pub async fn audit_erasure(store: &Store, actor: &str, user: &UserId, summary: &ErasureSummary) {
    let subject = erased_subject(user, summary);
    let entry = crate::store::keys::Audit {
        actor,
        action: "user.erase",
        subject: &subject,
    };
    if let Err(e) = store.audit(entry).await {
        tracing::error!(error = %e, %subject, "an erasure could not be written to the audit log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_summary_names_every_count() {
        let line = render(
            "u1",
            &ErasureSummary {
                pageviews: 3,
                events: 2,
                identity_links: 4,
                fingerprints: 1,
            },
        );
        assert_eq!(
            line,
            "erased user \"u1\": 3 pageviews, 2 events, 4 identity links, 1 fingerprints"
        );
    }
}
