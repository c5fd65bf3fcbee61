//! An event log in shared memory: who did what to which object, in order.
//!
//! The grader does not take a program's word for what happened; it reads the
//! trace. Every value load and store, lock acquire and release, and queue
//! operation appends one [`Event`] here when tracing is on. All processes
//! append to one buffer mapped before they were started, and the slot an
//! event lands in is taken with one atomic `fetch_add`, so the buffer's order
//! is a single order every process agrees on.
//!
//! Events are recorded *after* an acquire, load or store has happened and
//! *before* a release: so a critical section's events always sit between its
//! `Acquire` and its `Release` in the log.
//!
//! With tracing off (the default), recording costs one relaxed load.

use std::io;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use std::time::Instant;

use crate::shm::Shared;

/// What an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// A value was read; `value` is what was read.
    Load = 1,
    /// A value was written; `value` is what was written.
    Store = 2,
    /// A lock was taken; `value` is how many times this process now holds it
    /// (always 1 for a [`Lock`](crate::Lock)).
    Acquire = 3,
    /// A lock is about to be given up.
    Release = 4,
    /// An item was put on a queue; `value` is the item.
    Put = 5,
    /// An item was taken off a queue; `value` is the item.
    Get = 6,
    /// A queue was asked whether it is empty; `value` is 1 for yes, 0 for no.
    Empty = 7,
    /// A child process was started; `value` is its pid.
    Start = 8,
    /// A child process was joined; `value` is its pid.
    Join = 9,
    /// An acquirer found the lock's holder dead and recovered the lock;
    /// `value` is the dead holder's pid.
    HolderDied = 10,
    /// A mark the program made itself with [`mark`]; `value` is its number.
    Mark = 11,
    /// A call of an operation the program names (see [`call`]); `value`
    /// is its argument, if any.
    Call = 12,
    /// That call returned (see [`returned`]); `value` is what it returned.
    Return = 13,
}

impl EventKind {
    fn from_u8(b: u8) -> Option<Self> {
        use EventKind::*;
        Some(match b {
            1 => Load,
            2 => Store,
            3 => Acquire,
            4 => Release,
            5 => Put,
            6 => Get,
            7 => Empty,
            8 => Start,
            9 => Join,
            10 => HolderDied,
            11 => Mark,
            12 => Call,
            13 => Return,
            _ => return None,
        })
    }

    /// The lower-case name used in reports (`"load"`, `"acquire"`, ...).
    pub fn name(self) -> &'static str {
        use EventKind::*;
        match self {
            Load => "load",
            Store => "store",
            Acquire => "acquire",
            Release => "release",
            Put => "put",
            Get => "get",
            Empty => "empty",
            Start => "start",
            Join => "join",
            HolderDied => "holder-died",
            Mark => "mark",
            Call => "call",
            Return => "return",
        }
    }
}

/// What kind of shared object an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKind {
    /// A [`Value`](crate::Value).
    Value = 1,
    /// A [`Lock`](crate::Lock).
    Lock = 2,
    /// A [`Queue`](crate::Queue).
    Queue = 3,
    /// A [`Process`](crate::Process) (the id of join and start events).
    Process = 4,
    /// An operation whose calls and returns are traced (see [`call`]).
    Operation = 5,
}

impl ObjectKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => ObjectKind::Value,
            2 => ObjectKind::Lock,
            3 => ObjectKind::Queue,
            4 => ObjectKind::Process,
            5 => ObjectKind::Operation,
            _ => return None,
        })
    }

    /// The lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Value => "value",
            ObjectKind::Lock => "lock",
            ObjectKind::Queue => "queue",
            ObjectKind::Process => "process",
            ObjectKind::Operation => "operation",
        }
    }
}

/// Names one shared object for the trace and the scheduler. Ids start at 1.
pub type ObjectId = u32;

