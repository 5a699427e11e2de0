//! Actors: order per sender, exactly once, one handler at a time, batches,
//! priority, no task while idle.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use bevy_app::App;
use bevy_coro::WorkerPriority;
use bevy_coro::behavior_fn;
use bevy_coro::prelude::*;
use common::*;

/// What a recorder hands out when dropped.
type Record = Arc<Mutex<Option<Vec<(usize, u64)>>>>;

/// Records `(sender, seq)` of every message and publishes the record when
/// dropped; counts handlers that overlap.
struct Recorder {
    seen: Vec<(usize, u64)>,
    inside: Arc<AtomicUsize>,
    overlaps: Arc<AtomicUsize>,
    out: Record,
}

impl Behavior<(usize, u64)> for Recorder {
    async fn handle(&mut self, msg: (usize, u64)) {
        if self.inside.fetch_add(1, Ordering::SeqCst) != 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        if msg.1.is_multiple_of(512) {
            // An await inside the handler: a second turn would overlap here.
            yield_now().await;
        }
        self.seen.push(msg);
        if self.inside.fetch_sub(1, Ordering::SeqCst) != 1 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        *self.out.lock().unwrap() = Some(std::mem::take(&mut self.seen));
    }
}

const SENDERS: usize = 4;
const PER_SENDER: u64 = 100_000;

in_each_mode! {
    /// Four threads send 100,000 messages each while the actor runs: every
    /// message is handled exactly once, each sender's in the order sent,
    /// and no two handlers ever overlap. Dropping the addresses then stops
    /// the actor after all of them.
    fn four_senders_keep_their_order_exactly_once(workers = 2) {
        let mut app = app(workers);
        let coro = coro(&app);
        let overlaps = Arc::new(AtomicUsize::new(0));
        let out = Arc::new(Mutex::new(None));
        let log: Actor<(usize, u64)> = coro.actor("log").spawn::<Worker>(Recorder {
            seen: Vec::new(),
            inside: Arc::new(AtomicUsize::new(0)),
            overlaps: overlaps.clone(),
            out: out.clone(),
        });
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let log = log.clone();
                thread::spawn(move || {
                    for seq in 0..PER_SENDER {
                        log.send((sender, seq)).unwrap();
                    }
                })
            })
            .collect();
        drop(log);
        // Pumped meanwhile: single-threaded, the pump runs the turns.
        update_until(&mut app, "all handled", |_| out.lock().unwrap().is_some());
        for sender in senders {
            sender.join().unwrap();
        }
        let seen = out.lock().unwrap().take().unwrap();
        assert_eq!(seen.len(), SENDERS * PER_SENDER as usize, "each message once");
        let mut next = [0u64; SENDERS];
        for (sender, seq) in seen {
            assert_eq!(seq, next[sender], "sender {sender} out of order");
            next[sender] += 1;
        }
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "handlers overlapped");
    }

    /// Two busy actors on one worker, each sent 1,000 messages before
    /// either runs: with a batch of 10 they take turns, never more than 10
    /// messages in a row while both have work, and a task spawned after
    /// the flood runs long before it is drained.
    fn busy_actors_take_turns_by_batch(workers = 1) {
        // Normal priority: a background worker that a loaded machine starves
        // has the rescue thread run tasks beside it, a second thread whose
        // turns interleave with the worker's (one actor's turn stalled with
        // its preempted worker while the other ran 959 messages).
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers,
            worker_priority: WorkerPriority::Normal,
            ..Default::default()
        });
        let coro = coro(&app);
        let log = Arc::new(Mutex::new(Vec::new()));
        let actor = |id: char| -> Actor<u32> {
            let log = log.clone();
            coro.actor("busy")
                .batch(10)
                .spawn::<Worker>(behavior_fn((), move |_, _n: u32| {
                    let log = log.clone();
                    Box::pin(async move { log.lock().unwrap().push(id) })
                }))
        };
        let (a, b) = (actor('a'), actor('b'));
        // Hold the only worker while the messages are sent, so both
        // mailboxes are full before either turn runs.
        let release = Arc::new(AtomicUsize::new(0));
        let held = release.clone();
        let gate = coro.spawn::<Worker>(async move {
            while held.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        });
        for n in 0..1_000 {
            a.send(n).unwrap();
            b.send(n).unwrap();
        }
        let observed = log.clone();
        let observer = coro.spawn::<Worker>(async move { observed.lock().unwrap().len() });
        release.store(1, Ordering::SeqCst);
        run_task(&mut app, gate).unwrap();
        let seen_by_observer = run_task(&mut app, observer).unwrap();
        update_until(&mut app, "drained", |_| log.lock().unwrap().len() == 2_000);
        let log = log.lock().unwrap();
        let a_done = log.iter().rposition(|&id| id == 'a').unwrap();
        let b_done = log.iter().rposition(|&id| id == 'b').unwrap();
        let both_busy = &log[..a_done.min(b_done)];
        let longest = both_busy
            .chunk_by(|x, y| x == y)
            .map(<[char]>::len)
            .max()
            .unwrap();
        assert!(longest <= 10, "{longest} messages in a row with a batch of 10");
        assert!(
            seen_by_observer < 1_000,
            "the task behind the flood waited for {seen_by_observer} messages"
        );
    }

    /// An actor that has handled its messages has no task: nothing is in
    /// flight and nothing is polled until the next message.
    fn an_idle_actor_costs_no_task(workers = 2) {
        let mut app = app(workers);
        let coro = coro(&app);
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        let actor: Actor<u32, u32> = coro.actor("idle").spawn::<Worker>(behavior_fn(
            0u32,
            move |total, n: u32| {
                counted.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    *total += n;
                    *total
                })
            },
        ));
        for round in 1..=3u32 {
            for _ in 0..10 {
                actor.send(1).unwrap();
            }
            let total = run_task(&mut app, coro.spawn::<Main>(actor.ask(0))).unwrap();
            assert_eq!(total, Ok(10 * round));
            update_until(&mut app, "turn ended", |_| coro.in_flight() == 0);
            let before = polls.load(Ordering::SeqCst);
            for _ in 0..20 {
                app.update();
            }
            assert_eq!(polls.load(Ordering::SeqCst), before, "an idle actor ran");
            assert_eq!(coro.in_flight(), 0, "an idle actor holds a task");
        }
    }
}

