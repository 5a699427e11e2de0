//! Panics in `Drop`s during shutdown: contained, and every other future
//! is dropped.

use super::*;

#[test]
fn panics_in_drops_during_shutdown_are_contained_and_every_other_future_is_dropped() {
    quiet_injected_panics();
    const ROUNDS: usize = 20;
    const GRENADES: usize = 100;
    const INNOCENT: usize = 1_000;
    for round in 0..ROUNDS {
        let mut app = app(2);
        let coro = coro(&app);
        let grenades = Arc::new(AtomicUsize::new(0));
        let innocent = DropCounter::default();
        // Grenades and innocents in the same states: parked on either side,
        // yielding on a worker, hopping, asleep, queued and never polled.
        for i in 0..GRENADES + INNOCENT {
            let grenade = (i % 11 == 0 && i / 11 < GRENADES).then(|| Grenade {
                drops: grenades.clone(),
            });
            let token = innocent.token();
            let hold = move || (grenade, token);
            match i % 5 {
                0 => coro
                    .spawn::<Main>(async move {
                        let _held = hold();
                        std::future::pending::<()>().await;
                    })
                    .detach(),
                1 => coro
                    .spawn::<Worker>(async move {
                        let _held = hold();
                        std::future::pending::<()>().await;
                    })
                    .detach(),
                2 => coro
                    .spawn::<Worker>(async move {
                        let _held = hold();
                        loop {
                            yield_now().await;
                        }
                    })
                    .detach(),
                3 => coro
                    .spawn::<Main>(async move {
                        let _held = hold();
                        loop {
                            async { yield_now().await }.on::<Worker>().await;
                        }
                    })
                    .detach(),
                _ => coro
                    .spawn::<Worker>(async move {
                        let _held = hold();
                        sleep(Duration::from_secs(3600)).await;
                    })
                    .detach(),
            }
        }
        for _ in 0..round % 3 {
            app.update();
        }
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(app)));
        assert!(
            dropped.is_ok(),
            "round {round}: a Drop panic escaped shutdown"
        );
        assert_eq!(grenades.load(Ordering::SeqCst), GRENADES, "round {round}");
        // Every future was dropped, so every token in it: a grenade's panic
        // lost the grenade's own token at most, and the counter says none.
        assert_eq!(innocent.count(), GRENADES + INNOCENT, "round {round}");
        assert_eq!(coro.in_flight(), 0, "round {round}");
    }
}
