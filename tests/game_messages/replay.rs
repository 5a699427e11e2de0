//! Message waits replayed by the deterministic mode.

use super::*;

/// Runs `seed`'s deterministic App with waiting tasks on the main thread and
/// on (simulated) workers; returns the order in which they saw what.
fn replay(seed: u64) -> Vec<String> {
    let mut app = deterministic_app(seed);
    app.add_message::<Ping>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let coro = coro(&app);
    for task in 0..8u32 {
        let log = log.clone();
        let body = async move {
            let ping = next_message::<Ping>().await;
            log.lock()
                .unwrap()
                .push(format!("task {task} got {}", ping.0));
            let even = next_message_where(|ping: &Ping| ping.0.is_multiple_of(2)).await;
            log.lock()
                .unwrap()
                .push(format!("task {task} got even {}", even.0));
            let mut inbox = messages::<Ping>().await;
            for _ in 0..3 {
                let ping = inbox.next().await.unwrap();
                log.lock()
                    .unwrap()
                    .push(format!("task {task} read {}", ping.0));
                async {}.on::<Worker>().await;
            }
        };
        if task % 2 == 0 {
            coro.spawn::<Main>(body).detach();
        } else {
            coro.spawn::<Worker>(body).detach();
        }
    }
    for frame in 0..30 {
        app.update();
        write(&mut app, Ping(frame));
    }
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

#[test]
fn a_deterministic_run_replays_message_waits() {
    let first = replay(5);
    assert_eq!(first.len(), 8 * 5, "{first:?}");
    assert_eq!(first, replay(5));
}