/// A main-thread actor handles one batch per frame when flooded.
#[test]
fn a_main_actor_handles_a_batch_per_frame() {
    let mut app = app(1);
    let coro = coro(&app);
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let actor: Actor<u32> =
        coro.actor("orders")
            .batch(10)
            .spawn::<Main>(behavior_fn((), move |_, _n: u32| {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {})
            }));
    for n in 0..35 {
        actor.send(n).unwrap();
    }
    for expected in [10, 20, 30, 35, 35] {
        app.update();
        assert_eq!(handled.load(Ordering::SeqCst), expected);
    }
}

/// A `High` actor's turn runs before `Normal` tasks queued ahead of it, on
/// either side; its turns after a yield keep the priority.
#[test]
fn a_high_priority_actor_runs_first() {
    let mut app = app(1);
    let coro = coro(&app);
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = log.clone();
    let urgent: Actor<&'static str> = coro
        .actor("urgent")
        .priority(Priority::High)
        .batch(1)
        .spawn::<Main>(behavior_fn((), move |_, what| {
            let log = logged.clone();
            Box::pin(async move { log.lock().unwrap().push(what) })
        }));
    for _ in 0..3 {
        let log = log.clone();
        coro.spawn::<Main>(async move { log.lock().unwrap().push("normal") })
            .detach();
    }
    urgent.send("urgent 1").unwrap();
    urgent.send("urgent 2").unwrap();
    app.update();
    // One batch (of 1) per frame for a main actor, before the Normal tasks.
    assert_eq!(
        *log.lock().unwrap(),
        ["urgent 1", "normal", "normal", "normal"]
    );
    app.update();
    assert_eq!(log.lock().unwrap().last(), Some(&"urgent 2"));
}

/// A turn belongs to the actor, not to the task that sent the message:
/// cancelling the sender leaves the message's handling to run to its end.
#[test]
fn cancelling_a_sender_does_not_stop_the_actor() {
    let mut app = app(1);
    let coro = coro(&app);
    let done = Arc::new(AtomicUsize::new(0));
    let finished = done.clone();
    let slow: Actor<u32> =
        coro.actor("slow")
            .spawn::<Main>(behavior_fn((), move |_, frames: u32| {
                let finished = finished.clone();
                Box::pin(async move {
                    for _ in 0..frames {
                        next_frame().await;
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            }));
    let address = slow.clone();
    let sender = coro.spawn::<Main>(async move {
        address.send(5).unwrap();
        std::future::pending::<()>().await;
    });
    app.update(); // the sender sends; the turn starts
    drop(sender); // cancels the sender
    update_until(&mut app, "handled", |_| done.load(Ordering::SeqCst) == 1);
    assert!(!slow.is_stopped());
}

/// A handler awaits what tasks await: a hop to a worker, the World, a
/// timer; the state stays its own across them.
#[test]
fn a_handler_hops_and_reaches_the_world() {
    #[derive(bevy_ecs::prelude::Resource, Default)]
    struct Score(u64);

    struct Scorer {
        total: u64,
    }
    impl Behavior<u64, u64> for Scorer {
        async fn handle(&mut self, points: u64) -> u64 {
            let doubled = async move { points * 2 }.on::<Worker>().await;
            self.total += doubled;
            sleep(std::time::Duration::from_millis(1)).await;
            let total = self.total;
            with_world(move |world| world.resource_mut::<Score>().0 = total).await;
            self.total
        }
    }

    let mut app = app(2);
    app.init_resource::<Score>();
    let coro = coro(&app);
    let scorer: Actor<u64, u64> = coro.actor("scorer").spawn::<Worker>(Scorer { total: 0 });
    for points in 1..=9 {
        scorer.send(points).unwrap();
    }
    let total = run_task(&mut app, coro.spawn::<Main>(scorer.ask(10))).unwrap();
    assert_eq!(total, Ok(110));
    assert_eq!(app.world().resource::<Score>().0, 110);
}
