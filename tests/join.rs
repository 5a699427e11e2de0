//! `join`, `join_all`, `try_join`: branches as child tasks with their own
//! sides; `Task::shared`: one result, several awaiters.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_coro::prelude::*;
use bevy_coro::{join_all, try_join_all};
use bevy_ecs::prelude::*;
use common::*;

#[derive(Resource, Default)]
struct Score(u32);

#[test]
fn join_runs_each_branch_on_its_own_side() {
    let mut app = app(2);
    app.init_resource::<Score>();
    let coro = coro(&app);
    // A worker task: one branch reaches the World (a hop to the main
    // thread), the other hops to a worker; neither drags the other along.
    let task = coro.spawn::<Worker>(async {
        join((
            with_world(|w| {
                w.resource_mut::<Score>().0 += 1;
                std::thread::current().name().map(str::to_owned)
            }),
            async {
                sleep(Duration::from_micros(100)).await;
                on_worker_side()
            }
            .on::<Worker>(),
            async { 3 },
        ))
        .await
    });
    let (world, worker, plain) = run_task(&mut app, task).unwrap();
    assert!(world.is_ok());
    assert_eq!(worker, Ok(true));
    assert_eq!(plain, Ok(3));
    assert_eq!(app.world().resource::<Score>().0, 1);
}

#[test]
fn join_all_gives_every_result_in_order_and_a_panic_in_its_place() {
    let mut app = app(2);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(async {
        join_all((0..6u32).map(|i| async move {
            yield_now().await;
            if i == 4 {
                panic!("chunk 4 is corrupt");
            }
            async move { i * i }.on::<Worker>().await
        }))
        .await
    });
    let results = run_task(&mut app, task).unwrap();
    assert_eq!(
        results,
        vec![
            Ok(0),
            Ok(1),
            Ok(4),
            Ok(9),
            Err(TaskError::Panicked("chunk 4 is corrupt".into())),
            Ok(25)
        ]
    );
}

#[test]
fn try_join_gives_every_value_when_all_succeed() {
    let mut app = app(2);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(async {
        try_join((
            async { Ok::<_, String>(1u8) },
            async { Ok("two") }.on::<Worker>(),
        ))
        .await
    });
    assert_eq!(run_task(&mut app, task).unwrap(), Ok(Ok((1, "two"))));
}

#[test]
fn try_join_stops_at_the_first_err_and_drops_the_rest_before_it_returns() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (a, b, seen) = (counter.token(), counter.token(), counter.clone());
    let task = coro.spawn::<Main>(async move {
        let result = try_join((
            async move {
                parked_forever(a).await;
                Ok(1u32)
            },
            async move {
                let _b = b;
                sleep(Duration::from_micros(100)).await;
                Err::<u32, _>("the save file is missing")
            }
            .on::<Worker>(),
        ))
        .await;
        (result, seen.count())
    });
    let (result, dropped) = run_task(&mut app, task).unwrap();
    assert_eq!(result, Ok(Err("the save file is missing")));
    assert_eq!(
        dropped, 2,
        "a branch was still alive when try_join returned"
    );
}

#[test]
fn try_join_all_stops_at_a_panic() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let tokens: Vec<_> = (0..4).map(|_| counter.token()).collect();
    let task = coro.spawn::<Worker>(async move {
        try_join_all(tokens.into_iter().enumerate().map(|(i, token)| async move {
            if i == 2 {
                panic!("branch 2 fell over");
            }
            parked_forever(token).await;
            Ok::<u32, ()>(0)
        }))
        .await
    });
    assert_eq!(
        run_task(&mut app, task).unwrap(),
        Err(TaskError::Panicked("branch 2 fell over".into()))
    );
    assert_eq!(counter.count(), 4);
}

#[test]
fn cancelling_the_joining_task_cancels_every_branch() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (a, b) = (counter.token(), counter.token());
    let task = coro.spawn::<Main>(async move {
        join((parked_forever(a), parked_forever(b).on::<Worker>())).await
    });
    update_until(&mut app, "joining", |_| coro.in_flight() == 3);
    task.cancel();
    update_until(&mut app, "branches dropped", |_| counter.count() == 2);
    assert_eq!(run_task(&mut app, task), Err(TaskError::Cancelled));
}

#[test]
fn join_outside_a_task_says_so() {
    let message = poll_once_outside_task(join((async {}, async {})))
        .expect("awaiting a join outside a task panics");
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

#[test]
fn a_shared_task_gives_its_result_to_every_awaiter() {
    let mut app = app(2);
    let coro = coro(&app);
    let level = coro
        .spawn::<Worker>(async {
            sleep(Duration::from_micros(200)).await;
            Arc::new("level 1".to_owned())
        })
        .shared();
    let awaiters: Vec<_> = (0..8)
        .map(|i| {
            let level = level.clone();
            if i % 2 == 0 {
                coro.spawn::<Main>(async move { level.await.unwrap().len() })
            } else {
                coro.spawn::<Worker>(async move { level.await.unwrap().len() })
            }
        })
        .collect();
    for awaiter in awaiters {
        assert_eq!(run_task(&mut app, awaiter), Ok(7));
    }
    assert_eq!(level.try_get().map(|r| r.unwrap().len()), Some(7));
    assert!(level.is_finished());
}

#[test]
fn a_shared_task_is_cancelled_when_its_last_copy_is_dropped() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let polled = Arc::new(AtomicUsize::new(0));
    let (token, p) = (counter.token(), polled.clone());
    let shared = coro
        .spawn::<Worker>(async move {
            p.fetch_add(1, Ordering::SeqCst);
            parked_forever(token).await;
        })
        .shared();
    let copy = shared.clone();
    wait_until("the task ran", || polled.load(Ordering::SeqCst) == 1);
    drop(shared);
    // One copy left: the task runs on.
    app.update();
    assert_eq!(counter.count(), 0);
    assert!(!copy.is_finished());
    drop(copy);
    update_until(&mut app, "task dropped", |_| counter.count() == 1);
}
