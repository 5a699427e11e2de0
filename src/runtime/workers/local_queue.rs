//! A worker's own queue: a ring only its worker pushes to, with a plain
//! load and store (no read-modify-write, which a yield loop pays for on every
//! turn in a queue any thread may push to), and that any thread pops from
//! with one compare-and-swap: its worker, the others stealing, the rescue
//! thread and shutdown. Tokio's local run queue is built the same way.
//!
//! The places are atomic pointers, so a popper's read of a place that its
//! worker is writing again (the popper's index already taken by another)
//! is a race the compare-and-swap then loses, never a torn read.
//!
//! This file knows nothing of tasks (`T` is anything with a [`Raw`]
//! pointer), so the loom models in `loom/` compile it as it is.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::runtime::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// What the queue holds: a value that is one pointer, taken apart and put
/// back together (`Runnable::into_raw` / `from_raw`).
pub(crate) trait Raw {
    /// Gives the value up as a pointer.
    fn into_raw(self) -> NonNull<()>;
    /// Takes the value back.
    ///
    /// # Safety
    ///
    /// `ptr` came from [`Raw::into_raw`] of this type and is taken back once.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

/// A bounded ring of `T`s: pushes from one thread (the owner), pops from any.
pub(crate) struct LocalQueue<T: Raw> {
    /// The index of the next pop; any popper moves it on, by compare-and-swap.
    head: AtomicUsize,
    /// The index of the next push; written by the owner only.
    tail: AtomicUsize,
    /// Set by shutdown: pushes are refused from then on.
    closed: AtomicBool,
    places: Box<[AtomicPtr<()>]>,
    _holds: PhantomData<T>,
}

impl<T: Raw> LocalQueue<T> {
    /// A queue of `capacity` places (a power of two).
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity.is_power_of_two());
        LocalQueue {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            places: (0..capacity)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            _holds: PhantomData,
        }
    }

    fn place(&self, index: usize) -> &AtomicPtr<()> {
        &self.places[index & (self.places.len() - 1)]
    }

    /// Pushes `item` at the back; gives it back when the queue is full or
    /// closed. Only the owning thread may push (the worker the queue
    /// belongs to: `Workers::push` pushes to worker `i`'s queue only on
    /// worker thread `i`), or after that thread has ended.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        // The owner's own flag (shutdown closes a queue from its owner, or
        // after joining it), so relaxed.
        if self.closed.load(Ordering::Relaxed) {
            return Err(item);
        }
        // The owner wrote `tail` last.
        let tail = self.tail.load(Ordering::Relaxed);
        // Acquire: the pop that freed a place has read it before this
        // push writes it again.
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= self.places.len() {
            return Err(item);
        }
        self.place(tail)
            .store(item.into_raw().as_ptr(), Ordering::Relaxed);
        // Release: a popper that sees the new tail sees the place written.
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Pops from the front, from any thread.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            // Acquire: pairs with the push's release, so the place at `head`
            // holds what was pushed there (or, if the owner has written it
            // again since, `head` has moved on and the exchange fails).
            let tail = self.tail.load(Ordering::Acquire);
            if tail.wrapping_sub(head) == 0 || tail.wrapping_sub(head) > self.places.len() {
                // Empty (or `head` read before a pop and `tail` after more
                // pushes and pops: a stale look, as good as empty).
                return None;
            }
            let item = self.place(head).load(Ordering::Relaxed);
            // Release: this read of the place comes before the owner's next
            // write to it (which follows its acquire load of `head`).
            match self.head.compare_exchange_weak(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let item = NonNull::new(item).expect("a pushed place holds an item");
                    // SAFETY: the place at `head` was written by the push of
                    // index `head` (the tail we read is past it), from
                    // `into_raw`; the exchange that moved `head` past that
                    // index succeeded here only, once, so this is the one
                    // take of that pointer. A later push to the same place
                    // (index `head + capacity`) is made only after the
                    // owner has seen `head` past this index, which is after
                    // this read.
                    return Some(unsafe { T::from_raw(item) });
                }
                Err(now) => head = now,
            }
        }
    }

    /// Items queued (a snapshot).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.places.len())
    }

    /// Whether the queue looks empty (a snapshot).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses further pushes and hands what the queue holds to `dispose`,
    /// one item at a time. Call from the owner, or once it has ended.
    pub(crate) fn drain(&self, mut dispose: impl FnMut(T)) {
        self.closed.store(true, Ordering::Relaxed);
        while let Some(item) = self.pop() {
            dispose(item);
        }
    }
}

impl<T: Raw> Drop for LocalQueue<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

/// Loom models of the queue (run from `loom/`, see its `lib.rs`).
#[cfg(all(test, loom))]
mod loom_models {
    use std::ptr::NonNull;

    use loom::sync::Arc;
    use loom::thread;

    use super::{LocalQueue, Raw};

