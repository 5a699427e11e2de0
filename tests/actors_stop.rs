//! Actors stopping: by their last address, by `stop`/`stop_now`, with their
//! entity, at shutdown, after a panic; nothing sent is silently lost.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use bevy_coro::prelude::*;
use bevy_coro::runtime::block_on;
use bevy_coro::{ActorError, OnPanic, SendError, behavior_fn};
use common::*;

/// A main-thread actor counting what it handles, its state holding a drop
/// token.
fn counting(coro: &Coro, batch: usize, drops: &DropCounter) -> (Actor<u32, u32>, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let actor = coro
        .actor("counting")
        .batch(batch)
        .spawn::<Main>(behavior_fn(drops.token(), move |_, n: u32| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { n })
        }));
    (actor, handled)
}

/// Dropping the last address stops the actor after the messages already
/// sent: all are handled, then the state is dropped, once.
#[test]
fn the_last_address_dropped_stops_after_what_was_sent() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let (actor, handled) = counting(&coro, 8, &drops);
    let second = actor.clone();
    for n in 0..100 {
        actor.send(n).unwrap();
    }
    drop(actor);
    assert!(!second.is_stopped(), "another address is alive");
    drop(second);
    assert_eq!(drops.count(), 0, "the state is dropped after the messages");
    update_until(&mut app, "drained", |_| drops.count() == 1);
    assert_eq!(handled.load(Ordering::SeqCst), 100);
    // Dropped once, and nothing runs any more.
    assert_settled(&mut app, &drops, 1);
}

/// An idle actor whose last address goes drops its state at once.
#[test]
fn an_idle_actor_dropped_drops_its_state() {
    let app = app(1);
    let drops = DropCounter::default();
    let (actor, _) = counting(&coro(&app), 8, &drops);
    drop(actor);
    assert_eq!(drops.count(), 1);
}

/// `stop_now` gives back the messages not yet handled, in order; their
/// asks answer `Stopped`; later sends are refused with the message given
/// back; the state is dropped once.
#[test]
fn stop_now_gives_back_what_was_not_handled() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let (actor, handled) = counting(&coro, 10, &drops);
    for n in 0..30 {
        actor.send(n).unwrap();
    }
    let mut asked = actor.ask(30);
    app.update(); // one batch of 10 on the main thread
    assert_eq!(handled.load(Ordering::SeqCst), 10);
    let back = actor.stop_now();
    assert_eq!(back, (10..31).collect::<Vec<_>>());
    assert_eq!(asked.try_take(), Some(Err(ActorError::Stopped)));
    assert!(actor.is_stopped());
    assert_eq!(actor.send(99), Err(SendError(99)));
    assert_eq!(block_on(actor.ask(100)), Err(ActorError::Stopped));
    update_until(&mut app, "state dropped", |_| drops.count() == 1);
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(handled.load(Ordering::SeqCst), 10);
    assert_eq!(drops.count(), 1);
}

/// `stop` lets the queued messages be handled, refuses new ones.
#[test]
fn stop_handles_what_was_sent_and_refuses_the_rest() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let (actor, handled) = counting(&coro, 4, &drops);
    for n in 0..10 {
        actor.send(n).unwrap();
    }
    let last = actor.ask(10);
    actor.stop();
    assert_eq!(actor.send(11), Err(SendError(11)));
    assert_eq!(
        run_task(&mut app, coro.spawn::<Main>(last)).unwrap(),
        Ok(10)
    );
    update_until(&mut app, "state dropped", |_| drops.count() == 1);
    assert_eq!(handled.load(Ordering::SeqCst), 11);
}

in_each_mode! {
    /// Four senders race a `stop_now` from another thread: every message
    /// is handled, given back by `stop_now`, or refused to its sender,
    /// exactly one of the three; none is lost or doubled.
    fn a_stop_with_messages_in_flight_loses_none(workers = 2) {
        let mut app = app(workers);
        let coro = coro(&app);
        let handled = Arc::new(Mutex::new(Vec::new()));
        let seen = handled.clone();
        let actor: Actor<u64> = coro.actor("racing").spawn::<Worker>(behavior_fn(
            (),
            move |_, n: u64| {
                let seen = seen.clone();
                Box::pin(async move {
                    if n.is_multiple_of(64) {
                        yield_now().await;
                    }
                    seen.lock().unwrap().push(n);
                })
            },
        ));
        const EACH: u64 = 20_000;
        let senders: Vec<_> = (0..4u64)
            .map(|sender| {
                let actor = actor.clone();
                thread::spawn(move || {
                    let mut refused = Vec::new();
                    for i in 0..EACH {
                        if let Err(SendError(n)) = actor.send(sender * EACH + i) {
                            refused.push(n);
                        }
                    }
                    refused
                })
            })
            .collect();
        // Stop once some messages went through, from yet another thread.
        let stopper = {
            let actor = actor.clone();
            let handled = handled.clone();
            thread::spawn(move || {
                wait_until("some handled", || handled.lock().unwrap().len() > 100);
                actor.stop_now()
            })
        };
        update_until(&mut app, "stopper", |_| stopper.is_finished());
        let given_back = stopper.join().unwrap();
        let mut refused = Vec::new();
        for sender in senders {
            refused.extend(sender.join().unwrap());
        }
        update_until(&mut app, "turn ended", |_| coro.in_flight() == 0);
        let mut all: Vec<u64> = handled.lock().unwrap().clone();
        let handled_count = all.len();
        all.extend(&given_back);
        all.extend(&refused);
        all.sort_unstable();
        assert_eq!(all, (0..4 * EACH).collect::<Vec<_>>(), "each message in exactly one place");
        assert!(handled_count > 100, "stopped before the wait said so");
        println!("handled {handled_count}, given back {}, refused {}", given_back.len(), refused.len());
    }
}

