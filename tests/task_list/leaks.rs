//! `leaks()`: long-lived tasks grouped by where they were spawned.

use super::*;

/// A runtime that tracks its tasks, on a manual clock.
fn tracked_runtime() -> (Runtime, ManualClock) {
    let clock = ManualClock::new();
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        track_tasks: true,
        clock: Clock::Manual(clock.clone()),
        ..Default::default()
    })
    .unwrap();
    (runtime, clock)
}

/// The careless code the leak finder must find: an interval nobody cancels
/// (its handle kept in a list that only grows).
fn forget_an_interval(coro: &Handle, kept: &mut Vec<TimerHandle>) -> u32 {
    let line = line!() + 1;
    kept.push(coro.interval(Duration::from_secs(1), || async {}));
    line
}

/// A planted leak of 100 intervals is one group of 100 at its spawn line;
/// younger tasks of the same line, and short-lived tasks, are not counted.
#[test]
fn the_leak_finder_groups_a_hundred_intervals_under_one_location() {
    let (runtime, clock) = tracked_runtime();
    let mut kept = Vec::new();
    let mut line = 0;
    for _ in 0..100 {
        line = forget_an_interval(&runtime, &mut kept);
    }
    let stuck: Vec<_> = (0..3)
        .map(|_| runtime.spawn::<Worker>(std::future::pending::<()>()))
        .collect();
    runtime.pump(Instant::now(), None);
    for _ in 0..60 {
        clock.advance(Duration::from_secs(1));
        runtime.pump(Instant::now(), None);
        // Short-lived tasks come and go meanwhile.
        runtime.spawn::<Main>(async {}).detach();
    }
    // Younger ones from the same line.
    for _ in 0..5 {
        forget_an_interval(&runtime, &mut kept);
    }
    runtime.pump(Instant::now(), None);
    wait_until("the worker tasks parked", || {
        runtime
            .tasks()
            .iter()
            .all(|t| t.state == TaskState::Waiting)
    });
    let leaks = runtime.leaks(Duration::from_secs(30));
    assert_eq!(leaks.len(), 2, "{leaks:#?}");
    assert_eq!(leaks[0].count, 100);
    assert_eq!(leaks[0].spawned_at.file(), file!());
    assert_eq!(leaks[0].spawned_at.line(), line);
    assert_eq!(leaks[0].waiting, 100);
    assert_eq!(leaks[0].oldest_age, Duration::from_secs(60));
    assert_eq!(leaks[0].oldest_frames, 62);
    assert_eq!(leaks[1].count, 3);
    println!("{}\n{}", leaks[0], leaks[1]);
    assert!(leaks[0].to_string().starts_with("100 tasks spawned at "));
    // Each interval waits on its timer.
    let tasks = runtime.tasks();
    assert_eq!(tasks.len(), 108);
    assert!(
        tasks
            .iter()
            .filter(|t| t.spawned_at.line() == line)
            .all(|t| matches!(t.waiting_on[..], [WaitingOn::Timer { .. }]))
    );
    // Cancelled, they are gone, and so is the leak.
    kept.clear();
    drop(stuck);
    runtime.pump(Instant::now(), None);
    wait_until("all ended", || runtime.in_flight() == 0);
    assert!(runtime.leaks(Duration::ZERO).is_empty());
}