/// One thing that happened, as read back from the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the one order all processes agree on (0, 1, 2, ...).
    pub seq: u64,
    /// The process that did it.
    pub pid: i32,
    /// What it did.
    pub kind: EventKind,
    /// The object it did it to.
    pub object: ObjectId,
    /// The value read, written, put or taken (see [`EventKind`]).
    pub value: i64,
    /// Nanoseconds since tracing was enabled.
    pub time_ns: u64,
    /// Recorded by a process that did not hold the controlled scheduler's
    /// token (it escaped the scheduler); always false in other modes.
    pub off_schedule: bool,
}

/// Set in an event's kind byte when it was recorded off the schedule.
const OFF_SCHEDULE: u64 = 0x80;

/// A shared object as registered in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its id, as events name it.
    pub id: ObjectId,
    /// What it is.
    pub kind: ObjectKind,
    /// The label it was given (`"balance"`, `"queue.read-lock"`), or empty.
    pub label: String,
}

const MAX_OBJECTS: usize = 256;
const LABEL_LEN: usize = 40;
/// How many events one run can record; later events are counted as dropped.
pub const CAPACITY: usize = 1 << 16;

/// One event slot: four words, the last written last so a reader can tell a
/// complete slot from one its writer died in the middle of.
struct Slot {
    head: AtomicU64, // pid (32 bits) | kind (8) | object (24)
    value: AtomicU64,
    time_ns: AtomicU64,
    done: AtomicU64, // seq + 1 once the slot is complete
}

struct ObjectSlot {
    kind: AtomicU32,
    label: [AtomicU32; LABEL_LEN / 4],
}

struct Buffer {
    next: AtomicU64,
    next_object: AtomicU32,
    objects: [ObjectSlot; MAX_OBJECTS],
    slots: [Slot; CAPACITY],
}

static BUFFER: AtomicPtr<Buffer> = AtomicPtr::new(std::ptr::null_mut());
static LOCAL_OBJECTS: AtomicU32 = AtomicU32::new(0);
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Turns tracing on for this process and every child started after it.
///
/// Call it once, before creating the shared objects you want named in the
/// trace and before starting any process. Calling it again does nothing.
pub fn enable() -> io::Result<()> {
    if !BUFFER.load(Acquire).is_null() {
        return Ok(());
    }
    // SAFETY: every field of `Buffer` is an atomic integer or an array of
    // them, for which all-zero bytes are valid.
    let shared = unsafe { Shared::<Buffer>::zeroed() }?;
    EPOCH.get_or_init(Instant::now);
    BUFFER.store(shared.as_ptr(), Release);
    // The trace lives until the process exits: children and the final
    // report read it, so it is never unmapped.
    std::mem::forget(shared);
    Ok(())
}

/// Whether [`enable`] has been called in this process or its parent.
pub fn enabled() -> bool {
    !BUFFER.load(Relaxed).is_null()
}

fn buffer() -> Option<&'static Buffer> {
    let p = BUFFER.load(Relaxed);
    // SAFETY: a non-null pointer was stored by `enable` and points at a
    // mapping that is never unmapped.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Gives a new shared object its id, and its label a place in the trace.
pub(crate) fn register(kind: ObjectKind, label: &str) -> ObjectId {
    let Some(buf) = buffer() else {
        return LOCAL_OBJECTS.fetch_add(1, Relaxed) + 1;
    };
    let index = buf.next_object.fetch_add(1, Relaxed) as usize;
    if let Some(slot) = buf.objects.get(index) {
        let mut bytes = [0u8; LABEL_LEN];
        let n = label.len().min(LABEL_LEN);
        bytes[..n].copy_from_slice(&label.as_bytes()[..n]);
        for (word, chunk) in slot.label.iter().zip(bytes.chunks(4)) {
            word.store(u32::from_le_bytes(chunk.try_into().unwrap()), Relaxed);
        }
        slot.kind.store(kind as u32, Release);
    }
    index as ObjectId + 1
}

/// Appends an event, if tracing is on.
#[inline]
pub(crate) fn record(kind: EventKind, object: ObjectId, value: i64) {
    if let Some(buf) = buffer() {
        record_slow(buf, kind, object, value);
    }
}

