//! What an idle actor costs: memory only, measured with a counting
//! allocator (a test binary of its own, so no other test allocates
//! meanwhile).

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use bevy_coro::behavior_fn;
use bevy_coro::prelude::*;
use common::*;
use counting_alloc::live;

const ACTORS: usize = 10_000;

/// Bytes per actor while `make` builds `ACTORS` of them.
fn bytes_per_actor<T>(make: impl FnMut(usize) -> T) -> (Vec<T>, isize) {
    let before = live();
    let mut actors = Vec::with_capacity(ACTORS);
    let vec_bytes = live() - before;
    actors.extend((0..ACTORS).map(make));
    let bytes = live() - before - vec_bytes;
    (actors, bytes / ACTORS as isize)
}

/// An idle actor with a `u64` state is one allocation of 152 bytes (measured
/// here: a regression guard), plus its 16-byte address; one that has handled
/// messages keeps its queue's small buffer (4 messages); and neither holds
/// a task.
#[test]
fn an_idle_actor_is_memory_only() {
    let mut app = app(1);
    let coro = coro(&app);
    let spawn = |_| -> Actor<u64> {
        coro.actor("idle")
            .spawn::<Worker>(behavior_fn(0u64, |total, n: u64| {
                Box::pin(async move { *total += n })
            }))
    };
    let (fresh, fresh_bytes) = bytes_per_actor(spawn);
    let (used, _) = bytes_per_actor(spawn);
    let before = live();
    for actor in &used {
        actor.send(1).unwrap();
    }
    update_until(&mut app, "handled", |_| coro.in_flight() == 0);
    let used_extra = (live() - before) / ACTORS as isize;
    println!(
        "idle actor, Actor<u64> with a u64 state: {fresh_bytes} bytes (+16 for the address \
         in this Vec); after handling a message: +{used_extra} bytes (its queue's buffer)"
    );
    assert!(fresh_bytes <= 152, "{fresh_bytes} bytes per idle actor");
    assert!(
        used_extra <= 100,
        "{used_extra} bytes kept per used idle actor"
    );
    assert_eq!(coro.in_flight(), 0);
    drop((fresh, used));
}
