//! Marks real-time threads so that tests can prove nothing on them allocates or locks.
//!
//! The marker is a const-initialised thread-local `Cell<bool>`: reading or writing it never
//! allocates and registers no destructor, so [`is_realtime_thread`] is safe to call from inside
//! a `#[global_allocator]` (on targets with native thread-local storage, which includes Linux,
//! macOS, Windows and Android).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static REALTIME: Cell<bool> = const { Cell::new(false) };
}

/// Locks taken through [`crate::sync::Mutex`] on real-time threads since process start.
static REALTIME_LOCKS: AtomicU64 = AtomicU64::new(0);

/// Marks the calling thread as a real-time audio thread.
pub fn mark_current_thread_realtime() {
    set_marker(true);
}

/// Removes the real-time mark from the calling thread.
///
/// The audio thread calls this after its loop ends, before it drops its rings (dropping the
/// last end of a ring frees its storage, which is allowed once the thread is no longer
/// real-time).
pub fn clear_current_thread_realtime() {
    set_marker(false);
}

/// Whether the calling thread was marked real-time.
///
/// Never allocates, never panics (false during thread-local teardown).
pub fn is_realtime_thread() -> bool {
    REALTIME.try_with(Cell::get).unwrap_or(false)
}

/// Number of lock acquisitions made through [`crate::sync`] on real-time threads since start.
pub fn realtime_lock_count() -> u64 {
    REALTIME_LOCKS.load(Ordering::Relaxed)
}

/// Called by [`crate::sync::Mutex::lock`]; counts the acquisition on real-time threads.
pub(crate) fn note_lock() {
    if is_realtime_thread() {
        REALTIME_LOCKS.fetch_add(1, Ordering::Relaxed);
    }
}

fn set_marker(value: bool) {
    // Only fails during thread-local teardown, when there is nothing left to mark.
    let _ = REALTIME.try_with(|flag| flag.set(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialises the tests that read the process-wide lock counter.
    static COUNTER_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn marker_is_per_thread() {
        assert!(!is_realtime_thread());
        let seen = std::thread::spawn(|| {
            let before = is_realtime_thread();
            mark_current_thread_realtime();
            let during = is_realtime_thread();
            clear_current_thread_realtime();
            (before, during, is_realtime_thread())
        })
        .join()
        .map_err(|_| "marker thread panicked");
        assert_eq!(seen, Ok((false, true, false)));
        assert!(
            !is_realtime_thread(),
            "marking another thread must not mark this one"
        );
    }

    #[test]
    fn locks_count_only_on_realtime_threads() {
        let _serial = COUNTER_TESTS.lock();
        let mutex = crate::sync::Mutex::new(0u32);

        let before = realtime_lock_count();
        *mutex.lock() += 1;
        assert_eq!(
            realtime_lock_count(),
            before,
            "normal thread must not be counted"
        );

        let shared = std::sync::Arc::new(mutex);
        let remote = std::sync::Arc::clone(&shared);
        let joined = std::thread::spawn(move || {
            mark_current_thread_realtime();
            *remote.lock() += 1;
            *remote.lock() += 1;
            clear_current_thread_realtime();
            *remote.lock() += 1;
        })
        .join();
        assert!(joined.is_ok());
        assert_eq!(realtime_lock_count(), before + 2);
        assert_eq!(*shared.lock(), 4);
    }
}
