//! `next_message`, `next_message_where` and `messages`: waits on Bevy
//! messages, handed out by the pump's once-a-frame look at the message
//! counter, without polling the waiting tasks.

mod cleanup;
#[path = "../common/mod.rs"]
mod common;
mod replay;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy_coro::prelude::*;
use bevy_coro::{CoroScheduler, MissedMessages};
use bevy_ecs::message::Messages;
use bevy_ecs::prelude::*;
use common::*;
use futures_lite::future::poll_once;

#[derive(Message, Clone, Debug, PartialEq)]
struct Ping(u32);

#[derive(Message, Clone, Debug, PartialEq)]
struct Pong(u32);

/// Never added to the App.
#[derive(Message, Clone, Debug)]
struct Unheard;

fn message_app(workers: usize) -> bevy_app::App {
    let mut app = app(workers);
    app.add_message::<Ping>().add_message::<Pong>();
    app
}

fn write(app: &mut bevy_app::App, message: Ping) {
    app.world_mut().write_message(message);
}

in_each_mode! {
fn next_message_gives_the_first_written_after_the_wait_began(workers = 2) {
    for on_worker in [false, true] {
        let mut app = message_app(workers);
        write(&mut app, Ping(1));
        let polls = Arc::new(AtomicUsize::new(0));
        let wait = CountPolls(polls.clone(), Box::pin(next_message::<Ping>()));
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        // Registered; from a worker, the hop there and back is 2 more polls.
        let registered_polls = if on_worker { 3 } else { 1 };
        update_until(&mut app, "registered", |app| {
            game_waits(app) == 1 && polls.load(Ordering::SeqCst) == registered_polls
        });
        for _ in 0..10 {
            app.update();
        }
        assert_eq!(polls.load(Ordering::SeqCst), registered_polls, "not woken while nothing is written");
        write(&mut app, Ping(2));
        write(&mut app, Ping(3));
        assert_eq!(run_task(&mut app, task), Ok(Ping(2)), "on a worker: {on_worker}");
        assert_eq!(game_waits(&app), 0);
    }
}
}

in_each_mode! {
fn a_wait_begun_after_a_write_does_not_see_it(workers = 2) {
    for on_worker in [false, true] {
        let mut app = message_app(workers);
        let stage = Arc::new(AtomicUsize::new(0));
        let wait = {
            let stage = stage.clone();
            async move {
                // Written in this frame, just before the wait: not for it.
                with_world(|world| world.write_message(Ping(1))).await;
                let first = next_message::<Ping>().await;
                stage.store(1, Ordering::SeqCst);
                with_world(|world| world.write_message(Ping(3))).await;
                (first, next_message::<Ping>().await)
            }
        };
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        update_until(&mut app, "first wait", |app| game_waits(app) == 1);
        write(&mut app, Ping(2));
        update_until(&mut app, "second wait", |app| {
            stage.load(Ordering::SeqCst) == 1 && game_waits(app) == 1
        });
        for _ in 0..3 {
            app.update();
        }
        write(&mut app, Ping(4));
        assert_eq!(run_task(&mut app, task), Ok((Ping(2), Ping(4))), "on a worker: {on_worker}");
    }
}
}

in_each_mode! {
fn next_message_where_sees_each_message_in_order_until_one_matches(workers = 2) {
    for on_worker in [false, true] {
        let mut app = message_app(workers);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let wait = next_message_where({
            let seen = seen.clone();
            move |ping: &Ping| {
                seen.lock().unwrap().push(ping.0);
                ping.0 >= 20
            }
        });
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        update_until(&mut app, "registered", |app| game_waits(app) == 1);
        for frame in 0..5 {
            write(&mut app, Ping(frame * 3 + 1));
            write(&mut app, Ping(frame * 3 + 2));
            app.update();
        }
        write(&mut app, Ping(20));
        write(&mut app, Ping(30));
        assert_eq!(run_task(&mut app, task), Ok(Ping(20)));
        let expected: Vec<u32> = (0..5).flat_map(|f| [f * 3 + 1, f * 3 + 2]).chain([20]).collect();
        assert_eq!(*seen.lock().unwrap(), expected, "each once, in order, none after the match");
    }
}
}

