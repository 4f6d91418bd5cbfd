import Dispatch
import GemmaInference
import Synchronization
import Testing

/// The matrix-product worker pool: every iteration runs exactly once, from one caller or several at a time.
@Suite struct WorkerPoolTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// A loop's job: one counter per iteration.
    struct Loop {
        let counters: [Counter]
    }

    /// Runs 2,000 loops of 0…40 iterations; true when every index of every loop ran exactly once.
    static func loops(seed: Int) -> Bool {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        for _ in 0..<2_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let counters = (0..<Int(state % 41)).map { _ in Counter() }
            WorkerPool.shared.run(counters.count, job: Loop(counters: counters)) { job, index in
                job.assumingMemoryBound(to: Loop.self).pointee.counters[index].value.add(1, ordering: .relaxed)
            }
            guard counters.allSatisfy({ $0.value.load(ordering: .relaxed) == 1 }) else { return false }
        }
        return true
    }

    @Test("2,000 loops of 0 to 40 iterations: each index runs once")
    func oneCaller() {
        #expect(Self.loops(seed: 1))
    }

    @Test("four threads running loops at once (the pool serves one, the others fall back): each index runs once")
    func severalCallers() {
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            if !Self.loops(seed: caller + 2) { failures.value.add(1, ordering: .relaxed) }
        }
        #expect(failures.value.load(ordering: .relaxed) == 0)
    }
}
