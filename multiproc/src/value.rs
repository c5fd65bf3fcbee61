//! A number in shared memory that several processes read and write.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::lock::{Lock, LockError};
use crate::sched::{self, Op};
use crate::shm::Shared;
use crate::trace::{self, EventKind, ObjectId, ObjectKind};

mod sealed {
    pub trait Sealed {}
}

/// The types a [`Value`] or a [`Queue`](crate::Queue) can hold: plain
/// integers, which can be copied between processes byte for byte.
pub trait Plain:
    Copy + PartialEq + fmt::Debug + fmt::Display + Send + Sync + 'static + sealed::Sealed
{
    /// The value's bits, widened to 64.
    fn to_bits(self) -> u64;
    /// Back from [`Plain::to_bits`].
    fn from_bits(bits: u64) -> Self;
    /// The value as an `i64`, for traces.
    fn to_i64(self) -> i64;
}

macro_rules! plain {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Plain for $t {
            fn to_bits(self) -> u64 { self as u64 }
            fn from_bits(bits: u64) -> Self { bits as $t }
            fn to_i64(self) -> i64 { self as i64 }
        }
    )*};
}
plain!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

struct ValueCell {
    bits: AtomicU64,
}

/// A shared integer, like Python's `multiprocessing.Value`.
///
/// `load` and `store` are each one indivisible step, but nothing makes a
/// *load followed by a store* indivisible: between them, another process can
/// store too, and then one of the two stores is lost. That is the race this
/// course is about.
///
/// Underneath is an atomic integer used with `Relaxed` ordering: every
/// access is well defined (there is no undefined behaviour to hide behind),
/// yet nothing is synchronised beyond the single load or store. Order across
/// several steps comes only from a [`Lock`].
pub struct Value<T: Plain> {
    cell: Shared<ValueCell>,
    /// Taken around each single load and store, when the value was made
    /// with [`Value::synchronized`].
    own_lock: Option<Lock>,
    id: ObjectId,
    _type: PhantomData<T>,
}

impl<T: Plain> Value<T> {
    /// A shared value starting at `initial`.
    pub fn new(initial: T) -> io::Result<Value<T>> {
        Value::make(initial, "", false)
    }

    /// A shared value with a label that names it in traces.
    pub fn with_label(initial: T, label: &str) -> io::Result<Value<T>> {
        Value::make(initial, label, false)
    }

    /// A shared value with a lock of its own taken around every single
    /// `load` and every single `store`, as Python's `Value('i', 0)` has by
    /// default.
    ///
    /// This does **not** make [`Value::update`] safe: the lock is released
    /// between the load and the store, and the race lives exactly there.
    /// Hold [`Value::get_lock`] (or any lock all writers share) around the
    /// whole update instead.
    pub fn synchronized(initial: T, label: &str) -> io::Result<Value<T>> {
        Value::make(initial, label, true)
    }

    fn make(initial: T, label: &str, synchronized: bool) -> io::Result<Value<T>> {
        // SAFETY: an all-zero `AtomicU64` is valid.
        let cell = unsafe { Shared::<ValueCell>::zeroed() }?;
        cell.bits.store(initial.to_bits(), Relaxed);
        let id = trace::register(ObjectKind::Value, label);
        let own_lock = if synchronized {
            Some(Lock::internal(&format!("{label}.lock"))?)
        } else {
            None
        };
        Ok(Value {
            cell,
            own_lock,
            id,
            _type: PhantomData,
        })
    }

    /// The id that names this value in traces.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Reads the value.
    pub fn load(&self) -> T {
        self.with_own_lock(|| {
            sched::point(Op::load(self.id));
            let v = T::from_bits(self.cell.bits.load(Relaxed));
            trace::record(EventKind::Load, self.id, v.to_i64());
            v
        })
    }

    /// Writes the value.
    pub fn store(&self, v: T) {
        self.with_own_lock(|| {
            sched::point(Op::store(self.id));
            self.cell.bits.store(v.to_bits(), Relaxed);
            trace::record(EventKind::Store, self.id, v.to_i64());
        })
    }

    /// Reads the value, computes `f(old)`, writes the result, and returns
    /// it: the Rust spelling of Python's `balance.value += 5`.
    ///
    /// It is deliberately **not** atomic: it is a [`load`](Value::load)
    /// followed by a [`store`](Value::store), and another process may store
    /// in between, in which case its update is lost. To update safely, hold
    /// a [`Lock`] that every writer takes around the whole call:
    ///
    /// ```
    /// # use multiproc::{Lock, Value};
    /// let balance = Value::new(600).unwrap();
    /// let lock = Lock::new().unwrap();
    /// {
    ///     let _held = lock.guard().unwrap();
    ///     balance.update(|b| b + 5);
    /// } // released here
    /// assert_eq!(balance.load(), 605);
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let new = f(self.load());
        self.store(new);
        new
    }

    /// The value's own lock, if it was made with [`Value::synchronized`].
    pub fn get_lock(&self) -> Option<&Lock> {
        self.own_lock.as_ref()
    }

    fn with_own_lock<R>(&self, op: impl FnOnce() -> R) -> R {
        match &self.own_lock {
            Some(lock) if !lock.held_by_me() => {
                lock.acquire().unwrap_or_else(|e| panic_lock(e));
                let r = op();
                lock.release().unwrap_or_else(|e| panic_lock(e));
                r
            }
            _ => op(),
        }
    }
}

fn panic_lock(e: LockError) -> ! {
    panic!("the value's own lock failed: {e}")
}

impl<T: Plain> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Value#{}({})",
            self.id,
            T::from_bits(self.cell.bits.load(Relaxed))
        )
    }
}
