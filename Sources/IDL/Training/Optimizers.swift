import CFloatEnvironment
import RealModule

/// Runs `body` with subnormal numbers flushed to zero on the calling thread (x86 FTZ and DAZ),
/// then restores the previous mode. Optimizer states such as Adam's second moment decay towards
/// the subnormal range (below 1.2e-38 in Float), where every arithmetic operation costs ~100
/// cycles: late in training this made Adam's step the slowest part of a training step. Values
/// that small are below any meaningful update, so flushing them changes nothing visible.
///
/// - Parameter body: The work to run in flush-to-zero mode.
/// - Returns: What `body` returns.
/// - Throws: Whatever `body` throws (the previous mode is restored first).
@inlinable
public func withSubnormalsFlushedToZero<R>(_ body: () throws -> R) rethrows -> R {
    let previous = idl_enter_flush_to_zero()
    defer { idl_leave_flush_to_zero(previous) }
    return try body()
}

/// Updates parameters from their gradients, as PyTorch's `torch.optim` classes do.
///
/// The training loop reads like PyTorch's:
/// ```swift
/// optimizer.zeroGrad()
/// let loss = try crossEntropyLoss(model(Tensor(x)), labels)
/// loss.backward()
/// optimizer.step()
/// ```
public protocol Optimizer: AnyObject {
    /// The element type of the parameters (`Float` or `Double`).
    associatedtype Scalar: BLASScalar
    /// The parameters being optimised.
    var parameters: [Tensor<Scalar>] { get }
    /// The current learning rate (schedules change it between epochs).
    var learningRate: Double { get set }
    /// One update from the current gradients (parameters without a gradient are skipped).
    func step()
}

extension Optimizer {
    /// Forgets the accumulated gradients (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.grad = nil }
    }
}

/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, following
/// `torch.optim.SGD`: g ← ∇ + wd·p; b ← g (first step) else μ·b + (1 − dampening)·g;
/// g ← g + μ·b (Nesterov) or b; p ← p − lr·g.
public final class SGD<Scalar: BLASScalar>: Optimizer {
    public let parameters: [Tensor<Scalar>]
    public var learningRate: Double
    /// The momentum factor μ (0: plain SGD).
    public let momentum: Double
    /// The dampening of the momentum buffer: new gradients enter it with weight 1 − dampening.
    public let dampening: Double
    /// The L2 penalty wd, added to the gradient as wd·p.
    public let weightDecay: Double
    /// Whether the step uses Nesterov momentum (g + μ·b instead of b).
    public let nesterov: Bool
    private var buffers: [Matrix<Scalar>?]

    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative learning rate, momentum or
    ///   weight decay, or Nesterov without momentum.
    public init(
        _ parameters: [Tensor<Scalar>], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false
    ) throws {
        guard learningRate >= 0, momentum >= 0, weightDecay >= 0 else {
            throw IDLError.invalidArgument(
                "SGD needs learning rate, momentum and weight decay ≥ 0, got lr=\(learningRate), momentum=\(momentum), weightDecay=\(weightDecay)"
            )
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw IDLError.invalidArgument("Nesterov momentum needs momentum > 0 and zero dampening")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        withSubnormalsFlushedToZero { update() }
    }

    private func update() {
        let (lr, mu, wd) = (Scalar(learningRate), Scalar(momentum), Scalar(weightDecay))
        for (k, p) in parameters.enumerated() {
            guard var g = p.grad else { continue }
            if wd != 0 { g.addScaled(p.value, wd) }
            if mu != 0 {
                if var b = buffers[k] {
                    b *= mu
                    b.addScaled(g, 1 - Scalar(dampening))
                    buffers[k] = b
                } else {
                    buffers[k] = g
                }
                if nesterov { g.addScaled(buffers[k]!, mu) } else { g = buffers[k]! }
            }
            p.value.addScaled(g, -lr)
        }
    }
}

/// Adam (Kingma & Ba) with PyTorch's defaults and update rule (`torch.optim.Adam`, and
/// `torch.optim.AdamW` when `decoupledWeightDecay`):
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
/// Weight decay adds wd·p to g (Adam) or multiplies p by (1 − lr·wd) first (AdamW).
public final class Adam<Scalar: BLASScalar>: Optimizer {
    public let parameters: [Tensor<Scalar>]
    public var learningRate: Double
    /// The decay rate β₁ of the first-moment (mean) estimate.
    public let beta1: Double
    /// The decay rate β₂ of the second-moment (uncentred variance) estimate.
    public let beta2: Double
    /// The term ε added to the denominator for numerical stability.
    public let epsilon: Double
    /// The weight decay wd: an L2 penalty added to the gradient (Adam), or a shrink of the
    /// parameters by (1 − lr·wd) before the step (AdamW).
    public let weightDecay: Double
    /// Whether weight decay is decoupled from the gradient (AdamW).
    public let decoupledWeightDecay: Bool
    /// Number of steps taken.
    public private(set) var stepCount = 0
    private var m: [Matrix<Scalar>]
    private var v: [Matrix<Scalar>]

