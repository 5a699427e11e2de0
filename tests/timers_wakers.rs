//! Timers and the wakers they hold: a sleep re-polled with another waker, a
//! fired timer's key kept after its entry went to the next timer, a task
//! awaiting many timers at once, and tasks whose timers interleave.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{ManualClock, Runtime, Sleep};
use common::*;

const MS: Duration = Duration::from_millis(1);

/// A waker that counts its wakes.
#[derive(Default)]
struct Counted(AtomicUsize);

impl Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Arc<Counted>, Waker) {
    let counted = Arc::new(Counted::default());
    (counted.clone(), Waker::from(counted))
}

fn wakes(counted: &Counted) -> usize {
    counted.0.load(Ordering::SeqCst)
}

fn poll(sleep: &mut Sleep, waker: &Waker) -> Poll<()> {
    Pin::new(sleep).poll(&mut Context::from_waker(waker))
}

/// A sleep of `duration`, made inside a task (so it follows the runtime's
/// clock), handed out to be polled by hand.
fn made_sleep(runtime: &Runtime, duration: Duration) -> Sleep {
    // Handed out on purpose, not awaited: the test polls it by hand.
    #[allow(clippy::async_yields_async)]
    let mut made = runtime.spawn::<Main>(async move { sleep(duration) });
    runtime.pump(Instant::now(), None);
    made.try_take().expect("made in one pump").unwrap()
}

fn advance(runtime: &Runtime, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    runtime.pump(Instant::now(), None);
}

#[test]
fn a_sleep_polled_with_a_new_waker_wakes_that_one_only() {
    let (runtime, clock) = manual_runtime();
    let mut sleep = made_sleep(&runtime, 10 * MS);
    let (first, first_waker) = counted();
    let (second, second_waker) = counted();
    assert!(poll(&mut sleep, &first_waker).is_pending());
    assert!(poll(&mut sleep, &second_waker).is_pending());
    // The same waker again: the timer is kept as it is, not filed twice.
    assert!(poll(&mut sleep, &second_waker).is_pending());
    assert_eq!(runtime.pending_timers(), 1);
    advance(&runtime, &clock, 10 * MS);
    assert_eq!((wakes(&first), wakes(&second)), (0, 1));
    assert_eq!(
        runtime.pending_timers(),
        0,
        "a fired timer leaves the wheel"
    );
    assert!(poll(&mut sleep, &first_waker).is_ready());
}

#[test]
fn a_sleep_woken_before_its_deadline_files_again_and_fires_later() {
    let (runtime, clock) = manual_runtime();
    // 10.5 ms: its tick (10 ms) starts half a tick before the deadline.
    let mut sleep = made_sleep(&runtime, Duration::from_micros(10_500));
    let (counter, waker) = counted();
    assert!(poll(&mut sleep, &waker).is_pending());
    advance(&runtime, &clock, Duration::from_micros(10_200));
    assert_eq!(wakes(&counter), 1, "woken when its tick came");
    assert!(poll(&mut sleep, &waker).is_pending(), "never early");
    assert_eq!(runtime.pending_timers(), 1, "filed again for the next tick");
    advance(&runtime, &clock, MS);
    assert_eq!(wakes(&counter), 2);
    assert!(poll(&mut sleep, &waker).is_ready());
    assert_eq!(runtime.pending_timers(), 0);
}

#[test]
fn a_fired_sleep_dropped_late_leaves_the_next_timer_alone() {
    let (runtime, clock) = manual_runtime();
    let mut fired = made_sleep(&runtime, MS);
    let (_, waker) = counted();
    assert!(poll(&mut fired, &waker).is_pending());
    advance(&runtime, &clock, MS);
    assert_eq!(runtime.pending_timers(), 0);
    // The next timers go where the fired one was (its entry is free).
    let mut next: Vec<Sleep> = (0..3).map(|_| made_sleep(&runtime, 5 * MS)).collect();
    let (counter, next_waker) = counted();
    for sleep in &mut next {
        assert!(poll(sleep, &next_waker).is_pending());
    }
    assert_eq!(runtime.pending_timers(), 3);
    drop(fired);
    assert_eq!(
        runtime.pending_timers(),
        3,
        "the fired sleep removed nothing"
    );
    advance(&runtime, &clock, 5 * MS);
    assert_eq!(wakes(&counter), 1, "three timers, one waker: one wake");
    assert!(
        next.iter_mut()
            .all(|sleep| poll(sleep, &next_waker).is_ready())
    );
}

