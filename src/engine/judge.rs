//! A person's verdict: settle an inconclusive release, or end an open one early (a manual
//! promote or abort). Recorded like every change, through the transition table, with who and why.

use super::{Engine, EngineError};
use crate::release::ReleaseState;
use crate::transition::{self, Cause};
use crate::validate;

impl Engine {
    /// Release `id` is `to` (verified or failed) because person `by` says so. Giving the
    /// verdict a release already has changes nothing (a retried call); any other verdict on a
    /// closed release is a conflict.
    pub fn verdict(
        &self,
        id: &str,
        to: ReleaseState,
        by: &str,
        note: Option<String>,
    ) -> Result<super::ReleaseView, EngineError> {
        let checked = |field: &str, r: Result<(), String>| {
            r.map_err(|message| EngineError::Invalid { field: field.into(), message })
        };
        checked("by", validate::person_text("by", by, validate::MAX_BY))?;
        let note = note.filter(|n| !n.is_empty());
        if let Some(n) = &note {
            checked("note", validate::person_text("note", n, validate::MAX_NOTE))?;
        }
        if !matches!(to, ReleaseState::Verified | ReleaseState::Failed) {
            let message = format!("a verdict is verified or failed, not {}", to.as_str());
            return Err(EngineError::Invalid { field: "verdict".into(), message });
        }
        let mut txn = self.0.txn();
        let now = txn.now;
        let (rel, fx) = txn.rel(id)?;
        if rel.release.state == to {
            drop(txn);
            return self.release(id);
        }
        let message =
            format!("{} by {by}{}", to.as_str(), note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
        let cause = Cause::Decided { to, by: by.to_string(), note };
        let h = transition::apply_release(&mut rel.release, cause, message, now)
            .map_err(|e| EngineError::Conflict(format!("cannot give release '{id}' a verdict: {e}")))?;
        if let Some(h) = h {
            fx.changed(rel, h, None);
        }
        txn.settle(id, true)?;
        txn.commit()?;
        self.release(id)
    }
}
