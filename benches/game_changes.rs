//! 10,000 tasks each waiting for its entity's `Health` to change, one group:
//!
//! - `changed`: each task awaits `changed::<Health>(entity)`; the pump's
//!   check scans `Changed<Health>` once per frame and wakes only the tasks
//!   whose entity changed.
//! - `polling`: each task loops `if with_world(check).await { break }
//!   next_frame().await`, comparing the entity's `Health` with the value it
//!   started from: every task runs every frame.
//!
//! The parameter is how many of the 10,000 entities change per frame (0, or
//! 100: a fight in progress). What is timed is one frame (`app.update()`)
//! with all the waiters in place; the tasks whose entity changed start a new
//! wait, so the count stays 10,000. Main-thread tasks only, so the frame is
//! the whole cost.

use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const WAITERS: usize = 10_000;

#[derive(Component)]
struct Health(u32);

fn app_with_entities() -> (App, Vec<Entity>) {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        ..Default::default()
    });
    let entities = (0..WAITERS)
        .map(|_| app.world_mut().spawn(Health(0)).id())
        .collect();
    (app, entities)
}

fn changed_app() -> (App, Vec<Entity>) {
    let (app, entities) = app_with_entities();
    let coro = app.world().resource::<Coro>().clone();
    for &entity in &entities {
        coro.spawn::<Main>(async move { while changed::<Health>(entity).await.is_ok() {} })
            .detach();
    }
    (app, entities)
}

fn polling_app() -> (App, Vec<Entity>) {
    let (app, entities) = app_with_entities();
    let coro = app.world().resource::<Coro>().clone();
    for &entity in &entities {
        coro.spawn::<Main>(async move {
            loop {
                let mut seen =
                    with_world(move |world| world.get::<Health>(entity).unwrap().0).await;
                loop {
                    let now = with_world(move |world| world.get::<Health>(entity).unwrap().0).await;
                    if now != seen {
                        seen = now;
                        break;
                    }
                    next_frame().await;
                }
                let _ = seen;
            }
        })
        .detach();
    }
    (app, entities)
}

/// Times `iters` frames, each after changing `changes` entities (untimed).
fn frames(app: &mut App, entities: &[Entity], changes: usize, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut next = 0;
    for _ in 0..iters {
        for _ in 0..changes {
            let entity = entities[next % entities.len()];
            next += 1;
            app.world_mut().get_mut::<Health>(entity).unwrap().0 += 1;
        }
        let start = Instant::now();
        app.update();
        total += start.elapsed();
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("game_changes: {WAITERS} waiters"));
    for changes in [0, 100] {
        let (mut app, entities) = changed_app();
        // Registered, and settled.
        for _ in 0..3 {
            app.update();
        }
        group.bench_function(BenchmarkId::new("changed", changes), |b| {
            b.iter_custom(|iters| frames(&mut app, &entities, changes, iters))
        });
        let (mut app, entities) = polling_app();
        for _ in 0..3 {
            app.update();
        }
        group.bench_function(BenchmarkId::new("polling", changes), |b| {
            b.iter_custom(|iters| frames(&mut app, &entities, changes, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
