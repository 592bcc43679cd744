//! argon2id password hashing on a small fixed set of threads, off the async executor.
//!
//! Every hash needs its parameter's worth of memory (19 MiB in production). Run on the tokio
//! blocking pool, each of its up to 512 threads kept a freed block in its own allocator arena,
//! so RSS grew with the number of concurrent attempts and never came back. Here a fixed number
//! of threads each owns one block, reused for every hash and freed after a quiet spell; a
//! bounded number of jobs may wait, and a caller beyond that is refused at once
//! ([`UserError::Busy`]) rather than queued without bound.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::UserError;

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password: hashing cost must not be set by the client.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Largest argon2 memory cost (KiB) a stored hash may ask for when verified; a hash asking for
/// more is treated as not matching instead of making a thread allocate it.
const MAX_VERIFY_M_COST: u32 = 64 * 1024;

/// How many threads hash, and how many jobs may wait for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Hashing threads (each uses one core and the argon2 memory cost while busy).
    pub threads: usize,
    /// Jobs that may wait for a free thread; one more is refused with [`UserError::Busy`].
    pub queue: usize,
    /// A thread idle this long frees its memory block.
    pub release_after: Duration,
}

impl Default for HashingLimits {
    /// Half the cores (at least one: the rest stay free for requests), 32 waiting jobs.
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            threads: (cores / 2).max(1),
            queue: 32,
            release_after: Duration::from_secs(10),
        }
    }
}

/// A password hash in PHC form (`$argon2id$v=19$...`), produced by [`Passwords::hash`].
#[derive(Clone, PartialEq, Eq)]
pub struct HashedPassword(String);

impl HashedPassword {
    /// The PHC string, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, as stored.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for HashedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashedPassword(..)")
    }
}

enum Work {
    Hash(String),
    Verify { hash: String, password: String },
}

enum Done {
    Hashed(Result<String, String>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
    /// Held until the job is finished, even when the caller gave up waiting: the queue counts
    /// work that is really pending.
    slot: OwnedSemaphorePermit,
}

struct Inner {
    params: Params,
    /// A hash of a random password, verified against for unknown e-mails so that an unknown
    /// e-mail and a wrong password take the same time.
    dummy_hash: String,
    jobs: Mutex<mpsc::Sender<Job>>,
    slots: Arc<Semaphore>,
    capacity: usize,
}

/// Hashes and verifies passwords with fixed argon2id parameters on its own threads. Cheap to
/// clone; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.inner.params)
            .finish_non_exhaustive()
    }
}

/// A place in the hashing queue, taken before anything else is done for a request (so that a
/// full queue is answered at once, before an attempt is counted or a connection taken).
#[derive(Debug)]
pub struct HashSlot {
    passwords: Passwords,
    slot: OwnedSemaphorePermit,
}

impl Passwords {
    /// OWASP-recommended argon2id cost (19 MiB, 2 passes).
    pub fn production(limits: HashingLimits) -> Result<Self, UserError> {
        Self::with_params(19 * 1024, 2, 1, limits)
    }

    /// Minimal cost, for tests only: hashes in well under a millisecond.
    pub fn fast_for_tests() -> Result<Self, UserError> {
        Self::fast_for_tests_with(HashingLimits {
            threads: 2,
            ..HashingLimits::default()
        })
    }

    /// Minimal cost with the given limits, for tests only.
    pub fn fast_for_tests_with(limits: HashingLimits) -> Result<Self, UserError> {
        Self::with_params(256, 1, 1, limits)
    }

    fn with_params(
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
        limits: HashingLimits,
    ) -> Result<Self, UserError> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| UserError::Hashing(e.to_string()))?;
        let mut memory = Vec::new();
        let dummy_hash = hash_with(&params, "dummy password that matches nobody", &mut memory)
            .map_err(UserError::Hashing)?;
        drop(memory);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = limits.threads.max(1);
        for i in 0..threads {
            let rx = rx.clone();
            let params = params.clone();
            let release_after = limits.release_after;
            std::thread::Builder::new()
                .name(format!("crm-hash-{i}"))
                .spawn(move || worker(&rx, &params, release_after))
                .map_err(|e| UserError::Hashing(e.to_string()))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                dummy_hash,
                jobs: Mutex::new(tx),
                slots: Arc::new(Semaphore::new(threads + limits.queue)),
                capacity: threads + limits.queue,
            }),
        })
    }

    /// Takes a place in the queue, or [`UserError::Busy`] at once when it is full.
    pub fn reserve(&self) -> Result<HashSlot, UserError> {
        let slot = self
            .inner
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| UserError::Busy { retry_after: 1 })?;
        Ok(HashSlot {
            passwords: self.clone(),
            slot,
        })
    }

    /// Places taken now: jobs running, waiting, or reserved and about to be submitted.
    pub fn in_use(&self) -> usize {
        self.inner.capacity - self.inner.slots.available_permits()
    }

    /// Hashes `password` (reserving a place first).
    pub async fn hash(&self, password: &str) -> Result<HashedPassword, UserError> {
        self.reserve()?.hash(password).await
    }

    /// Whether `password` matches `hash` (reserving a place first); see [`HashSlot::verify`].
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<bool, UserError> {
        Ok(self.reserve()?.verify(hash, password).await)
    }

    fn submit(&self, work: Work, slot: OwnedSemaphorePermit) -> Option<oneshot::Receiver<Done>> {
        let (reply, done) = oneshot::channel();
        let job = Job { work, reply, slot };
        let jobs = self.inner.jobs.lock().ok()?;
        jobs.send(job).ok()?;
        Some(done)
    }
}

