//! How many [`Actor`](super::Actor) addresses an actor has: the last one
//! dropped stops it, and a [`WeakActor`](super::WeakActor) makes a new one
//! only while one is alive, so no upgrade brings back an actor that its
//! last address stopped. The same count as `Arc`'s strong count, and the
//! same rules (`Arc::clone`, `Weak::upgrade`, `Arc::drop`).

use crate::runtime::sync::{AtomicUsize, Ordering};

/// The count of an actor's `Actor` addresses.
pub(crate) struct Addresses(AtomicUsize);

impl Addresses {
    /// One address: the one the spawn returns.
    pub(crate) fn one() -> Self {
        Addresses(AtomicUsize::new(1))
    }

    /// One more, made from an address alive (a clone). Relaxed, as
    /// `Arc::clone`: the address cloned keeps the count above zero.
    pub(crate) fn add(&self) {
        let before = self.0.fetch_add(1, Ordering::Relaxed);
        if before > isize::MAX as usize {
            // Only leaked addresses, by the billion, get here.
            std::process::abort();
        }
    }

    /// One more, made from a weak address: only while one is alive. `false`
    /// once the last was dropped (the actor was stopped by it).
    pub(crate) fn try_add(&self) -> bool {
        let mut count = self.0.load(Ordering::Relaxed);
        loop {
            if count == 0 {
                return false;
            }
            if count > isize::MAX as usize {
                std::process::abort();
            }
            // Acquire, as `Weak::upgrade`: the new address sees what the
            // others did before.
            match self.0.compare_exchange_weak(
                count,
                count + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => count = actual,
            }
        }
    }

    /// One fewer; `true` for the last, whose drop stops the actor. AcqRel,
    /// as `Arc`'s drop: the last one sees every other address's sends.
    pub(crate) fn drop_one(&self) -> bool {
        self.0.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// Loom models of the count (run from `loom/`, see its `lib.rs`).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    use super::Addresses;

    /// An actor's count and how many times its last address stopped it.
    struct Actor {
        addresses: Addresses,
        stops: AtomicUsize,
    }

    impl Actor {
        fn new() -> Arc<Self> {
            Arc::new(Actor {
                addresses: Addresses::one(),
                stops: AtomicUsize::new(0),
            })
        }

        fn drop_address(&self) {
            if self.addresses.drop_one() {
                self.stops.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// An upgrade that, when it gets an address, drops it again.
        fn upgrade_and_drop(&self) {
            if self.addresses.try_add() {
                self.drop_address();
            }
        }
    }

    /// The last address dropped while a weak one upgrades: the actor is
    /// stopped exactly once, by whichever address goes last, and an upgrade
    /// that comes after the last drop fails.
    #[test]
    fn an_upgrade_racing_the_last_drop_never_revives_the_actor() {
        crate::model(
            "an_upgrade_racing_the_last_drop_never_revives_the_actor",
            || {
                let actor = Actor::new();
                let upgrader = {
                    let actor = actor.clone();
                    thread::spawn(move || actor.upgrade_and_drop())
                };
                actor.drop_address();
                upgrader.join().unwrap();
                assert_eq!(actor.stops.load(Ordering::SeqCst), 1);
                // Stopped: no later upgrade gets an address.
                assert!(!actor.addresses.try_add());
            },
        );
    }

    /// Two upgrades, a clone and the drops of every address, at once: one
    /// stop, and the count back at zero.
    #[test]
    fn clones_upgrades_and_drops_stop_the_actor_once() {
        crate::model("clones_upgrades_and_drops_stop_the_actor_once", || {
            let actor = Actor::new();
            // A second address, cloned from the first; each thread drops one.
            actor.addresses.add();
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let actor = actor.clone();
                    thread::spawn(move || {
                        actor.upgrade_and_drop();
                        actor.drop_address();
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(actor.stops.load(Ordering::SeqCst), 1);
            assert!(!actor.addresses.try_add());
        });
    }
}
