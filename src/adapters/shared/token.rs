//! The cached access token of a provider client, kept apart for dry runs.

use std::ops::{Deref, DerefMut};

use futures_util::lock::{MappedMutexGuard, Mutex, MutexGuard};

use crate::context::DryRunMark;
use crate::Context;

/// A client's current token and how many it has fetched. The count lets a caller whose
/// token was refused tell whether another caller already replaced it.
#[derive(Clone)]
pub(crate) struct TokenSlot<T> {
    pub(crate) current: Option<T>,
    pub(crate) generation: u64,
}

impl<T> Default for TokenSlot<T> {
    fn default() -> Self {
        TokenSlot {
            current: None,
            generation: 0,
        }
    }
}

/// The token slot of a client, locked across a fetch so that concurrent callers wait for
/// one refresh (single flight).
///
/// A dry run talks to provider fakes, so the tokens it obtains are the fakes' and must never
/// reach a real request. Each dry run gets a slot of its own, seeded with the real slot's
/// token (a real run would reuse it and fetch none, so the dry run must not fetch either);
/// what the dry run fetches stays in its slot and is dropped with the next dry run.
pub(crate) struct TokenCache<T> {
    real: Mutex<TokenSlot<T>>,
    dry: Mutex<Option<(DryRunMark, TokenSlot<T>)>>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        TokenCache {
            real: Mutex::new(TokenSlot::default()),
            dry: Mutex::new(None),
        }
    }
}

/// A locked slot: the real one, or the current dry run's.
pub(crate) enum SlotGuard<'a, T> {
    Real(MutexGuard<'a, TokenSlot<T>>),
    Dry(MappedMutexGuard<'a, Option<(DryRunMark, TokenSlot<T>)>, TokenSlot<T>>),
}

impl<T: Clone> TokenCache<T> {
    /// Locks the slot `ctx` works with.
    pub(crate) async fn lock(&self, ctx: &Context) -> SlotGuard<'_, T> {
        let Some(mark) = ctx.dry_run_mark() else {
            return SlotGuard::Real(self.real.lock().await);
        };
        let mut dry = self.dry.lock().await;
        if !dry.as_ref().is_some_and(|(held, _)| held.same(mark)) {
            // The dry lock is taken before the real one and the real path never takes the
            // dry lock, so the two cannot deadlock.
            let seed = self.real.lock().await.clone();
            *dry = Some((mark.clone(), seed));
        }
        // Filled just above while the lock was held, so the default is never used.
        SlotGuard::Dry(MutexGuard::map(dry, |slot| {
            &mut slot
                .get_or_insert_with(|| (mark.clone(), TokenSlot::default()))
                .1
        }))
    }

    /// Forgets the real token (and any dry run's), so the next request fetches a new one.
    pub(crate) async fn invalidate(&self) {
        self.real.lock().await.current = None;
        *self.dry.lock().await = None;
    }
}

impl<T> Deref for SlotGuard<'_, T> {
    type Target = TokenSlot<T>;

    fn deref(&self) -> &TokenSlot<T> {
        match self {
            SlotGuard::Real(guard) => guard,
            SlotGuard::Dry(guard) => guard,
        }
    }
}

impl<T> DerefMut for SlotGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut TokenSlot<T> {
        match self {
            SlotGuard::Real(guard) => guard,
            SlotGuard::Dry(guard) => guard,
        }
    }
}
