//! Task blocks passed between threads in batches, not one by one through
//! the allocator.
//!
//! A task is most often made on one thread (the main thread, spawning) and
//! freed on another (the worker that ran it). Through the system allocator
//! each such free goes back to the spawning thread's arena under its lock,
//! and the spawner's next allocation walks a list threaded through blocks
//! the worker wrote last: one cache miss after another on the spawning
//! thread (a third of the main thread's time in a loop of spawns). Here a
//! freeing thread keeps its blocks in a list of its own and passes them on
//! [`BATCH`] at a time; a spawning thread takes a whole batch at once. A
//! batch is an array of addresses, so taking a block reads none of its
//! memory, and the next block is fetched while this one is written.
//!
//! Blocks are sorted by size in steps of 8 bytes (a task's size is a
//! multiple of its 8-byte alignment, so none is rounded up), up to 256
//! bytes; a larger or over-aligned task goes to the allocator directly.
//! What is kept is bounded: `2 × BATCH` blocks a class in each thread, and
//! [`SHARED_BATCHES`] batches a class between threads; past that, blocks go
//! back to the allocator. A runtime's shutdown gives back the shared ones
//! and its own thread's ([`trim`]); any other thread's go back when it ends.
//!
//! Under loom, and with `--cfg bevy_coro_sanitize` (the sanitizer runs of
//! `.ci/sanitize`, which must see every task's free), nothing is kept; the
//! unit tests below still run this file's own code, on batches of their
//! own.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

/// Blocks passed between threads at once.
const BATCH: usize = 32;
/// Size classes: 8, 16, ..., 256 bytes.
const CLASSES: usize = 32;
/// Batches a class keeps between threads; more go back to the allocator.
const SHARED_BATCHES: usize = 16;
/// How many allocations ahead a block is fetched.
const AHEAD: usize = 4;
/// The alignment of every block kept here.
const ALIGN: usize = 8;
/// Whether blocks are kept at all.
const KEEP: bool = !cfg!(any(loom, bevy_coro_sanitize));

/// A block's address, owned by whoever holds it.
struct Block(NonNull<u8>);

// SAFETY: a `Block` is the only owner of a free allocation (no one else
// keeps its address), which any thread may reuse or free.
unsafe impl Send for Block {}

/// Full batches of each size class, for any thread to take.
struct Batches {
    /// Whether blocks are kept at all ([`KEEP`], but in tests).
    keep: bool,
    classes: [Mutex<Vec<Vec<Block>>>; CLASSES],
}

impl Batches {
    const fn new(keep: bool) -> Self {
        Batches {
            keep,
            classes: [const { Mutex::new(Vec::new()) }; CLASSES],
        }
    }
}

/// The process's batches.
static BATCHES: Batches = Batches::new(KEEP);

thread_local! {
    /// This thread's free blocks of each class, most recently freed last.
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local { classes: [const { Vec::new() }; CLASSES] })
    };
}

struct Local {
    classes: [Vec<Block>; CLASSES],
}

impl Local {
    fn free_all(&mut self) {
        for (class, blocks) in self.classes.iter_mut().enumerate() {
            free_all(class, blocks.drain(..));
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// The class of `layout`, if its blocks are kept here.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    // Class k holds sizes up to 8(k + 1).
    let class = layout.size().div_ceil(ALIGN);
    (layout.align() <= ALIGN && class <= CLASSES).then(|| class.max(1) - 1)
}

/// The layout every block of `class` is allocated with.
#[inline]
fn class_layout(class: usize) -> Layout {
    debug_assert!(class < CLASSES);
    // SAFETY: sizes 8 to 256, multiples of a power-of-two alignment.
    unsafe { Layout::from_size_align_unchecked(ALIGN * (class + 1), ALIGN) }
}

fn free_all(class: usize, blocks: impl Iterator<Item = Block>) {
    for block in blocks {
        // SAFETY: every block of `class` was allocated with its layout
        // (`allocate`), and the `Block` was its only owner.
        unsafe { dealloc(block.0.as_ptr(), class_layout(class)) };
    }
}

/// A block for `layout`, which is never zero-sized.
#[inline]
pub(super) fn allocate(layout: Layout) -> NonNull<u8> {
    BATCHES.allocate(layout)
}

/// Gives back a block [`allocate`] returned.
///
/// # Safety
///
/// `ptr` came from [`allocate`] with the same `layout`, and nothing uses it
/// any more.
#[inline]
pub(super) unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: the caller's.
    unsafe { BATCHES.free(ptr, layout) }
}

/// Gives the blocks kept between threads, and this thread's, back to the
/// allocator (a runtime's shutdown).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn trim() {
    BATCHES.trim();
}

