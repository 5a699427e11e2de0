//! Item 2: per-frame coroutines under a budget leave room for other tasks
//! and for `with_world`.

use super::*;

// 2. Per-frame coroutines under a budget.

#[test]
fn a_per_frame_coroutine_leaves_room_for_a_task_spawned_after_it() {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(Duration::ZERO),
        ..Default::default()
    });
    let coro = coro(&app);
    coro.spawn::<Main>(async {
        loop {
            yield_now().await;
        }
    })
    .detach();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    coro.spawn::<Main>(async move { flag.store(true, Ordering::SeqCst) })
        .detach();
    for _ in 0..200 {
        app.update();
        if ran.load(Ordering::SeqCst) {
            return;
        }
    }
    panic!("a task spawned after a per-frame coroutine never ran in 200 frames");
}

#[test]
fn per_frame_coroutines_over_budget_still_serve_world_requests_and_new_tasks() {
    // Ten per-frame coroutines need 4 ms a frame; the budget is 2 ms.
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(Duration::from_millis(2)),
        ..Default::default()
    });
    let coro = coro(&app);
    for _ in 0..10 {
        coro.spawn::<Main>(async {
            loop {
                busy(Duration::from_micros(400));
                yield_now().await;
            }
        })
        .detach();
    }
    for _ in 0..3 {
        app.update();
    }
    let mut from_worker = coro.spawn::<Worker>(async { with_world(|_| 7).await });
    let mut fresh = coro.spawn::<Main>(async { 8 });
    let (mut a, mut b) = (None, None);
    // Each frame spends its 2 ms budget, so this bound is many seconds.
    let frames = frames_until(&mut app, 3_000, |_| {
        a = a.take().or_else(|| from_worker.try_take());
        b = b.take().or_else(|| fresh.try_take());
        a.is_some() && b.is_some()
    });
    assert!(
        frames.is_some(),
        "over budget: with_world {a:?}, fresh task {b:?} after 3000 frames"
    );
    assert_eq!((a, b), (Some(Ok(7)), Some(Ok(8))));
}

/// Runs frames until `done` holds, at most `limit`; the frames it took.
fn frames_until(
    app: &mut App,
    limit: usize,
    mut done: impl FnMut(&mut App) -> bool,
) -> Option<usize> {
    for frame in 0..limit {
        if done(app) {
            return Some(frame);
        }
        app.update();
    }
    done(app).then_some(limit)
}
