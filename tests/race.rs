//! `race`: one winner, the losers cancelled and dropped before it returns,
//! branches that hop, sleep and spawn on their own.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::{Affinity, race_all};
use common::*;

/// A branch that yields, hops to the other side and back, and sleeps a
/// little, holding `token` until its future is dropped; gives `value`.
async fn wander(token: DropToken, value: u64, on_main: bool) -> u64 {
    let _token = token;
    yield_now().await;
    let wait = Duration::from_micros(value % 3 * 300);
    if on_main {
        async { sleep(wait).await }.on::<Worker>().await;
    } else {
        async { sleep(wait).await }.on::<Main>().await;
    }
    yield_now().await;
    value
}

/// `races` races of three wandering branches, one after the other, in a
/// task on `A`; checks each race's winner and that all three branches'
/// futures were dropped when it returned. Gives the number of races won.
async fn races_in_a_row<A: Affinity>(races: u64, dropped: Arc<AtomicUsize>) -> u64 {
    let on_main = A::NAME == "Main";
    let mut won = 0;
    for race_number in 0..races {
        let counter = DropCounter::default();
        let base = race_number * 3;
        let winner = race((
            wander(counter.token(), base, on_main),
            wander(counter.token(), base + 1, on_main),
            wander(counter.token(), base + 2, on_main),
        ))
        .await
        .expect("no branch panics");
        let value = match winner {
            Winner::First(value) | Winner::Second(value) | Winner::Third(value) => value,
        };
        assert_eq!(
            value,
            base + winner.index() as u64,
            "the value of the winner"
        );
        // Losers (and the winner) are dropped before the race returns.
        assert_eq!(counter.count(), 3, "race {race_number}: branches dropped");
        dropped.fetch_add(counter.count(), Ordering::SeqCst);
        won += 1;
    }
    won
}

#[test]
fn ten_thousand_races_have_one_winner_each_and_drop_every_loser_once() {
    const RACERS: u64 = 100;
    const RACES: u64 = 100;
    let mut app = app(2);
    let coro = coro(&app);
    let dropped = Arc::new(AtomicUsize::new(0));
    let watchdog = Watchdog::start("10,000 races", Duration::from_secs(120));
    let probe = (*coro).clone();
    watchdog.lap("races".into(), move || describe(&probe));
    let racers: Vec<_> = (0..RACERS)
        .map(|racer| {
            let dropped = dropped.clone();
            if racer % 2 == 0 {
                coro.spawn::<Main>(races_in_a_row::<Main>(RACES, dropped))
            } else {
                coro.spawn::<Worker>(races_in_a_row::<Worker>(RACES, dropped))
            }
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        won += run_task(&mut app, racer).expect("racer finished");
    }
    assert_eq!(won, RACERS * RACES);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        (RACERS * RACES * 3) as usize
    );
    wait_until("no task left", || coro.in_flight() == 0);
}

#[test]
fn the_quick_branch_wins_and_the_slow_one_is_dropped_before_the_race_returns() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (slow, seen) = (counter.token(), counter.clone());
    let task = coro.spawn::<Main>(async move {
        let winner = race((parked_forever(slow), async { 7 }.on::<Worker>())).await;
        (winner, seen.count())
    });
    let (winner, dropped) = run_task(&mut app, task).unwrap();
    assert_eq!(winner, Ok(Winner::Second(7)));
    assert_eq!(
        dropped, 1,
        "the loser was not dropped before the race returned"
    );
}

#[test]
fn race_all_gives_the_index_of_the_winner() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let tokens: Vec<_> = (0..5).map(|_| counter.token()).collect();
    let task = coro.spawn::<Worker>(async move {
        race_all(tokens.into_iter().enumerate().map(|(i, token)| async move {
            if i == 3 {
                drop(token);
                "three"
            } else {
                parked_forever(token).await;
                unreachable!()
            }
        }))
        .await
    });
    assert_eq!(run_task(&mut app, task).unwrap(), Ok((3, "three")));
    assert_eq!(counter.count(), 5);
}

#[test]
fn a_panic_in_a_branch_ends_the_race_with_it() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let token = counter.token();
    let task = coro.spawn::<Main>(async move {
        race((parked_forever(token), async {
            yield_now().await;
            panic!("the boss fight broke")
        }))
        .await
    });
    let result: Result<Winner<(), ()>, TaskError> = run_task(&mut app, task).unwrap();
    assert_eq!(
        result,
        Err(TaskError::Panicked("the boss fight broke".into()))
    );
    assert_eq!(counter.count(), 1);
}