impl Batches {
    #[inline]
    fn allocate(&self, layout: Layout) -> NonNull<u8> {
        let Some(class) = class_of(layout).filter(|_| self.keep) else {
            return system(layout);
        };
        let reused = LOCAL
            .try_with(|local| {
                let mut local = local.borrow_mut();
                let blocks = &mut local.classes[class];
                if blocks.is_empty()
                    && let Some(batch) = self.take(class)
                {
                    *blocks = batch;
                    // The first blocks to go, fetched together.
                    for block in blocks.iter().rev().take(AHEAD) {
                        prefetch(block.0, layout.size());
                    }
                }
                let block = blocks.pop()?;
                if let Some(ahead) = blocks.len().checked_sub(AHEAD).map(|at| &blocks[at]) {
                    // Fetched while this one and the next are written: the
                    // line has time to come from the core that freed it.
                    prefetch(ahead.0, layout.size());
                }
                Some(block.0)
            })
            .ok()
            .flatten();
        reused.unwrap_or_else(|| system(class_layout(class)))
    }

    /// # Safety
    ///
    /// As [`free`]'s.
    #[inline]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        let Some(class) = class_of(layout).filter(|_| self.keep) else {
            // SAFETY: `allocate` took it from the allocator with `layout`.
            unsafe { dealloc(ptr.as_ptr(), layout) };
            return;
        };
        let kept = LOCAL.try_with(|local| {
            let mut local = local.borrow_mut();
            let blocks = &mut local.classes[class];
            if blocks.len() == 2 * BATCH {
                // The oldest half goes to the threads that take batches.
                self.give(class, blocks.drain(..BATCH).collect());
            }
            blocks.push(Block(ptr));
        });
        if kept.is_err() {
            // The thread is ending: its list is gone.
            free_all(class, std::iter::once(Block(ptr)));
        }
    }

    fn take(&self, class: usize) -> Option<Vec<Block>> {
        self.classes[class]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Makes `batch` available to every thread, or frees it when enough are.
    fn give(&self, class: usize, batch: Vec<Block>) {
        let mut batches = self.classes[class]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if batches.len() < SHARED_BATCHES {
            batches.push(batch);
        } else {
            drop(batches);
            free_all(class, batch.into_iter());
        }
    }

    fn trim(&self) {
        for (class, batches) in self.classes.iter().enumerate() {
            let batches =
                std::mem::take(&mut *batches.lock().unwrap_or_else(PoisonError::into_inner));
            free_all(class, batches.into_iter().flatten());
        }
        let _ = LOCAL.try_with(|local| local.borrow_mut().free_all());
    }
}

fn system(layout: Layout) -> NonNull<u8> {
    // SAFETY: a task block is never zero-sized (its state word).
    let ptr = unsafe { alloc(layout) };
    NonNull::new(ptr).unwrap_or_else(|| handle_alloc_error(layout))
}

