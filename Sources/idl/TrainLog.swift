import Foundation
import IDL

/// What torchidl's examples/idl log shows per epoch besides the training loss and test
/// accuracy: the accuracy on the training set and the mean cross-entropy on the test set, both
/// computed with the epoch's final weights (torchidl averages the training accuracy over the
/// epoch's batches as the weights change; here the training set is evaluated once more).
func epochLog(_ model: ImplicitModel<Float>, train: Dataset<Float>, test: Dataset<Float>) throws -> (
    trainAccuracy: Double, testLoss: Double
) {
    let trainAccuracy = try evaluateAccuracy(model, train)
    var total = 0.0
    for batch in try test.batches(size: 1000) {
        let scores = try model.predict(batch.inputs)
        total += Double(try crossEntropyLoss(Tensor(scores), batch.labels, reduction: .sum).value[0, 0])
    }
    return (trainAccuracy, total / Double(max(1, test.count)))
}
