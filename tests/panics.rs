//! A panicking task ends with `TaskError::Panicked`; nothing else stops.

mod common;

use bevy_coro::prelude::*;
use common::*;

#[test]
fn a_worker_panic_is_reported_and_the_worker_goes_on() {
    let mut app = app(1);
    let coro = coro(&app);
    let bad = coro.spawn::<Worker>(async {
        if true {
            panic!("pathfinder exploded");
        }
    });
    assert_eq!(
        run_task(&mut app, bad),
        Err(TaskError::Panicked("pathfinder exploded".into()))
    );
    // The only worker is still there.
    let tasks: Vec<_> = (0..100)
        .map(|i| coro.spawn::<Worker>(async move { i * 2 }))
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(run_task(&mut app, task), Ok(i * 2));
    }
}

#[test]
fn a_main_panic_is_reported_and_the_pump_goes_on() {
    let mut app = app(1);
    let coro = coro(&app);
    let bad = coro.spawn::<Main>(async {
        let frame = 3;
        yield_now().await;
        panic!("bad frame {frame}");
    });
    let good = coro.spawn::<Main>(async {
        yield_now().await;
        yield_now().await;
        "fine"
    });
    assert_eq!(
        run_task(&mut app, bad),
        Err(TaskError::Panicked("bad frame 3".into()))
    );
    assert_eq!(run_task(&mut app, good), Ok("fine"));
    assert_eq!(
        TaskError::Panicked("x".into()).to_string(),
        "task panicked: x",
        "the error reads well in logs"
    );
}
