//! A thread's inputs, one bounded channel each, with checkpoint barrier
//! alignment.
//!
//! Messages are taken in arrival order across inputs, except that an input
//! that has delivered the barrier being aligned is not read again until
//! every other input that has not ended has delivered it too. Its sender
//! then blocks once its channel is full, so alignment holds back the fast
//! inputs through backpressure instead of buffering what they send. An
//! input that ends counts as aligned from then on.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Select};

/// The inputs of a worker (one per router) or of the sink thread (one per
/// worker).
pub(super) struct Inputs<M> {
    receivers: Vec<Receiver<M>>,
    /// Per input: delivered the barrier being aligned.
    blocked: Vec<bool>,
    /// Per input: ended (or its sender went away).
    ended: Vec<bool>,
    open: usize,
    /// The barrier being aligned.
    aligning: Option<u64>,
}

/// What [`Inputs::recv`] found.
pub(super) enum Received<M> {
    /// A message of input `.0`.
    Message(usize, M),
    /// Nothing within the timeout.
    Timeout,
    /// Input `.0`'s sender went away without a last message.
    Gone(usize),
}

impl<M> Inputs<M> {
    pub(super) fn new(receivers: Vec<Receiver<M>>) -> Self {
        let n = receivers.len();
        Inputs {
            receivers,
            blocked: vec![false; n],
            ended: vec![false; n],
            open: n,
            aligning: None,
        }
    }

    /// How many inputs there are.
    pub(super) fn len(&self) -> usize {
        self.receivers.len()
    }

    /// Whether no message waits on any input.
    pub(super) fn caught_up(&self) -> bool {
        self.receivers.iter().all(Receiver::is_empty)
    }

    /// Whether every input has ended.
    pub(super) fn all_ended(&self) -> bool {
        self.open == 0
    }

    /// The next message of an input that is neither aligned nor ended,
    /// waiting up to `timeout`.
    pub(super) fn recv(&mut self, timeout: Duration) -> Received<M> {
        let readable: Vec<usize> = (0..self.receivers.len())
            .filter(|&i| !self.blocked[i] && !self.ended[i])
            .collect();
        let result = match readable.as_slice() {
            [] => {
                std::thread::sleep(timeout);
                return Received::Timeout;
            }
            &[only] => (only, self.receivers[only].recv_timeout(timeout)),
            _ => {
                let mut select = Select::new();
                for &i in &readable {
                    select.recv(&self.receivers[i]);
                }
                match select.select_timeout(timeout) {
                    Ok(operation) => {
                        let input = readable[operation.index()];
                        let message = operation
                            .recv(&self.receivers[input])
                            .map_err(|_| RecvTimeoutError::Disconnected);
                        (input, message)
                    }
                    Err(_) => return Received::Timeout,
                }
            }
        };
        match result {
            (input, Ok(message)) => Received::Message(input, message),
            (_, Err(RecvTimeoutError::Timeout)) => Received::Timeout,
            (input, Err(RecvTimeoutError::Disconnected)) => Received::Gone(input),
        }
    }

    /// Input `input` delivered barrier `id`; returns `id` when that
    /// completes its alignment (every input not ended has delivered it).
    pub(super) fn barrier(&mut self, input: usize, id: u64) -> Option<u64> {
        debug_assert!(
            self.aligning.is_none_or(|a| a == id),
            "barrier {id} while aligning another"
        );
        self.aligning = Some(id);
        self.blocked[input] = true;
        self.complete()
    }

    /// Input `input` ended; returns the barrier whose alignment that
    /// completes, if it does.
    pub(super) fn end(&mut self, input: usize) -> Option<u64> {
        if !self.ended[input] {
            self.ended[input] = true;
            self.open -= 1;
        }
        self.complete()
    }

    fn complete(&mut self) -> Option<u64> {
        let id = self.aligning?;
        let aligned = (0..self.receivers.len()).all(|i| self.blocked[i] || self.ended[i]);
        if !aligned {
            return None;
        }
        self.aligning = None;
        self.blocked.fill(false);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    const WAIT: Duration = Duration::from_millis(10);

    fn take(inputs: &mut Inputs<u32>) -> Option<(usize, u32)> {
        match inputs.recv(WAIT) {
            Received::Message(input, m) => Some((input, m)),
            _ => None,
        }
    }

    #[test]
    fn an_aligned_input_is_not_read_until_the_others_deliver_the_barrier() {
        let (a, ra) = bounded(8);
        let (b, rb) = bounded(8);
        let mut inputs = Inputs::new(vec![ra, rb]);
        a.send(1).unwrap();
        assert_eq!(take(&mut inputs), Some((0, 1)));
        assert_eq!(inputs.barrier(0, 7), None);
        a.send(2).unwrap();
        b.send(10).unwrap();
        // Input 0's message after its barrier waits; input 1's comes.
        assert_eq!(take(&mut inputs), Some((1, 10)));
        assert_eq!(take(&mut inputs), None);
        assert_eq!(inputs.barrier(1, 7), Some(7));
        assert_eq!(take(&mut inputs), Some((0, 2)));
    }

    #[test]
    fn an_input_that_ends_counts_as_aligned() {
        let (_a, ra) = bounded::<u32>(8);
        let (b, rb) = bounded(8);
        let mut inputs = Inputs::new(vec![ra, rb]);
        assert_eq!(inputs.barrier(0, 3), None);
        assert_eq!(inputs.end(1), Some(3));
        drop(b);
        assert!(!inputs.all_ended());
        assert_eq!(inputs.end(0), None);
        assert!(inputs.all_ended());
    }
}
