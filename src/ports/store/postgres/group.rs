//! Group commit: concurrent calls of one operation on one [`PgStore`] (or one cluster)
//! reach the server as one statement.
//!
//! Every claim, completion, history entry and rate-limit slot is a commit of its own when
//! sent alone, and on a busy worker (dozens of jobs in flight, each claiming, completing
//! and recording one record) the commits, not the rows, are what the server spends its
//! time on (docs/performance.md). So each of those operations has a [`Group`]: a call joins
//! the operation's queue; if no statement of the operation is in flight, a drain task is
//! started that sends everything queued as one multi-row statement, hands each caller its
//! own answer, and goes on with what queued meanwhile until the queue is empty.
//!
//! The batching is natural, with no timer: a call on an idle store is sent at once, alone;
//! under load a statement carries what arrived while the previous one ran. Nothing changes
//! for a caller but the round trip it shares:
//!
//! * One statement never touches a row twice (PostgreSQL refuses `ON CONFLICT DO UPDATE`
//!   on one row twice, and the answers would depend on the order inside the statement): a
//!   request that touches a row an earlier queued request touches waits for a later
//!   statement, and so does every later request on its rows. Calls on one row keep their
//!   order.
//! * A statement either commits for all its callers or for none. When it fails with a
//!   conflict (a value the server refuses, such as a receipt whose JSON `jsonb` cannot
//!   hold), one request may be at fault, so each is sent again alone and only the faulty
//!   one fails; any other failure (the server down) is every caller's answer.
//! * A caller that gives up (its future dropped) leaves its request in the statement, as a
//!   dropped single call would have left it in flight on the connection.
//!
//! The drain runs on the tokio runtime of the caller (sqlx needs one anyway); called
//! outside a runtime, an operation is sent alone, inline.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::store::{StoreError, StoreErrorKind};

/// The most rows one statement carries; a request with more is sent alone.
const MAX_ROWS: usize = 1024;

/// One caller's request of an operation whose concurrent requests can share one statement.
#[async_trait]
pub(crate) trait Batched: Sized + Send + Sync + 'static {
    /// What the statements run on (a store, a cluster): cloned into the drain task.
    type On: Clone + Send + Sync + 'static;
    /// One caller's answer.
    type Answer: Send + 'static;

    /// The rows this request touches, as `(scope, key)`: requests sharing one never share a
    /// statement. Empty for rows no other request can touch (an append).
    fn rows(&self) -> Vec<(&str, &str)>;

    /// How many rows this request sends (for [`MAX_ROWS`]); one unless it says otherwise.
    fn size(&self) -> usize {
        1
    }

    /// Sends `requests` as one statement, answering each in order.
    async fn send(
        on: &Self::On,
        requests: &[&Self],
    ) -> Result<Vec<Result<Self::Answer, StoreError>>, StoreError>;
}

type Waiter<B> = (
    B,
    oneshot::Sender<Result<<B as Batched>::Answer, StoreError>>,
);

/// The queue of one operation of one store.
pub(crate) struct Group<B: Batched> {
    queue: Arc<Mutex<Queue<B>>>,
}

struct Queue<B: Batched> {
    waiting: VecDeque<Waiter<B>>,
    /// Whether a drain task is running (and will see what is queued).
    draining: bool,
}

impl<B: Batched> Default for Group<B> {
    fn default() -> Self {
        Group {
            queue: Arc::new(Mutex::new(Queue {
                waiting: VecDeque::new(),
                draining: false,
            })),
        }
    }
}

/// The queue, also after a panic elsewhere left its lock poisoned: every change to it is
/// a single push or pop, so it is never half done.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B: Batched> Group<B> {
    /// Sends `request` with whatever else is queued, and answers it.
    pub(crate) async fn call(&self, on: &B::On, request: B) -> Result<B::Answer, StoreError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return alone::<B>(on, &request).await;
        };
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back((request, answer));
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            runtime.spawn(drain::<B>(on.clone(), self.queue.clone()));
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::unavailable(
                "the store's batched statement was abandoned (the runtime is shutting down)",
            ))
        })
    }
}

