//! Game waits against the hand-written way of waiting: a task per waiter
//! that asks the World once a frame (`loop { if with_world(check).await {
//! break } next_frame().await }`). Each group times the pump of one frame
//! (`CoroStats::pump_time`: the watchers' check and the tasks it runs; the
//! rest of Bevy's frame is the same for all and left out), in an App with
//! only the plugin and what the group needs, with 10,000 tasks waiting:
//!
//! - `game: 10,000 wait for a message nobody writes`: `next_message` for a
//!   message type never written, beside the polling loop on the same type,
//!   and two floors: the same App with no task, and with 10,000 tasks
//!   pending on nothing (what the scheduler itself costs for them);
//! - `game: 1 message, 10,000 wait for another type`: one task waits for a
//!   `Ping` written every frame (it wakes, and waits again), while 10,000
//!   wait for a `Quiet` message nobody writes;
//! - `game: until, 10,000 waiting`: `until` on a resource flag that stays
//!   false, beside the polling loop on that flag (`until` evaluates each
//!   condition once per frame: it saves the wakes and polls, not the checks).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_app::App;
use bevy_coro::CoroStats;
use bevy_coro::prelude::*;
use bevy_ecs::message::Messages;
use bevy_ecs::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};

/// Tasks waiting in each group.
const WAITING: usize = 10_000;

/// Never written.
#[derive(Message, Clone)]
struct Quiet;

/// Written once every frame by the benchmark.
#[derive(Message, Clone)]
struct Ping;

/// Stays false.
#[derive(Resource, Default)]
struct Flag(bool);

/// An App with the plugin (one worker), the message types and the flag.
fn game() -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        ..Default::default()
    })
    .add_message::<Quiet>()
    .add_message::<Ping>()
    .init_resource::<Flag>();
    app
}

/// Messages of type `M` written so far.
fn written<M: Message>(world: &World) -> usize {
    let messages = world.resource::<Messages<M>>();
    messages.oldest_message_count() + messages.len()
}

/// The hand-written wait for the next `M`: look at the count once a frame.
async fn poll_for_message<M: Message>() {
    let from = with_world(|world| written::<M>(world)).await;
    while with_world(move |world| written::<M>(world) == from).await {
        next_frame().await;
    }
}

/// The hand-written `until`: look at the flag once a frame.
async fn poll_for_flag() {
    while !with_world(|world| world.resource::<Flag>().0).await {
        next_frame().await;
    }
}

/// `app` with `WAITING` tasks made by `wait`, settled into their wait.
fn with_waiting<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
    mut app: App,
    wait: impl Fn() -> F,
) -> App {
    let coro = app.world().resource::<Coro>().clone();
    for _ in 0..WAITING {
        coro.spawn::<Main>(wait()).detach();
    }
    for _ in 0..3 {
        app.update();
    }
    app
}

fn idle_message(c: &mut Criterion) {
    let mut group = c.benchmark_group("game: 10,000 wait for a message nobody writes");
    let mut app = game();
    app.update();
    group.bench_function("floor: no task", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    let mut app = with_waiting(game(), std::future::pending::<()>);
    group.bench_function("floor: tasks pending on nothing", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    let mut app = with_waiting(game(), next_message::<Quiet>);
    assert_eq!(app.world().resource::<CoroStats>().game_waits, WAITING);
    group.bench_function("bevy_coro: next_message", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    let mut app = with_waiting(game(), poll_for_message::<Quiet>);
    group.bench_function("polling loop: with_world + next_frame", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    group.finish();
}

/// Adds a task that waits for a `Ping` with `wait`, again and again, and
/// counts its wakes.
fn ping_waiter<F: Future<Output = ()> + Send + 'static>(
    app: &mut App,
    wait: fn() -> F,
) -> Arc<AtomicUsize> {
    let woken = Arc::new(AtomicUsize::new(0));
    let coro = app.world().resource::<Coro>().clone();
    let counted = woken.clone();
    coro.spawn::<Main>(async move {
        loop {
            wait().await;
            counted.fetch_add(1, Ordering::Relaxed);
        }
    })
    .detach();
    app.update();
    woken
}

/// The pump's time in `iters` frames made by `frame`.
fn frames(app: &mut App, iters: u64, frame: fn(&mut App)) -> Duration {
    (0..iters)
        .map(|_| {
            frame(app);
            app.world().resource::<CoroStats>().pump_time
        })
        .sum()
}

/// One frame with a `Ping` written before it.
fn ping_frame(app: &mut App) {
    app.world_mut().write_message(Ping);
    app.update();
}

fn one_message(c: &mut Criterion) {
    let mut group = c.benchmark_group("game: 1 message, 10,000 wait for another type");
    let mut app = with_waiting(game(), next_message::<Quiet>);
    let woken = ping_waiter(&mut app, || async {
        next_message::<Ping>().await;
    });
    group.bench_function("bevy_coro: next_message", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, ping_frame))
    });
    assert!(woken.load(Ordering::Relaxed) > 0);
    drop(app);
    let mut app = with_waiting(game(), poll_for_message::<Quiet>);
    let woken = ping_waiter(&mut app, poll_for_message::<Ping>);
    group.bench_function("polling loop: with_world + next_frame", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, ping_frame))
    });
    assert!(woken.load(Ordering::Relaxed) > 0);
    drop(app);
    group.finish();
}

fn until_flag(c: &mut Criterion) {
    let mut group = c.benchmark_group("game: until, 10,000 waiting");
    let mut app = with_waiting(game(), || until(|world| world.resource::<Flag>().0));
    group.bench_function("bevy_coro: until", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    let mut app = with_waiting(game(), poll_for_flag);
    group.bench_function("polling loop: with_world + next_frame", |b| {
        b.iter_custom(|iters| frames(&mut app, iters, App::update))
    });
    drop(app);
    group.finish();
}

criterion_group!(benches, idle_message, one_message, until_flag);
criterion_main!(benches);
