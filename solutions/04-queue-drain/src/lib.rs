//! # Exercise 04, reference solution: draining a queue from two processes

use std::time::Duration;

use multiproc::{pause, Lock, Queue, QueueError};

/// A short rest after each item, outside the lock.
pub const TURN: Duration = Duration::from_millis(1);

/// Takes items off `queue` until it is empty, and returns them in order.
pub fn drain(queue: &Queue<u32>, lock: &Lock) -> Result<Vec<u32>, QueueError> {
    let mut taken = Vec::new();
    loop {
        let item = {
            // Both children take this lock before they look at the queue,
            // so "is it empty?" and "take one" become a single step: no one
            // can take the last item between our check and our get, and
            // `get` is only called when an item is certainly there.
            let _held = lock.guard()?;
            if queue.empty() {
                None
            } else {
                Some(queue.get()?)
            }
        }; // the lock is released here, before the rest
        match item {
            Some(item) => taken.push(item),
            None => return Ok(taken),
        }
        pause(TURN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_takes_every_item_in_order_and_stops() {
        multiproc::time::set_time_scale(0.0);
        let queue = Queue::new().unwrap();
        let lock = Lock::new().unwrap();
        for item in [3, 1, 4, 1, 5] {
            queue.put(item).unwrap();
        }
        assert_eq!(drain(&queue, &lock).unwrap(), vec![3, 1, 4, 1, 5]);
        assert_eq!(drain(&queue, &lock).unwrap(), Vec::<u32>::new());
        assert_eq!(lock.holder(), None);
    }
}
