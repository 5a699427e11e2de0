//! A storm of wakes from foreign threads: none lost.

use super::*;

/// Where a task of the wake storm publishes its waker, and how many wakes it
/// got. Both under one lock, so a wake is only ever sent to a task that is
/// waiting for exactly that wake.
#[derive(Default)]
struct Slot(Mutex<SlotState>);

#[derive(Default)]
struct SlotState {
    woken: u32,
    waker: Option<Waker>,
}

/// Waits until the slot has had `target` wakes.
struct WaitForWake<'a> {
    slot: &'a Slot,
    target: u32,
}

impl Future for WaitForWake<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.slot.0.lock().unwrap();
        if state.woken >= self.target {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_storm_of_foreign_wakes_loses_none() {
    const TASKS: usize = 100_000;
    const WAKES: u32 = 10;
    const WAKERS: usize = 2;
    let mut app = app(2);
    let coro = coro(&app);
    let slots: Arc<Vec<Slot>> = Arc::new((0..TASKS).map(|_| Slot::default()).collect());
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..TASKS {
        let (slots, done) = (slots.clone(), done.clone());
        let task = async move {
            for target in 1..=WAKES {
                WaitForWake {
                    slot: &slots[i],
                    target,
                }
                .await;
            }
            done.fetch_add(1, Ordering::SeqCst);
        };
        // Both kinds: a wake reaches the main queue or a worker's.
        if i % 2 == 0 {
            coro.spawn::<Main>(task).detach();
        } else {
            coro.spawn::<Worker>(task).detach();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    // Plain threads, foreign to the scheduler, sweep the slots from different
    // places and wake whoever waits.
    let wakers: Vec<_> = (0..WAKERS)
        .map(|w| {
            let (slots, stop, sent) = (slots.clone(), stop.clone(), sent.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut fired = 0;
                    for k in 0..TASKS {
                        let slot = &slots[(k + w * TASKS / WAKERS) % TASKS];
                        let waker = {
                            let mut state = slot.0.lock().unwrap();
                            let waker = state.waker.take();
                            if waker.is_some() {
                                state.woken += 1;
                            }
                            waker
                        };
                        // Woken outside the lock, as a real event source would.
                        if let Some(waker) = waker {
                            waker.wake();
                            fired += 1;
                        }
                    }
                    sent.fetch_add(fired, Ordering::Relaxed);
                    if fired == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    update_until(&mut app, "every task of the wake storm", |_| {
        done.load(Ordering::SeqCst) == TASKS
    });
    stop.store(true, Ordering::Relaxed);
    for waker in wakers {
        waker.join().unwrap();
    }
    // A task gets its next wake only after it used the last one: every wake
    // sent was needed, and a lost one would have hung the storm.
    assert_eq!(sent.load(Ordering::Relaxed), TASKS * WAKES as usize);
    assert!(
        slots
            .iter()
            .all(|slot| slot.0.lock().unwrap().woken == WAKES)
    );
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}