#[test]
fn a_cancelled_sleep_frees_its_timer_and_the_others_still_fire() {
    let (runtime, clock) = manual_runtime();
    let mut sleeps: Vec<Sleep> = (1..=10).map(|i| made_sleep(&runtime, i * MS)).collect();
    let wakers: Vec<_> = (0..10).map(|_| counted()).collect();
    for (sleep, (_, waker)) in sleeps.iter_mut().zip(&wakers) {
        assert!(poll(sleep, waker).is_pending());
    }
    // Every other one dropped before it is due.
    let kept: Vec<_> = sleeps
        .into_iter()
        .zip(wakers)
        .enumerate()
        .filter_map(|(i, pair)| (i % 2 == 0).then_some(pair))
        .collect();
    assert_eq!(runtime.pending_timers(), 5);
    advance(&runtime, &clock, 10 * MS);
    assert_eq!(runtime.pending_timers(), 0);
    for (mut sleep, (counter, waker)) in kept {
        assert_eq!(wakes(&counter), 1);
        assert!(poll(&mut sleep, &waker).is_ready());
    }
}

/// Copies of `waker` alive besides the test's own (`Waker::from(Arc)`
/// counts them on the `Arc`).
fn copies(counted: &Arc<Counted>) -> usize {
    Arc::strong_count(counted) - 2
}

#[test]
fn timers_of_one_task_share_one_waker_until_the_last_leaves() {
    let (runtime, clock) = manual_runtime();
    let (counter, waker) = counted();
    let mut sleeps: Vec<Sleep> = (1..=100).map(|i| made_sleep(&runtime, i * MS)).collect();
    for sleep in &mut sleeps {
        assert!(poll(sleep, &waker).is_pending());
    }
    assert_eq!(runtime.pending_timers(), 100);
    assert_eq!(
        copies(&counter),
        1,
        "a hundred timers, one copy of the waker"
    );
    // Dropped pending: each removes its timer; the copy stays for the rest.
    let rest = sleeps.split_off(50);
    drop(sleeps);
    assert_eq!(runtime.pending_timers(), 50);
    assert_eq!(copies(&counter), 1);
    // Some fire: the task is woken once, and the copy stays for the others.
    advance(&runtime, &clock, 60 * MS);
    assert_eq!(wakes(&counter), 1);
    assert_eq!(runtime.pending_timers(), 40);
    assert_eq!(copies(&counter), 1);
    advance(&runtime, &clock, 70 * MS);
    assert_eq!(wakes(&counter), 2, "woken again by the next ones to fire");
    assert_eq!(runtime.pending_timers(), 0);
    assert_eq!(copies(&counter), 0, "the last to fire took the copy along");
    drop(rest);
    assert_eq!(copies(&counter), 0);
    assert_eq!(wakes(&counter), 2);
}

#[test]
fn a_shared_waker_goes_when_its_last_timer_is_dropped_or_repolled() {
    let (runtime, clock) = manual_runtime();
    let (first, first_waker) = counted();
    let (second, second_waker) = counted();
    let mut sleeps: Vec<Sleep> = (0..4).map(|_| made_sleep(&runtime, 10 * MS)).collect();
    for sleep in &mut sleeps {
        assert!(poll(sleep, &first_waker).is_pending());
    }
    assert_eq!((copies(&first), copies(&second)), (1, 0));
    // Each sleep moves to the second waker in turn: the first's copy stays
    // while any timer still has it, and goes with the last.
    for (moved, sleep) in sleeps.iter_mut().enumerate() {
        assert_eq!(copies(&first), 1, "{moved} moved");
        assert!(poll(sleep, &second_waker).is_pending());
    }
    assert_eq!((copies(&first), copies(&second)), (0, 1));
    assert_eq!(runtime.pending_timers(), 4, "moved, not filed twice");
    // Dropping the last pending timer drops the copy with it.
    sleeps.truncate(1);
    assert_eq!(copies(&second), 1);
    let last = sleeps.pop().unwrap();
    drop(last);
    assert_eq!((copies(&first), copies(&second)), (0, 0));
    assert_eq!(runtime.pending_timers(), 0);
    advance(&runtime, &clock, 10 * MS);
    assert_eq!(
        (wakes(&first), wakes(&second)),
        (0, 0),
        "nothing left to fire"
    );
}

#[test]
fn wakers_filed_in_turn_each_get_their_timers_wakes() {
    let (runtime, clock) = manual_runtime();
    let pairs: Vec<_> = (0..3).map(|_| counted()).collect();
    // Filed in turn, a, b, c, a, b, c...: no two in a row share a waker.
    let mut sleeps = Vec::new();
    for round in 1..=5u32 {
        for (_, waker) in &pairs {
            let mut sleep = made_sleep(&runtime, round * MS);
            assert!(poll(&mut sleep, waker).is_pending());
            sleeps.push(sleep);
        }
    }
    assert_eq!(runtime.pending_timers(), 15);
    for round in 1..=5 {
        advance(&runtime, &clock, MS);
        for (counter, _) in &pairs {
            assert_eq!(wakes(counter), round, "one wake per task per firing");
        }
    }
    for (counter, _) in &pairs {
        assert_eq!(copies(counter), 0);
    }
}

