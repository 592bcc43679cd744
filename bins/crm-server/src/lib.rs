//! The parts of the server binary that tests start too: the scheduler of every background
//! job. The rest (configuration, CLI, start-up) lives in the binary.

pub mod scheduler;