/// Asks for the lines of the `size` bytes at `ptr`, for writing
/// (`prefetchw`: the spawn then writes them without waiting for the core
/// that freed the block to let go of them; a read prefetch, all a processor
/// without `prefetchw` gets, leaves that wait).
#[inline]
fn prefetch(ptr: NonNull<u8>, size: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let write = has_prefetchw();
        let start = ptr.as_ptr() as usize & !63;
        let end = ptr.as_ptr() as usize + size;
        for line in (start..end).step_by(64) {
            // SAFETY: a prefetch is a hint: it reads and writes nothing and
            // never faults, whatever the address; `prefetchw` only where
            // the processor has it.
            unsafe {
                if write {
                    std::arch::asm!(
                        "prefetchw [{0}]",
                        in(reg) line,
                        options(nostack, preserves_flags, readonly)
                    );
                } else {
                    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                    _mm_prefetch::<_MM_HINT_T0>(line as *const i8);
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, size);
}

/// Whether the processor has `prefetchw` (CPUID `0x8000_0001`, ECX bit 8:
/// 3DNowPrefetch / PRFCHW), asked once.
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_prefetchw() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    // 0: not asked yet; 1: no; 2: yes.
    static HAS: AtomicU8 = AtomicU8::new(0);
    match HAS.load(Ordering::Relaxed) {
        0 => {
            use std::arch::x86_64::__cpuid;
            // Leaf 0x8000_0001 only where the highest extended leaf reaches it.
            let has =
                __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0;
            HAS.store(1 + has as u8, Ordering::Relaxed);
            has
        }
        known => known == 2,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    fn shared_len(batches: &Batches, class: usize) -> usize {
        batches.classes[class].lock().unwrap().len()
    }

    #[test]
    fn each_size_goes_to_the_smallest_class_that_holds_it() {
        for size in 1..=256 {
            let class = class_of(layout(size)).unwrap();
            let held = class_layout(class).size();
            assert!(held >= size, "{size} bytes in a class of {held}");
            assert!(held < size + 8, "{size} bytes in a class of {held}");
        }
        assert_eq!(class_layout(class_of(layout(72)).unwrap()).size(), 72);
        assert_eq!(class_of(layout(257)), None, "too large: the allocator's");
        assert_eq!(class_of(Layout::from_size_align(64, 16).unwrap()), None);
    }

    /// Blocks freed on one thread are taken, a batch at a time, by another.
    #[test]
    fn a_batch_freed_on_one_thread_is_reused_on_another() {
        let batches = Batches::new(true);
        let layout = layout(72);
        let class = class_of(layout).unwrap();
        let made: Vec<_> = (0..2 * BATCH + 1).map(|_| Block(system(layout))).collect();
        let freed: Vec<usize> = made.iter().map(|block| block.0.as_ptr() as usize).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                for block in made {
                    // SAFETY: allocated above with the class's layout.
                    unsafe { batches.free(block.0, layout) };
                }
                assert_eq!(shared_len(&batches, class), 1, "the oldest half went");
            });
        });
        let taken: Vec<usize> = std::thread::scope(|s| {
            s.spawn(|| {
                let taken: Vec<_> = (0..BATCH).map(|_| batches.allocate(layout)).collect();
                assert_eq!(shared_len(&batches, class), 0);
                let addresses: Vec<usize> = taken.iter().map(|ptr| ptr.as_ptr() as usize).collect();
                for ptr in taken {
                    // SAFETY: from `allocate` with this layout.
                    unsafe { batches.free(ptr, layout) };
                }
                batches.trim();
                addresses
            })
            .join()
            .unwrap()
        });
        for address in &taken {
            assert!(
                freed[..BATCH].contains(address),
                "a block of the first thread's batch"
            );
        }
    }

    /// Past `SHARED_BATCHES`, batches go back to the allocator; `trim`
    /// gives back the rest.
    #[test]
    fn what_is_kept_is_bounded_and_trimmed() {
        let batches = Batches::new(true);
        let layout = layout(40);
        let class = class_of(layout).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..(SHARED_BATCHES + 4) * BATCH + 2 * BATCH {
                    // SAFETY: allocated with the class's layout, freed once.
                    unsafe { batches.free(system(class_layout(class)), layout) };
                }
                assert_eq!(shared_len(&batches, class), SHARED_BATCHES);
                LOCAL.with(|local| assert_eq!(local.borrow().classes[class].len(), 2 * BATCH));
                batches.trim();
                assert_eq!(shared_len(&batches, class), 0);
                LOCAL.with(|local| assert!(local.borrow().classes[class].is_empty()));
            });
        });
    }

    #[test]
    fn an_over_aligned_block_goes_to_the_allocator() {
        let layout = Layout::from_size_align(64, 64).unwrap();
        let ptr = BATCHES.allocate(layout);
        assert_eq!(ptr.as_ptr() as usize % 64, 0);
        // SAFETY: from `allocate` with this layout.
        unsafe { BATCHES.free(ptr, layout) };
    }
}
