//! The release list of the API (`GET /api/v1/releases?state=&service=&limit=&cursor=`): pages
//! come from the store, so closed releases that have left memory are listed too, newest first.
//! A release in memory is shown as published there (its latest counts); one that is not, from
//! the store (its counts counted there).

use serde::Serialize;

use super::view::{self, Counts, ReleaseView};
use super::{Engine, EngineError};
use crate::release::{ItemState, ReleaseState};
use crate::store::ReleaseQuery;

/// Releases per page when the request does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most releases one page may hold.
pub const MAX_LIMIT: usize = 1000;

/// Which releases to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only these states (all when empty).
    pub states: Vec<ReleaseState>,
    pub service: Option<String>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Cursor>,
}

/// Where a page starts: opaque to clients (it is the position of the last release shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 && n.to_string() == s => Ok(Cursor(n)),
            _ => Err("is not a cursor shipwatch gave; pass the next_cursor of the previous page as it is".into()),
        }
    }
}

/// One page of releases, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub releases: Vec<ReleaseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn counts_of(rows: Vec<(ItemState, usize)>) -> Counts {
    let mut c = Counts::default();
    for (state, n) in rows {
        c.add(state, n);
    }
    c
}

impl Engine {
    /// A page of releases (read on the blocking pool).
    pub async fn list(&self, q: ListQuery) -> Result<Page, EngineError> {
        let limit = q.limit.clamp(1, MAX_LIMIT);
        self.0
            .blocking(move |i| {
                let sq = ReleaseQuery {
                    states: q.states,
                    service: q.service,
                    limit: limit + 1,
                    before: q.cursor.map(|c| c.0),
                };
                let mut rows = i.store.release_page(&sq)?;
                let next_cursor = (rows.len() > limit).then(|| rows[limit - 1].0.to_string());
                rows.truncate(limit);
                let (cfg, now) = (i.config(), i.clock.now());
                let mut releases = Vec::with_capacity(rows.len());
                for (_, release) in rows {
                    let in_memory = i.state().get(&release.id).cloned();
                    releases.push(match in_memory {
                        Some(rel) => view::view(&cfg, &rel, now, false),
                        None => ReleaseView {
                            window: view::window(&release, now),
                            counts: counts_of(i.store.item_counts(&release.id)?),
                            release,
                            items: None,
                        },
                    });
                }
                Ok(Page { releases, next_cursor })
            })
            .await
    }
}