#[test]
fn a_sleep_outliving_its_runtime_is_dropped_on_another_thread() {
    let (runtime, _clock) = manual_runtime();
    let (counter, waker) = counted();
    let mut sleeps: Vec<Sleep> = (0..3).map(|_| made_sleep(&runtime, 10 * MS)).collect();
    for sleep in &mut sleeps {
        assert!(poll(sleep, &waker).is_pending());
    }
    drop(runtime);
    assert_eq!(copies(&counter), 0, "the shutdown dropped the filed waker");
    std::thread::spawn(move || drop(sleeps)).join().unwrap();
    assert_eq!(wakes(&counter), 0);
}

/// Polls every sleep it holds until all are done; counts its polls.
struct AllOf(Vec<Sleep>, Arc<AtomicUsize>);

impl Future for AllOf {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0
            .retain_mut(|sleep| Pin::new(sleep).poll(cx).is_pending());
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn all_of(count: u64, step: Duration, polls: &Arc<AtomicUsize>) -> AllOf {
    AllOf(
        (1..=count).map(|i| sleep(step * i as u32)).collect(),
        polls.clone(),
    )
}

in_each_mode! {
fn a_task_awaiting_a_thousand_sleeps_is_woken_once_and_finishes(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let mut task = runtime.spawn::<Main>(async move { all_of(1_000, MS, &counted).await });
    runtime.pump(Instant::now(), None);
    assert_eq!(runtime.pending_timers(), 1_000);
    advance(&runtime, &clock, 1_000 * MS);
    assert_eq!(task.try_take(), Some(Ok(())));
    assert_eq!(polls.load(Ordering::SeqCst), 2, "filed, then all fired");
    assert_eq!(runtime.pending_timers(), 0);
}
}

in_each_mode! {
fn tasks_whose_timers_interleave_all_wake(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    // Two tasks on each side; their deadlines alternate in the wheel.
    let polls: Vec<_> = (0..4).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let mut tasks: Vec<_> = polls
        .iter()
        .enumerate()
        .map(|(i, polls)| {
            let polls = polls.clone();
            let future = async move {
                // Deadlines i+1, i+5, i+9, ... ms: each tick holds one task's.
                sleep(MS * (i as u32 + 1)).await;
                all_of(100, 4 * MS, &polls).await
            };
            spawn_on_runtime(&runtime, i % 2 == 1, future)
        })
        .collect();
    // Three ticks a pump: each pump fires timers of different tasks in turn.
    // The clock moves until all are done (a worker task files its sleeps
    // when it gets to them, maybe many pumps later).
    wait_until("every task done", || {
        advance(&runtime, &clock, 3 * MS);
        tasks.iter().all(|task| task.is_finished())
    });
    for task in &mut tasks {
        assert_eq!(task.try_take(), Some(Ok(())));
    }
    assert_eq!(runtime.pending_timers(), 0);
    for polls in &polls {
        // Filed, then woken once per tick of its own (100 of them), never lost.
        let polls = polls.load(Ordering::SeqCst);
        assert!((2..=101).contains(&polls), "{polls} polls");
    }
}
}

fn spawn_on_runtime<F>(runtime: &Runtime, worker: bool, future: F) -> Task<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    if worker {
        runtime.spawn::<Worker>(future)
    } else {
        runtime.spawn::<Main>(future)
    }
}

in_each_mode! {
fn sleeps_made_on_each_side_and_dropped_on_another_thread_all_settle(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    const TASKS: usize = 100;
    const ROUNDS: usize = 5;
    let (sender, dropped_here) = std::sync::mpsc::channel::<Sleep>();
    let rounds = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let sender = sender.clone();
            let rounds = rounds.clone();
            let future = async move {
                for round in 0..ROUNDS {
                    let step = MS * (1 + ((i + round) % 3) as u32);
                    // Three filed here and sent away pending, their timers
                    // sharing this task's waker with the three awaited.
                    let mut away: Vec<Sleep> = (10..13).map(|k| sleep(step * k)).collect();
                    std::future::poll_fn(|cx| {
                        for sleep in &mut away {
                            assert!(Pin::new(sleep).poll(cx).is_pending());
                        }
                        Poll::Ready(())
                    })
                    .await;
                    for sleep in away {
                        sender.send(sleep).unwrap();
                    }
                    AllOf((1..=3).map(|k| sleep(step * k)).collect(), Arc::default()).await;
                    rounds.fetch_add(1, Ordering::SeqCst);
                }
            };
            spawn_on_runtime(&runtime, i % 2 == 1, future)
        })
        .collect();
    drop(sender);
    let mut dropped = 0;
    wait_until("every task done", || {
        dropped += dropped_here.try_iter().count();
        advance(&runtime, &clock, MS);
        tasks.iter().all(|task| task.is_finished())
    });
    dropped += dropped_here.try_iter().count();
    for task in &mut tasks {
        assert_eq!(task.try_take(), Some(Ok(())));
    }
    assert_eq!(rounds.load(Ordering::SeqCst), TASKS * ROUNDS);
    assert_eq!(dropped, TASKS * ROUNDS * 3, "every sleep sent away was dropped here");
    assert_eq!(runtime.pending_timers(), 0, "each dropped pending sleep removed its timer");
}
}