impl HashSlot {
    /// Hashes `password` into a PHC string.
    pub async fn hash(self, password: &str) -> Result<HashedPassword, UserError> {
        let done = self
            .passwords
            .submit(Work::Hash(password.to_owned()), self.slot)
            .ok_or_else(|| UserError::Hashing("the hashing threads are gone".into()))?;
        match done.await {
            Ok(Done::Hashed(Ok(phc))) => Ok(HashedPassword(phc)),
            Ok(Done::Hashed(Err(e))) => Err(UserError::Hashing(e)),
            _ => Err(UserError::Hashing("the hashing thread failed".into())),
        }
    }

    /// Whether `password` matches `hash`. With `hash` `None` (unknown user) a dummy hash is
    /// checked so the answer takes as long, and is always `false`.
    pub async fn verify(self, hash: Option<&str>, password: &str) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.passwords.inner.dummy_hash).to_owned();
        let work = Work::Verify {
            hash,
            password: password.to_owned(),
        };
        let Some(done) = self.passwords.submit(work, self.slot) else {
            return false;
        };
        matches!(done.await, Ok(Done::Verified(true))) && known
    }
}

fn worker(rx: &Mutex<mpsc::Receiver<Job>>, params: &Params, release_after: Duration) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // One idle thread waits on the channel while the others wait for the lock; a job is
        // never left waiting while a thread is free.
        let next = match rx.lock() {
            Ok(rx) => rx.recv_timeout(release_after),
            Err(_) => return,
        };
        let job = match next {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                memory = Vec::new();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Job { work, reply, slot } = job;
        let done = match work {
            Work::Hash(password) => Done::Hashed(hash_with(params, &password, &mut memory)),
            Work::Verify { hash, password } => {
                Done::Verified(verify_with(&hash, &password, &mut memory))
            }
        };
        // The place is free before the caller hears back: a request it sends next must not
        // find the queue still full of its own finished job.
        drop(slot);
        // The caller may have gone (client disconnected): nothing to tell then.
        let _ = reply.send(done);
    }
}

/// Smallest allocation glibc's malloc always takes straight from the system (`mmap`) and gives
/// straight back on free: its threshold for that adapts upwards to the size of freed blocks, but
/// never beyond 32 MiB. A 19 MiB block freed once would otherwise be served from, and kept in,
/// the thread's arena for good. Only the pages argon2 touches count towards RSS.
const ALWAYS_MAPPED_BYTES: usize = 32 * 1024 * 1024 + 4096;

/// `memory` grown to `blocks` (kept for the next job).
fn blocks_of(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        let mapped = ALWAYS_MAPPED_BYTES.div_ceil(std::mem::size_of::<Block>());
        let mut grown = Vec::with_capacity(blocks.max(mapped));
        grown.resize(blocks, Block::default());
        *memory = grown;
    }
    &mut memory[..blocks]
}

fn hash_with(params: &Params, password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let salt = Salt::generate();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            blocks_of(memory, params.block_count()),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

fn verify_with(hash: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        blocks_of(memory, blocks),
    );
    // `Output` compares in constant time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let p = Passwords::fast_for_tests().unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(p.verify(Some(h.as_str()), "correct horse").await.unwrap());
        assert!(!p.verify(Some(h.as_str()), "wrong horse").await.unwrap());
        assert!(
            !p.verify(None, "dummy password that matches nobody")
                .await
                .unwrap()
        );
        assert!(!p.verify(Some("not a hash"), "x").await.unwrap());
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        let p = Passwords::fast_for_tests().unwrap();
        let ours = p.hash("tr0ub4dor&3").await.unwrap();
        let argon = Argon2::default();
        assert!(argon.verify_password(b"tr0ub4dor&3", ours.as_str()).is_ok());
        assert!(
            argon
                .verify_password(b"tr0ub4dor&4", ours.as_str())
                .is_err()
        );
        // A hash made elsewhere, with other parameters (the crate's defaults), verifies too.
        let theirs = argon.hash_password(b"tr0ub4dor&3").unwrap().to_string();
        assert!(p.verify(Some(&theirs), "tr0ub4dor&3").await.unwrap());
        assert!(!p.verify(Some(&theirs), "tr0ub4dor&4").await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_up_when_work_is_done() {
        let p = Passwords::fast_for_tests_with(HashingLimits {
            threads: 1,
            queue: 2,
            release_after: Duration::from_millis(50),
        })
        .unwrap();
        let held: Vec<HashSlot> = (0..3).map(|_| p.reserve().unwrap()).collect();
        assert!(matches!(
            p.reserve(),
            Err(UserError::Busy { retry_after: 1 })
        ));
        for (done, slot) in held.into_iter().enumerate() {
            assert!(!slot.verify(None, "x").await);
            // Freed before the answer arrives, so a caller's next request finds room.
            assert_eq!(p.in_use(), 2 - done);
        }
        assert!(p.reserve().is_ok());
        // After the idle release the thread allocates again and still answers right.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let h = p.hash("after a rest").await.unwrap();
        assert!(p.verify(Some(h.as_str()), "after a rest").await.unwrap());
    }

    #[tokio::test]
    async fn hashes_of_unreasonable_cost_are_not_computed() {
        let p = Passwords::fast_for_tests().unwrap();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$\
                    RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert!(!p.verify(Some(huge), "password").await.unwrap());
    }
}