#[test]
fn one_message_wakes_only_the_waits_of_its_type() {
    let mut app = message_app(1);
    let coro = coro(&app);
    let ping_polls = Arc::new(AtomicUsize::new(0));
    let pong_polls = Arc::new(AtomicUsize::new(0));
    let pings: Vec<_> = (0..100)
        .map(|_| {
            coro.spawn::<Main>(CountPolls(
                ping_polls.clone(),
                Box::pin(next_message::<Ping>()),
            ))
        })
        .collect();
    let pongs: Vec<_> = (0..100)
        .map(|_| {
            coro.spawn::<Main>(CountPolls(
                pong_polls.clone(),
                Box::pin(next_message::<Pong>()),
            ))
        })
        .collect();
    app.update();
    assert_eq!(game_waits(&app), 200);
    assert_eq!(
        (
            ping_polls.load(Ordering::SeqCst),
            pong_polls.load(Ordering::SeqCst)
        ),
        (100, 100)
    );
    write(&mut app, Ping(7));
    app.update();
    // Each Ping wait polled once more, to its end; no Pong wait polled.
    assert_eq!(
        (
            ping_polls.load(Ordering::SeqCst),
            pong_polls.load(Ordering::SeqCst)
        ),
        (200, 100)
    );
    for mut ping in pings {
        assert_eq!(ping.try_take(), Some(Ok(Ping(7))));
    }
    assert_eq!(game_waits(&app), 100);
    drop(pongs);
}

in_each_mode! {
fn an_inbox_gets_every_message_once_in_order_across_frames_budgets_and_hops(workers = 2) {
    const FRAMES: u32 = 1_000;
    for on_worker in [false, true] {
        let mut app = message_app(workers);
        let read = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let read = read.clone();
            async move {
                let mut pings = messages::<Ping>().await;
                let mut random = Random(7);
                loop {
                    let ping = pings.next().await.expect("nothing missed");
                    read.lock().unwrap().push(ping.0);
                    // Careless game code between reads.
                    match random.below(6) {
                        0 => async {}.on::<Worker>().await,
                        1 => async {}.on::<Main>().await,
                        2 => {
                            for _ in 0..random.below(4) {
                                next_frame().await;
                            }
                        }
                        3 => yield_now().await,
                        4 => with_world(|world| world.write_message(Pong(0))).map(drop).await,
                        _ => {}
                    }
                }
            }
        };
        let task = if on_worker {
            coro(&app).spawn::<Worker>(reader)
        } else {
            coro(&app).spawn::<Main>(reader)
        };
        update_until(&mut app, "inbox opened", |app| game_waits(app) == 1);
        let mut random = Random(11);
        let mut written = 0;
        for _ in 0..FRAMES {
            for _ in 0..random.below(4) {
                write(&mut app, Ping(written));
                written += 1;
            }
            app.world_mut().resource_mut::<CoroScheduler>().main_budget =
                [None, Some(Duration::ZERO), Some(Duration::from_micros(50))]
                    .get(random.below(3) as usize)
                    .copied()
                    .flatten();
            app.update();
        }
        update_until(&mut app, "all read", |_| read.lock().unwrap().len() == written as usize);
        assert_eq!(*read.lock().unwrap(), (0..written).collect::<Vec<_>>(), "on a worker: {on_worker}");
        // Cancelled (on a worker, perhaps): its inbox goes with its future.
        drop(task);
        let coro = coro(&app);
        update_until(&mut app, "reader freed", |_| coro.in_flight() == 0);
        app.update();
        app.update();
        assert_eq!(game_waits(&app), 0);
    }
}
}

#[test]
fn a_reader_busy_on_a_worker_for_many_frames_misses_nothing() {
    let mut app = message_app(2);
    let busy = Arc::new(AtomicBool::new(true));
    let task = coro(&app).spawn::<Worker>({
        let busy = busy.clone();
        async move {
            let mut pings = messages::<Ping>().await;
            let first = pings.next().await.unwrap();
            // Blocks its worker while the game runs frames and writes on.
            while busy.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut rest = vec![first.0];
            while let Some(ping) = pings.try_next() {
                rest.push(ping.unwrap().0);
            }
            rest
        }
    });
    update_until(&mut app, "inbox opened", |app| game_waits(app) == 1);
    for frame in 0..20 {
        write(&mut app, Ping(frame));
        app.update();
    }
    busy.store(false, Ordering::SeqCst);
    assert_eq!(run_task(&mut app, task), Ok((0..20).collect::<Vec<_>>()));
}

/// A small deterministic random source (xorshift).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n)) as u32
    }
}

/// `.map(..)` on futures, for the tests' brevity.
trait MapExt: std::future::Future + Sized {
    fn map<T>(self, f: impl FnOnce(Self::Output) -> T) -> impl std::future::Future<Output = T> {
        async move { f(self.await) }
    }
}

impl<F: std::future::Future> MapExt for F {}
