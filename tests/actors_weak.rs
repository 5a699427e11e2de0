//! Weak actor addresses: they send while an address lives and never keep
//! the actor running; an upgrade racing the last drop neither revives the
//! actor nor loses a message it sent.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use bevy_coro::prelude::*;
use bevy_coro::runtime::Runtime;
use bevy_coro::{WeakActor, behavior_fn};
use common::*;

/// A worker actor counting the messages it handles, its state holding a
/// drop token.
fn counting(runtime: &Runtime, drops: &DropCounter) -> (Actor<u32>, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let actor =
        runtime
            .actor("counting")
            .spawn::<Worker>(behavior_fn(drops.token(), move |_, _n: u32| {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {})
            }));
    (actor, handled)
}

#[test]
fn a_weak_address_sends_while_an_address_lives_and_not_after() {
    let _watchdog = Watchdog::start("weak address", WATCHDOG);
    let runtime = runtime(2);
    let drops = DropCounter::default();
    let (actor, handled) = counting(&runtime, &drops);
    let weak = actor.downgrade();
    let copy = weak.clone();
    for n in 0..10 {
        weak.upgrade().expect("an address lives").send(n).unwrap();
    }
    assert!(format!("{weak:?}").contains("counting"), "{weak:?}");
    // The weak addresses do not keep it running: the last `Actor` stops it,
    // after the messages sent (through upgrades too).
    drop(actor);
    assert!(weak.upgrade().is_none());
    assert!(copy.upgrade().is_none());
    wait_until("the state dropped", || drops.count() == 1);
    assert_eq!(handled.load(Ordering::SeqCst), 10);
    assert!(
        weak.upgrade().is_none(),
        "no upgrade revives a stopped actor"
    );
    assert_eq!(drops.count(), 1);
}

#[test]
fn an_actor_stopped_by_hand_upgrades_to_an_address_that_refuses() {
    let runtime = runtime(2);
    let drops = DropCounter::default();
    let (actor, _) = counting(&runtime, &drops);
    let weak = actor.downgrade();
    actor.stop();
    // `actor` is alive, so the weak one upgrades, to a stopped actor.
    let again = weak.upgrade().expect("an address lives");
    assert!(again.is_stopped());
    assert_eq!(again.send(1).map_err(|error| error.0), Err(1));
    drop((actor, again));
    assert!(weak.upgrade().is_none());
}

/// What an actor holding its own weak address is told.
enum Step {
    /// Its own weak address, to keep.
    Me(WeakActor<Step>),
    /// Count this, and send itself `n - 1` while `n > 0`.
    Count(u32),
}

/// An actor's state that keeps its own weak address: with an `Actor` there,
/// its last address would never be dropped.
fn self_sending(coro: &Coro, drops: &DropCounter, counted: &Arc<AtomicUsize>) -> Actor<Step> {
    let counted = counted.clone();
    let state = (drops.token(), None::<WeakActor<Step>>);
    let actor =
        coro.actor("self-sending")
            .spawn::<Main>(behavior_fn(state, move |(_, me), step: Step| {
                match step {
                    Step::Me(weak) => *me = Some(weak),
                    Step::Count(n) => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        if n > 0
                            && let Some(me) = me.as_ref().and_then(WeakActor::upgrade)
                        {
                            assert!(me.send(Step::Count(n - 1)).is_ok(), "an address lives");
                        }
                    }
                }
                Box::pin(async {})
            }));
    assert!(actor.send(Step::Me(actor.downgrade())).is_ok());
    actor
}

#[test]
fn an_actor_holding_its_own_weak_address_stops_with_its_last_address() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let counted = Arc::new(AtomicUsize::new(0));
    // Its own address keeps the chain going while the game's address lives.
    let actor = self_sending(&coro, &drops, &counted);
    assert!(actor.send(Step::Count(10)).is_ok());
    update_until(&mut app, "the chain of 11", |_| {
        counted.load(Ordering::SeqCst) == 11
    });
    assert_eq!(drops.count(), 0);
    drop(actor);
    update_until(&mut app, "the state dropped", |_| drops.count() == 1);
    // A main-thread actor: nothing ran before the drop, so its first
    // message finds no address to send the next with.
    let actor = self_sending(&coro, &drops, &counted);
    assert!(actor.send(Step::Count(10)).is_ok());
    drop(actor);
    update_until(&mut app, "the second state dropped", |_| drops.count() == 2);
    assert_eq!(counted.load(Ordering::SeqCst), 12);
    assert_settled(&mut app, &drops, 2);
}

