//! `AllOf`: many futures awaited together inside one task, held in place.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls every future it holds until all are done. The futures live in one
/// pinned slice (one allocation for all of them), as sleeps inside a task's
/// own state do, so a timer benchmark measures the timers and not one
/// `malloc` and `free` per sleep (glibc spends more on those, in a burst of
/// a thousand, than either timer wheel does).
pub struct AllOf<F> {
    slots: Pin<Box<[Option<F>]>>,
    pending: usize,
}

#[allow(dead_code)] // not every benchmark binary awaits futures together
impl<F: Future<Output = ()>> AllOf<F> {
    pub fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let slots: Box<[Option<F>]> = futures.into_iter().map(Some).collect();
        AllOf {
            pending: slots.len(),
            slots: Box::into_pin(slots),
        }
    }
}

impl<F: Future<Output = ()>> Future for AllOf<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `AllOf` itself is `Unpin`: its futures are behind the box's pin.
        let this = self.get_mut();
        // SAFETY: no future is moved out of the slice: each is polled where
        // it lies and dropped in place (its slot set to `None`), as
        // `Pin::set` does; the box is never moved out of its `Pin`.
        let slots = unsafe { this.slots.as_mut().get_unchecked_mut() };
        for slot in slots.iter_mut() {
            if let Some(future) = slot {
                // SAFETY: `future` lies in the pinned slice (above).
                if unsafe { Pin::new_unchecked(future) }.poll(cx).is_ready() {
                    *slot = None;
                    this.pending -= 1;
                }
            }
        }
        if this.pending == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
