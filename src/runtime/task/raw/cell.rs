//! A task's allocation and the functions that need its future's type: make
//! it, drop the future or the output, free it (and run it, in `run`). They
//! are generic and reached through the task's [`VTable`]; the wakers'
//! functions need only the [`Core`] and are in `waker`.

use std::alloc::Layout;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, offset_of};
use std::ptr::NonNull;

use super::blocks;
use super::state::*;
use super::{Runnable, Schedule, ScheduleInfo, abort_on_panic};
use crate::runtime::sync::UnsafeCell;

/// What a task's untyped pointer needs its types for.
pub(super) struct VTable {
    /// Makes a [`Runnable`] of the task (taking over one reference) and hands
    /// it to the schedule function.
    pub(super) schedule: unsafe fn(*const (), ScheduleInfo),
    /// Polls the future once (the task is `SCHEDULED`; the runnable's
    /// reference is consumed). `true`: it was woken while polled and
    /// scheduled again.
    pub(super) run: unsafe fn(*const ()) -> bool,
    pub(super) drop_future: unsafe fn(*const ()),
    /// Where the output is.
    pub(super) output: unsafe fn(*const ()) -> *mut (),
    /// Drops the header and frees the allocation.
    pub(super) destroy: unsafe fn(*const ()),
}

/// The start of a task: its [`Core`], then the scheduler's header `M`.
#[repr(C)]
pub(super) struct Head<M> {
    pub(super) core: Core,
    pub(super) meta: M,
}

/// A task's whole allocation.
#[repr(C)]
pub(super) struct Cell<F: Future, M> {
    pub(super) head: Head<M>,
    pub(super) stage: Stage<F>,
    /// Nothing (zero bytes) but under loom, where each access to `stage`
    /// goes through it so the models catch one that races another.
    witness: UnsafeCell<()>,
}

/// The future until it finishes, then its output (until taken).
pub(super) union Stage<F: Future> {
    pub(super) future: ManuallyDrop<F>,
    pub(super) output: ManuallyDrop<F::Output>,
}

/// The header of the task at `ptr`.
///
/// # Safety
///
/// `ptr` points to a live task whose header is an `M`.
pub(super) unsafe fn meta<'a, M>(ptr: *const ()) -> &'a M {
    // SAFETY: the caller's: a `Head<M>` starts the allocation.
    unsafe { &(*(ptr as *const Head<M>)).meta }
}

/// The task whose header is `meta`.
///
/// # Safety
///
/// `meta` is the header of a live task (from [`meta`], a `Runnable` or a
/// `JoinHandle`).
pub(super) unsafe fn from_meta<M>(meta: &M) -> *const () {
    // `meta` sits at this offset in a `Head<M>` (the caller's promise); the
    // whole task's provenance was exposed by `allocate`, as a reference to
    // the header covers the header only.
    let address = (meta as *const M).addr() - offset_of!(Head<M>, meta);
    std::ptr::with_exposed_provenance(address)
}

/// The task's state word and awaiter.
///
/// # Safety
///
/// `ptr` points to a live task.
#[inline]
pub(super) unsafe fn core<'a>(ptr: *const ()) -> &'a Core {
    // SAFETY: the caller's: every task starts with its `Core`.
    unsafe { &*(ptr as *const Core) }
}

/// The typed functions of a task with future `F`, schedule function `S` and
/// header `M`.
pub(super) struct Ops<F, S, M>(PhantomData<(F, S, M)>);

