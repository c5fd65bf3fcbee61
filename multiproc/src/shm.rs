//! Memory that a parent and its children see together.
//!
//! `fork` copies a process's memory, so an ordinary variable changed by a child
//! stays changed only in that child. A mapping made with `MAP_SHARED` is
//! different: after `fork` both processes point at the *same* physical pages,
//! so a store by one is a store seen by all. Every shared object of this crate
//! (values, locks, queues' locks, the trace) lives in such a mapping, made
//! before the children are started.

use std::io;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::ptr::NonNull;

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

/// A `T` placed in its own `MAP_SHARED | MAP_ANONYMOUS` mapping.
///
/// `T`'s destructor is never run: the memory is shared, and one process
/// dropping its view must not tear down what the others still use. Only
/// plain data (atomics, a `pthread_mutex_t`) is ever stored here.
pub(crate) struct Shared<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: the mapping is only reached through `&T`, so sharing `Shared<T>`
// between threads is exactly as safe as sharing `&T`, which needs `T: Sync`.
unsafe impl<T: Sync> Send for Shared<T> {}
unsafe impl<T: Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// Maps zero-filled shared memory big enough for a `T`.
    ///
    /// # Safety
    /// All-zero bytes must be a valid `T` (true of atomics, integers and
    /// arrays of them, and of glibc's `pthread_mutex_t`).
    pub(crate) unsafe fn zeroed() -> io::Result<Self> {
        let len = std::mem::size_of::<T>().max(1);
        // SAFETY: a fresh anonymous mapping aliases nothing; the kernel
        // zero-fills it and aligns it to a page, which satisfies any `T`.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                NonZeroUsize::new(len).expect("len is at least 1"),
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(Shared {
            ptr: ptr.cast(),
            len,
        })
    }

    /// A raw pointer to the shared `T`, for C functions that take one.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the mapping lives as long as `self` and holds a valid `T`
        // (see `zeroed`).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `zeroed` with this length and no
        // reference into it outlives `self`. Other processes keep their own
        // view: unmapping here does not unmap theirs.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}
