//! The library's one mutex type, so real-time threads can be checked for lock use.

/// A mutex that counts acquisitions made on real-time threads (see [`crate::audio::rt`]).
pub struct Mutex<T> {
    inner: parking_lot::Mutex<T>,
}

impl<T> Mutex<T> {
    /// Wraps `value`; `const` so statics can hold one.
    pub const fn new(value: T) -> Self {
        Mutex {
            inner: parking_lot::const_mutex(value),
        }
    }
    /// Locks, counting the acquisition if the calling thread is real-time.
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        crate::audio::rt::note_lock();
        self.inner.lock()
    }
}