impl<F, S, M> Ops<F, S, M>
where
    F: Future,
    S: Schedule<M>,
{
    pub(super) const VTABLE: VTable = VTable {
        schedule: Self::schedule,
        run: Self::run,
        drop_future: Self::drop_future,
        output: Self::output,
        destroy: Self::destroy,
    };

    /// Allocates a task: scheduled, with a handle, one reference (the
    /// runnable's). `body` makes the future from the header in place.
    pub(super) fn allocate(meta: M, body: impl FnOnce(&M) -> F) -> NonNull<()> {
        let layout = Layout::new::<Cell<F, M>>();
        // Never zero-sized: its `Core` holds a pointer.
        let ptr = blocks::allocate(layout).as_ptr() as *mut Cell<F, M>;
        // The header's reference given to `body` (kept by the task body)
        // covers the header only; `from_meta` goes back from it to the whole
        // task, with the provenance exposed here.
        let _ = ptr.expose_provenance();
        // SAFETY: `ptr` is a fresh allocation for a `Cell<F, M>`: each field
        // is written once before anyone reads it (the witness before its
        // first touch), and the header before the body that may keep a
        // pointer to it. Should `body` panic, the
        // guard drops the header and frees the allocation: nothing else
        // has seen the task.
        unsafe {
            (&raw mut (*ptr).head).write(Head {
                core: Core::new(SCHEDULED | HANDLE | REFERENCE, &Self::VTABLE),
                meta,
            });
            let unwinding = FreeOnUnwind(ptr);
            let future = body(&(*ptr).head.meta);
            std::mem::forget(unwinding);
            (&raw mut (*ptr).witness).write(UnsafeCell::new(()));
            Self::touch(ptr as *const ());
            (&raw mut (*ptr).stage).write(Stage {
                future: ManuallyDrop::new(future),
            });
            NonNull::new_unchecked(ptr as *mut ())
        }
    }

    /// The task's stage, by a raw place projection: no reference to the
    /// whole task is made, as its state word and header are shared.
    ///
    /// # Safety (for every function below)
    ///
    /// `ptr` points to a live task of these types, and the caller owns what
    /// the vtable entry's contract says (a reference, or the future).
    pub(super) unsafe fn stage(ptr: *const ()) -> *mut Stage<F> {
        // SAFETY: the caller's (a live task: its witness is written); only
        // the field's address is computed.
        unsafe {
            Self::touch(ptr);
            &raw mut (*(ptr as *mut Cell<F, M>)).stage
        }
    }

    /// Tells loom the stage is accessed (nothing otherwise): every access
    /// goes through [`stage`](Self::stage), so each is checked against the
    /// last one on another thread.
    ///
    /// # Safety
    ///
    /// `ptr` points to a task of these types whose witness `allocate` has
    /// written, and that is not freed.
    #[inline(always)]
    unsafe fn touch(ptr: *const ()) {
        // SAFETY: the caller's; a shared reference to the witness alone,
        // which nobody writes after `allocate`.
        unsafe { (*(ptr as *const Cell<F, M>)).witness.with_mut(|_| ()) }
    }

    pub(super) unsafe fn schedule(ptr: *const (), info: ScheduleInfo) {
        // SAFETY: the caller hands over one reference, which the runnable
        // now owns.
        let runnable = unsafe { Runnable::from_raw(NonNull::new_unchecked(ptr as *mut ())) };
        S::schedule(runnable, info);
    }

    pub(super) unsafe fn drop_future(ptr: *const ()) {
        // SAFETY: the caller owns the future (the task is scheduled or
        // running, not completed, and was closed by the caller or is being
        // torn down): it is dropped once, in place.
        abort_on_panic(|| unsafe { ManuallyDrop::drop(&mut (*Self::stage(ptr)).future) });
    }

    unsafe fn output(ptr: *const ()) -> *mut () {
        // SAFETY: only the address is taken.
        unsafe { &raw mut (*Self::stage(ptr)).output as *mut () }
    }

    pub(super) unsafe fn drop_output(ptr: *const ()) {
        // SAFETY: the caller owns the output (completed, not taken).
        abort_on_panic(|| unsafe { ManuallyDrop::drop(&mut (*Self::stage(ptr)).output) });
    }

    unsafe fn destroy(ptr: *const ()) {
        let cell = ptr as *mut Cell<F, M>;
        // SAFETY: the last reference is gone and no handle is left: nobody
        // else can reach the task. The stage is already empty (its future
        // dropped, its output dropped or taken). The block came from
        // `blocks::allocate` with this layout (`allocate`), and is not
        // null.
        unsafe {
            abort_on_panic(|| {
                (*cell).head.core.drop_awaiter();
                std::ptr::drop_in_place(&raw mut (*cell).head.meta);
                std::ptr::drop_in_place(&raw mut (*cell).witness);
            });
            blocks::free(
                NonNull::new_unchecked(cell as *mut u8),
                Layout::new::<Cell<F, M>>(),
            );
        }
    }
}

/// Frees a task whose body panicked while it was made (see
/// `Ops::allocate`): its header is written, its stage not.
struct FreeOnUnwind<F: Future, M>(*mut Cell<F, M>);

impl<F: Future, M> Drop for FreeOnUnwind<F, M> {
    fn drop(&mut self) {
        // SAFETY: the allocation is `blocks::allocate`'s for
        // `Layout::new::<Cell<F, M>>()`, with its header written and nothing
        // else, and no one else has its address.
        unsafe {
            std::ptr::drop_in_place(&raw mut (*self.0).head.meta);
            blocks::free(
                NonNull::new_unchecked(self.0 as *mut u8),
                Layout::new::<Cell<F, M>>(),
            );
        }
    }
}
