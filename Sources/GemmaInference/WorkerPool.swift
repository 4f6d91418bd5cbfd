import CDotKernels
import Dispatch
import Foundation
import Synchronization

/// Threads kept for the matrix products of the reference inference, running one parallel loop at a time.
///
/// Decoding one token runs over a hundred small products back to back. Handing each to libdispatch wakes a worker
/// thread every time, and for a 256-row matrix the wake-up takes longer than the work. These workers spin for a
/// short while after each loop, so the next one starts at once; after that they sleep on a condition.
///
/// Everything a worker needs to join a loop is one atomic word: the loop's generation, its iteration count and the
/// next unclaimed iteration. A worker that arrives late claims nothing: either the generation has moved on, or no
/// iteration is left. The caller returns once every iteration has finished and no worker is inside the loop any more,
/// so the loop's context (on the caller's stack) is never touched after `run` returns. A loop is a plain function and
/// a pointer to its job, so starting one allocates nothing. When the pool is busy (another thread is in `run`), `run`
/// falls back to `DispatchQueue.concurrentPerform`.
///
/// `@unchecked Sendable`: its shared state is the atomics, and `loop`, which only the thread in `run` (holding `busy`)
/// writes, before publishing the generation with release ordering and after every worker has left.
package final class WorkerPool: @unchecked Sendable {
    /// One worker per core beside the caller's, up to 7: a decoding step's products are too small to feed more.
    package static let shared = WorkerPool(workers: min(7, max(0, ProcessInfo.processInfo.activeProcessorCount - 1)))

    private static let indexBits = 20, countBits = 20, generationShift = indexBits + countBits
    private static let indexMask = (1 << indexBits) - 1, countMask = (1 << countBits) - 1
    private static let generationMask = (1 << (63 - generationShift)) - 1
    /// How long an idle worker spins before it sleeps.
    private static let spinNanoseconds: UInt64 = 100_000

    /// generation << 40 | iterations << 20 | next iteration.
    private let word = Atomic<Int>(0)
    /// Iterations of the current loop that have returned.
    private let finished = Atomic<Int>(0)
    /// Workers between starting to look for iterations of a loop and leaving it.
    private let active = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wakeUp = NSCondition()
    private var loop: (body: LoopBody, context: UnsafeRawPointer)?

    /// A parallel loop's body: called with the job's address and an iteration index. It captures nothing (the job
    /// carries what it needs), so it is a plain function pointer.
    package typealias LoopBody = @convention(c) (UnsafeRawPointer, Int) -> Void

    /// The threads that take part in a loop: the workers and the caller.
    package let participants: Int

    private init(workers: Int) {
        participants = workers + 1
        for _ in 0..<workers {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "lpk-matmul"
            thread.start()
        }
    }

    /// Calls `body(job address, i)` for every i in 0..<iterations, on the caller's thread and the workers, and returns
    /// when all are done. `job` stays on the caller's stack; every thread reads it through its address.
    package func run<Job>(_ iterations: Int, job: Job, _ body: LoopBody) {
        withUnsafePointer(to: job) { run(iterations, context: UnsafeRawPointer($0), body) }
    }

    private func run(_ iterations: Int, context: UnsafeRawPointer, _ body: LoopBody) {
        guard iterations > 1 else {
            if iterations == 1 { body(context, 0) }
            return
        }
        guard iterations <= Self.countMask, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            let loop = UnsafeLoop(body: body, context: context)
            DispatchQueue.concurrentPerform(iterations: iterations) { loop.body(loop.context, $0) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        loop = (body, context)
        finished.store(0, ordering: .relaxed)
        let generation = (Self.generation(of: word.load(ordering: .relaxed)) + 1) & Self.generationMask
        // Iteration 0 is the caller's before the loop is published (workers start at 1), so that the caller's share
        // of a loop that hands each thread one piece stays on the caller's core from one loop to the next, with the
        // cache lines that piece writes.
        let start = generation << Self.generationShift | iterations << Self.indexBits | 1
        wakeUp.lock()
        word.store(start, ordering: .releasing)
        wakeUp.broadcast()
        wakeUp.unlock()
        body(context, 0)
        finished.add(1, ordering: .sequentiallyConsistent)
        participate(generation: generation)
        while finished.load(ordering: .sequentiallyConsistent) < iterations { lpk_spin_hint() }
        while active.load(ordering: .sequentiallyConsistent) > 0 { lpk_spin_hint() }
        loop = nil
    }

    /// Claims and runs iterations of loop `generation` until none is left.
    private func participate(generation: Int) {
        var current = word.load(ordering: .acquiring)
        while true {
            guard Self.generation(of: current) == generation else { return }
            let index = current & Self.indexMask, count = (current >> Self.indexBits) & Self.countMask
            guard index < count else { return }
            let (exchanged, original) = word.compareExchange(expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
            guard exchanged else {
                current = original
                continue
            }
            loop!.body(loop!.context, index)
            finished.add(1, ordering: .sequentiallyConsistent)
            current = word.load(ordering: .acquiring)
        }
    }

    private static func generation(of word: Int) -> Int { word >> generationShift }

    /// A worker's life: wait for a new generation (spinning, then sleeping), join it, repeat.
    private func work() {
        var seen = 0
        while true {
            var generation = Self.generation(of: word.load(ordering: .acquiring))
            if generation == seen {
                let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
                var spins = 0
                while generation == seen {
                    lpk_spin_hint()
                    spins += 1
                    if spins & 255 == 0, DispatchTime.now().uptimeNanoseconds > deadline { break }
                    generation = Self.generation(of: word.load(ordering: .acquiring))
                }
            }
            if generation == seen {
                wakeUp.lock()
                while Self.generation(of: word.load(ordering: .acquiring)) == seen { wakeUp.wait() }
                wakeUp.unlock()
                generation = Self.generation(of: word.load(ordering: .acquiring))
            }
            seen = generation
            active.add(1, ordering: .sequentiallyConsistent)
            participate(generation: generation)
            active.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

/// A loop handed to libdispatch when the pool is busy. `@unchecked Sendable`: the context pointer is valid while `run`
/// waits for `concurrentPerform`, and the job it points to is read, never written, by the iterations.
private struct UnsafeLoop: @unchecked Sendable {
    let body: WorkerPool.LoopBody
    let context: UnsafeRawPointer
}