    impl<T> Raw for Box<T> {
        fn into_raw(self) -> NonNull<()> {
            NonNull::from(Box::leak(self)).cast()
        }

        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            // SAFETY: the caller's promise: `ptr` is a leaked `Box<T>`, taken
            // back once.
            unsafe { Box::from_raw(ptr.cast::<T>().as_ptr()) }
        }
    }

    /// The owner pushes and pops while another thread steals, on a queue of
    /// two places (so the ring wraps and fills): every item pushed is
    /// taken exactly once (a double take would free a `Box` twice, a lost
    /// one would leak: loom reports both), and a full queue refuses.
    #[test]
    fn every_item_is_taken_once_while_another_thread_steals() {
        crate::model(
            "every_item_is_taken_once_while_another_thread_steals",
            || {
                let queue = Arc::new(LocalQueue::<Box<usize>>::new(2));
                let thief = {
                    let queue = queue.clone();
                    thread::spawn(move || {
                        let mut sum = 0;
                        for _ in 0..2 {
                            if let Some(item) = queue.pop() {
                                sum += *item;
                            }
                        }
                        sum
                    })
                };
                let mut sum = 0;
                let mut pushed = 0;
                for item in [1, 2, 4, 8] {
                    match queue.push(Box::new(item)) {
                        Ok(()) => pushed += item,
                        // Full: the thief has not popped yet.
                        Err(_) => {}
                    }
                    if item == 4
                        && let Some(item) = queue.pop()
                    {
                        sum += *item;
                    }
                }
                sum += thief.join().unwrap();
                while let Some(item) = queue.pop() {
                    sum += *item;
                }
                assert_eq!(sum, pushed);
            },
        );
    }

    /// Two thieves and the owner popping at once: each item once.
    #[test]
    fn two_thieves_and_the_owner_take_each_item_once() {
        crate::model("two_thieves_and_the_owner_take_each_item_once", || {
            let queue = Arc::new(LocalQueue::<Box<usize>>::new(2));
            queue.push(Box::new(1)).unwrap();
            queue.push(Box::new(2)).unwrap();
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let queue = queue.clone();
                    thread::spawn(move || queue.pop().map_or(0, |item| *item))
                })
                .collect();
            let mut sum = queue.pop().map_or(0, |item| *item);
            let mut pushed = 3;
            // A place freed by the pops above is written again.
            if queue.push(Box::new(4)).is_ok() {
                pushed += 4;
            }
            for thief in thieves {
                sum += thief.join().unwrap();
            }
            while let Some(item) = queue.pop() {
                sum += *item;
            }
            assert_eq!(sum, pushed);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::ptr::NonNull;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    use super::{LocalQueue, Raw};

    /// A boxed number: what the queue holds in these tests.
    struct Item(Box<usize>);

    impl Raw for Item {
        fn into_raw(self) -> NonNull<()> {
            NonNull::from(Box::leak(self.0)).cast()
        }

        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            // SAFETY: the caller's promise: a leaked `Box<usize>`, once.
            Item(unsafe { Box::from_raw(ptr.cast::<usize>().as_ptr()) })
        }
    }

    #[test]
    fn first_in_first_out_refuses_when_full_and_after_drain() {
        let queue = LocalQueue::new(4);
        for round in 0..3 {
            for i in 0..4 {
                assert!(queue.push(Item(Box::new(round * 10 + i))).is_ok());
            }
            let refused = queue.push(Item(Box::new(99))).unwrap_err();
            assert_eq!(*refused.0, 99);
            assert_eq!(queue.len(), 4);
            for i in 0..4 {
                assert_eq!(*queue.pop().unwrap().0, round * 10 + i);
            }
            assert!(queue.is_empty() && queue.pop().is_none());
        }
        queue.push(Item(Box::new(1))).ok().unwrap();
        let mut drained = Vec::new();
        queue.drain(|item| drained.push(*item.0));
        assert_eq!(drained, [1]);
        assert!(queue.push(Item(Box::new(2))).is_err());
    }

    /// The owner pushes 200,000 items through 8 places, popping some
    /// itself, while two threads steal: each item comes out exactly once.
    #[test]
    fn every_item_comes_out_once_while_two_threads_steal() {
        const ITEMS: usize = 200_000;
        let queue = Arc::new(LocalQueue::<Item>::new(8));
        let done = Arc::new(AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (queue, done) = (queue.clone(), done.clone());
                thread::spawn(move || {
                    let mut taken = Vec::new();
                    // Until the owner is done; it takes what is left (a
                    // look that wrongly says empty loses items: counted).
                    while !done.load(Ordering::Acquire) {
                        if let Some(item) = queue.pop() {
                            taken.push(*item.0);
                        }
                    }
                    taken
                })
            })
            .collect();
        let mut taken = Vec::new();
        let mut next = 0;
        while next < ITEMS {
            match queue.push(Item(Box::new(next))) {
                Ok(()) => next += 1,
                Err(_) => {
                    if let Some(item) = queue.pop() {
                        taken.push(*item.0);
                    }
                }
            }
            if next % 3 == 0
                && let Some(item) = queue.pop()
            {
                taken.push(*item.0);
            }
        }
        done.store(true, Ordering::Release);
        for thief in thieves {
            taken.extend(thief.join().unwrap());
        }
        while let Some(item) = queue.pop() {
            taken.push(*item.0);
        }
        taken.sort_unstable();
        assert_eq!(taken.len(), ITEMS);
        assert!(taken.iter().enumerate().all(|(i, &item)| i == item));
    }
}
