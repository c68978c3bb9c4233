//! A global allocator for tests that counts heap operations made on threads marked real-time
//! (`tgvoip::audio::rt`). Counting uses atomics only, so it never allocates itself. A test binary
//! installs it with `#[global_allocator] static A: rt_counting::CountingAlloc = rt_counting::CountingAlloc;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use tgvoip::audio::rt::{is_realtime_thread, realtime_lock_count};

/// The counting allocator (delegates to the system allocator).
pub struct CountingAlloc;

static RT_ALLOCS: AtomicU64 = AtomicU64::new(0);
static RT_DEALLOCS: AtomicU64 = AtomicU64::new(0);

fn note(counter: &AtomicU64) {
    if is_realtime_thread() {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&RT_ALLOCS);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&RT_ALLOCS);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&RT_ALLOCS);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&RT_DEALLOCS);
        System.dealloc(ptr, layout)
    }
}

/// Heap operations and library-mutex locks seen on real-time threads so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub allocs: u64,
    pub deallocs: u64,
    pub locks: u64,
}

/// The current totals.
pub fn counters() -> Counters {
    Counters {
        allocs: RT_ALLOCS.load(Ordering::SeqCst),
        deallocs: RT_DEALLOCS.load(Ordering::SeqCst),
        locks: realtime_lock_count(),
    }
}
