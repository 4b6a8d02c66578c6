//! The leadership lease in PostgreSQL: one `leader` row (holder, epoch, URL, since, expiry) and
//! a `replicas` heartbeat table. Every time is the database's clock, so replicas' clocks never
//! disagree about who leads.
//!
//! - A leader renews its row (`holder` and `epoch` must still be its own) every third of the
//!   lease; a row that did not match means it was deposed.
//! - Anyone takes an **expired** row by bumping the epoch; the `UPDATE` waits for the old
//!   leader's writes in flight (they hold the row `FOR SHARE`, see `store::PgStore`), and every
//!   later write of the old leader is refused by the epoch check.

use chrono::{DateTime, Utc};

use crate::engine::Replica;

/// The database's clock, in epoch milliseconds.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// What one step of the lease loop found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Still the leader (renewed).
    Leading,
    /// Took the lease at this epoch.
    Acquired(i64),
    /// Someone else leads (or the row could not be taken yet).
    Follow,
    /// Was the leader, but the row names someone else now.
    Lost,
}

/// The leader row as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leader {
    pub holder: String,
    pub epoch: i64,
    pub url: String,
    pub since_ms: i64,
    pub expires_ms: i64,
}

/// Heartbeat, then renew (`epoch` given: this replica leads) or try to take the lease.
pub fn step(
    c: &mut postgres::Client,
    me: &str,
    url: &str,
    epoch: Option<i64>,
    lease_ms: i64,
) -> Result<Step, postgres::Error> {
    c.execute(
        &format!(
            "INSERT INTO replicas (name, url, seen_ms) VALUES ($1, $2, {NOW_MS})
             ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, seen_ms = EXCLUDED.seen_ms"
        ),
        &[&me, &url],
    )?;
    if let Some(e) = epoch {
        let n = c.execute(
            &format!("UPDATE leader SET expires_ms = {NOW_MS} + $3 WHERE id = 1 AND holder = $1 AND epoch = $2"),
            &[&me, &e, &lease_ms],
        )?;
        return Ok(if n == 1 { Step::Leading } else { Step::Lost });
    }
    let took = c.query_opt(
        &format!(
            "UPDATE leader SET holder = $1, epoch = epoch + 1, url = $2, since_ms = {NOW_MS},
               expires_ms = {NOW_MS} + $3
             WHERE id = 1 AND expires_ms < {NOW_MS} RETURNING epoch"
        ),
        &[&me, &url, &lease_ms],
    )?;
    if let Some(row) = took {
        return Ok(Step::Acquired(row.get(0)));
    }
    let first = c.query_opt(
        &format!(
            "INSERT INTO leader (id, holder, epoch, url, since_ms, expires_ms)
             VALUES (1, $1, 1, $2, {NOW_MS}, {NOW_MS} + $3) ON CONFLICT (id) DO NOTHING RETURNING epoch"
        ),
        &[&me, &url, &lease_ms],
    )?;
    Ok(first.map_or(Step::Follow, |r| Step::Acquired(r.get(0))))
}

/// Give the lease up at once (a clean shutdown of the leader), so a follower need not wait for
/// it to expire.
pub fn release(c: &mut postgres::Client, me: &str, epoch: i64) -> Result<(), postgres::Error> {
    c.execute(
        &format!("UPDATE leader SET expires_ms = {NOW_MS} - 1 WHERE id = 1 AND holder = $1 AND epoch = $2"),
        &[&me, &epoch],
    )?;
    Ok(())
}

/// The leader row, if any, and the replicas seen within `recent_ms`.
pub fn read(c: &mut postgres::Client, recent_ms: i64) -> Result<(Option<Leader>, Vec<Replica>), postgres::Error> {
    let leader = c
        .query_opt("SELECT holder, epoch, url, since_ms, expires_ms FROM leader WHERE id = 1", &[])?
        .map(|r| Leader { holder: r.get(0), epoch: r.get(1), url: r.get(2), since_ms: r.get(3), expires_ms: r.get(4) });
    let rows = c.query(
        &format!("SELECT name, url, seen_ms FROM replicas WHERE seen_ms >= {NOW_MS} - $1 ORDER BY name"),
        &[&recent_ms],
    )?;
    let holder = leader.as_ref().map(|l| l.holder.as_str());
    let replicas = rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            Replica { leader: Some(name.as_str()) == holder, name, url: r.get(1), seen_at: time(r.get(2)) }
        })
        .collect();
    Ok((leader, replicas))
}

/// Epoch milliseconds as a time (the epoch itself if out of range).
pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