/// A handler's panic ends that message only: its ask gets the panic, the
/// actor goes on with the state as the handler left it, and the runtime's
/// stats count the panic.
#[test]
fn a_panic_ends_only_its_message() {
    let mut app = app(1);
    let coro = coro(&app);
    let actor: Actor<u32, u32> =
        coro.actor("fragile")
            .spawn::<Worker>(behavior_fn(0u32, |count, n: u32| {
                Box::pin(async move {
                    *count += 1;
                    yield_now().await;
                    assert!(n != 3, "bad command {n}");
                    *count
                })
            }));
    let replies: Vec<_> = (1..=5).map(|n| actor.ask(n)).collect();
    let answers: Vec<_> = replies
        .into_iter()
        .map(|reply| run_task(&mut app, coro.spawn::<Main>(reply)).unwrap())
        .collect();
    assert_eq!(answers[..2], [Ok(1), Ok(2)]);
    assert_eq!(
        answers[2],
        Err(ActorError::Panicked("bad command 3".into()))
    );
    // The count went up before the panic, and stays up.
    assert_eq!(answers[3..], [Ok(4), Ok(5)]);
    assert!(!actor.is_stopped());
    assert_eq!(coro.stats().panics, 1);
}

/// With `OnPanic::Stop`, a panic stops the actor at once: the queued asks
/// answer `Stopped`, the state is dropped, sends are refused.
#[test]
fn a_panic_can_stop_the_actor() {
    let mut app = app(1);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let actor: Actor<u32, u32> =
        coro.actor("strict")
            .on_panic(OnPanic::Stop)
            .spawn::<Main>(behavior_fn(drops.token(), |_, n: u32| {
                Box::pin(async move {
                    assert!(n != 2, "bad command");
                    n
                })
            }));
    let replies: Vec<_> = (1..=4).map(|n| actor.ask(n)).collect();
    let answers: Vec<_> = replies
        .into_iter()
        .map(|reply| run_task(&mut app, coro.spawn::<Main>(reply)).unwrap())
        .collect();
    assert_eq!(answers[0], Ok(1));
    assert!(matches!(answers[1], Err(ActorError::Panicked(_))));
    assert_eq!(
        answers[2..],
        [Err(ActorError::Stopped), Err(ActorError::Stopped)]
    );
    assert!(actor.is_stopped());
    assert_eq!(actor.send(5), Err(SendError(5)));
    update_until(&mut app, "state dropped", |_| drops.count() == 1);
}

in_each_mode! {
    /// An actor tied to an entity stops when the entity is despawned,
    /// idle or in the middle of a message: the handler is cancelled at its
    /// next await, queued asks answer `Stopped`, the state is dropped once,
    /// sends are refused.
    fn an_actor_stops_with_its_entity(workers = 1) {
        for busy in [false, true] {
            let mut app = app(workers);
            let coro = coro(&app);
            let drops = DropCounter::default();
            let enemy = app.world_mut().spawn_empty().id();
            let actor: Actor<bool, u32> = coro
                .actor("brain")
                .for_entity(enemy)
                .spawn::<Worker>(behavior_fn(drops.token(), |_, forever: bool| {
                    Box::pin(async move {
                        if forever {
                            std::future::pending::<()>().await;
                        }
                        7
                    })
                }));
            assert_eq!(run_task(&mut app, coro.spawn::<Main>(actor.ask(false))).unwrap(), Ok(7));
            let queued = if busy {
                actor.send(true).unwrap();
                let queued = actor.ask(false);
                update_until(&mut app, "handling", |_| actor.pending() == 1);
                Some(queued)
            } else {
                None
            };
            app.world_mut().despawn(enemy);
            assert!(actor.is_stopped());
            if let Some(queued) = queued {
                assert_eq!(run_task(&mut app, coro.spawn::<Main>(queued)).unwrap(), Err(ActorError::Stopped));
            }
            update_until(&mut app, "state dropped", |_| drops.count() == 1);
            assert_eq!(actor.send(false), Err(SendError(false)));
            update_until(&mut app, "no task", |_| coro.in_flight() == 0);
            assert_eq!(drops.count(), 1);
        }
    }
}

/// Dropping the App stops the actors it runs: a handler parked forever is
/// dropped, its ask and the queued ones answer `Stopped`, the state is
/// dropped once; an entity's idle actor drops its state too.
#[test]
fn shutdown_stops_running_and_tied_actors() {
    let mut app = app(2);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let parked: Actor<(), ()> = coro
        .actor("parked")
        .spawn::<Worker>(behavior_fn(drops.token(), |_, ()| {
            Box::pin(std::future::pending::<()>())
        }));
    let first = parked.ask(());
    let second = parked.ask(());
    update_until(&mut app, "handling", |_| parked.pending() == 1);
    let owner = app.world_mut().spawn_empty().id();
    let tied: Actor<()> = coro
        .actor("tied")
        .for_entity(owner)
        .spawn::<Main>(behavior_fn(drops.token(), |_, ()| Box::pin(async {})));
    app.update(); // tied to its entity
    drop(app);
    assert_eq!(block_on(first), Err(ActorError::Stopped));
    assert_eq!(block_on(second), Err(ActorError::Stopped));
    assert_eq!(drops.count(), 2);
    assert!(parked.send(()).is_err());
    assert!(tied.send(()).is_err());
}