#[cold]
fn record_slow(buf: &Buffer, kind: EventKind, object: ObjectId, value: i64) {
    let seq = buf.next.fetch_add(1, Relaxed);
    let Some(slot) = buf.slots.get(seq as usize) else {
        return; // full: `dropped()` reports how many were lost
    };
    let pid = crate::process::current_pid() as u32 as u64;
    let flag = if crate::sched::on_schedule() {
        0
    } else {
        OFF_SCHEDULE
    };
    let head = (pid << 32) | ((kind as u64 | flag) << 24) | (object as u64 & 0xff_ffff);
    let now = now_ns();
    slot.head.store(head, Relaxed);
    slot.value.store(value as u64, Relaxed);
    slot.time_ns.store(now, Relaxed);
    slot.done.store(seq + 1, Release);
}

/// Nanoseconds since tracing was enabled, on the clock events are stamped
/// with (0 when tracing is off).
pub fn now_ns() -> u64 {
    EPOCH.get().map_or(0, |e| e.elapsed().as_nanos() as u64)
}

/// Records a mark of the program's own: a numbered point in the trace that a
/// scenario can use to say "here phase N began".
pub fn mark(object: ObjectId, number: i64) {
    record(EventKind::Mark, object, number);
}

/// Names an operation whose calls the program will trace (the student's
/// `release`, say): the grader reads what each call returned from the
/// trace, in its place among everything else that happened, rather than
/// from the program's own account.
pub fn operation(label: &str) -> ObjectId {
    register(ObjectKind::Operation, label)
}

/// Records a call of `operation`, with its argument.
pub fn call(operation: ObjectId, argument: i64) {
    record(EventKind::Call, operation, argument);
}

/// Records that the call of `operation` made last by this process
/// returned `value`.
pub fn returned(operation: ObjectId, value: i64) {
    record(EventKind::Return, operation, value);
}

/// Every complete event recorded so far, in order.
///
/// Read it after the processes that write are joined. A slot whose writer
/// died half-way through is skipped.
pub fn events() -> Vec<Event> {
    let Some(buf) = buffer() else {
        return Vec::new();
    };
    let n = (buf.next.load(Acquire) as usize).min(CAPACITY);
    buf.slots[..n]
        .iter()
        .enumerate()
        .filter(|(i, s)| s.done.load(Acquire) == *i as u64 + 1)
        .filter_map(|(i, s)| {
            let head = s.head.load(Relaxed);
            Some(Event {
                seq: i as u64,
                pid: (head >> 32) as u32 as i32,
                kind: EventKind::from_u8((head >> 24) as u8 & !(OFF_SCHEDULE as u8))?,
                object: (head & 0xff_ffff) as ObjectId,
                value: s.value.load(Relaxed) as i64,
                time_ns: s.time_ns.load(Relaxed),
                off_schedule: (head >> 24) & OFF_SCHEDULE != 0,
            })
        })
        .collect()
}

/// How many events have been recorded so far: the sequence number the
/// next one gets (0 when tracing is off).
pub fn position() -> u64 {
    buffer().map_or(0, |b| b.next.load(Relaxed))
}

/// How many events did not fit in the buffer.
pub fn dropped() -> u64 {
    buffer().map_or(0, |b| b.next.load(Relaxed).saturating_sub(CAPACITY as u64))
}

/// Every shared object registered while tracing was on.
pub fn objects() -> Vec<ObjectInfo> {
    let Some(buf) = buffer() else {
        return Vec::new();
    };
    let n = (buf.next_object.load(Acquire) as usize).min(MAX_OBJECTS);
    buf.objects[..n]
        .iter()
        .enumerate()
        .filter_map(|(i, slot)| {
            let kind = ObjectKind::from_u8(slot.kind.load(Acquire) as u8)?;
            let bytes: Vec<u8> = slot
                .label
                .iter()
                .flat_map(|w| w.load(Relaxed).to_le_bytes())
                .take_while(|&b| b != 0)
                .collect();
            Some(ObjectInfo {
                id: i as ObjectId + 1,
                kind,
                label: String::from_utf8_lossy(&bytes).into_owned(),
            })
        })
        .collect()
}