#[test]
fn cancelling_the_racing_task_cancels_every_branch_and_what_they_spawned() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (c, a, b, grandchild) = (
        coro.clone(),
        counter.token(),
        counter.token(),
        counter.token(),
    );
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let racer = coro.spawn::<Main>(async move {
        race((
            parked_forever(a),
            async move {
                c.spawn::<Worker>(parked_forever(grandchild)).detach();
                s.fetch_add(1, Ordering::SeqCst);
                parked_forever(b).await
            }
            .on::<Worker>(),
        ))
        .await
    });
    update_until(&mut app, "branches started", |_| {
        started.load(Ordering::SeqCst) == 1 && coro.in_flight() == 4
    });
    racer.cancel();
    update_until(&mut app, "every branch dropped", |_| counter.count() == 3);
    assert_eq!(run_task(&mut app, racer), Err(TaskError::Cancelled));
    wait_until("no task left", || coro.in_flight() == 0);
}

#[test]
fn cancelling_the_parent_of_a_racing_task_cancels_the_race_and_its_branches() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let racing = Arc::new(AtomicUsize::new(0));
    let (c, r, a, b, token) = (
        coro.clone(),
        racing.clone(),
        counter.token(),
        counter.token(),
        counter.token(),
    );
    let parent = coro.spawn::<Main>(async move {
        // The child races; the parent waits. Cancelling the parent reaches
        // the race's branches, its grandchildren.
        c.spawn::<Worker>(async move {
            r.fetch_add(1, Ordering::SeqCst);
            let _ = race((parked_forever(a), parked_forever(b).on::<Main>())).await;
        })
        .detach();
        parked_forever(token).await
    });
    update_until(&mut app, "racing", |_| {
        racing.load(Ordering::SeqCst) == 1 && coro.in_flight() == 4
    });
    parent.cancel();
    update_until(&mut app, "every task dropped", |_| counter.count() == 3);
    assert_eq!(run_task(&mut app, parent), Err(TaskError::Cancelled));
    wait_until("no task left", || coro.in_flight() == 0);
}

#[test]
fn nested_races_resolve_and_drop_every_branch() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (a, b, c) = (counter.token(), counter.token(), counter.token());
    let task = coro.spawn::<Main>(async move {
        let inner_slow = async move {
            race((parked_forever(a), parked_forever(b)))
                .await
                .map(|_| "inner")
        };
        let inner_quick = async move {
            race((parked_forever(c), async { "quick" }.on::<Worker>()))
                .await
                .map(|winner| match winner {
                    Winner::First(()) => "never",
                    Winner::Second(quick) => quick,
                })
        };
        race((inner_slow, inner_quick)).await
    });
    let result = run_task(&mut app, task).unwrap();
    assert_eq!(result, Ok(Winner::Second(Ok("quick"))));
    // The slow inner race lost: it and its branches are dropped.
    update_until(&mut app, "every branch dropped", |_| counter.count() == 3);
    wait_until("no task left", || coro.in_flight() == 0);
}

#[test]
fn race_outside_a_task_says_so() {
    let message = poll_once_outside_task(race((async {}, async {})))
        .expect("awaiting a race outside a task panics");
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

/// The winners of 200 races whose branches take the same number of steps on
/// workers, so the seeded order alone decides who wins.
fn winners(seed: u64) -> Vec<usize> {
    let runtime = deterministic(seed);
    let winners = Arc::new(Mutex::new(Vec::new()));
    let w = winners.clone();
    runtime
        .spawn::<Main>(async move {
            for _ in 0..200 {
                let step = || async {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                };
                let winner = race((step(), step().on::<Worker>(), step().on::<Worker>()))
                    .await
                    .unwrap();
                w.lock().unwrap().push(winner.index());
            }
        })
        .detach();
    let start = Instant::now();
    while runtime.in_flight() > 0 {
        assert!(start.elapsed() < WATCHDOG, "watchdog: deterministic races");
        let report = runtime.pump(Instant::now(), None);
        assert_eq!(report.stall, None);
    }
    let winners = winners.lock().unwrap().clone();
    assert_eq!(winners.len(), 200);
    winners
}

#[test]
fn the_deterministic_mode_replays_a_race_the_same_way_for_the_same_seed() {
    let first = winners(11);
    assert_eq!(first, winners(11));
    assert_eq!(winners(12), winners(12));
    // The seeded order decides: not one branch always first.
    let mut kinds = first.clone();
    kinds.sort_unstable();
    kinds.dedup();
    assert!(kinds.len() > 1, "every race won by branch {kinds:?}");
}
