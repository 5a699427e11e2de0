//! Waits that end badly: messages missed, a type never added or removed,
//! waits cancelled by the million or mid-hop; nothing stays registered.

use super::*;

#[test]
fn messages_dropped_before_the_pump_looked_are_reported_as_missed() {
    let mut app = message_app(1);
    let task = coro(&app).spawn::<Main>(async {
        let mut pings = messages::<Ping>().await;
        let mut read = Vec::new();
        for _ in 0..3 {
            read.push(pings.next().await);
        }
        read
    });
    update_until(&mut app, "inbox opened", |app| game_waits(app) == 1);
    write(&mut app, Ping(0));
    app.update();
    // Two written and dropped (as two message updates without a pump would).
    write(&mut app, Ping(1));
    write(&mut app, Ping(2));
    app.world_mut().resource_mut::<Messages<Ping>>().clear();
    write(&mut app, Ping(3));
    assert_eq!(
        run_task(&mut app, task),
        Ok(vec![
            Ok(Ping(0)),
            Err(MissedMessages { count: 2 }),
            Ok(Ping(3))
        ])
    );
}

#[test]
fn a_message_type_never_added_is_a_clear_panic() {
    let mut app = message_app(1);
    let coro = coro(&app);
    let waits = [
        coro.spawn::<Main>(next_message::<Unheard>().map(drop)),
        coro.spawn::<Worker>(next_message_where(|_: &Unheard| true).map(drop)),
        coro.spawn::<Worker>(messages::<Unheard>().map(drop)),
    ];
    for task in waits {
        match run_task(&mut app, task) {
            Err(TaskError::Panicked(message)) => assert!(
                message.contains("app.add_message::<") && message.contains("Unheard"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(game_waits(&app), 0);
}

#[test]
fn messages_removed_while_tasks_wait_end_them_with_a_panic() {
    let mut app = message_app(1);
    let coro = coro(&app);
    let wait = coro.spawn::<Main>(next_message::<Ping>());
    let inbox = coro.spawn::<Worker>(async {
        let mut pings = messages::<Ping>().await;
        pings.next().await
    });
    update_until(&mut app, "registered", |app| game_waits(app) == 2);
    app.world_mut().remove_resource::<Messages<Ping>>();
    let outcomes = [
        run_task(&mut app, wait).map(drop),
        run_task(&mut app, inbox).map(drop),
    ];
    for outcome in outcomes {
        match outcome {
            Err(TaskError::Panicked(message)) => {
                assert!(message.contains("was removed"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(game_waits(&app), 0);
}

#[test]
fn a_million_waits_begun_and_cancelled_leave_nothing_registered() {
    const TASKS: usize = 20;
    const CYCLES: usize = 1_000;
    const FRAMES: usize = 50; // 20 × 1,000 × 50 = 1,000,000
    let mut app = message_app(1);
    let coro = coro(&app);
    let cycles = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let cycles = cycles.clone();
            let cycle = async move {
                for frame in 0..FRAMES {
                    for i in 0..CYCLES {
                        // Each registered at its first poll, then dropped.
                        match (task + i) % 3 {
                            0 => assert!(poll_once(next_message::<Ping>()).await.is_none()),
                            1 => assert!(
                                poll_once(next_message_where(|_: &Ping| false))
                                    .await
                                    .is_none()
                            ),
                            _ => drop(poll_once(messages::<Ping>()).await.unwrap()),
                        }
                    }
                    cycles.fetch_add(CYCLES, Ordering::Relaxed);
                    // Some messages now and then, for the watcher to hand out.
                    if frame % 7 == 0 {
                        with_world(|world| world.write_message(Ping(0))).await;
                    }
                    next_frame().await;
                }
            };
            coro.spawn::<Main>(cycle)
        })
        .collect();
    let mut frames = 0;
    update_until(&mut app, "cycles", |app| {
        frames += 1;
        // Pruned in bulk: never more than the live waits (none) plus twice
        // one frame's abandoned ones.
        assert!(
            game_waits(app) <= 2 * TASKS * CYCLES + 1,
            "{}",
            game_waits(app)
        );
        tasks.iter().all(Task::is_finished)
    });
    assert_eq!(cycles.load(Ordering::Relaxed), 1_000_000);
    app.update();
    assert_eq!(game_waits(&app), 0);
    drop(tasks);
}

#[test]
fn waits_cancelled_from_workers_mid_hop_leave_nothing_registered() {
    let mut app = message_app(2);
    let coro = coro(&app);
    for _ in 0..20 {
        let tasks: Vec<_> = (0..500)
            .map(|i| match i % 3 {
                0 => coro.spawn::<Worker>(next_message::<Ping>().map(drop)),
                1 => coro.spawn::<Worker>(next_message_where(|_: &Ping| false).map(drop)),
                _ => coro.spawn::<Worker>(async {
                    let mut inbox = messages::<Ping>().await;
                    inbox.next().await.map(drop).ok();
                }),
            })
            .collect();
        // Some cancelled before they registered, some after.
        app.update();
        drop(tasks);
        update_until(&mut app, "cancelled tasks freed", |_| coro.in_flight() == 0);
        app.update();
        app.update();
        assert_eq!(game_waits(&app), 0);
    }
}
