//! Native file audio I/O (pytgvoip's `native_io` mode): a play queue and a looping hold queue of
//! raw PCM files (s16le, 48 kHz, mono) as the microphone, and an optional output file for what is
//! heard.
//!
//! The real-time side ([`FileAudioRt`]) only pops and pushes whole chunks on two SPSC rings; a
//! feeder thread ([`FileAudio::spawn_feeder`]) does all the file I/O, keeping the input ring a few
//! chunks ahead and draining the output ring into the output file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{chunk_ring, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES};
use crate::sync::Mutex;

/// Chunks the feeder keeps ready ahead of the audio thread (60 ms).
const INPUT_AHEAD_CHUNKS: usize = 3;
/// Chunks of heard audio the output ring holds before dropping (320 ms).
const OUTPUT_RING_CHUNKS: usize = 16;
/// How often the feeder wakes up.
const FEEDER_PERIOD: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Queues {
    play: VecDeque<File>,
    hold: VecDeque<File>,
    output: Option<File>,
}

/// The application-side handle: queue and output-file management, usable from any thread
/// before, during and after a call.
#[derive(Clone)]
pub struct FileAudio {
    queues: Arc<Mutex<Queues>>,
}

impl Default for FileAudio {
    fn default() -> Self {
        FileAudio {
            queues: Arc::new(Mutex::new(Queues::default())),
        }
    }
}

/// The audio-thread side: never allocates, locks or touches files.
pub struct FileAudioRt {
    input: ChunkConsumer,
    output: ChunkProducer,
}

impl FileAudioRt {
    /// Fills `out` with the next queued chunk; leaves it untouched (silence) when none is ready.
    pub fn capture(&mut self, out: &mut [i16]) {
        let _ = self.input.pop_chunk(out);
    }

    /// Queues a heard chunk for the output file (dropped if the feeder fell behind).
    pub fn playback(&mut self, pcm: &[i16]) {
        let _ = self.output.push_chunk(pcm);
    }
}

/// A running feeder thread; [`Feeder::finish`] flushes the output file and joins it.
pub struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feeder {
    /// Stops the feeder after it has written everything the audio thread produced.
    pub fn finish(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.join();
    }
}

impl FileAudio {
    /// An empty play queue, hold queue and no output file.
    pub fn new() -> FileAudio {
        FileAudio::default()
    }

    /// Appends a file to the play queue.
    pub fn play(&self, path: &Path) -> std::io::Result<()> {
        let f = File::open(path)?;
        self.queues.lock().play.push_back(f);
        Ok(())
    }

    /// Replaces the hold queue (played in a loop while the play queue is empty). Files that
    /// cannot be opened are skipped; returns how many were queued.
    pub fn play_on_hold(&self, paths: &[&Path]) -> usize {
        let files: VecDeque<File> = paths.iter().filter_map(|p| File::open(p).ok()).collect();
        let n = files.len();
        self.queues.lock().hold = files;
        n
    }

    /// Opens (truncating) the output file; the previous one is replaced only on success.
    pub fn set_output_file(&self, path: &Path) -> std::io::Result<()> {
        let f = File::create(path)?;
        self.queues.lock().output = Some(f);
        Ok(())
    }

    /// Closes and drops every queued file.
    pub fn clear_play_queue(&self) {
        self.queues.lock().play.clear();
    }

    /// Closes and drops the hold queue.
    pub fn clear_hold_queue(&self) {
        self.queues.lock().hold.clear();
    }

    /// Closes the output file.
    pub fn unset_output_file(&self) {
        self.queues.lock().output = None;
    }

