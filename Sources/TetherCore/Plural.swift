/// A count and its noun in the right number, for messages people read: "1 event", "2 events".
public func counted<N: BinaryInteger>(_ count: N, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}
