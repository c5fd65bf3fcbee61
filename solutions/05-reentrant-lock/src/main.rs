//! The program `cargo grade` runs: the course's scenario driver around the
//! lock in `lib.rs`. Not part of the exercise: your code goes in `lib.rs`.

use reentrant_lock_solution as student;
use scenarios::reentrant_lock::{Api, Refusal};
use student::{RLockError, ReentrantLock};

fn main() -> std::process::ExitCode {
    scenarios::reentrant_lock::main(Api {
        new: ReentrantLock::new,
        acquire: ReentrantLock::acquire,
        release: ReentrantLock::release,
        depth: ReentrantLock::depth,
        owner: ReentrantLock::owner,
        is_held: ReentrantLock::is_held,
        child_task: student::child_task,
        refusal: |e| match e {
            RLockError::NotOwner { caller, owner } => Refusal::NotOwner {
                caller: *caller,
                owner: *owner,
            },
            RLockError::NotHeld => Refusal::NotHeld,
            RLockError::Lock(_) => Refusal::Lock,
        },
    })
}