    /// - Throws: ``IDLError/invalidArgument(_:)`` for a learning rate or ε < 0, or betas outside [0, 1).
    public init(
        _ parameters: [Tensor<Scalar>], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
        epsilon: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false
    ) throws {
        guard learningRate >= 0, epsilon >= 0, weightDecay >= 0 else {
            throw IDLError.invalidArgument(
                "Adam needs learning rate, ε and weight decay ≥ 0, got lr=\(learningRate), eps=\(epsilon), weightDecay=\(weightDecay)"
            )
        }
        guard (0..<1).contains(betas.0), (0..<1).contains(betas.1) else {
            throw IDLError.invalidArgument("Adam's betas must lie in [0, 1), got \(betas)")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = betas.0
        self.beta2 = betas.1
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        self.m = parameters.map { Matrix(rows: $0.value.rows, cols: $0.value.cols) }
        self.v = parameters.map { Matrix(rows: $0.value.rows, cols: $0.value.cols) }
    }

    /// AdamW: Adam with decoupled weight decay (PyTorch's default decay 0.01).
    ///
    /// - Parameters:
    ///   - parameters: The tensors to optimise.
    ///   - learningRate: The step size lr.
    ///   - betas: The moment decay rates (β₁, β₂), each in [0, 1).
    ///   - epsilon: The denominator's stability term ε.
    ///   - weightDecay: The decoupled decay wd.
    /// - Returns: An ``Adam`` optimiser with `decoupledWeightDecay` set.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a learning rate, ε or weight decay < 0, or
    ///   betas outside [0, 1).
    public static func adamW(
        _ parameters: [Tensor<Scalar>], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
        epsilon: Double = 1e-8, weightDecay: Double = 0.01
    ) throws -> Adam {
        try Adam(
            parameters, learningRate: learningRate, betas: betas, epsilon: epsilon,
            weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public func step() {
        withSubnormalsFlushedToZero { update() }
    }

    private func update() {
        stepCount += 1
        let t = Double(stepCount)
        let b1 = Scalar(beta1)
        let b2 = Scalar(beta2)
        let bias1 = 1 - Double.pow(beta1, t)
        let bias2 = 1 - Double.pow(beta2, t)
        let stepSize = Scalar(learningRate / bias1)
        let sqrtBias2 = Scalar(bias2.squareRoot())
        let wd = Scalar(weightDecay)
        let decoupled = decoupledWeightDecay && wd != 0
        let coefficients = AdamCoefficients(
            beta1: b1, beta2: b2, stepSize: stepSize, sqrtBias2: sqrtBias2, epsilon: Scalar(epsilon),
            coupledDecay: decoupled ? 0 : wd, decoupledFactor: decoupled ? 1 - Scalar(learningRate) * wd : 1,
            decoupled: decoupled)
        for (k, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            p.value.storage.withUnsafeMutableBufferPointer { pp in
                grad.storage.withUnsafeBufferPointer { gp in
                    m[k].storage.withUnsafeMutableBufferPointer { mp in
                        v[k].storage.withUnsafeMutableBufferPointer { vp in
                            Adam.updateInChunks(pp, gp, mp, vp, coefficients)
                        }
                    }
                }
            }
        }
    }

    /// Weights per task of ``updateInChunks(_:_:_:_:_:)``: a parameter of more weights is
    /// updated in fixed chunks of this size shared among the workers of ``ThreadPolicy``.
    static var chunkWeights: Int { 1 << 14 }

    /// ``update(_:_:_:_:_:)`` in fixed chunks of ``chunkWeights`` weights, one chunk per task.
    /// Every weight's update is the same bits whichever chunk holds it (see
    /// `adamUpdate(_:parameters:gradients:firstMoment:secondMoment:count:_:)`), so the result does
    /// not depend on the number of workers. Each task flushes subnormals itself (the mode is a
    /// thread's own).
    static func updateInChunks(
        _ p: UnsafeMutableBufferPointer<Scalar>, _ g: UnsafeBufferPointer<Scalar>,
        _ m: UnsafeMutableBufferPointer<Scalar>, _ v: UnsafeMutableBufferPointer<Scalar>,
        _ c: AdamCoefficients<Scalar>
    ) {
        precondition(g.count == p.count && m.count == p.count && v.count == p.count, "Adam: gradient shape mismatch")
        let count = p.count
        let chunks = (count + chunkWeights - 1) / chunkWeights
        guard chunks > 1, let pb = p.baseAddress, let gb = g.baseAddress, let mb = m.baseAddress,
            let vb = v.baseAddress
        else {
            update(p, g, m, v, c)
            return
        }
        let (pp, gp, mp, vp) = (
            UncheckedMutablePointer(pb), UncheckedPointer(gb), UncheckedMutablePointer(mb), UncheckedMutablePointer(vb)
        )
        ThreadPolicy.forEachTask(chunks) { t in
            let start = t * chunkWeights
            let n = Swift.min(chunkWeights, count - start)
            withSubnormalsFlushedToZero {
                update(
                    UnsafeMutableBufferPointer(start: pp.pointer + start, count: n),
                    UnsafeBufferPointer(start: gp.pointer + start, count: n),
                    UnsafeMutableBufferPointer(start: mp.pointer + start, count: n),
                    UnsafeMutableBufferPointer(start: vp.pointer + start, count: n), c)
            }
        }
    }

    /// One step over one parameter's weights, in 16-lane (Float) or 8-lane (Double) vectors.
    static func update(
        _ p: UnsafeMutableBufferPointer<Scalar>, _ g: UnsafeBufferPointer<Scalar>,
        _ m: UnsafeMutableBufferPointer<Scalar>, _ v: UnsafeMutableBufferPointer<Scalar>,
        _ c: AdamCoefficients<Scalar>
    ) {
        precondition(g.count == p.count && m.count == p.count && v.count == p.count, "Adam: gradient shape mismatch")
        guard let pb = p.baseAddress, let gb = g.baseAddress, let mb = m.baseAddress, let vb = v.baseAddress else {
            return
        }
        if Scalar.self == Float.self {
            adamUpdate(
                SIMD16<Float>.self, parameters: UnsafeMutableRawPointer(pb).assumingMemoryBound(to: Float.self),
                gradients: UnsafeRawPointer(gb).assumingMemoryBound(to: Float.self),
                firstMoment: UnsafeMutableRawPointer(mb).assumingMemoryBound(to: Float.self),
                secondMoment: UnsafeMutableRawPointer(vb).assumingMemoryBound(to: Float.self), count: p.count,
                unsafeBitCast(c, to: AdamCoefficients<Float>.self))
        } else if Scalar.self == Double.self {
            adamUpdate(
                SIMD8<Double>.self, parameters: UnsafeMutableRawPointer(pb).assumingMemoryBound(to: Double.self),
                gradients: UnsafeRawPointer(gb).assumingMemoryBound(to: Double.self),
                firstMoment: UnsafeMutableRawPointer(mb).assumingMemoryBound(to: Double.self),
                secondMoment: UnsafeMutableRawPointer(vb).assumingMemoryBound(to: Double.self), count: p.count,
                unsafeBitCast(c, to: AdamCoefficients<Double>.self))
        } else {
            adamUpdateScalar(
                parameters: pb, gradients: gb, firstMoment: mb, secondMoment: vb, range: 0..<p.count, c)
        }
    }
}

// MARK: - Learning-rate schedules

/// A learning-rate schedule: `step()` once per epoch sets the optimizer's learning rate, as
/// PyTorch's `lr_scheduler` classes (closed forms).
public protocol LearningRateSchedule {
    /// The learning rate for epoch `epoch` (0 is the initial rate).
    func learningRate(atEpoch epoch: Int) -> Double
}

/// Cosine annealing from the base rate to `minimum` over `period` epochs
/// (`CosineAnnealingLR`): lr = min + (base − min)(1 + cos(π·t/T))/2.
public struct CosineAnnealing: LearningRateSchedule {
    /// The learning rate at epoch 0.
    public var base: Double
    /// The number of epochs T from `base` down to `minimum` (at least 1).
    public var period: Int
    /// The learning rate reached at epoch T.
    public var minimum: Double
    /// - Parameters:
    ///   - base: The learning rate at epoch 0.
    ///   - period: The epochs T of the descent; values below 1 are treated as 1.
    ///   - minimum: The rate reached after `period` epochs.
    public init(base: Double, period: Int, minimum: Double = 0) {
        self.base = base
        self.period = max(1, period)
        self.minimum = minimum
    }
    public func learningRate(atEpoch epoch: Int) -> Double {
        minimum + (base - minimum) * (1 + Double.cos(Double.pi * Double(epoch) / Double(period))) / 2
    }
}

/// lr = base·γᵗ (`ExponentialLR`).
public struct ExponentialDecay: LearningRateSchedule {
    /// The learning rate at epoch 0.
    public var base: Double
    /// The factor γ applied once per epoch.
    public var gamma: Double
    /// - Parameters:
    ///   - base: The learning rate at epoch 0.
    ///   - gamma: The per-epoch factor γ (below 1 to decay).
    public init(base: Double, gamma: Double) {
        self.base = base
        self.gamma = gamma
    }
    public func learningRate(atEpoch epoch: Int) -> Double { base * Double.pow(gamma, Double(epoch)) }
}

/// lr = base·γ^⌊t/stepSize⌋ (`StepLR`).
public struct StepDecay: LearningRateSchedule {
    /// The learning rate at epoch 0.
    public var base: Double
    /// The number of epochs between two decays (at least 1).
    public var stepSize: Int
    /// The factor γ applied every `stepSize` epochs.
    public var gamma: Double
    /// - Parameters:
    ///   - base: The learning rate at epoch 0.
    ///   - stepSize: Epochs between decays; values below 1 are treated as 1.
    ///   - gamma: The factor applied at each decay.
    public init(base: Double, stepSize: Int, gamma: Double = 0.1) {
        self.base = base
        self.stepSize = max(1, stepSize)
        self.gamma = gamma
    }
    public func learningRate(atEpoch epoch: Int) -> Double { base * Double.pow(gamma, Double(epoch / stepSize)) }
}

/// Drives an optimizer's learning rate from a schedule, one `step()` per epoch.
public final class Scheduler<O: Optimizer> {
    /// The optimizer whose learning rate the schedule sets.
    public let optimizer: O
    /// The schedule that gives the learning rate of each epoch.
    public let schedule: any LearningRateSchedule
    /// Epochs completed.
    public private(set) var epoch = 0
    /// Sets the optimizer's learning rate to the schedule's rate for epoch 0.
    ///
    /// - Parameters:
    ///   - optimizer: The optimizer to drive.
    ///   - schedule: The learning rate per epoch.
    public init(_ optimizer: O, _ schedule: any LearningRateSchedule) {
        self.optimizer = optimizer
        self.schedule = schedule
        optimizer.learningRate = schedule.learningRate(atEpoch: 0)
    }
    /// Advances one epoch and sets the optimizer's learning rate.
    public func step() {
        epoch += 1
        optimizer.learningRate = schedule.learningRate(atEpoch: epoch)
    }
}
