//! A thousand Apps dropped mid-flight: every future dropped exactly once,
//! never polled after its drop or its end, and no hang.

use super::*;

/// Counts what happened to the futures of one App.
#[derive(Default)]
struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
    dropped_twice: AtomicUsize,
    polls_after_drop: AtomicUsize,
    polls_after_ready: AtomicUsize,
}

/// Wraps a future with a drop guard and tripwires for polls after its drop
/// or after it returned `Ready`.
struct Tracked<F> {
    ledger: Arc<Ledger>,
    /// 0 live, 1 ready, 2 dropped.
    state: AtomicU8,
    future: Pin<Box<F>>,
}

fn tracked<F: Future>(ledger: &Arc<Ledger>, future: F) -> Tracked<F> {
    ledger.made.fetch_add(1, Ordering::SeqCst);
    Tracked {
        ledger: ledger.clone(),
        state: AtomicU8::new(0),
        future: Box::pin(future),
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.state.load(Ordering::SeqCst) {
            0 => {}
            1 => {
                self.ledger.polls_after_ready.fetch_add(1, Ordering::SeqCst);
                return Poll::Pending;
            }
            _ => {
                self.ledger.polls_after_drop.fetch_add(1, Ordering::SeqCst);
                return Poll::Pending;
            }
        }
        let poll = self.future.as_mut().poll(cx);
        if poll.is_ready() {
            self.state.store(1, Ordering::SeqCst);
        }
        poll
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        if self.state.swap(2, Ordering::SeqCst) == 2 {
            self.ledger.dropped_twice.fetch_add(1, Ordering::SeqCst);
        }
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns 1,000 tasks in every state the scheduler has: parked, hopping,
/// yielding, sleeping, finishing, and spawning more tasks while shutdown runs.
fn spawn_thousand(coro: &Coro, ledger: &Arc<Ledger>) {
    for i in 0..1_000u64 {
        match i % 8 {
            0 => coro
                .spawn::<Main>(tracked(ledger, std::future::pending::<()>()))
                .detach(),
            1 => coro
                .spawn::<Worker>(tracked(ledger, std::future::pending::<()>()))
                .detach(),
            2 => coro
                .spawn::<Main>(tracked(ledger, async {
                    loop {
                        async { yield_now().await }.on::<Worker>().await;
                    }
                }))
                .detach(),
            3 => coro
                .spawn::<Worker>(tracked(ledger, async {
                    loop {
                        async {}.on::<Main>().await;
                        yield_now().await;
                    }
                }))
                .detach(),
            // Some of these wake up before the App is dropped, some not.
            4 => coro
                .spawn::<Main>(tracked(ledger, async move {
                    sleep(Duration::from_micros(i * 13 % 2_000)).await;
                }))
                .detach(),
            5 => coro
                .spawn::<Worker>(tracked(ledger, async move {
                    sleep(Duration::from_micros(i * 7 % 2_000)).await;
                    async {}.on::<Main>().await;
                    sleep(Duration::from_secs(3600)).await;
                }))
                .detach(),
            6 => coro
                .spawn::<Worker>(tracked(ledger, async {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                }))
                .detach(),
            _ => {
                // A spawner: its children race the shutdown's close.
                let (spawner, children) = (coro.clone(), ledger.clone());
                coro.spawn::<Worker>(tracked(ledger, async move {
                    for child in 0..16 {
                        let future = tracked(&children, async { yield_now().await });
                        if child % 2 == 0 {
                            spawner.spawn::<Main>(future).detach();
                        } else {
                            spawner.spawn::<Worker>(future).detach();
                        }
                        yield_now().await;
                    }
                    std::future::pending::<()>().await;
                }))
                .detach();
            }
        }
    }
}

#[test]
fn a_thousand_apps_dropped_mid_flight_drop_each_future_exactly_once() {
    const APPS: usize = 1_000;
    let watchdog = Watchdog::start("apps dropped mid-flight", Duration::from_secs(60));
    for round in 0..APPS {
        let mut app = app(2);
        let coro = coro(&app);
        let ledger = Arc::new(Ledger::default());
        {
            let (coro, ledger) = (coro.clone(), ledger.clone());
            watchdog.lap(format!("app {round}"), move || {
                format!(
                    "{}, futures made {}, dropped {}",
                    describe(&coro),
                    ledger.made.load(Ordering::SeqCst),
                    ledger.dropped.load(Ordering::SeqCst)
                )
            });
        }
        spawn_thousand(&coro, &ledger);
        // Drop after 0 to 3 frames, so tasks are caught in every state.
        for _ in 0..round % 4 {
            app.update();
        }
        drop(app);
        let made = ledger.made.load(Ordering::SeqCst);
        assert!(made >= 1_000);
        assert_eq!(
            ledger.dropped.load(Ordering::SeqCst),
            made,
            "app {round}: futures dropped"
        );
        assert_eq!(
            ledger.dropped_twice.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(
            ledger.polls_after_drop.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(
            ledger.polls_after_ready.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(coro.in_flight(), 0, "app {round}");
    }
}
