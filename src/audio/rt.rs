//! Marks real-time threads so that tests can prove nothing on them allocates or locks.

/// Marks the calling thread as a real-time audio thread.
pub fn mark_current_thread_realtime() {
    unimplemented!()
}

/// Whether the calling thread was marked real-time.
pub fn is_realtime_thread() -> bool {
    unimplemented!()
}

/// Number of lock acquisitions made through [`crate::sync`] on real-time threads since start.
pub fn realtime_lock_count() -> u64 {
    unimplemented!()
}

/// Called by [`crate::sync::Mutex::lock`]; counts the acquisition on real-time threads.
pub(crate) fn note_lock() {
    unimplemented!()
}