/// Sends one request alone.
async fn alone<B: Batched>(on: &B::On, request: &B) -> Result<B::Answer, StoreError> {
    B::send(on, &[request])
        .await?
        .pop()
        .unwrap_or_else(|| Err(StoreError::corrupt("a statement answered no row")))
}

/// Ends a drain: when the task ends any other way than with an empty queue (a panic, the
/// runtime dropping it), fails what is queued, so that no caller waits for an answer nobody
/// will send, and lets the next call start a drain afresh.
struct DrainGuard<B: Batched> {
    queue: Arc<Mutex<Queue<B>>>,
    finished: bool,
}

impl<B: Batched> Drop for DrainGuard<B> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = lock(&self.queue);
        queue.waiting.clear();
        queue.draining = false;
    }
}

/// Sends what is queued, statement after statement, until nothing is.
async fn drain<B: Batched>(on: B::On, queue: Arc<Mutex<Queue<B>>>) {
    let mut guard = DrainGuard::<B> {
        queue: queue.clone(),
        finished: false,
    };
    loop {
        let batch = {
            let mut queue = lock(&queue);
            let batch = take::<B>(&mut queue.waiting);
            if batch.is_empty() {
                queue.draining = false;
                guard.finished = true;
                return;
            }
            batch
        };
        send_batch::<B>(&on, batch).await;
    }
}

/// Takes the longest run of queued requests that can share a statement: in queue order,
/// skipping (and leaving queued) every request that shares a row with one taken or left
/// before it.
fn take<B: Batched>(waiting: &mut VecDeque<Waiter<B>>) -> Vec<Waiter<B>> {
    let mut taken = Vec::new();
    let mut left = VecDeque::new();
    let mut rows_taken = 0;
    let mut touched: HashSet<(String, String)> = HashSet::new();
    while let Some((request, answer)) = waiting.pop_front() {
        let size = request.size();
        let full = !taken.is_empty() && rows_taken + size > MAX_ROWS;
        let rows: Vec<(String, String)> = request
            .rows()
            .into_iter()
            .map(|(scope, key)| (scope.to_owned(), key.to_owned()))
            .collect();
        let clash = rows.iter().any(|row| touched.contains(row));
        touched.extend(rows);
        if full || clash {
            left.push_back((request, answer));
        } else {
            rows_taken += size;
            taken.push((request, answer));
        }
        if full {
            break;
        }
    }
    // What was not looked at stays behind what was left, in order.
    left.append(waiting);
    *waiting = left;
    taken
}

/// Sends a batch and answers its callers.
async fn send_batch<B: Batched>(on: &B::On, batch: Vec<Waiter<B>>) {
    let requests: Vec<&B> = batch.iter().map(|(request, _)| request).collect();
    let answers = B::send(on, &requests).await;
    match answers {
        Ok(answers) if answers.len() == batch.len() => {
            for ((_, answer), result) in batch.into_iter().zip(answers) {
                // A caller that gave up has nobody to answer.
                let _ = answer.send(result);
            }
        }
        Ok(_) => fail_all(
            batch,
            &StoreError::corrupt("a batched statement answered the wrong number of rows"),
        ),
        // One request may be the one the server refused: each alone, so only it fails.
        Err(error) if error.kind() == StoreErrorKind::Conflict && batch.len() > 1 => {
            for (request, answer) in batch {
                let _ = answer.send(alone::<B>(on, &request).await);
            }
        }
        Err(error) => fail_all(batch, &error),
    }
}

/// Answers every caller of a batch with `error`.
fn fail_all<B: Batched>(batch: Vec<Waiter<B>>, error: &StoreError) {
    for (_, answer) in batch {
        let _ = answer.send(Err(error.clone()));
    }
}

#[cfg(test)]
mod tests;