    /// Creates the real-time side and starts the feeder thread that serves it.
    pub fn spawn_feeder(&self) -> std::io::Result<(FileAudioRt, Feeder)> {
        let (mut in_tx, in_rx) = chunk_ring(INPUT_AHEAD_CHUNKS);
        let (out_tx, mut out_rx) = chunk_ring(OUTPUT_RING_CHUNKS);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_t = stop.clone();
        let queues = self.queues.clone();
        let thread = std::thread::Builder::new()
            .name("tgvoip-file-io".into())
            .spawn(move || {
                let mut chunk = vec![0i16; CHUNK_SAMPLES];
                let mut bytes = vec![0u8; CHUNK_SAMPLES * 2];
                loop {
                    let stopping = stop_t.load(Ordering::Acquire);
                    {
                        let mut q = queues.lock();
                        while in_tx.free_chunks() > 0 && !in_tx.is_abandoned() && !stopping {
                            if !next_chunk(&mut q, &mut bytes) {
                                break;
                            }
                            for (s, b) in chunk.iter_mut().zip(bytes.chunks_exact(2)) {
                                *s = i16::from_le_bytes([b[0], b[1]]);
                            }
                            in_tx.push_chunk(&chunk);
                        }
                        while out_rx.pop_chunk(&mut chunk) {
                            if let Some(f) = q.output.as_mut() {
                                for (s, b) in chunk.iter().zip(bytes.chunks_exact_mut(2)) {
                                    b.copy_from_slice(&s.to_le_bytes());
                                }
                                if f.write_all(&bytes).is_err() {
                                    q.output = None;
                                }
                            }
                        }
                        if let Some(f) = q.output.as_mut() {
                            let _ = f.flush();
                        }
                    }
                    if stopping || (out_rx.is_abandoned() && in_tx.is_abandoned()) {
                        break;
                    }
                    std::thread::sleep(FEEDER_PERIOD);
                }
            })?;
        Ok((
            FileAudioRt {
                input: in_rx,
                output: out_tx,
            },
            Feeder {
                stop,
                thread: Some(thread),
            },
        ))
    }
}

/// Reads the next 960 samples into `bytes` from the play queue, else the hold queue (rewound and
/// rotated at its end). A short read ends that file; the rest of the chunk is silence (a file at
/// its very end is skipped instead of producing a silent chunk). False when both queues are empty.
fn next_chunk(q: &mut Queues, bytes: &mut [u8]) -> bool {
    while let Some(f) = q.play.front_mut() {
        bytes.fill(0);
        let n = read_full(f, bytes);
        if n < bytes.len() {
            q.play.pop_front();
        }
        if n > 0 {
            return true;
        }
    }
    for _ in 0..q.hold.len() {
        let Some(mut f) = q.hold.pop_front() else {
            break;
        };
        bytes.fill(0);
        let n = read_full(&mut f, bytes);
        if n < bytes.len() {
            let _ = f.seek(SeekFrom::Start(0));
            q.hold.push_back(f);
        } else {
            q.hold.push_front(f);
        }
        if n > 0 {
            return true;
        }
    }
    false
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn play_then_hold_then_output() {
        let dir = std::env::temp_dir().join(format!("tgvoip-fileio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let play = dir.join("play.pcm");
        let hold = dir.join("hold.pcm");
        let out = dir.join("out.pcm");
        // 1.5 chunks of 7s, 1 chunk of 3s.
        let seven: Vec<u8> = (0..CHUNK_SAMPLES * 3 / 2)
            .flat_map(|_| 7i16.to_le_bytes())
            .collect();
        std::fs::write(&play, seven).unwrap();
        let three: Vec<u8> = (0..CHUNK_SAMPLES)
            .flat_map(|_| 3i16.to_le_bytes())
            .collect();
        std::fs::write(&hold, three).unwrap();
        let fa = FileAudio::new();
        fa.play(&play).unwrap();
        assert_eq!(
            fa.play_on_hold(&[hold.as_path(), dir.join("missing").as_path()]),
            1
        );
        fa.set_output_file(&out).unwrap();
        assert!(fa.play(&dir.join("missing")).is_err());
        let (mut rt, feeder) = fa.spawn_feeder().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut buf = vec![0i16; CHUNK_SAMPLES];
        rt.capture(&mut buf);
        assert!(buf.iter().all(|&s| s == 7));
        buf.fill(0);
        rt.capture(&mut buf);
        assert_eq!(buf[0], 7);
        assert_eq!(buf[CHUNK_SAMPLES - 1], 0);
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..3 {
            buf.fill(0);
            rt.capture(&mut buf);
            assert!(buf.iter().all(|&s| s == 3), "hold queue loops");
            std::thread::sleep(Duration::from_millis(20));
        }
        rt.playback(&vec![5i16; CHUNK_SAMPLES]);
        drop(rt);
        feeder.finish();
        assert_eq!(std::fs::read(&out).unwrap().len(), CHUNK_SAMPLES * 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
