//! Which queued requests share a statement: `take` alone, without a server.

use std::collections::VecDeque;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::{take, Batched, Waiter, MAX_ROWS};
use crate::store::StoreError;

/// A request writing the rows `(scope, key)` it names; never sent.
struct Rows(Vec<(&'static str, &'static str)>, usize);

#[async_trait]
impl Batched for Rows {
    type On = ();
    type Answer = ();

    fn rows(&self) -> Vec<(&str, &str)> {
        self.0.clone()
    }

    fn size(&self) -> usize {
        self.1
    }

    async fn send(_: &(), _: &[&Rows]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        Err(StoreError::unavailable("not sent in these tests"))
    }
}

fn queue(requests: Vec<Rows>) -> VecDeque<Waiter<Rows>> {
    requests
        .into_iter()
        .map(|request| (request, oneshot::channel().0))
        .collect()
}

/// The first row of each request, as a label.
fn labels(waiters: &[Waiter<Rows>]) -> Vec<&'static str> {
    waiters
        .iter()
        .map(|(r, _)| r.0.first().map_or("-", |row| row.1))
        .collect()
}

#[test]
fn requests_on_distinct_rows_share_one_statement_in_queue_order() {
    let mut waiting = queue(vec![
        Rows(vec![("a", "1")], 1),
        Rows(vec![("b", "1")], 1),
        Rows(vec![("a", "2")], 1),
    ]);
    let taken = take::<Rows>(&mut waiting);
    assert_eq!(labels(&taken), ["1", "1", "2"]);
    assert!(waiting.is_empty());
}

#[test]
fn a_request_on_a_row_taken_or_left_waits_and_so_does_every_later_one_on_its_rows() {
    let mut waiting = queue(vec![
        Rows(vec![("s", "x")], 1),
        // Shares `x` with the first: left for the next statement.
        Rows(vec![("s", "x"), ("s", "y")], 2),
        // Shares only `y` with the one left: left too, so `y` keeps its order.
        Rows(vec![("s", "y")], 1),
        Rows(vec![("s", "z")], 1),
    ]);
    let taken = take::<Rows>(&mut waiting);
    assert_eq!(labels(&taken), ["x", "z"]);
    let left: Vec<_> = waiting.iter().map(|(r, _)| r.0.clone()).collect();
    assert_eq!(left, [vec![("s", "x"), ("s", "y")], vec![("s", "y")]]);
    // The next statement takes the first of those; the last waits once more.
    let taken = take::<Rows>(&mut waiting);
    assert_eq!(taken.len(), 1);
    assert_eq!(waiting.len(), 1);
}

#[test]
fn appends_that_touch_no_row_never_wait() {
    let mut waiting = queue((0..5).map(|_| Rows(Vec::new(), 1)).collect());
    assert_eq!(take::<Rows>(&mut waiting).len(), 5);
}

#[test]
fn a_statement_stops_at_its_row_limit_and_a_larger_request_goes_alone() {
    let mut waiting = queue(vec![
        Rows(vec![("s", "big")], MAX_ROWS + 10),
        Rows(vec![("s", "a")], 1),
    ]);
    assert_eq!(labels(&take::<Rows>(&mut waiting)), ["big"]);
    assert_eq!(labels(&take::<Rows>(&mut waiting)), ["a"]);

    let mut waiting = queue(vec![
        Rows(vec![("s", "a")], MAX_ROWS - 1),
        Rows(vec![("s", "b")], 2),
        Rows(vec![("s", "c")], 1),
    ]);
    assert_eq!(labels(&take::<Rows>(&mut waiting)), ["a"]);
    assert_eq!(labels(&take::<Rows>(&mut waiting)), ["b", "c"]);
}
