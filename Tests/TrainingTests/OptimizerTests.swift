import Testing
import Tensors
import TestSupport
import Training

/// Replays a recorded PyTorch run: same initial parameters, same gradients, same schedule; compares every step.
struct RecordedRun {
    let names: [String]
    let shapes: [String: [Int]]
    let initial: [String: Tensor]
    let steps: [JSON]

    init(_ f: JSON) {
        names = f["names"].array.map(\.string)
        var shapes: [String: [Int]] = [:], initial: [String: Tensor] = [:]
        for n in names {
            shapes[n] = f["shapes"][n].array.map(\.int)
            initial[n] = Tensor(shape: shapes[n]!, data: f["initial"][n].floats)
        }
        self.shapes = shapes
        self.initial = initial
        steps = f["steps"].array
    }

    func gradients(_ step: JSON) -> [Tensor] { names.map { Tensor(shape: shapes[$0]!, data: step["grads"][$0].floats) } }
}

@Suite struct OptimizerTests {
    @Test func adamWMatchesPyTorch() throws {
        let run = RecordedRun(try loadFixture("training/adamw.json"))
        let schedule = LearningRateSchedule(kind: .cosine, peak: 3e-2, warmupSteps: 3, totalSteps: 10)
        var adam = AdamW(config: AdamWConfig(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1))
        var params = run.initial
        for (t, step) in run.steps.enumerated() {
            let lr = schedule.learningRate(at: t)
            #expect(abs(lr - step["lr"].double) <= 1e-15, "step \(t): lr \(lr), torch \(step["lr"].double)")
            var grads = run.gradients(step)
            let norm = GradientClipping.clip(&grads, maxNorm: 1.0)
            #expect(abs(norm - step["total_norm"].double) <= 1e-6 * norm, "step \(t): norm \(norm), torch \(step["total_norm"].double)")
            adam.beginStep()
            for (i, n) in run.names.enumerated() {
                adam.update(name: n, parameter: &params[n]!, gradient: grads[i], learningRate: lr,
                            applyWeightDecay: AdamW.decays(parameterShape: run.shapes[n]!))
            }
            for n in run.names {
                expectClose(params[n]!.scalars, step["params"][n].doubles, rtol: 2e-6, atol: 2e-7, "AdamW step \(t + 1) \(n)")
            }
        }
    }

    @Test func sgdNesterovMatchesPyTorch() throws {
        let run = RecordedRun(try loadFixture("training/sgd.json"))
        let schedule = LearningRateSchedule(kind: .linear, peak: 0.1, warmupSteps: 2, totalSteps: 10)
        var sgd = SGD(config: SGDConfig(momentum: 0.9, nesterov: true, weightDecay: 0.01))
        var params = run.initial
        for (t, step) in run.steps.enumerated() {
            let lr = schedule.learningRate(at: t)
            #expect(abs(lr - step["lr"].double) <= 1e-15, "step \(t): lr \(lr), torch \(step["lr"].double)")
            let grads = run.gradients(step)
            for (i, n) in run.names.enumerated() {
                sgd.update(name: n, parameter: &params[n]!, gradient: grads[i], learningRate: lr,
                           applyWeightDecay: AdamW.decays(parameterShape: run.shapes[n]!))
            }
            for n in run.names {
                expectClose(params[n]!.scalars, step["params"][n].doubles, rtol: 2e-6, atol: 2e-7, "SGD step \(t + 1) \(n)")
            }
        }
    }

    @Test func schedulesMatchTransformers() throws {
        let f = try loadFixture("training/schedules.json")
        for c in f["cases"].array {
            let kind = LearningRateSchedule.Kind(rawValue: c["kind"].string)!
            let s = LearningRateSchedule(kind: kind, peak: 1, warmupSteps: c["warmup"].int, totalSteps: c["total"].int,
                                         minimumRatio: c["min_ratio"].double)
            for (step, expected) in c["multipliers"].doubles.enumerated() {
                let got = s.multiplier(at: step)
                #expect(abs(got - expected) <= 1e-15, "\(kind) warmup \(s.warmupSteps) total \(s.totalSteps) step \(step): \(got), transformers \(expected)")
            }
        }
    }

    /// Clipping leaves small gradients alone and scales large ones to the limit.
    @Test func clippingScalesOnlyAboveTheLimit() {
        var small = [Tensor(shape: [3], data: [0.1, 0.2, 0.2])]
        let n1 = GradientClipping.clip(&small, maxNorm: 1)
        #expect(abs(n1 - 0.3) < 1e-6 && small[0].scalars == [0.1, 0.2, 0.2])
        var big = [Tensor(shape: [2], data: [3, 0]), Tensor(shape: [1], data: [4])]
        let n2 = GradientClipping.clip(&big, maxNorm: 1)
        #expect(abs(n2 - 5) < 1e-6)
        #expect(abs(GradientClipping.globalNorm(big) - 1) < 1e-5)
    }
}
