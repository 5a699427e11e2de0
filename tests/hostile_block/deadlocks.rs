//! False deadlocks in deterministic mode: a task that also waits on an
//! event, wait edges that go, a cycle through one of several handles.

use super::*;

// ---- item 7: false deadlocks in deterministic mode ----

/// Pumps until no task is in flight or the runtime stalls.
fn run_out(runtime: &Runtime) -> PumpReport {
    for _ in 0..10_000 {
        let report = runtime.pump(Instant::now(), None);
        if runtime.in_flight() == 0 || report.stall.is_some() {
            return report;
        }
    }
    panic!("still {} tasks in flight", runtime.in_flight());
}

/// `a` awaits `or(c's handle, an event)`; `c` awaits `a`'s handle. Returns
/// the event's sender.
fn or_with_an_event(coro: &bevy_coro::runtime::Handle) -> async_channel::Sender<()> {
    let (event, on_event) = async_channel::bounded::<()>(1);
    let (give_c, take_c) = async_channel::bounded::<Task<()>>(1);
    let a = coro.task("a").spawn::<Worker>(async move {
        let mut c = take_c.recv().await.unwrap();
        or(
            async {
                let _ = (&mut c).await;
            },
            async {
                let _ = on_event.recv().await;
            },
        )
        .await;
    });
    let c = coro.task("c").spawn::<Worker>(async move {
        let _ = a.await;
    });
    give_c.try_send(c).unwrap();
    event
}

#[test]
fn a_task_that_also_waits_on_an_event_is_not_in_a_deadlock() {
    let runtime = deterministic(5);
    let event = or_with_an_event(&runtime);
    let report = run_out(&runtime);
    let stall = report.stall.clone().expect("a stall");
    assert!(!stall.is_deadlock(), "{stall}");
    assert!(report.deadlock().is_ok());
    let external: Vec<_> = stall.blocked_on_external.iter().map(|t| &t.name).collect();
    assert_eq!(external, ["a"], "{stall}");
    // The event comes: both finish.
    event.try_send(()).unwrap();
    let report = run_out(&runtime);
    assert_eq!(runtime.in_flight(), 0, "{:?}", report.stall);
}

#[test]
fn with_panic_on_deadlock_a_program_that_can_progress_does_not_panic() {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        mode: CoroMode::Deterministic {
            seed: 5,
            panic_on_deadlock: true,
        },
        ..Default::default()
    });
    let event = or_with_an_event(&coro(&app));
    update_until(&mut app, "the stall", |app| {
        app.world().resource::<CoroStats>().stall.is_some()
    });
    event.try_send(()).unwrap();
    update_until(&mut app, "both tasks finished", |app| {
        app.world().resource::<CoroStats>().in_flight == 0
    });
}

#[test]
fn a_wait_edge_goes_when_the_task_stops_waiting_on_the_handle() {
    let runtime = deterministic(6);
    let (event, on_event) = async_channel::bounded::<()>(1);
    let (give_c, take_c) = async_channel::bounded::<Task<()>>(1);
    let a = runtime.task("a").spawn::<Worker>(async move {
        let mut c = take_c.recv().await.unwrap();
        // Looks at `c` once, gives up on it (keeping the handle)...
        or(
            async {
                let _ = (&mut c).await;
            },
            async {},
        )
        .await;
        yield_now().await;
        // ...and from now on waits on the event only.
        let _ = on_event.recv().await;
        drop(c);
    });
    let c = runtime.task("c").spawn::<Worker>(async move {
        let _ = a.await;
    });
    give_c.try_send(c).unwrap();
    let report = run_out(&runtime);
    let stall = report.stall.clone().expect("a stall");
    assert!(!stall.is_deadlock(), "{stall}");
    event.try_send(()).unwrap();
    run_out(&runtime);
    assert_eq!(runtime.in_flight(), 0);
}

#[test]
fn a_cycle_through_one_of_the_handles_a_task_awaits_is_found() {
    // `a` awaits `zip(c, d)` once `d` has finished; `c` awaits `a`: `a` and
    // `c` wait on each other (polling the finished `d` must not hide it).
    let runtime = deterministic(7);
    let handles: Slot<(Task<()>, Task<()>)> = Slot::default();
    let slot = handles.clone();
    let a = runtime.task("a").spawn::<Worker>(async move {
        let (c, d) = loop {
            if let Some(handles) = slot.lock().unwrap().take() {
                break handles;
            }
            yield_now().await;
        };
        while !d.is_finished() {
            yield_now().await;
        }
        let _ = zip(c, d).await;
    });
    let c = runtime.task("c").spawn::<Worker>(async move {
        let _ = a.await;
    });
    let d = runtime.task("d").spawn::<Worker>(async {});
    *handles.lock().unwrap() = Some((c, d));
    let report = run_out(&runtime);
    let stall = report.stall.clone().expect("a stall");
    let cycles: Vec<Vec<String>> = stall
        .cycles
        .iter()
        .map(|cycle| {
            let mut names: Vec<_> = cycle.iter().map(|task| task.name.clone()).collect();
            names.sort();
            names
        })
        .collect();
    assert_eq!(cycles, [["a", "c"]], "{stall}");
}

// ---- item 8: a nested `with_world` ----

#[test]
fn a_with_world_inside_a_with_world_closure_panics_with_the_true_reason() {
    let mut app = app(1);
    let task = coro(&app).spawn::<Main>(async {
        with_world(|_| futures_lite::future::block_on(with_world(|_| 1))).await
    });
    let Err(TaskError::Panicked(message)) = run_task(&mut app, task) else {
        panic!("the nested with_world did not panic");
    };
    assert!(
        message.starts_with("bevy_coro:")
            && !message.contains("not run by CoroPlugin")
            && message.contains("inside another `with_world`"),
        "{message}"
    );
}
