//! Lock helpers for the locks whose holders cannot leave their value half-changed.
//!
//! A `std` lock is poisoned when a thread panics while holding it. For the engine's writers'
//! copy that matters, and it has its own recovery (`engine::Inner::work` restores every
//! release from the last stored state). Every other lock in shipwatch guards a value that each
//! critical section changes in one step that cannot stop half-way — one assignment, one insert,
//! remove or retain on a `std` collection, a clone, a `pop`/`push` of a pooled connection, or a
//! SQLite transaction that rolls back when unwound — so after a panic the value is still one a
//! completed section left. These helpers take such a lock regardless of poisoning, and say so
//! in the log (once per lock and process is not tracked: poisoning is a bug and rare).
//!
//! Use them only for locks that satisfy that rule; anything else needs a restore like `work`.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

fn recovered<G>(e: PoisonError<G>, what: &'static str) -> G {
    tracing::error!(
        lock = what,
        "a thread panicked holding this lock; its value is whole (see crate::sync), continuing"
    );
    e.into_inner()
}

/// Lock `m` (see the module doc for when this is allowed).
pub fn lock<'a, T>(m: &'a Mutex<T>, what: &'static str) -> MutexGuard<'a, T> {
    m.lock().unwrap_or_else(|e| recovered(e, what))
}

/// Read-lock `l` (see the module doc).
pub fn read<'a, T>(l: &'a RwLock<T>, what: &'static str) -> RwLockReadGuard<'a, T> {
    l.read().unwrap_or_else(|e| recovered(e, what))
}

/// Write-lock `l` (see the module doc).
pub fn write<'a, T>(l: &'a RwLock<T>, what: &'static str) -> RwLockWriteGuard<'a, T> {
    l.write().unwrap_or_else(|e| recovered(e, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_holds_the_last_whole_value() {
        let m = std::sync::Arc::new(Mutex::new(vec![1]));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            g.push(2);
            panic!("after a whole push");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*lock(&m, "test"), vec![1, 2]);
        let l = RwLock::new(3);
        *write(&l, "test") += 1;
        assert_eq!(*read(&l, "test"), 4);
    }
}