/// The last address dropped inside the actor's own handler (a temporary
/// one, from its weak address): the actor stops there, after the messages
/// already sent, and its state is dropped once the turn has put it down.
#[test]
fn the_last_address_dropped_in_the_actors_own_handler_stops_it() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let handled = Arc::new(AtomicUsize::new(0));
    // What the handler saw, checked out here (a panic in a handler only
    // ends that message): the temporary address running, then no upgrade.
    let seen: Arc<std::sync::Mutex<Option<(bool, bool)>>> = Arc::default();
    // The game's address, which the first message's handler drops.
    let outside: Arc<std::sync::Mutex<Option<Actor<u32>>>> = Arc::default();
    let me: Arc<std::sync::Mutex<Option<WeakActor<u32>>>> = Arc::default();
    let actor = coro
        .actor("self-ending")
        .spawn::<Main>(behavior_fn(drops.token(), {
            let (outside, me) = (outside.clone(), me.clone());
            let (handled, seen) = (handled.clone(), seen.clone());
            move |_, n: u32| {
                handled.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    let weak = me.lock().unwrap().clone().expect("set before the pump");
                    let temporary = weak.upgrade().expect("the game's address lives");
                    drop(outside.lock().unwrap().take());
                    let running = !temporary.is_stopped();
                    // The last address: the actor stops, after messages 1 and 2.
                    drop(temporary);
                    *seen.lock().unwrap() = Some((running, weak.upgrade().is_some()));
                }
                Box::pin(async {})
            }
        }));
    *me.lock().unwrap() = Some(actor.downgrade());
    for n in 0..3 {
        assert!(actor.send(n).is_ok());
    }
    *outside.lock().unwrap() = Some(actor);
    update_until(&mut app, "the state dropped", |_| drops.count() == 1);
    assert_eq!(handled.load(Ordering::SeqCst), 3);
    assert!(outside.lock().unwrap().is_none());
    assert_eq!(
        *seen.lock().unwrap(),
        Some((true, false)),
        "(running with the temporary address, upgraded after it)"
    );
    assert_settled(&mut app, &drops, 1);
}

/// Threads upgrading and sending while the last `Actor` is dropped: every
/// send that was taken is handled, once; the state is dropped once; then
/// no upgrade succeeds.
#[test]
fn upgrades_racing_the_last_drop_lose_nothing_and_stop_once() {
    const ROUNDS: usize = 50;
    const THREADS: usize = 4;
    const SENDS: usize = 10_000;
    let watchdog = Watchdog::start("upgrades racing the last drop", WATCHDOG);
    let runtime = runtime(2);
    // Senders whose upgrade failed before their last send: the drop came
    // mid-stream.
    let cut_short = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let drops = DropCounter::default();
        let (actor, handled) = counting(&runtime, &drops);
        let sent = Arc::new(AtomicUsize::new(0));
        watchdog.lap(format!("round {round}"), {
            let (sent, handled) = (sent.clone(), handled.clone());
            move || {
                format!(
                    "sent {}, handled {}",
                    sent.load(Ordering::SeqCst),
                    handled.load(Ordering::SeqCst)
                )
            }
        });
        let senders: Vec<_> = (0..THREADS)
            .map(|_| {
                let (weak, sent) = (actor.downgrade(), sent.clone());
                let cut_short = cut_short.clone();
                thread::spawn(move || {
                    for n in 0..SENDS as u32 {
                        let Some(actor) = weak.upgrade() else {
                            cut_short.fetch_add(1, Ordering::SeqCst);
                            return;
                        };
                        if actor.send(n).is_ok() {
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let weak = actor.downgrade();
        // The last `Actor` goes while the senders are under way.
        wait_until("sends under way", || sent.load(Ordering::SeqCst) >= THREADS);
        drop(actor);
        for sender in senders {
            sender.join().unwrap();
        }
        // Every address is gone now: the actor stopped, after what it took.
        assert!(weak.upgrade().is_none());
        wait_until("the state dropped", || drops.count() == 1);
        assert_eq!(
            handled.load(Ordering::SeqCst),
            sent.load(Ordering::SeqCst),
            "round {round}: every message taken is handled"
        );
        assert_eq!(drops.count(), 1);
    }
    assert!(
        cut_short.load(Ordering::SeqCst) > 0,
        "no drop came mid-stream: the race was not tried"
    );
}
