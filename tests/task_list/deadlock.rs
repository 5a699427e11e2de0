//! The task list beside the deadlock report of deterministic mode.

use super::*;

/// In deterministic mode the task list and the deadlock report work
/// together: two tasks awaiting each other are reported, and listed as
/// waiting on each other.
#[test]
fn a_deadlock_is_listed_as_tasks_waiting_on_each_other() {
    use bevy_coro::runtime::Mode;
    let runtime = Runtime::new(RuntimeConfig {
        mode: Mode::Deterministic {
            seed: 3,
            frame_step: Duration::from_millis(16),
        },
        track_tasks: true,
        ..Default::default()
    })
    .unwrap();
    let (send, receive) = async_channel::bounded::<Task<()>>(1);
    let first = runtime.task("first").spawn::<Main>(async move {
        let second: Task<()> = receive.recv().await.unwrap();
        let _ = second.await;
    });
    let first_id = {
        runtime.pump(Instant::now(), None);
        runtime.tasks()[0].id
    };
    let second = runtime.task("second").spawn::<Worker>(async move {
        let _ = first.await;
    });
    let second_id = runtime
        .tasks()
        .iter()
        .find(|t| t.name == Some("second"))
        .unwrap()
        .id;
    send.try_send(second).unwrap();
    let report = runtime.pump(Instant::now(), None);
    let tasks = runtime.tasks();
    assert!(report.deadlock().is_err(), "{tasks:#?}");
    let waits: Vec<(u64, Vec<WaitingOn>)> =
        tasks.iter().map(|t| (t.id, t.waiting_on.clone())).collect();
    assert!(waits.contains(&(
        first_id,
        vec![WaitingOn::Task {
            id: second_id,
            name: Some("second".into())
        }]
    )));
    assert!(waits.contains(&(
        second_id,
        vec![WaitingOn::Task {
            id: first_id,
            name: Some("first".into())
        }]
    )));
}
